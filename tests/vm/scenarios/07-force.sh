# Scenario 7, force: a module built against another _printk (its CRC
# changed) is refused by the kernel; insmod names the symbol and the two
# CRCs (from Module.symvers), then the kernel's own lines follow. One with a
# foreign vermagic is refused too, the kernel's reason shown. With -f both
# load (the kernel is tainted F), through
# finit_module's flags (.ko) and through a stripped copy given to
# init_module (compressed in a way the kernel cannot undo).

# (zstd rather than gzip on 6.12: Debian's kmod 30 cannot read gzip.)
if [ "$KIND" = 6.12 ]; then userspace=.ko.zst; else userspace=.ko.xz; fi

for v in .ko $userspace; do
    f=$FIX/mod_a_badcrc$v
    same_first_err_line_as_kmod insmod "$f"
    expect_rc 1
    expect_err_line 1 "insmod: ERROR: could not insert module $f: Invalid parameters"
    grep -Eq "^insmod: ERROR: mod_a was built against another version of _printk \(CRC 0x[0-9a-f]{8}; the running kernel has 0x[0-9a-f]{8}\): rebuild it for this kernel, or force it with insmod -f$" "$T/err" ||
        { fail "no explanation of the CRC mismatch"; show_output; }
    expect_err_has "insmod: ERROR: kernel: mod_a: disagrees about version of symbol _printk"
    expect_nothing_loaded
    run $OURS/insmod -f "$f"
    expect_silent_success
    expect_loaded mod_a
    grep -q '^mod_a .*(.*F.*)$' /proc/modules || fail "mod_a not tainted F: $(grep ^mod_a /proc/modules)"
    run $OURS/rmmod mod_a
    expect_silent_success

    f=$FIX/mod_a_badmagic$v
    same_first_err_line_as_kmod insmod "$f"
    expect_rc 1
    expect_err_line 1 "insmod: ERROR: could not insert module $f: Invalid module format"
    grep -q "^insmod: ERROR: kernel: mod_a: version magic '.*XMP.*' should be '.*'$" "$T/err" ||
        { fail "no kernel line about the version magic"; show_output; }
    run $OURS/insmod --force "$f"
    expect_silent_success
    expect_loaded mod_a
    run $OURS/rmmod mod_a
    expect_silent_success
done
expect_nothing_loaded
