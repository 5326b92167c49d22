# Scenario 10 (depmod and modprobe -D parts): the same answers as kmod's in
# the same VM. Runs once our tools exist.
# requires: depmod modprobe

same_as_kmod modprobe -D mod_c
same_as_kmod modprobe -D bttv
mkdir -p "$T/ours" "$T/kmod"
$KMOD/depmod -n >"$T/kmod/depmod.out" 2>"$T/kmod/depmod.err"
$OURS/depmod -n >"$T/ours/depmod.out" 2>"$T/ours/depmod.err"
_expect_same "depmod -n" "$T/kmod/depmod.out" "$T/ours/depmod.out"
