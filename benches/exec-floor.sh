#!/usr/bin/env bash
# Short runs against the exec floor: the time to start a static program
# that does nothing (benches/floor.c), next to kmod's tools and ours, for
# the lookups a boot and a shell make most: `modprobe -D bttv` (a deep
# dependency chain), `modprobe -R` of a real PCI modalias (the wildcard
# search of modules.alias.bin) and `modinfo bttv`. Ours four times: the
# release build (dynamically linked to glibc, as `cargo build --release`
# makes it), the Debian package's build (`cargo xtask deb`: glibc linked,
# liblzma and libzstd opened only to decompress), the static build the VM
# suite uses (crt-static, a static PIE), and the same static build linked
# at a fixed address, as `cc -static` links the floor.
#
# The floor comes twice, linked each way: a static PIE relocates itself
# before main (every pointer in its data, each page written to once),
# which a program linked at a fixed address does not. Each static build
# of ours is given as a multiple of the floor linked as it is.
#
# Every command is spawned directly (no shell), runs alternate across all
# commands so each sees the same machine state, and the figures are
# medians of wall time and of CPU time (user + system, from wait4's
# rusage). Each is given as a multiple of its floor and as a ratio to
# kmod's. RUNS=N (default 400) runs per command.
#
# How a program's pages came into the page cache changes how long it takes
# to start, by more than the differences measured here: a file written
# with write(2) (by cp, by dpkg) can be cached in large folios, while one
# read from disk by exec's page faults is cached one page at a time, and
# each fault then maps sixteen separate pages. A binary just written by the
# linker and an empty program just written by the compiler need not be in
# the same state. So every program of ours and both floors are copied into
# one scratch directory and dropped from the page cache
# (POSIX_FADV_DONTNEED) before the first run: each is read from disk as
# after a boot. CACHED=written skips the dropping, to time the copies as
# written. kmod's binary is dropped too; its shared libraries, mapped by
# other processes, stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
target=x86_64-unknown-linux-gnu
cargo build --release -q --locked --bin modprobe --bin modinfo
# The Debian package's multicall binary, as `cargo xtask deb` builds it
# (target/deb/kmod): the system's liblzma and libzstd opened when needed.
cargo xtask deb >/dev/null
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release -q --locked --target $target -p modutils \
    --bin modprobe --bin modinfo --features static
# Its own target directory: other flags would rebuild the one above.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
    CARGO_TARGET_DIR=target/fixed-address \
    cargo build --release -q --locked --target $target -p modutils \
    --bin modprobe --bin modinfo --features static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -static -o "$work/floor" benches/floor.c
cc -O2 -static-pie -o "$work/floor-pie" benches/floor.c

for build in dyn static fixed deb; do mkdir "$work/$build"; done
for tool in modprobe modinfo; do
    cp target/deb/kmod "$work/deb/$tool"
    cp "target/release/$tool" "$work/dyn/"
    cp "target/$target/release/$tool" "$work/static/"
    cp "target/fixed-address/$target/release/$tool" "$work/fixed/"
done

tree=$MODUTILS_TEST_TREE
base=$(dirname "$(dirname "$(dirname "$tree")")")
rel=$(basename "$tree")
pci=pci:v00008086d000015BBsv000017AAsd00002249bc02sc00i00
dyn=$work/dyn
static=$work/static
fixed=$work/fixed

python3 - "${RUNS:-400}" "$work" "$base" "$rel" "$pci" "$dyn" "$static" "$fixed" "$work/deb" <<'PY'
import os, statistics, sys, time

runs, work, base, rel, pci, dyn, static, fixed, deb = sys.argv[1:]
runs = int(runs)
cases = {
    "modprobe -D bttv": ("modprobe", ["-d", base, "-S", rel, "-D", "bttv"]),
    "modprobe -R (PCI)": ("modprobe", ["-d", base, "-S", rel, "-R", pci]),
    "modinfo bttv": ("modinfo", ["-b", base, "-k", rel, "bttv"]),
}
# Each build with the floor it is measured against: the one linked as it is.
builds = [("kmod", "/usr/sbin", "floor"), ("ours", dyn, "floor"), ("ours package", deb, "floor"),
          ("ours static-pie", static, "floor-pie"), ("ours static", fixed, "floor")]
null = os.open(os.devnull, os.O_WRONLY)

def once(argv):
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"exit status {os.waitstatus_to_exitcode(status)}: {' '.join(argv)}")
    return wall, ru.ru_utime + ru.ru_stime

commands = {"floor": [f"{work}/floor"], "floor-pie": [f"{work}/floor-pie"]}
for case, (tool, args) in cases.items():
    for who, d, _ in builds:
        commands[f"{case}, {who}"] = [f"{d}/{tool}"] + args
times = {name: [] for name in commands}
if os.environ.get("CACHED") != "written":
    os.sync()
    for argv in commands.values():
        fd = os.open(argv[0], os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
for name, argv in commands.items():  # warm-up
    for _ in range(5):
        once(argv)
for _ in range(runs):
    for name, argv in commands.items():
        times[name].append(once(argv))
med = {n: (statistics.median(w for w, _ in t) * 1e3, statistics.median(c for _, c in t) * 1e3)
       for n, t in times.items()}
state = "as written" if os.environ.get("CACHED") == "written" else "read from disk"
print(f"{runs} alternating runs each, medians; load {os.getloadavg()[0]:.1f}; programs {state}")
for floor in ("floor", "floor-pie"):
    fw, fc = med[floor]
    print(f"{floor} (static C, empty main): wall {fw:.3f} ms, CPU {fc:.3f} ms")
for case in cases:
    kw, kc = med[f"{case}, kmod"]
    for who, _, floor in builds:
        fw, fc = med[floor]
        w, c = med[f"{case}, {who}"]
        print(f"{case:18} {who:16} wall {w:.3f} ms = {w / fw:.2f}x {floor} = {w / kw:.2f}x kmod;"
              f" CPU {c:.3f} ms = {c / fc:.2f}x {floor} = {c / kc:.2f}x kmod")
PY
