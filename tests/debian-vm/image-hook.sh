#!/bin/sh
# mmdebstrap --customize-hook for the Debian VM's image: run on the host
# with the image's root directory as $1, after every package is installed.
set -eu
root=$1
here=$(dirname "$0")

# The root file system is the whole first virtio disk (no partitions).
echo '/dev/vda / ext4 defaults 0 1' >"$root/etc/fstab"
echo debian-vm >"$root/etc/hostname"
# `tests/debian-vm/run shell` logs in as root on the serial console.
chroot "$root" passwd -d root >/dev/null

# The packages the checks install again, kept out of the apt cache.
mkdir -p "$root/var/cache/modutils-vm"
for deb in "$root"/var/cache/apt/archives/linux-image-[0-9]*.deb \
    "$root"/var/cache/apt/archives/kmod_*.deb \
    "$root"/var/cache/apt/archives/libkmod2_*.deb; do
    [ -f "$deb" ] || { echo "image-hook: no $deb in the apt cache" >&2; exit 1; }
    mv "$deb" "$root/var/cache/modutils-vm/"
done

# Modules for systemd-modules-load: one in modules-load.d, one in the
# Debian-style /etc/modules (read through modules-load.d/modules.conf).
echo dummy >"$root/etc/modules-load.d/modutils-vm.conf"
echo udf >>"$root/etc/modules"

# A small initramfs: just what mounts the root file system. It unpacks in
# a second instead of fifteen under TCG, and udev's coldplug in the real
# root loads the rest.
echo MODULES=list >"$root/etc/initramfs-tools/conf.d/modutils-vm"
printf 'virtio_pci\nvirtio_blk\next4\n' >>"$root/etc/initramfs-tools/modules"
chroot "$root" update-initramfs -u -k all

install -m 755 "$here/guest/modutils-vm" "$root/usr/local/sbin/modutils-vm"
install -m 644 "$here/guest/modutils-vm.service" "$root/etc/systemd/system/"
ln -sf /etc/systemd/system/modutils-vm.service \
    "$root/etc/systemd/system/multi-user.target.wants/modutils-vm.service"
