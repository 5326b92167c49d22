#!/usr/bin/env bash
# depmod with its cache, ours against kmod's, on Debian's 6.1
# tree as it ships (uncompressed) and Debian's 6.12 tree (.ko.xz):
#
#   nothing changed  the same run again (ours: every module from the cache,
#                    the outputs already in place)
#   replaced         a module in updates/ replaced by a fresh copy, as a
#                    DKMS rebuild does (ours reads that one file)
#   added, removed   a module added to / removed from updates/ since the
#                    tool's previous run (an untimed run of that tool with
#                    the tree as it was comes first)
#   cold             ours with an empty cache (it writes it) against ours
#                    with --no-cache, and against kmod
#
# Each tool has its own farm of each tree (lib/modules/<rel>/kernel -> the
# modules, plus modules.order and modules.builtin*). Ratios are of medians
# of alternating runs (benches/compare.py). TREES="612 61" picks trees,
# CASES="nothing replace add remove cold" cases (all by default);
# BASELINE=path/to/depmod also compares a cold run with that build (the
# depmod before the cache). Prints the cache's size (its index and data
# files).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
cargo build --release -q --bin depmod
runs=${RUNS:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ours=$PWD/target/release/depmod
kmod=/usr/sbin/depmod

farm() { # farm DIR MODULE-DIR REL
    local d=$1/lib/modules/$3
    mkdir -p "$d/updates"
    ln -s "$(readlink -f "$2/kernel")" "$d/kernel"
    cp "$2/modules.order" "$2/modules.builtin" "$2/modules.builtin.modinfo" "$d/"
}

# step.sh WHO CASE: prepares WHO's farm for one timed run of CASE.
cat >"$work/step.sh" <<'EOF'
#!/bin/sh
set -e
who=$1 case=$2
. "$WORK/env"
base=$WORK/$who
upd=$base/lib/modules/$REL/updates
run() { if [ "$who" = kmod ]; then "$KMOD" -b "$base" "$REL"; else "$OURS" -b "$base" "$REL"; fi; }
case $case in
    replace) cp "$MODULE" "$upd/.new" && mv "$upd/.new" "$upd/dkms_$NAME" ;;
    add) rm -f "$upd/dkms_$NAME"; run; cp "$MODULE" "$upd/dkms_$NAME" ;;
    remove) cp "$MODULE" "$upd/dkms_$NAME"; run; rm -f "$upd/dkms_$NAME" ;;
    cold) rm -rf "$base/var/cache/modutils" ;;
esac
EOF
chmod +x "$work/step.sh"

for t in ${TREES:-61 612}; do
    case $t in
        61) src=$MODUTILS_TEST_TREE kind=uncompressed ;;
        612) src=$MODUTILS_TEST_TREE_612 kind=xz ;;
        61xz) src=$MODUTILS_TEST_TREE_XZ kind=xz ;;
        61zst) src=$MODUTILS_TEST_TREE_ZST kind=zstd ;;
        *) echo "unknown tree $t" >&2; exit 2 ;;
    esac
    rel=$(basename "$src")
    module=$(find -L "$src/kernel" -name 'bttv.ko*' | head -1)
    rm -rf "${work:?}"/{kmod,ours,plain}
    farm "$work/kmod" "$src" "$rel"
    farm "$work/ours" "$src" "$rel"
    farm "$work/plain" "$src" "$rel"
    printf 'WORK=%s\nREL=%s\nKMOD=%s\nOURS=%s\nMODULE=%s\nNAME=%s\n' \
        "$work" "$rel" "$kmod" "$ours" "$module" "$(basename "$module")" >"$work/env"
    n=$(find -L "$src/kernel" -name '*.ko*' | wc -l)
    name="depmod $rel ($n modules, $kind)"
    k="$kmod -b $work/kmod $rel"
    o="$ours -b $work/ours $rel"
    compare() { benches/compare.py --runs "$runs" ${JSON:+--json "$JSON"} "$@"; }
    export WORK=$work
    cases=" ${CASES:-nothing replace add remove cold} "
    want() { [[ $cases == *" $1 "* ]]; }
    if want nothing; then
        compare --name "$name, nothing changed" --kmod "$k" --ours "$o"
    fi
    for c in replace add remove; do
        want $c || continue
        compare --name "$name, one module: $c" --kmod "$k" --ours "$o" \
            --setup "$work/step.sh {who} $c"
    done
    rm -f "$work"/{kmod,ours}/lib/modules/"$rel"/updates/dkms_*
    if want cold; then
        compare --name "$name, cold cache vs kmod" --kmod "$k" --ours "$o" \
            --setup "$work/step.sh {who} cold"
        compare --name "$name, cold cache vs --no-cache" --labels "no cache,cold cache" \
            --kmod "$ours --no-cache -b $work/plain $rel" --ours "$o" \
            --setup "$work/step.sh {who} cold"
    fi
    if [ -n "${BASELINE:-}" ] && want cold; then
        compare --name "$name, cold cache vs the depmod before it" --labels "before,cold cache" \
            --kmod "$BASELINE -b $work/plain $rel" --ours "$o" \
            --setup "$work/step.sh {who} cold"
    fi
    # The index and the data file it names.
    size=$(cat "$work/ours/var/cache/modutils/$rel".depmod* | wc -c)
    awk -v s="$size" -v n="$n" -v r="$rel" \
        'BEGIN { printf "cache for %s: %.1f MiB (%.0f bytes per module)\n", r, s / 1048576, s / n }'
done
