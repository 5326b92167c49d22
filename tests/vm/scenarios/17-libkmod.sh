# Scenario 16, our libkmod.so.2 in the kernel's hands: a C program doing
# what systemd-udevd does with libkmod at boot (crates/libkmod/tests/c/
# coldplug.c: look up each device's modalias, probe with the blacklist
# applied) runs once with our library and once with kmod's (Debian's
# libkmod.so.2, the oracle). Both must load the same modules, the set
# kmod's modprobe -D lists for those aliases; a second run finds them
# present; a blacklisted driver stays out.

PROG=/ours/bin/libkmod-coldplug
find /sys/devices -name modalias -type f 2>/dev/null | xargs cat 2>/dev/null | sort -u >"$T/aliases"

: >"$T/want"
while read -r alias; do
    "$KMOD/modprobe" -D "$alias" 2>/dev/null | sed -n 's/^insmod //p' |
        while read -r path _; do
            n=${path##*/}
            echo "${n%%.ko*}" | tr - _
        done >>"$T/want"
done <"$T/aliases"
want=$(sort -u "$T/want" | tr '\n' ' ' | sed 's/ $//')
note "kmod's modprobe -D would load: $want"
case " $want " in *" e1000 "*) ;; *) fail "e1000 (QEMU's default NIC) is not among them" ;; esac

# with_lib DIR ARGS...: the program on the library in DIR.
with_lib() {
    lib=$1
    shift
    echo "\$ LD_LIBRARY_PATH=$lib $PROG $*"
    LD_LIBRARY_PATH=$lib "$PROG" "$@" <"$T/aliases" >"$T/out" 2>"$T/err"
    RC=$?
}

for lib in /ours/lib /kmod/lib; do
    with_lib $lib -n
    expect_rc 0
    expect_nothing_loaded
    grep -q '^would load e1000 for pci:' "$T/out" || fail "$lib: a dry run does not plan e1000"

    with_lib $lib
    expect_rc 0
    [ -s "$T/err" ] && fail "$lib: errors: $(cat "$T/err")"
    sort "$T/out" >"$T/loaded$(echo $lib | tr / _)"
    now=$(loaded)
    [ "$now" = "$want" ] || fail "$lib loaded '$now', kmod's modprobe -D lists '$want'"

    with_lib $lib
    expect_rc 0
    grep -q '^loaded ' "$T/out" && fail "$lib: second run loaded again: $(grep '^loaded ' "$T/out")"
    grep -q '^present e1000 ' "$T/out" || fail "$lib: second run does not report e1000 present"
    cleanup_modules
    expect_nothing_loaded
done
cmp -s "$T/loaded_ours_lib" "$T/loaded_kmod_lib" ||
    fail "our library and kmod's reported differently: $(diff "$T/loaded_kmod_lib" "$T/loaded_ours_lib")"

echo "blacklist e1000" >/etc/modprobe.d/coldplug.conf
with_lib /ours/lib
expect_rc 0
grep -q '^blacklisted e1000 for pci:' "$T/out" || fail "e1000 not reported blacklisted"
expect_not_loaded e1000
cleanup_modules
expect_nothing_loaded
