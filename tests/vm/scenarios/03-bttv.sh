# Scenario 3, the article's bttv example on the real module tree: modprobe
# bttv loads i2c-algo-bit, videodev, tveeprom and the rest that modules.dep
# lists; modprobe -r bttv removes them all.
# modprobe: both

deps=$(grep '/bttv\.ko[^:]*:' "$MODDIR/modules.dep" | cut -d: -f2)
[ -n "$deps" ] || fail "bttv has no dependencies in modules.dep"
names=bttv
for d in $deps; do
    n=${d##*/}
    n=${n%%.ko*}
    names="$names $(echo "$n" | tr - _)"
done
note "bttv and its dependencies: $names"
for must in i2c_algo_bit videodev tveeprom; do
    case " $names " in *" $must "*) ;; *) fail "modules.dep does not list $must for bttv" ;; esac
done
run $MODPROBE bttv
expect_silent_success
expect_loaded $names
run $MODPROBE -r bttv
expect_silent_success
if oracle_run; then
    # kmod removes only the dependencies unused when its single pass over
    # the list reaches them (see 02-modprobe-stack).
    expect_not_loaded bttv
    left=$(loaded)
    for m in $left; do
        case " $names " in *" $m "*) ;; *) fail "$m loaded, not a dependency of bttv" ;; esac
    done
    note "kmod's modprobe -r bttv leaves: $left"
    cleanup_modules
fi
expect_nothing_loaded
