#!/usr/bin/env bash
# How far a module added to or removed from updates/ could go below
# today's depmod run on Debian's 6.1 tree (uncompressed), with the rest of
# the run as it is. A build of ours with benches/depmod-bound.patch
# applied has two switches, which stand in for an output stage that costs
# nothing and for one that knows every output's bytes for free:
#
#   skipped   no output made or written at all (the cache is still
#             written, without the record of the outputs)
#   copied    each output's bytes are the file already in place (read
#             back, written under a temporary name, renamed, as usual)
#
# Each is timed against kmod (benches/compare.py), as is our release
# build, each on its own farm; the untimed run before each timed one (the
# tree as it was) is always our release build, so every timed run finds
# the cache a real run leaves. RUNS sets the runs (11 by default).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
cargo build --release -q --bin depmod
runs=${RUNS:-11}
work=$(mktemp -d)
src=$work/src
cleanup() { git worktree remove --force "$src" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add -q --detach "$src" HEAD
git -C "$src" apply "$PWD/benches/depmod-bound.patch"
cargo build --release -q --bin depmod --manifest-path "$src/Cargo.toml" \
    --target-dir "$PWD/target/bound"
ours=$PWD/target/release/depmod
bound=$PWD/target/bound/release/depmod
kmod=/usr/sbin/depmod
tree=$MODUTILS_TEST_TREE
rel=$(basename "$tree")
module=$(find -L "$tree/kernel" -name 'bttv.ko' | head -1)

for who in kmod ours skipped copied; do
    d=$work/$who/lib/modules/$rel
    mkdir -p "$d/updates"
    ln -s "$(readlink -f "$tree/kernel")" "$d/kernel"
    cp "$tree/modules.order" "$tree/modules.builtin" "$tree/modules.builtin.modinfo" "$d/"
done

# step.sh WHO CASE: the farm of WHO as it was, run through once, then changed.
cat >"$work/step.sh" <<EOF2
#!/bin/sh
set -e
farm=$work/\$1
upd=\$farm/lib/modules/$rel/updates
if [ "\$1" = kmod ]; then run=$kmod; else run=$ours; fi
case \$2 in
    add) rm -f "\$upd/dkms_bttv.ko"; \$run -b "\$farm" $rel; cp "$module" "\$upd/dkms_bttv.ko" ;;
    remove) cp "$module" "\$upd/dkms_bttv.ko"; \$run -b "\$farm" $rel; rm -f "\$upd/dkms_bttv.ko" ;;
esac
EOF2
chmod +x "$work/step.sh"

compare() { benches/compare.py --runs "$runs" "$@"; }
k="$kmod -b $work/kmod $rel"
compare --name "nothing changed, release build" --kmod "$k" --ours "$ours -b $work/ours $rel"
for c in add remove; do
    # The setup's `{who}` is kmod or ours: each variant gets its own farm.
    compare --name "one module: $c, release build" --kmod "$k" \
        --ours "$ours -b $work/ours $rel" --setup "$work/step.sh {who} $c"
    MODUTILS_BOUND_SKIP=1 compare --name "one module: $c, outputs skipped" --kmod "$k" \
        --ours "$bound -b $work/skipped $rel" \
        --setup "w={who}; [ \$w = ours ] && w=skipped; $work/step.sh \$w $c"
    MODUTILS_BOUND_COPY=$work/copied/lib/modules/$rel compare \
        --name "one module: $c, outputs copied" --kmod "$k" \
        --ours "$bound -b $work/copied $rel" \
        --setup "w={who}; [ \$w = ours ] && w=copied; $work/step.sh \$w $c"
done
