# Scenario 5 (insmod part): parameters on insmod's command line reach
# /sys/module/<m>/parameters; a value with spaces is quoted as kmod quotes
# it; a bad value is refused by the kernel, whose own words follow kmod's.

run $OURS/insmod "$FIX/mod_a.ko"
expect_silent_success
run $OURS/insmod "$FIX/mod_b.ko"
expect_silent_success
run $OURS/insmod "$FIX/mod_c.ko" param=5
expect_silent_success
expect_file /sys/module/mod_c/parameters/param 5
run $OURS/rmmod mod_c
expect_silent_success
run $OURS/insmod "$FIX/mod_c.ko" param=42
expect_silent_success
expect_file /sys/module/mod_c/parameters/param 42
run $OURS/rmmod mod_c mod_b mod_a
expect_silent_success

run $OURS/insmod "$FIX/mod_param.ko" "name=two words" count=3 levels=1,2,3
expect_silent_success
expect_file /sys/module/mod_param/parameters/name "two words"
expect_file /sys/module/mod_param/parameters/count 3
expect_file /sys/module/mod_param/parameters/levels 1,2,3
run $OURS/rmmod mod_param
expect_silent_success

# A value the kernel cannot parse: kmod's line, then the kernel's.
same_first_err_line_as_kmod insmod "$FIX/mod_param.ko" count=abc
expect_rc 1
expect_err_line 1 "insmod: ERROR: could not insert module $FIX/mod_param.ko: Invalid parameters"
grep -q "^insmod: ERROR: kernel: mod_param: .*count" "$T/err" || { fail "no kernel line about count"; show_output; }
expect_nothing_loaded
