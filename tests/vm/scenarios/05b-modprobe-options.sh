# Scenario 5 (modprobe part): options from modprobe.d reach the module,
# and options on the command line come after them.
# modprobe: both

echo "options mod_c param=9" >/etc/modprobe.d/mod_c.conf
run $MODPROBE mod_c
expect_silent_success
expect_file /sys/module/mod_c/parameters/param 9
run $MODPROBE -r mod_c
expect_silent_success
oracle_run && $KMOD/rmmod mod_a
run $MODPROBE mod_c param=11
expect_silent_success
expect_file /sys/module/mod_c/parameters/param 11
run $MODPROBE -r mod_c
expect_silent_success
oracle_run && $KMOD/rmmod mod_a # kmod leaves it (see 02-modprobe-stack)
expect_nothing_loaded
