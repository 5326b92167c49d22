# Scenario 9 (modprobe part): an unknown module.
# modprobe: both

run $MODPROBE no_such_module
expect_rc 1
expect_err "modprobe: FATAL: Module no_such_module not found in directory $MODDIR"
run $MODPROBE -q no_such_module
expect_rc 1
expect_no_err
