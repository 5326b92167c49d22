#!/usr/bin/env bash
# modinfo over every module of the real Debian tree in one call, ours
# against kmod's, plus lookups by name. Prints ratios (ours/kmod).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
cargo build --release -q --bin modinfo
tree=$MODUTILS_TEST_TREE
base=$(dirname "$(dirname "$(dirname "$tree")")")
rel=$(basename "$tree")
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find -L "$tree/kernel" -name '*.ko' | sort > "$list"
names=$(sed -n '1,500{s,.*/,,; s,\.ko$,,; p}' "$list" | tr '\n' ' ')
runs=${RUNS:-15}
benches/compare.py --runs "$runs" --name "modinfo, $(wc -l < "$list") files" \
    --kmod "xargs -s 1000000 -a $list /usr/sbin/modinfo" --ours "xargs -s 1000000 -a $list target/release/modinfo" ${JSON:+--json "$JSON"}
benches/compare.py --runs "$runs" --name "modinfo, 500 names via modules.dep.bin" \
    --kmod "/usr/sbin/modinfo -b $base -k $rel $names" --ours "target/release/modinfo -b $base -k $rel $names" ${JSON:+--json "$JSON"}
