# Scenario 17, libkmod.so.2 under a real client: Debian 12's systemd-udevd
# (its binary and libraries from the archive, only the rule that loads
# drivers, 80-drivers.rules) coldplugs QEMU's devices
# (udevadm trigger --action=add, udevadm settle), once with kmod's
# libkmod.so.2 and once with ours (LD_LIBRARY_PATH=/ours/lib, checked in
# the daemon's memory map). The modules loaded must be the same set, and
# `lspci -k` (pciutils, which asks libkmod for each device's modules)
# prints the same with either library.

UDEVD=/lib/systemd/systemd-udevd
LSPCI=/usr/bin/lspci
OURLIB=/ours/lib

# with LIBDIR CMD...: CMD with that libkmod ("" for kmod's).
with() {
    lib=$1
    shift
    if [ -n "$lib" ]; then LD_LIBRARY_PATH=$lib "$@"; else "$@"; fi
}

udevd_pid() {
    for f in /proc/[0-9]*/comm; do
        [ "$(cat "$f" 2>/dev/null)" = systemd-udevd ] && { p=${f#/proc/}; echo "${p%/comm}"; return; }
    done
}

# coldplug LIBDIR LABEL: udevd with that library loads the drivers of
# every device; leaves the sorted module list in $T/LABEL.loaded.
coldplug() {
    lib=$1 label=$2
    with "$lib" $UDEVD --daemon >"$T/$label.udevd" 2>&1 || {
        fail "$label: systemd-udevd did not start: $(cat "$T/$label.udevd")"
        return
    }
    pid=$(udevd_pid)
    [ -n "$pid" ] || { fail "$label: no systemd-udevd process"; return; }
    maps=$(grep -o '/[^ ]*libkmod[^ ]*' "/proc/$pid/maps" | sort -u | tr '\n' ' ')
    note "$label: udevd $pid maps $maps"
    case "$lib:$maps" in
        :*/lib/x86_64-linux-gnu/libkmod.so.2*) ;;
        "$OURLIB:$OURLIB/libkmod.so.2 ") ;;
        *) fail "$label: udevd runs with the wrong libkmod: $maps" ;;
    esac
    with "$lib" /bin/udevadm trigger --action=add --type=subsystems >/dev/null 2>&1
    with "$lib" /bin/udevadm trigger --action=add --type=devices >/dev/null 2>&1 ||
        fail "$label: udevadm trigger failed"
    with "$lib" /bin/udevadm settle --timeout=180 || fail "$label: udevadm settle failed"
    with "$lib" /bin/udevadm control --exit || fail "$label: udevadm control --exit failed"
    loaded >"$T/$label.loaded"
    note "$label: loaded $(cat "$T/$label.loaded")"
}

# lspci -k with each library, in the same state.
same_lspci() {
    $LSPCI -k >"$T/lspci.kmod" 2>&1 || fail "lspci -k (kmod's libkmod) failed: $(cat "$T/lspci.kmod")"
    with $OURLIB $LSPCI -k >"$T/lspci.ours" 2>&1 || fail "lspci -k (ours) failed: $(cat "$T/lspci.ours")"
    grep -q 'Kernel modules: e1000' "$T/lspci.kmod" || fail "lspci -k names no module for the NIC: $(cat "$T/lspci.kmod")"
    _expect_same "lspci -k $1 (- kmod's libkmod, + ours)" "$T/lspci.kmod" "$T/lspci.ours"
}

mkdir -p /run/udev
coldplug "" kmod
case " $(cat "$T/kmod.loaded") " in
    *" e1000 "*) ;;
    *) fail "udevd with kmod's libkmod did not load e1000: the scenario proves nothing" ;;
esac
same_lspci "after kmod's coldplug"
cleanup_modules
expect_nothing_loaded

coldplug "$OURLIB" ours
_expect_same "modules loaded by udevd (- kmod's libkmod, + ours)" "$T/kmod.loaded" "$T/ours.loaded"
same_lspci "after our coldplug"
cleanup_modules
expect_nothing_loaded
