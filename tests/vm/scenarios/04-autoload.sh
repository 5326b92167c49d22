# Scenario 4, the kernel loads what it lacks: /proc/sys/kernel/modprobe
# names the modprobe under test; mounting an ISO 9660 image makes the
# kernel ask for fs-iso9660, and modprobe loads isofs.
# modprobe: both

run $MODPROBE loop
expect_silent_success
expect_not_loaded isofs
echo "$MODPROBE" >/proc/sys/kernel/modprobe
run mount -t iso9660 -o loop,ro /vm/test.iso /mnt
expect_rc 0
expect_loaded isofs
expect_file /mnt/hello.txt "hello from an ISO 9660 image"
run $OURS/lsmod
grep -q '^isofs  *[0-9][0-9]*  1$' "$T/out" || fail "lsmod does not show isofs in use once: $(grep isofs "$T/out")"
run umount /mnt
expect_rc 0
run $MODPROBE -r isofs
expect_silent_success
run $MODPROBE -r loop
expect_silent_success
expect_nothing_loaded
