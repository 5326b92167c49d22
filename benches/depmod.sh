#!/usr/bin/env bash
# depmod over the real Debian tree, ours against kmod's: uncompressed, every
# module compressed with xz, and with zstd. Each tool writes into its own
# copy of the tree (a symlink farm: lib/modules/<rel>/kernel -> the modules,
# plus modules.order and modules.builtin*), so runs overwrite their own
# previous outputs. Prints ratios (ours/kmod) and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
cargo build --release -q --bin depmod
rel=$(basename "$MODUTILS_TEST_TREE")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=${RUNS:-15}

farm() { # farm DIR MODULE-DIR: DIR/lib/modules/$rel mirroring MODULE-DIR
    local d=$1/lib/modules/$rel
    mkdir -p "$d"
    ln -s "$(readlink -f "$2/kernel")" "$d/kernel"
    cp "$2/modules.order" "$2/modules.builtin" "$2/modules.builtin.modinfo" "$d/"
}

for kind in uncompressed xz zstd; do
    case $kind in
        uncompressed) src=$MODUTILS_TEST_TREE ;;
        xz) src=$MODUTILS_TEST_TREE_XZ ;;
        zstd) src=$MODUTILS_TEST_TREE_ZST ;;
    esac
    farm "$work/$kind-kmod" "$src"
    farm "$work/$kind-ours" "$src"
    n=$(find -L "$src/kernel" -name '*.ko*' | wc -l)
    benches/compare.py --runs "$runs" --name "depmod, $n modules, $kind" \
        --kmod "/usr/sbin/depmod -b $work/$kind-kmod $rel" \
        --ours "target/release/depmod -b $work/$kind-ours $rel" ${JSON:+--json "$JSON"}
done
