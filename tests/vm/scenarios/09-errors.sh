# Scenario 9, errors, each with kmod's message and exit code (kmod's first
# line unchanged where ours explains more): unknown module, an init that
# fails, a caller without privileges, a module in use, a permanent module.

same_as_kmod insmod /lib/no-such-module.ko
expect_rc 1
expect_err "insmod: ERROR: could not load module /lib/no-such-module.ko: No such file or directory"
same_as_kmod insmod
expect_err "insmod: ERROR: missing filename."
same_as_kmod insmod -
expect_err "insmod: ERROR: this tool does not support loading from stdin!"
same_as_kmod rmmod no_such_module
expect_rc 1
expect_err "rmmod: ERROR: Module no_such_module is not currently loaded"
same_as_kmod rmmod
expect_err "rmmod: ERROR: missing module name."

# init returns -ENODEV: kmod's line, then what the module told the kernel log.
same_first_err_line_as_kmod insmod "$FIX/mod_fail_init.ko"
expect_rc 1
expect_err_line 1 "insmod: ERROR: could not insert module $FIX/mod_fail_init.ko: No such device"
expect_err_has "insmod: ERROR: kernel: mod_fail_init: refusing to load"
expect_nothing_loaded

# Already loaded.
run $OURS/insmod "$FIX/mod_a.ko"
expect_silent_success
same_as_kmod insmod "$FIX/mod_a.ko"
expect_rc 1
expect_err "insmod: ERROR: could not insert module $FIX/mod_a.ko: File exists"

# Not root: kmod's lines, then one sentence.
run_as_nobody $OURS/lsmod
expect_rc 0
grep -q '^mod_a ' "$T/out" || fail "lsmod as nobody does not list mod_a"
run_as_nobody $OURS/insmod "$FIX/mod_b.ko"
expect_rc 1
expect_err <<END
insmod: ERROR: could not insert module $FIX/mod_b.ko: Operation not permitted
insmod: ERROR: only root (a process with CAP_SYS_MODULE) may load kernel modules
END
run_as_nobody $KMOD/insmod "$FIX/mod_b.ko"
expect_rc 1
expect_err "insmod: ERROR: could not insert module $FIX/mod_b.ko: Operation not permitted"
run_as_nobody $OURS/rmmod mod_a
expect_rc 1
expect_err <<END
rmmod: ERROR: could not remove 'mod_a': Operation not permitted
rmmod: ERROR: could not remove module mod_a: Operation not permitted
rmmod: ERROR: only root (a process with CAP_SYS_MODULE) may remove kernel modules
END
run_as_nobody $KMOD/rmmod mod_a
normalize_kmod30 "$T/err"
expect_rc 1
expect_err <<END
rmmod: ERROR: could not remove 'mod_a': Operation not permitted
rmmod: ERROR: could not remove module mod_a: Operation not permitted
END
expect_loaded mod_a

# In use (kmod 30 and ours print the holders the same way).
run $OURS/insmod "$FIX/mod_b.ko"
expect_silent_success
same_as_kmod rmmod mod_a
expect_rc 1
expect_err "rmmod: ERROR: Module mod_a is in use by: mod_b"
run $OURS/rmmod mod_b mod_a
expect_silent_success

# No exit function: the kernel refuses unless forced.
run $OURS/insmod "$FIX/mod_noexit.ko"
expect_silent_success
grep -q '^mod_noexit [0-9]* 0 \[permanent\], Live ' /proc/modules || fail "/proc/modules: $(grep mod_noexit /proc/modules)"
same_as_kmod rmmod mod_noexit
expect_rc 1
expect_err <<END
rmmod: ERROR: could not remove 'mod_noexit': Device or resource busy
rmmod: ERROR: could not remove module mod_noexit: Device or resource busy
END
run $OURS/rmmod -f mod_noexit
expect_silent_success
expect_nothing_loaded
