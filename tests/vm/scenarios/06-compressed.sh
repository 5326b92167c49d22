# Scenario 6, compressed modules: 6.12 decompresses .ko.xz itself
# (finit_module with MODULE_INIT_COMPRESSED_FILE); 6.1 cannot, so the
# module is decompressed here and given to init_module. A compression the
# kernel lacks (gzip and zstd on 6.12) goes the userspace way too.

if [ -e /sys/module/compression ]; then kc=$(cat /sys/module/compression); else kc=none; fi
case "$KIND" in
    6.1) [ "$kc" = none ] || fail "6.1 names a kernel compression: $kc" ;;
    6.12) [ "$kc" = xz ] || fail "6.12's kernel compression is '$kc', not xz" ;;
esac

for comp in none xz gzip zstd; do
    case "$comp" in none) ext=.ko ;; xz) ext=.ko.xz ;; gzip) ext=.ko.gz ;; zstd) ext=.ko.zst ;; esac
    if [ "$comp" = none ]; then
        how="finit_module"
    elif [ "$comp" = "$kc" ]; then
        how="finit_module, the kernel decompressing $comp"
    else
        how="init_module after $comp decompression in userspace"
    fi
    run $OURS/insmod -vvvv "$FIX/mod_a$ext"
    expect_rc 0
    expect_no_out
    expect_err "insmod: DEBUG: inserted $FIX/mod_a$ext ($how)"
    expect_loaded mod_a
    run $OURS/rmmod mod_a
    expect_silent_success
    # kmod loads the same file (Debian's kmod 30 is built without zlib:
    # it hands a .ko.gz to the kernel as it is, which refuses it).
    run_kmod $KMOD/insmod "$FIX/mod_a$ext"
    if [ "$comp" = gzip ]; then
        expect_rc 1
        expect_err "insmod: ERROR: could not insert module $FIX/mod_a$ext: Invalid module format"
    else
        expect_silent_success
        run $KMOD/rmmod mod_a
    fi
done

# xz's default check (CRC64) is beyond the kernel's decoder: on 6.12 the
# kernel refuses (no fallback, as in kmod 31+) and its log says why; on 6.1
# the module is decompressed here and loads. (Debian's kmod 30 predates
# finit_module's compressed flag and decompresses everything itself, so it
# loads this file on 6.12 too: no comparison.)
if [ "$KIND" = 6.12 ]; then
    run $OURS/insmod "$FIX/mod_a.crc64.ko.xz"
    expect_rc 1
    expect_err_line 1 "insmod: ERROR: could not insert module $FIX/mod_a.crc64.ko.xz: Invalid parameters"
    grep -q '^insmod: ERROR: kernel: .*decompress' "$T/err" || { fail "no kernel line about decompression"; show_output; }
else
    run $OURS/insmod "$FIX/mod_a.crc64.ko.xz"
    expect_silent_success
    run $OURS/rmmod mod_a
    expect_silent_success
fi
expect_nothing_loaded
