# Scenario 15, the installed layout: `cargo xtask install --prefix /usr`,
# staged under /installed, gives one multicall kmod and links named after
# each tool, as Debian's kmod package does. Every tool answers by its
# usual name, and the kernel's autoloader runs the installed modprobe.

I=/installed/usr
for tool in sbin/insmod sbin/rmmod sbin/lsmod bin/lsmod sbin/modprobe sbin/depmod sbin/modinfo; do
    [ -L "$I/$tool" ] || fail "$I/$tool is not a link"
    run "$I/$tool" --version
    expect_rc 0
    grep -q '^kmod version ' "$T/out" || fail "$tool --version said: $(cat "$T/out" "$T/err")"
done

# The tools by their names, on a real module.
run "$I/sbin/modinfo" -F name loop
expect_rc 0
expect_out "loop"
run "$I/sbin/modprobe" loop
expect_silent_success
expect_loaded loop
"$KMOD/lsmod" >"$T/kmod.out" 2>&1
run "$I/bin/lsmod"
expect_rc 0
_expect_same "lsmod (- kmod, + installed)" "$T/kmod.out" "$T/out"

# The kernel asks the installed modprobe for fs-iso9660.
expect_not_loaded isofs
echo "$I/sbin/modprobe" >/proc/sys/kernel/modprobe
run mount -t iso9660 -o loop,ro /vm/test.iso /mnt
expect_rc 0
expect_loaded isofs
run umount /mnt
expect_rc 0
echo "$NO_MODPROBE" >/proc/sys/kernel/modprobe
run "$I/sbin/modprobe" -r isofs
expect_silent_success
run "$I/sbin/rmmod" loop
expect_silent_success
expect_nothing_loaded
