# Scenario 10 (depmod and modprobe -D parts): the same answers as kmod's in
# the same VM. Runs once our tools exist.
# requires: depmod modprobe

same_as_kmod modprobe -D mod_c
same_as_kmod modprobe -D bttv
mkdir -p "$T/ours" "$T/kmod"
$KMOD/depmod -n >"$T/kmod/depmod.out" 2>"$T/kmod/depmod.err"
$OURS/depmod -n >"$T/ours/depmod.out" 2>"$T/ours/depmod.err"
# kmod 30 predates modules.weakdep (added in kmod 33, docs/compat.md):
# that part of our output is the one allowed difference here.
sed '/^# Weak dependencies extracted from modules themselves\.$/d; /^weakdep /d' \
    "$T/ours/depmod.out" >"$T/ours/depmod.kmod30"
_expect_same "depmod -n" "$T/kmod/depmod.out" "$T/ours/depmod.kmod30"
_expect_same "depmod -n (stderr)" "$T/kmod/depmod.err" "$T/ours/depmod.err"
