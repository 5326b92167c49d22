#!/usr/bin/env bash
# Our libkmod.so.2 against kmod's (Debian 12's libkmod2), one C program
# (benches/libkmod.c) linked against kmod's and run with ours through
# LD_LIBRARY_PATH: context creation with the indexes loaded, and udev's
# coldplug path over every modalias string made from the real tree's alias
# patterns plus real device strings. Alternating runs, medians, peak RSS
# (benches/compare.py); ratios are ours/kmod. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/setup.sh)"
cargo build --release -q -p modutils-libkmod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$PWD/target/release/libkmod.so" "$work/libkmod.so.2"
cc -O2 -o "$work/bench" benches/libkmod.c -lkmod
tree=$MODUTILS_TEST_TREE
runs=${RUNS:-7}

# Concrete strings from every modules.alias pattern ('*' as "1" and as
# nothing, '?' as '0', a bracket expression as its first allowed
# character), then the real device and request strings of the fixtures.
python3 - "$tree/modules.alias" fixtures/modprobe/modaliases.txt > "$work/strings" <<'PY'
import sys

def concrete(p, star):
    out, i = [], 0
    while i < len(p):
        c = p[i]
        if c == "*":
            out.append(star)
        elif c == "?":
            out.append("0")
        elif c == "\\" and i + 1 < len(p):
            i += 1
            out.append(p[i])
        elif c == "[" and "]" in p[i + 2:]:
            end = p.index("]", i + 2)
            body = p[i + 1:end]
            if body[0] in "!^":
                out.append(next(chr(x) for x in range(33, 127) if chr(x) not in body[1:]))
            else:
                out.append(body[0])
            i = end
        else:
            out.append(c)
        i += 1
    return "".join(out)

for line in open(sys.argv[1]):
    if line.startswith("alias "):
        pattern = line.split()[1]
        print(concrete(pattern, "1"))
        print(concrete(pattern, ""))
for line in open(sys.argv[2]):
    line = line.strip()
    if line and not line.startswith("#"):
        print(line)
PY
echo "coldplug strings: $(wc -l < "$work/strings")"
for lib in kmod ours; do
    pre=""
    [ $lib = ours ] && pre="LD_LIBRARY_PATH=$work"
    echo "$lib: $(env $pre "$work/bench" coldplug "$tree" < "$work/strings")"
done
benches/compare.py --runs "$runs" --name "kmod_new + kmod_load_resources, 1000 times" \
    --kmod "$work/bench load $tree 1000" \
    --ours "LD_LIBRARY_PATH=$work $work/bench load $tree 1000" ${JSON:+--json "$JSON"}
benches/compare.py --runs "$runs" --name "coldplug: lookup + probe of $(wc -l < "$work/strings") strings" \
    --kmod "$work/bench coldplug $tree < $work/strings" \
    --ours "LD_LIBRARY_PATH=$work $work/bench coldplug $tree < $work/strings" ${JSON:+--json "$JSON"}
