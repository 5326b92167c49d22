# Scenario 13, the library's example program examples/coldplug.rs: it
# reads every modalias under /sys/devices and loads the drivers through
# modutils_core::Modules, blacklist applied, as udev does at boot. What it
# must load is what kmod's modprobe -D lists for those aliases (the module
# tree holds e1000, i2c-piix4, pcspkr, qemu_fw_cfg, psmouse, evdev for
# QEMU's devices); the second run finds them all present; a blacklisted
# driver stays out.

COLDPLUG=/ours/bin/coldplug
find /sys/devices -name modalias -type f 2>/dev/null | xargs cat 2>/dev/null | sort -u >"$T/aliases"
note "$(wc -l <"$T/aliases") distinct device aliases"

# The oracle: every module kmod would load for those aliases.
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
[ -n "$want" ] || fail "no device of this VM has a driver module in the tree"
case " $want " in *" e1000 "*) ;; *) fail "e1000 (QEMU's default NIC) is not among them" ;; esac

run $COLDPLUG -n
expect_rc 0
expect_nothing_loaded
grep -q '^would load e1000 for pci:' "$T/out" || fail "coldplug -n does not plan e1000"

run $COLDPLUG
expect_rc 0
note "$(cat "$T/out")"
[ -s "$T/err" ] && fail "coldplug printed errors: $(cat "$T/err")"
expect_loaded $want
now=$(loaded)
[ "$now" = "$want" ] || fail "loaded: '$now', expected exactly kmod's list '$want'"
# Each line names a module an alias asked for (dependencies come with it,
# without lines of their own).
for m in $(sed -n 's/^loaded \([^ ]*\) for .*/\1/p' "$T/out"); do
    case " $want " in *" $m "*) ;; *) fail "coldplug loaded $m, which kmod would not" ;; esac
done

# Everything present now: a second run loads nothing.
run $COLDPLUG
expect_rc 0
grep -q '^loaded ' "$T/out" && fail "second run loaded again: $(grep '^loaded ' "$T/out")"
grep -q '^present e1000 ' "$T/out" || fail "second run does not report e1000 present"
cleanup_modules
expect_nothing_loaded

# The blacklist keeps a driver out, as udev's KMOD_PROBE_APPLY_BLACKLIST.
echo "blacklist e1000" >/etc/modprobe.d/coldplug.conf
run $COLDPLUG
expect_rc 0
grep -q '^blacklisted e1000 for pci:' "$T/out" || fail "e1000 not reported blacklisted"
expect_not_loaded e1000
cleanup_modules
expect_nothing_loaded
