# Not an assertion: how long our tools and kmod's take here (TCG, so about
# ten times what real hardware takes), as notes in the log (-v shows them).

avg() { # avg N CMD...: mean wall time of N runs, in ms
    n=$1
    shift
    s=$(now_ms)
    i=0
    while [ $i -lt "$n" ]; do "$@" >/dev/null 2>&1; i=$((i + 1)); done
    echo $((($(now_ms) - s) / n))
}
load_unload() { "$1/insmod" "$FIX/mod_a.ko" && "$1/rmmod" mod_a; }
for who in OURS KMOD; do
    eval dir=\$$who
    note "$who: insmod+rmmod $(avg 5 load_unload "$dir") ms, lsmod $(avg 5 "$dir/lsmod") ms"
done
s=$(now_ms)
cat /proc/kallsyms >/dev/null
note "reading /proc/kallsyms: $(($(now_ms) - s)) ms"
expect_nothing_loaded
