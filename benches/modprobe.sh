#!/usr/bin/env bash
# modprobe --show-depends of a module with a deep dependency chain (bttv)
# and --resolve-alias of a real PCI modalias (found only through the
# wildcard search of modules.alias.bin), ours against kmod's on the real
# Debian tree. Prints, for each: hyperfine's medians, the alternating-runs
# medians of benches/compare.py, and peak RSS from /usr/bin/time -v (the
# figure to use for memory: compare.py's rusage includes what the forked
# Python parent had mapped); every ratio is ours/kmod. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
cargo build --release -q --bin modprobe
tree=$MODUTILS_TEST_TREE
base=$(dirname "$(dirname "$(dirname "$tree")")")
rel=$(basename "$tree")
runs=${RUNS:-300}
kmod=/usr/sbin/modprobe
ours=target/release/modprobe
# An Intel I219 NIC (ThinkPad): e1000e, matched by a `pci:v…d…sv*sd*bc*sc*i*` pattern.
pci=pci:v00008086d000015BBsv000017AAsd00002249bc02sc00i00

# Peak RSS in KiB: the largest of 10 runs under /usr/bin/time -v.
peak_rss() {
    local max=0 kib
    for _ in $(seq 10); do
        kib=$(/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}')
        [ "$kib" -gt "$max" ] && max=$kib
    done
    echo "$max"
}

for case in "-D bttv" "-R $pci"; do
    args="-d $base -S $rel $case"
    echo "== modprobe $case"
    json=$(mktemp)
    hyperfine -N --warmup 20 --runs "$runs" --style none --export-json "$json" \
        -n kmod "$kmod $args" -n ours "$ours $args" 2>/dev/null
    python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
k, o = r["kmod"]["median"] * 1000, r["ours"]["median"] * 1000
print(f"hyperfine medians: kmod {k:.2f} ms, ours {o:.2f} ms, ratio {o / k:.2f}x")
PY
    rm -f "$json"
    benches/compare.py --runs "$runs" --name "modprobe $case (alternating)" \
        --kmod "$kmod $args" --ours "$ours $args" ${JSON:+--json "$JSON"}
    # shellcheck disable=SC2086
    k=$(peak_rss $kmod $args)
    # shellcheck disable=SC2086
    o=$(peak_rss $ours $args)
    awk -v k="$k" -v o="$o" 'BEGIN { printf "peak RSS (time -v): kmod %d KiB, ours %d KiB, ratio %.2fx\n", k, o, o / k }'
done
