#!/usr/bin/env bash
# Installs what the test suite needs and prepares the real kernel trees.
# Idempotent: a second run with everything cached takes a second.
# Prints shell assignments for the variables the tests read.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${MODUTILS_CACHE:-$HOME/.cache/modutils}
export MODUTILS_CACHE=$CACHE

# Debian packages: kmod is the oracle; the others unpack and compress trees
# (fixtures/build-modules.sh installs the compiler it needs itself); man-db
# and groff-base render the installed man pages (man -l),
# python3-jsonschema validates the --json output against docs/schema,
# libkmod-dev (kmod's libkmod.so and header), gcc, valgrind and binutils
# build, check and inspect the libkmod test programs (tests/libkmod),
# dpkg-dev makes the Debian package (cargo xtask deb's tests), and
# pkg-config, liblzma-dev and libzstd-dev build the core as the package
# does (the system-libs feature, tested by tests/run).
need=()
for pkg in kmod xz-utils zstd gzip cpio man-db groff-base python3-jsonschema \
    libkmod-dev gcc valgrind binutils dpkg-dev pkg-config liblzma-dev libzstd-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# kmod's modinfo reads signatures through libssl3, whose parser changes with
# Debian's security updates: the signature tests follow the archive's
# current one (their data names the version), so bring it up to date.
ssl_min=$(sed -n 's/^# oracle: .* with libssl3 //p' crates/core/tests/data/signature/cases.tsv)
ssl_now=$(dpkg-query -W -f '${Version}' libssl3 2>/dev/null || echo 0)
if ! dpkg --compare-versions "$ssl_now" ge "$ssl_min"; then
    need+=(libssl3)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages ${need[*]} and not root: install them first" >&2
        exit 1
    fi
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi

# The real Debian 6.1 tree, unpacked from the package registry.
krel=$(fixtures/fetch-kernel.sh 6.1 | tail -n 1)
src=$CACHE/trees/$krel/lib/modules/$krel
[ -d "$src/kernel" ] || { echo "setup: $src has no modules" >&2; exit 1; }

# The oracle tree: the same modules (symlinked) with kmod's own indexes.
base=$CACHE/oracle/$krel
dst=$base/lib/modules/$krel
if [ ! -f "$dst/.kmod-depmod-done" ]; then
    rm -rf "$base"
    mkdir -p "$dst"
    ln -s "$src/kernel" "$dst/kernel"
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        cp "$src/$f" "$dst/"
    done
    /usr/sbin/depmod -b "$base" "$krel"
    touch "$dst/.kmod-depmod-done"
fi

# The fixture modules (fixtures/modules/*.c) built against the same
# kernel's headers, and that kernel's Module.symvers.
fixtures=$(fixtures/build-modules.sh "$krel" | tail -n 1)
[ -f "$fixtures/mod_a.ko" ] || { echo "setup: no fixture modules in $fixtures" >&2; exit 1; }
symvers=$CACHE/headers/$krel/usr/src/linux-headers-$krel/Module.symvers
[ -f "$symvers" ] || { echo "setup: $symvers missing" >&2; exit 1; }

# The same tree with every module compressed by xz, and by zstd (the
# commands and options Kbuild uses), built once: modules.order and
# modules.builtin* copied, no depmod output.
compressed() {
    local kind=$1 cmd top out
    case $kind in
        xz) cmd="xz -f --check=crc32 --lzma2=dict=1MiB" ;;
        zst) cmd="zstd -q -f --rm" ;;
    esac
    top=$CACHE/compressed/$krel-$kind
    out=$top/lib/modules/$krel
    if [ ! -f "$top/.modutils-complete" ]; then
        echo "setup: compressing the $krel modules with $kind (once)" >&2
        rm -rf "$top"
        mkdir -p "$out"
        cp -al "$src/kernel" "$out/kernel" 2>/dev/null || cp -a "$src/kernel" "$out/kernel"
        for f in modules.order modules.builtin modules.builtin.modinfo; do
            cp "$src/$f" "$out/"
        done
        # shellcheck disable=SC2086 # $cmd is a command with its options
        (cd "$out" && find kernel -name '*.ko' -print0 | xargs -0 -n 64 -P "$(nproc)" $cmd)
        if find "$out/kernel" -name '*.ko' | grep -q .; then
            echo "setup: compressing $out failed" >&2
            exit 1
        fi
        touch "$top/.modutils-complete"
    fi
    echo "$out"
}
xz_tree=$(compressed xz)
zst_tree=$(compressed zst)

# Debian's programs that import from libkmod.so.2 (unpacked, not installed).
programs=$(tests/libkmod/fetch-programs.sh | tail -n 1)

# Debian's 6.12 tree (.ko.xz), which the VM suite boots too: depmod's
# cache is compared with cache-less runs on it.
krel612=$(fixtures/fetch-kernel.sh 6.12 | tail -n 1)
tree612=$CACHE/trees/$krel612/lib/modules/$krel612
[ -d "$tree612/kernel" ] || { echo "setup: $tree612 has no modules" >&2; exit 1; }

echo "MODUTILS_TEST_TREE=$dst"
# Exported, so that `eval "$(tests/setup.sh)"` passes them to the tests.
printf 'export MODUTILS_FIXTURES=%q\n' "$fixtures"
printf 'export MODUTILS_TEST_SYMVERS=%q\n' "$symvers"
printf 'export MODUTILS_TEST_TREE_XZ=%q\n' "$xz_tree"
printf 'export MODUTILS_TEST_TREE_ZST=%q\n' "$zst_tree"
printf 'export MODUTILS_PROGRAMS=%q\n' "$programs"

printf 'export MODUTILS_TEST_TREE_612=%q\n' "$tree612"
