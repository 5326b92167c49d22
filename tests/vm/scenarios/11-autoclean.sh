# rmmod -a, the article's autoclean: every module nothing uses is removed,
# again and again until nothing more can go (removing C frees B, then A);
# a module in use by the kernel and a permanent one stay.

run $OURS/insmod "$FIX/mod_a.ko"
run $OURS/insmod "$FIX/mod_b.ko"
run $OURS/insmod "$FIX/mod_c.ko"
run $OURS/insmod "$FIX/mod_noexit.ko"
$KMOD/modprobe loop
echo "$KMOD/modprobe" >/proc/sys/kernel/modprobe
mount -t iso9660 -o loop,ro /vm/test.iso /mnt || fail "mount failed"
expect_loaded mod_a mod_b mod_c mod_noexit isofs loop
run $OURS/rmmod -a
expect_rc 0
expect_no_err
expect_out <<END
removed mod_c
removed mod_b
removed mod_a
END
expect_loaded mod_noexit isofs loop
expect_not_loaded mod_a mod_b mod_c
umount /mnt
# What is left goes, newest first (isofs frees what it uses, e.g. cdrom on 6.1).
grep -v '^mod_noexit ' /proc/modules | cut -d' ' -f1 | sed 's/^/removed /' >"$T/left"
run $OURS/rmmod -a
expect_rc 0
expect_no_err
_expect_same stdout "$T/left" "$T/out"
run $OURS/rmmod -a
expect_silent_success
run $OURS/rmmod -a mod_a
expect_rc 1
expect_err "rmmod: ERROR: -a/--all removes every unused module: give no module names with it."
run $OURS/rmmod -f mod_noexit
expect_silent_success
expect_nothing_loaded
