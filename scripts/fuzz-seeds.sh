#!/usr/bin/env bash
# Regenerates the committed seed corpora, fuzz/seeds/<target>/, from real
# files: small real modules (Debian's 6.1 and 6.12 trees and the fixture
# modules built by fixtures/build-modules.sh), indexes depmod wrote for the
# fixture modules, the modprobe.d corpus, real Module.symvers lines, real
# /proc/kallsyms lines and modalias patterns. Needs tests/setup.sh to have
# run (the kernel trees and fixture builds in the cache) and kmod's depmod.
# Keeps the total to a few hundred KB: the fuzzers grow their own corpora
# in fuzz/corpus/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${MODUTILS_CACHE:-$HOME/.cache/modutils}
S=fuzz/seeds
rm -rf "$S"
mkdir -p "$S"/{module_file,signature,index,modprobe_conf,depmod_conf,kcmdline,procfs,symvers,fnmatch,index_roundtrip,kver,libkmod,depmod_cache} fuzz/data/libkmod

k61=$(ls -d "$CACHE"/trees/6.1.0-*-amd64 | head -1)
k612=$(ls -d "$CACHE"/trees/6.12.*-amd64 | head -1)
rel61=$(basename "$k61")
fix=$CACHE/build/$rel61/modules
real61=$k61/lib/modules/$rel61/kernel/net/6lowpan/nhc_ipv6.ko
real612=$(find "$k612/lib/modules" -name vsock_diag.ko.xz | head -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The module mod_c.ko, unprefixed, for targets that need a real module.
cp "$fix/mod_c.ko" fuzz/data/mod_c.ko

# module_file: mode byte 0 = the bytes are the file; 5/6/7 = gzip/xz/zstd
# them first.
prefix() { { printf "\\x$(printf %02x "$1")"; cat "$2"; } >"$3"; }
prefix 0 "$fix/mod_c.ko" "$S/module_file/mod_c"
prefix 0 "$fix/mod_param.ko" "$S/module_file/mod_param"
prefix 0 "$real61" "$S/module_file/nhc_ipv6_signed"
prefix 0 "$real612" "$S/module_file/vsock_diag_xz"
xz -T1 -c --check=crc32 "$fix/mod_a.ko" >"$tmp/a.xz"
prefix 0 "$tmp/a.xz" "$S/module_file/mod_a_xz"
zstd -q -c "$fix/mod_a.ko" >"$tmp/a.zst"
prefix 0 "$tmp/a.zst" "$S/module_file/mod_a_zst"
gzip -n -c "$fix/mod_a.ko" >"$tmp/a.gz"
prefix 0 "$tmp/a.gz" "$S/module_file/mod_a_gz"
prefix 5 "$fix/mod_b.ko" "$S/module_file/mod_b_in_gz"
prefix 6 "$fix/mod_b.ko" "$S/module_file/mod_b_in_xz"
prefix 7 "$fix/mod_b.ko" "$S/module_file/mod_b_in_zst"

# signature: the trailers of real signed modules (their last 1 KiB).
tail -c 1024 "$real61" >"$S/signature/nhc_ipv6_tail"
xz -dc "$real612" | tail -c 1024 >"$S/signature/vsock_diag_tail"
# ... and crafted ones from the signature test cases (hex trailers).
awk '!/^#/ && n++ < 40' crates/core/tests/data/signature/cases.tsv |
    while IFS=$'\t' read -r name _ trailer _; do
        printf '%s' "$trailer" | xxd -r -p >"$S/signature/case_$name"
    done

# index: key-length byte, key, then an index depmod wrote for the fixtures.
mkdir -p "$tmp/lib/modules/6.1.0-fuzz/extra"
for m in "$fix"/*.ko; do case $m in *loop*) ;; *) cp "$m" "$tmp/lib/modules/6.1.0-fuzz/extra/" ;; esac; done
/sbin/depmod -b "$tmp" 6.1.0-fuzz
key_index() { { printf "\\x$(printf %02x ${#1})%s" "$1"; cat "$2"; } >"$3"; }
key_index mod_c "$tmp/lib/modules/6.1.0-fuzz/modules.dep.bin" "$S/index/dep"
key_index "pci:v00001234d00005678sv00000000sd00000000bc00sc00i00" \
    "$tmp/lib/modules/6.1.0-fuzz/modules.alias.bin" "$S/index/alias"
key_index symbol:mod_a_value "$tmp/lib/modules/6.1.0-fuzz/modules.symbols.bin" "$S/index/symbols"
key_index ext4 "$MODUTILS_TEST_TREE/modules.builtin.bin" "$S/index/builtin"
key_index "fs-ext4" "$MODUTILS_TEST_TREE/modules.builtin.alias.bin" "$S/index/builtin_alias"

# libkmod: the fixture indexes are also the target's module directory
# (fuzz/data/libkmod; the built-in ones from the modprobe test tree's text,
# which `tests/libkmod` builds into target/tmp/libkmod-check). A seed is a
# selector byte (the slot the blob replaces, bit 7 = load the indexes), a
# modprobe.d text, then 0xff-separated the blob and the names to look up.
L=$tmp/lib/modules/6.1.0-fuzz
cp "$L"/modules.{dep,alias,symbols}.bin "$L/modules.softdep" fuzz/data/libkmod/
built=target/tmp/libkmod-check/lib/modules/1.0
[ -f "$built/modules.builtin.bin" ] ||
    cargo test -q -p modutils --test tests libkmod::differential::checklist >/dev/null 2>&1 || true
cp "$built"/modules.builtin{,.alias}.bin fuzz/data/libkmod/
lk_conf='options mod_a x=1
alias pat* mod_c
softdep mod_c pre: mod_a post: mod_b
weakdep mod_c mod_a
blacklist mod_b
install mod_b /bin/true $CMDLINE_OPTS
remove mod_c /bin/false'
lk_seed() {
    local name=$1 sel=$2 blob=$3
    shift 3
    { printf "\\x$sel"; printf '%s\xff' "$lk_conf"; cat "$blob"
      for n in "$@"; do printf '\xff%s' "$n"; done; } >"$S/libkmod/$name"
}
lk_names=(mod_c mod-a pat1 mod_softdep symbol:mod_a_value builtin_one bi-alias
    "pci:v00001234d00005678sv00000000sd00000000bc00sc00i00" 'bad]' /etc/passwd)
i=0
for f in dep alias symbols builtin.alias builtin; do
    lk_seed "$f" "8$i" "fuzz/data/libkmod/modules.$f.bin" "${lk_names[@]:0:8}"
    lk_seed "$f-unloaded" "0$i" "fuzz/data/libkmod/modules.$f.bin" "${lk_names[@]:2:8}"
    i=$((i + 1))
done
lk_seed module 85 fuzz/data/mod_c.ko mod_c mod_b mod_softdep

# depmod_cache: a mode byte (1: checksums recomputed after mutation), then
# the cache our depmod writes for some fixture modules, with its memo: its
# index file followed by the data file it names.
# The modules are linked, not copied: a file changed seconds ago is not
# kept in the cache. Nor is a directory's listing, hence the wait.
cargo build --release -q --bin depmod
cdir=$tmp/cache/lib/modules/6.1.0-fuzz/extra
mkdir -p "$cdir"
for m in mod_a mod_b mod_c mod_softdep mod_weakdep mod_alias mod_devname; do
    ln -s "$fix/$m.ko" "$cdir/"
done
sleep 4
target/release/depmod -b "$tmp/cache" 6.1.0-fuzz
cache=$tmp/cache/var/cache/modutils/6.1.0-fuzz.depmod
data=$(ls "$cache".*)
{ printf '\1'; cat "$cache" "$data"; } >"$S/depmod_cache/fixtures"
{ printf '\0'; cat "$cache" "$data"; } >"$S/depmod_cache/fixtures_checked"

# modprobe_conf: the modprobe.d corpus (files up to 4 KiB) and this host's.
find fixtures/modprobe.d-corpus fixtures/modprobe/corpus /lib/modprobe.d /etc/modprobe.d \
    -type f -size -4k 2>/dev/null | sort | awk 'NR <= 60' | while read -r f; do
    cp "$f" "$S/modprobe_conf/$(echo "$f" | tr / _)"
done
cp fixtures/modprobe/tree/modules.softdep "$S/modprobe_conf/modules.softdep"

# depmod_conf: every directive.
cat >"$S/depmod_conf/all" <<'CONF'
# every directive
search updates extra built-in external
override mod_a 6.1.0-56-amd64 extra
override mod_b * updates
override mod_c 6\.1\..* weak-updates
external 6.1.* /opt/ext
external * /usr/local/ext
exclude build source test
include /etc/depmod.d/other.conf
make_map_files
CONF
printf 'search \\\n  updates\nbogus line\noverride a [[:digit:]]+ b\n' >"$S/depmod_conf/continued"

# kcmdline: real command lines.
printf '%s' "$(cat /proc/cmdline)" >"$S/kcmdline/host"
printf 'BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet psmouse.proto=bare "parport.dyndbg=file drivers/parport/ieee1284_ops.c +mpf" modprobe.blacklist=a-b,c snd-hda.x="1 2" ivrs_acpihid[14:00.5]=AMD0020:00\n' \
    >"$S/kcmdline/grub"

# procfs: mode 0 = /proc/modules, 1 = /proc/kallsyms.
printf '\0mod_c 16384 0 - Live 0xffffffffc0a44000 (OE)\nmod_b 16384 1 mod_c, Live 0xffffffffc0a3f000 (OE)\nmod_a 16384 2 mod_c,mod_b, Live 0xffffffffc0a3a000 (OE)\nmod_noexit 12288 0 [permanent], Live 0x0000000000000000\nx 1 - - Unloading 0x0\n' \
    >"$S/procfs/modules"
{ printf '\1'; head -60 /proc/kallsyms; awk '/ __ksymtab_/ && n++ < 20' /proc/kallsyms;
  printf 'ffffffffc0a3a010 T mod_a_twice\t[mod_a]\nffffffffc0a3a020 r __ksymtab_mod_a_value\t[mod_a]\n'; } >"$S/procfs/kallsyms"

# symvers: the kernel's own lines for what mod_c needs, and the fixtures'.
hdr=$(ls -d "$CACHE"/headers/"$rel61"/usr/src/linux-headers-"$rel61")
awk -F'\t' '$2 ~ /^(_printk|module_layout|__fentry__|__x86_return_thunk)$/ || NR <= 40' "$hdr/Module.symvers" \
    >"$S/symvers/kernel"
cp "$fix/Module.symvers" "$S/symvers/fixtures"

# fnmatch: real modalias patterns against real device strings.
i=0
awk '/^alias / && NR % 997 == 0 && n++ < 30 {print $2}' "$MODUTILS_TEST_TREE/modules.alias" |
    while read -r pat; do
        i=$((i + 1))
        dev=$(echo "$pat" | sed 's/\*/0/g; s/?/x/g; s/\[[^]]*\]/a/g')
        printf '%s\0%s' "$pat" "$dev" >"$S/fnmatch/alias_$i"
    done
printf '[[:alpha:]]*[!a-c]?\\*\0x123d?*' >"$S/fnmatch/classes"
printf '[[.a.]-[.z.]][=b=]\0mb' >"$S/fnmatch/collating"

# kver: KVER patterns people write, against real version strings (pattern,
# NUL, version).
kver() { printf '%s\0%s' "$2" "$3" >"$S/kver/$1"; }
kver debian-6.1 '^6\.1\.' 6.1.0-56-amd64
kver amd64 '.*-amd64$' 6.12.117+deb12-amd64
kver old-2.6 '2\.6\.3[0-9].*' 2.6.32-5-686
kver class '(5|6)\.[[:digit:]]+' 5.10.0-28-arm64
kver word '\<6\>' 6.6.6
kver bound '^[0-9]+(\.[0-9]+){2}$' 4.19.0
kver brackets '[]a-]{,2}x|^$' ''
kver stacked 'z+*++' zz
kver backref '(6)\.\1' 6.6

du -sh "$S" fuzz/data >&2
