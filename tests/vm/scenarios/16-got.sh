# Scenario 16, the kernel decides: mod_got's symbol table holds an undefined
# _GLOBAL_OFFSET_TABLE_ that no relocation uses (as GNU as before 2.37 and
# clang leave it); Linux's loader ignores that symbol on x86. kmod's insmod
# and ours load it alike (same silent success, same /proc/modules line), so
# does the modprobe under test, by name; insmod --check finds nothing missing.
# modprobe: both

G=$MODDIR/extra/mod_got$EXT

# (fixtures/check-modules.sh checks the symbol with readelf on the host.)
for who in kmod ours; do
    if [ "$who" = kmod ]; then insmod=$KMOD/insmod; else insmod=$OURS/insmod; fi
    run $insmod "$G"
    expect_silent_success
    expect_loaded mod_got
    # The line without its load address.
    sed -n 's/^\(mod_got .*\) 0x[0-9a-f]*\(.*\)$/\1\2/p' /proc/modules >"$T/line.$who"
    run $KMOD/rmmod mod_got
    expect_silent_success
done
[ -s "$T/line.ours" ] || fail "no /proc/modules line for mod_got"
_expect_same "/proc/modules line (- kmod's insmod, + ours)" "$T/line.kmod" "$T/line.ours"

# The uncompressed file too, through finit_module on both kernels.
run $OURS/insmod "$FIX/mod_got.ko"
expect_silent_success
run $OURS/rmmod mod_got
expect_silent_success

# By name, through modules.dep.
run $MODPROBE mod_got
expect_silent_success
expect_loaded mod_got
run $MODPROBE -r mod_got
expect_silent_success
expect_nothing_loaded

# The diagnosis alone: nothing the kernel would miss.
run $OURS/insmod --check "$G"
expect_silent_success
expect_nothing_loaded
