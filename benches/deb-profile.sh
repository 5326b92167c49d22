#!/usr/bin/env bash
# What the Debian package's build costs at run time: the same tools built
# with the release profile (target/release/kmod: opt-level 3, thin LTO,
# bundled liblzma and libzstd) and with the `deb` profile (target/deb/kmod,
# as `cargo xtask deb` builds it: opt-level "z", fat LTO, one codegen unit,
# the system's libraries), side by side on the real tree. Prints ratios
# deb/release ("ours" below is the deb build).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
for b in target/release/kmod target/deb/kmod; do
    [ -x "$b" ] || { echo "no $b: run cargo build --release and cargo xtask deb first" >&2; exit 1; }
done
rel=$(basename "$MODUTILS_TEST_TREE")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=${RUNS:-11}
for p in release deb; do
    mkdir -p "$work/$p/bin"
    for t in depmod modprobe modinfo; do ln -s "$PWD/target/$p/kmod" "$work/$p/bin/$t"; done
    for kind in uncompressed xz; do
        src=$MODUTILS_TEST_TREE
        [ $kind = xz ] && src=$MODUTILS_TEST_TREE_XZ
        d=$work/$p/$kind/lib/modules/$rel
        mkdir -p "$d"
        ln -s "$(readlink -f "$src/kernel")" "$d/kernel"
        cp "$src/modules.order" "$src/modules.builtin" "$src/modules.builtin.modinfo" "$d/"
    done
done
for kind in uncompressed xz; do
    benches/compare.py --runs "$runs" --name "depmod, $kind tree (release → deb)" \
        --kmod "$work/release/bin/depmod -b $work/release/$kind $rel" \
        --ours "$work/deb/bin/depmod -b $work/deb/$kind $rel"
done
benches/compare.py --runs "$runs" --name "modprobe -D bttv (release → deb)" \
    --kmod "for i in \$(seq 50); do $work/release/bin/modprobe -d $MODUTILS_TEST_TREE/../../.. -S $rel -D bttv; done" \
    --ours "for i in \$(seq 50); do $work/deb/bin/modprobe -d $MODUTILS_TEST_TREE/../../.. -S $rel -D bttv; done"
benches/compare.py --runs "$runs" --name "modinfo of every module (release → deb)" \
    --kmod "find -L $MODUTILS_TEST_TREE/kernel -name '*.ko' | xargs $work/release/bin/modinfo" \
    --ours "find -L $MODUTILS_TEST_TREE/kernel -name '*.ko' | xargs $work/deb/bin/modinfo"
