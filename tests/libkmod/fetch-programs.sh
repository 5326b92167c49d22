#!/usr/bin/env bash
# Debian 12's programs and libraries that import from libkmod.so.2, for the
# ABI and dracut-install tests: downloaded with `apt-get download` and
# unpacked with `dpkg-deb -x` into $CACHE/programs/<package>/ (nothing is
# installed on the host). Idempotent; prints the directory.
set -euo pipefail
CACHE=${MODUTILS_CACHE:-$HOME/.cache/modutils}
out=$CACHE/programs
# libkmod2's reverse dependencies in bookworm, less the heavy GUI and test
# suites: udev and systemd (PID 1, systemd-udevd, libsystemd-shared),
# lspci, dracut-install, ndctl/daxctl/cxl, libblockdev, open-iscsi,
# stress-ng, ddcutil, lttng, tcmu-runner; and libpci3, which lspci needs
# (the VM suite runs lspci -k).
packages=(systemd libsystemd-shared udev pciutils dracut-core libndctl6 libdaxctl1
    libcxl1 libblockdev-utils2 libopeniscsiusr open-iscsi stress-ng libddcutil4
    lttng-tools tcmu-runner libpci3)
stamp=$out/.complete
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${packages[*]}" ]; then
    echo "$out"
    exit 0
fi
mkdir -p "$out/debs"
cd "$out/debs"
if ! apt-get download -q "${packages[@]}" >&2 2>/dev/null; then
    echo "fetch-programs: apt-get update" >&2
    apt-get update -q >&2
    apt-get download -q "${packages[@]}" >&2
fi
for pkg in "${packages[@]}"; do
    deb=$(ls -t "${pkg}"_*.deb | head -n 1)
    rm -rf "${out:?}/$pkg"
    dpkg-deb -x "$deb" "$out/$pkg"
done
echo "${packages[*]}" > "$stamp"
echo "$out"
