# The demo (tests/vm/run demo): the walkthrough of "Loadable Kernel
# Modules" (IEEE Software, 1999), run for real on a Debian kernel with our
# tools. Sourced by /init; the host prints what is between the markers.

if ours_ready modprobe; then
    MODPROBE=$OURS/modprobe
    who="our modprobe"
else
    MODPROBE=$KMOD/modprobe
    who="kmod's modprobe (standing in until ours is written)"
fi

para() { printf '\n%s\n' "$*"; }
say() { printf '%s\n' "$*"; }
show() {
    printf '$ %s\n' "$*" | sed "s#$OURS/##; s#$KMOD/##; s#$FIX/#fixtures/#g; s#$MODDIR/#/lib/modules/\$(uname -r)/#g"
    "$@" 2>&1 | sed "s#$FIX/#fixtures/#g; s#$MODDIR/#/lib/modules/\$(uname -r)/#g"
}

echo "@@DEMO-BEGIN"
echo "Linux $KREL under QEMU; insmod, rmmod and lsmod are ours, modprobe is $who."

para "A module stacks on the symbols other modules export. mod_c uses mod_b's and mod_a's;"
say "loading it first fails, and insmod says what is missing and who provides it:"
show $OURS/insmod "$MODDIR/extra/mod_c$EXT"

para "Loaded bottom-up, the stack works; lsmod shows who uses whom:"
show $OURS/insmod "$MODDIR/extra/mod_a$EXT"
show $OURS/insmod "$MODDIR/extra/mod_b$EXT"
show $OURS/insmod "$MODDIR/extra/mod_c$EXT" param=7
show cat /sys/module/mod_c/parameters/param
show $OURS/lsmod

para "A module in use cannot be removed; top-down it can:"
show $OURS/rmmod mod_a
show $OURS/rmmod mod_c mod_b mod_a

para "modprobe finds the dependencies itself (modules.dep): the article's bttv example."
show $MODPROBE -v bttv
show $OURS/lsmod

para "The kernel calls modprobe for what it lacks: mounting an ISO 9660 image loads isofs."
$MODPROBE loop
echo "$MODPROBE" >/proc/sys/kernel/modprobe
show cat /proc/sys/kernel/modprobe
show mount -t iso9660 -o loop,ro /vm/test.iso /mnt
show cat /mnt/hello.txt
show $OURS/lsmod
show umount /mnt
echo "$NO_MODPROBE" >/proc/sys/kernel/modprobe

para "Symbol versions guard against modules built for another kernel: this copy of mod_a"
say "was built against another _printk; -f loads it anyway (and taints the kernel)."
show $OURS/insmod "$FIX/mod_a_badcrc.ko"
show $OURS/insmod -f "$FIX/mod_a_badcrc.ko"
show cat /proc/sys/kernel/tainted
show $OURS/rmmod mod_a

para "And the article's autoclean, which kerneld ran from cron. Our modprobe recorded what the"
say "kernel had it load (isofs and what isofs needs); rmmod -a removes only those, once two"
say "sweeps in a row find them unused. bttv and the rest, loaded by hand, stay."
show cat /run/modutils/autoclean
show $OURS/rmmod -a -v
show $OURS/rmmod -a --dry-run
show $OURS/rmmod -a -v
show $OURS/lsmod
echo "@@DEMO-END"
