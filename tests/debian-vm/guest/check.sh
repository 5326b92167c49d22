#!/bin/bash
# The Debian VM's checks, run by /usr/local/sbin/modutils-vm once systemd
# has reached multi-user.target. This side only records: what it finds goes
# into /run/mu/out, written as a tar archive to the disk with serial
# "mu-out"; the host compares the boots (tests/debian-vm/run).
#
# The phase comes from the kernel command line (modutils.phase=):
#   control  Debian's kmod: record, then `apt-get install ./modutils.deb`
#   ours     booted from the initramfs that install made: record, then
#            run the kernel package's configuration as a reinstall does
#            (its postinst: depmod, then update-initramfs); with
#            modutils.reinstall=full, `apt-get install --reinstall` of the
#            package itself (its 4,000 files take minutes to unpack in TCG)
#   again    booted from that initramfs: record, then apt-get install
#            Debian's kmod and libkmod2 back
set -u
IN=/run/mu/in
OUT=/run/mu/out
DEBS=/var/cache/modutils-vm
KREL=$(uname -r)
LIBDIR=/usr/lib/x86_64-linux-gnu
mkdir -p "$OUT"
PHASE=$(sed -n 's/.*modutils\.phase=\([a-z]*\).*/\1/p' /proc/cmdline)

say() { echo "mu[$PHASE]: $*"; }

# Waits until systemd has no job left but ours, so that nothing is still
# loading modules or starting when the state is recorded.
settle() {
    udevadm settle --timeout=120
    local i
    for i in $(seq 120); do
        [ -z "$(systemctl list-jobs --no-legend | grep -v modutils-vm.service)" ] && break
        sleep 1
    done
    udevadm settle --timeout=120
}

loaded() { grep -q "^$1 " /proc/modules; }

# What each boot records for the host to compare.
record_state() {
    local target
    target=$(systemctl get-default)
    echo "$target $(systemctl is-active "$target")" >"$OUT/target"
    # When the target was reached, in microseconds since the kernel started.
    systemctl show -P ActiveEnterTimestampMonotonic "$target" >"$OUT/target-reached-us"
    systemctl --failed --no-legend --plain | awk '{ print $1 }' | sort >"$OUT/failed"
    cut -d' ' -f1 /proc/modules | sort >"$OUT/modules"
    lspci -k >"$OUT/lspci-k" 2>&1
    dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\n' kmod libkmod2 libkmod-dev modutils \
        >"$OUT/dpkg" 2>/dev/null
    # Which kmod and libkmod.so.2 this system runs (the host knows ours).
    sha256sum "$(readlink -f /sbin/modprobe)" "$(readlink -f "$LIBDIR/libkmod.so.2")" >"$OUT/binaries"
    ldd /bin/kmod >"$OUT/ldd-kmod" 2>&1
    systemctl show -p Result,ExecMainStatus systemd-modules-load.service >"$OUT/modules-load"
    journalctl -b -o cat -u systemd-modules-load.service >"$OUT/modules-load.log" 2>&1
    systemd-analyze >"$OUT/systemd-analyze" 2>&1
    journalctl -b -p warning -o short-monotonic >"$OUT/journal-warnings" 2>&1
}

# modprobe@.service runs /sbin/modprobe for a module: loop, unloaded first
# if something loaded it already.
check_modprobe_unit() {
    if loaded loop; then
        modprobe -r loop >"$OUT/modprobe-unit.log" 2>&1 || echo "loop in use, not unloaded" >>"$OUT/modprobe-unit.log"
    fi
    systemctl start modprobe@loop.service >>"$OUT/modprobe-unit.log" 2>&1
    {
        systemctl show -p Result modprobe@loop.service
        loaded loop && echo "loop loaded" || echo "loop not loaded"
    } >"$OUT/modprobe-unit"
}

# The kernel's own request for a module: mounting a file system whose
# driver is not loaded makes it run /proc/sys/kernel/modprobe for
# fs-iso9660. An install rule records which program that was.
check_autoload() {
    loaded isofs && modprobe -r isofs
    cat >/etc/modprobe.d/mu-autoload.conf <<'END'
install isofs sha256sum /proc/$PPID/exe > /run/mu/out/autoload-exe; /sbin/modprobe --ignore-install isofs
END
    cat /proc/sys/kernel/modprobe >"$OUT/autoload-helper"
    mount -t iso9660 -o ro /dev/null /mnt >/dev/null 2>&1
    loaded isofs && echo "isofs loaded" >"$OUT/autoload" || echo "isofs not loaded" >"$OUT/autoload"
    rm -f /etc/modprobe.d/mu-autoload.conf
}

# What an initramfs holds: its file list as lsinitramfs prints it, and the
# checksums of its kmod and libkmod.so.2 (to compare with what is
# installed).
record_initramfs() {
    local initrd=/boot/initrd.img-$KREL name=$1
    lsinitramfs "$initrd" | sort >"$OUT/$name.list"
    rm -rf /run/mu/unpacked
    unmkinitramfs "$initrd" /run/mu/unpacked
    local root=/run/mu/unpacked
    [ -d "$root/main" ] && root=$root/main
    (cd "$root" &&
        sha256sum usr/bin/kmod "$(find usr/lib -name 'libkmod.so.2*' -type f | head -n 1)" \
            >"$OUT/$name.binaries" 2>&1)
    cp "$initrd" "$OUT/initrd.img"
    rm -rf /run/mu/unpacked
}

say "recording the system's state"
settle
record_state
check_modprobe_unit
check_autoload

case "$PHASE" in
control)
    say "installing modutils"
    apt-get install -y "$IN"/modutils_*.deb >"$OUT/install.log" 2>&1
    echo $? >"$OUT/install.rc"
    dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\n' kmod libkmod2 libkmod-dev modutils \
        >"$OUT/dpkg-installed" 2>/dev/null
    record_initramfs initramfs-installed
    ;;
ours)
    stat -c '%Y' "/lib/modules/$KREL/modules.dep" "/boot/initrd.img-$KREL" >"$OUT/before-reinstall"
    sleep 1 # a new mtime must differ from the old one
    if grep -q 'modutils\.reinstall=full' /proc/cmdline; then
        say "reinstalling the kernel package"
        apt-get install -y --reinstall "$DEBS"/linux-image-[0-9]*.deb >"$OUT/reinstall.log" 2>&1
    else
        say "configuring the kernel package again (its postinst)"
        DEBIAN_FRONTEND=noninteractive dpkg-reconfigure "linux-image-$KREL" >"$OUT/reinstall.log" 2>&1
    fi
    echo $? >"$OUT/reinstall.rc"
    stat -c '%Y' "/lib/modules/$KREL/modules.dep" "/boot/initrd.img-$KREL" >"$OUT/after-reinstall"
    record_initramfs initramfs-reinstalled
    ;;
again)
    say "installing Debian's kmod again"
    apt-get install -y "$DEBS"/kmod_*.deb "$DEBS"/libkmod2_*.deb >"$OUT/kmod-back.log" 2>&1
    echo $? >"$OUT/kmod-back.rc"
    dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\n' kmod libkmod2 libkmod-dev modutils \
        >"$OUT/dpkg-kmod-back" 2>/dev/null
    /sbin/modprobe -V >"$OUT/modprobe-version-back" 2>&1
    { /sbin/modprobe dummy && echo "modprobe dummy: ok"; } >"$OUT/modprobe-back" 2>&1
    ;;
*)
    say "unknown phase '$PHASE'"
    ;;
esac

say "writing the results"
sync
tar -cf /dev/disk/by-id/virtio-mu-out -C "$OUT" . && sync
say "done"
