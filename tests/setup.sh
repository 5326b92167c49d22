#!/usr/bin/env bash
# Installs what the test suite needs and prepares the real kernel trees.
# Idempotent: a second run with everything cached takes a second.
# Prints shell assignments for the variables the tests read.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${MODUTILS_CACHE:-$HOME/.cache/modutils}
export MODUTILS_CACHE=$CACHE

# Debian packages: kmod is the oracle; the others unpack and compress trees;
# man-db and groff-base render the installed man pages (man -l), and
# python3-jsonschema validates the --json output against docs/schema.
need=()
for pkg in kmod xz-utils zstd gzip cpio man-db groff-base python3-jsonschema; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
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

echo "MODUTILS_TEST_TREE=$dst"
