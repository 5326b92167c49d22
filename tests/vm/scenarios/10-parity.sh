# Scenario 10 (lsmod part): our lsmod prints what kmod's prints, byte for
# byte, in every state: nothing loaded, a stack, real modules with several
# users, a permanent module, a module the kernel itself holds.

same_as_kmod lsmod
expect_rc 0
expect_out "Module                  Size  Used by"
$KMOD/modprobe bttv
$KMOD/insmod "$FIX/mod_a.ko"
$KMOD/insmod "$FIX/mod_b.ko"
$KMOD/insmod "$FIX/mod_noexit.ko"
$KMOD/modprobe dummy
$KMOD/modprobe loop
echo "$KMOD/modprobe" >/proc/sys/kernel/modprobe
mount -t iso9660 -o loop,ro /vm/test.iso /mnt || fail "mount failed"
same_as_kmod lsmod
expect_rc 0
note "$(wc -l <"$T/out") lines"
umount /mnt

# kmod 30's lsmod takes no options at all ("Usage: lsmod" for any
# argument); 34.2 has -s -v -V -h and these messages:
run $OURS/lsmod extra-argument
expect_rc 1
expect_err "lsmod: ERROR: too many arguments provided."
expect_no_out
run $OURS/lsmod --bogus
expect_rc 1
expect_err "$OURS/lsmod: unrecognized option '--bogus'"
run $OURS/lsmod -V
expect_rc 0
expect_out "kmod version 34.2" "+ZSTD +XZ +ZLIB +OPENSSL"

# The same lines through kmod's multicall name.
run $OURS/kmod list
cp "$T/out" "$T/list.out"
run $OURS/lsmod
_expect_same "kmod list" "$T/out" "$T/list.out"

$KMOD/modprobe -r bttv
$KMOD/rmmod mod_b mod_a dummy
$KMOD/rmmod -f mod_noexit
cleanup_modules
same_as_kmod lsmod
expect_nothing_loaded
