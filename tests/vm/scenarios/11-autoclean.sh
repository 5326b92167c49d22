# rmmod -a, the article's autoclean: only what the kernel had our modprobe
# load goes, once two sweeps in a row found it unused. Mounting an ISO
# image makes the kernel run our modprobe for fs-iso9660, which loads
# cdrom and isofs and records both in /run/modutils/autoclean; loop and
# dummy, loaded by hand with the same modprobe, are never touched. The
# kernel's call is told apart by its parent, a kernel thread: the same
# arguments from a shell record nothing.

STATE=/run/modutils/autoclean
recorded() { grep -v '^#' "$STATE" 2>/dev/null | cut -d' ' -f1 | tr '\n' ' '; }
rm -rf /run/modutils

run $OURS/modprobe loop
expect_silent_success
run $OURS/modprobe dummy
expect_silent_success
echo "$OURS/modprobe" >/proc/sys/kernel/modprobe
mount -t iso9660 -o loop,ro /vm/test.iso /mnt || fail "mount failed"
echo "$NO_MODPROBE" >/proc/sys/kernel/modprobe
expect_loaded isofs cdrom loop dummy
[ "$(recorded)" = "cdrom isofs " ] || fail "recorded: '$(recorded)', expected 'cdrom isofs '"

# Mounted, isofs is in use and cdrom is used by it: nothing is marked.
run $OURS/rmmod -a -v
expect_silent_success
umount /mnt
run $OURS/rmmod -a -v
expect_rc 0
expect_no_err
expect_out "mark cdrom" "mark isofs"
expect_loaded isofs cdrom
run $OURS/rmmod -a --dry-run
expect_rc 0
expect_no_err
expect_out "rmmod isofs" "rmmod cdrom"
expect_loaded isofs cdrom
run $OURS/rmmod -a -v
expect_rc 0
expect_no_err
expect_out "rmmod isofs" "rmmod cdrom"
expect_not_loaded isofs cdrom
expect_loaded loop dummy
[ -z "$(recorded)" ] || fail "still recorded: '$(recorded)'"
run $OURS/rmmod -a -v
expect_silent_success

# The kernel's arguments from a shell: a load by hand, not recorded.
run $OURS/modprobe -q -- fs-iso9660
expect_silent_success
expect_loaded isofs cdrom
[ -z "$(recorded)" ] || fail "a load by hand was recorded: '$(recorded)'"
run $OURS/rmmod -a --now -v
expect_silent_success
expect_loaded isofs cdrom
run $OURS/rmmod isofs cdrom
expect_silent_success

# Recorded, then removed and loaded again by hand: that load is not the
# kernel's (sysfs gives the module directory a new inode), so the record
# is dropped and isofs stays; cdrom, still the recorded load, stays too
# while the hand-loaded isofs uses it.
echo "$OURS/modprobe" >/proc/sys/kernel/modprobe
mount -t iso9660 -o loop,ro /vm/test.iso /mnt || fail "mount failed"
echo "$NO_MODPROBE" >/proc/sys/kernel/modprobe
umount /mnt
[ "$(recorded)" = "cdrom isofs " ] || fail "recorded: '$(recorded)', expected 'cdrom isofs '"
$KMOD/rmmod isofs
$KMOD/modprobe isofs
run $OURS/rmmod -a --now -v
expect_silent_success
expect_loaded isofs cdrom
[ "$(recorded)" = "cdrom " ] || fail "recorded: '$(recorded)', expected 'cdrom '"

run $OURS/rmmod -a mod_a
expect_rc 1
expect_err "rmmod: ERROR: -a/--all sweeps the modules the kernel loaded: give no module names with it."
run $OURS/rmmod isofs cdrom dummy loop
expect_silent_success
expect_nothing_loaded
rm -rf /run/modutils
