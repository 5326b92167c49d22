# Scenario 1, the article's stack: mod_c uses mod_b and mod_a, mod_b uses
# mod_a. The kernel refuses mod_c; insmod then names the missing symbols and
# the modules that export them (the kernel's own "Unknown symbol" lines say
# no more, so they are left out); then A, B, C load in order; lsmod shows
# who uses whom exactly as kmod's lsmod does; A cannot go while used; C, B,
# A come out.

A=$MODDIR/extra/mod_a$EXT B=$MODDIR/extra/mod_b$EXT C=$MODDIR/extra/mod_c$EXT

asked() { dmesg | grep -c 'mod_c: Unknown symbol mod_a_value'; }
before=$(asked)
run $OURS/insmod "$C"
# The kernel was asked: its log names a symbol it missed.
[ "$(asked)" -gt "$before" ] || fail "the kernel was not asked to load mod_c"
expect_rc 1
expect_err <<END
insmod: ERROR: could not insert module $C: Unknown symbol in module
insmod: ERROR: mod_c needs mod_a_value, exported by mod_a: load it first or use modprobe mod_c
insmod: ERROR: mod_c needs mod_b_value, mod_b_sum, exported by mod_b: load it first or use modprobe mod_c
END
expect_no_out
expect_nothing_loaded
# kmod says the same first line.
same_first_err_line_as_kmod insmod "$C"
expect_nothing_loaded

for m in "$A" "$B" "$C"; do
    run $OURS/insmod "$m"
    expect_silent_success
done
expect_loaded mod_a mod_b mod_c
[ "$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')" = "mod_c mod_b mod_a " ] ||
    fail "/proc/modules order: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"

# lsmod: byte for byte kmod's, and the format checked on its own too.
same_as_kmod lsmod
expect_rc 0
# kernfs order, as readdir gives it (lsmod prints that order).
holders_a=$(find /sys/module/mod_a/holders -mindepth 1 -maxdepth 1 | sed 's#.*/##' | tr '\n' ',' | sed 's/,$//')
case "$holders_a" in mod_b,mod_c | mod_c,mod_b) ;; *) fail "mod_a holders: $holders_a" ;; esac
{
    echo "Module                  Size  Used by"
    printf '%-19s %8d  %d\n' mod_c "$(cat /sys/module/mod_c/coresize)" 0
    printf '%-19s %8d  %d %s\n' mod_b "$(cat /sys/module/mod_b/coresize)" 1 mod_c
    printf '%-19s %8d  %d %s\n' mod_a "$(cat /sys/module/mod_a/coresize)" 2 "$holders_a"
} >"$T/lsmod.expected"
_expect_same "lsmod" "$T/lsmod.expected" "$T/out"

# A is in use: refused, by both, in the same words.
same_as_kmod rmmod mod_a
expect_rc 1
expect_err "rmmod: ERROR: Module mod_a is in use by: ${holders_a%,*} ${holders_a#*,}"
same_as_kmod rmmod mod_b
expect_err "rmmod: ERROR: Module mod_b is in use by: mod_c"

for m in mod_c mod_b mod_a; do
    run $OURS/rmmod "$m"
    expect_silent_success
done
expect_nothing_loaded
same_as_kmod lsmod
expect_out "Module                  Size  Used by"
