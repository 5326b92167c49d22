# Scenario 10 (modinfo part): our modinfo answers as kmod's in the same VM,
# by name (through the VM's indexes), by path, compressed or not, built in.
# requires: modinfo

for m in mod_a mod_c mod_param mod_alias mod-dash bttv isofs videodev loop; do
    same_as_kmod modinfo "$m"
    expect_rc 0
done
for f in "$MODDIR/extra/mod_c$EXT" "$FIX/mod_param.ko" "$FIX/mod_a.ko.xz" "$FIX/mod_a.ko.zst"; do
    same_as_kmod modinfo "$f"
    expect_rc 0
done
same_as_kmod modinfo -F depends mod_c
expect_out "mod_b,mod_a"
same_as_kmod modinfo -F parm mod_param
same_as_kmod modinfo -0 -F alias mod_alias
same_as_kmod modinfo no_such_module
expect_rc 1
