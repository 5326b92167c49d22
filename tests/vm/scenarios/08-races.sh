# Scenario 8, races: eight concurrent modprobes of one module all succeed
# and load it once; concurrent modprobe -r and modprobe leave a consistent
# state. Plus our insmod raced against itself: the module is loaded once;
# the losers are told "File exists" (and nothing else), or, when the kernel
# joins concurrent finit_module calls on one file (6.12; not 6.1), share
# the winner's success.
# modprobe: both

i=0
while [ $i -lt 8 ]; do
    i=$((i + 1))
    ($MODPROBE mod_a >"$T/race.$i.out" 2>&1; echo $? >"$T/race.$i.rc") &
done
wait
for i in 1 2 3 4 5 6 7 8; do
    [ "$(cat "$T/race.$i.rc")" = 0 ] || fail "modprobe #$i: exit $(cat "$T/race.$i.rc"): $(cat "$T/race.$i.out")"
done
[ "$(grep -c '^mod_a ' /proc/modules)" = 1 ] || fail "mod_a listed $(grep -c '^mod_a ' /proc/modules) times"
run $MODPROBE -r mod_a
expect_silent_success

for round in 1 2 3 4; do
    $MODPROBE mod_c 2>/dev/null &
    $MODPROBE -r mod_c 2>/dev/null &
    wait
    # Consistent: whatever is loaded has its dependencies loaded.
    if is_loaded mod_c; then expect_loaded mod_b mod_a; fi
    if is_loaded mod_b; then expect_loaded mod_a; fi
done
$MODPROBE -r mod_c 2>/dev/null
$MODPROBE -r mod_b 2>/dev/null
$MODPROBE -r mod_a 2>/dev/null
expect_nothing_loaded

# Our insmod against itself.
i=0
while [ $i -lt 8 ]; do
    i=$((i + 1))
    ($OURS/insmod "$FIX/mod_a.ko" >"$T/ins.$i.out" 2>&1; echo $? >"$T/ins.$i.rc") &
done
wait
ok=0
for i in 1 2 3 4 5 6 7 8; do
    if [ "$(cat "$T/ins.$i.rc")" = 0 ]; then
        ok=$((ok + 1))
    else
        [ "$(cat "$T/ins.$i.out")" = "insmod: ERROR: could not insert module $FIX/mod_a.ko: File exists" ] ||
            fail "insmod #$i: $(cat "$T/ins.$i.out")"
    fi
done
[ $ok -ge 1 ] || fail "no concurrent insmod succeeded"
note "$ok of 8 concurrent insmods succeeded"
[ "$(grep -c '^mod_a ' /proc/modules)" = 1 ] || fail "mod_a listed $(grep -c '^mod_a ' /proc/modules) times"
run $OURS/rmmod mod_a
expect_silent_success
expect_nothing_loaded
