# Scenario 2: modprobe loads a module's dependencies first, and modprobe -r
# removes them again when nothing else uses them.
# modprobe: both

run $MODPROBE mod_c
expect_silent_success
expect_loaded mod_a mod_b mod_c
[ "$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')" = "mod_c mod_b mod_a " ] ||
    fail "load order (newest first): $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
run $MODPROBE mod_c
expect_silent_success
run $MODPROBE -r mod_c
expect_silent_success
if oracle_run; then
    # kmod walks mod_c's dependency list (mod_a, mod_b) once, removing those
    # unused at that moment: mod_a is still used by mod_b when its turn
    # comes, so it stays.
    expect_not_loaded mod_c mod_b
    expect_loaded mod_a
    note "kmod's modprobe -r leaves mod_a loaded"
    $KMOD/rmmod mod_a
fi
expect_nothing_loaded
