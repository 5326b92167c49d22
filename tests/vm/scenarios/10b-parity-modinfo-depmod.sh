# Scenario 10 (modinfo, depmod and modprobe -D parts): the same answers as
# kmod's in the same VM. Runs once our tools exist.
# requires: modinfo depmod modprobe

for m in mod_a mod_c mod_param bttv isofs; do
    same_as_kmod modinfo "$m"
    expect_rc 0
done
same_as_kmod modinfo "$MODDIR/extra/mod_c$EXT"
same_as_kmod modprobe -D mod_c
same_as_kmod modprobe -D bttv
mkdir -p "$T/ours" "$T/kmod"
$KMOD/depmod -n >"$T/kmod/depmod.out" 2>"$T/kmod/depmod.err"
$OURS/depmod -n >"$T/ours/depmod.out" 2>"$T/ours/depmod.err"
_expect_same "depmod -n" "$T/kmod/depmod.out" "$T/ours/depmod.out"
