#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ one after another, each for a fixed
# time, and fails on any crash, timeout (an input taking over 10 s) or
# out-of-memory (over 2 GiB RSS, or one allocation over 2 GiB).
#
#   scripts/fuzz.sh                 every target, 15 s each (what tests/run does)
#   scripts/fuzz.sh -t 600          every target, 10 minutes each
#   scripts/fuzz.sh -t 3600 index   one target for an hour
#   scripts/fuzz.sh -l              list the targets
#   scripts/fuzz.sh -s              total time and execs per target so far
#
# Needs cargo-fuzz (installed with `cargo install --locked` when missing)
# and a C++ compiler for libFuzzer. Only stable Rust is assumed:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (AddressSanitizer,
# coverage instrumentation) to the stable compiler.
#
# Each target starts from its committed seeds (fuzz/seeds/<target>) and
# keeps what it learns in fuzz/corpus/<target> (not committed), so longer
# and repeated runs build on each other. A failing input is saved in
# fuzz/artifacts/<target>/; replay it with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>
# Every run appends "date target seconds-run execs status" to
# ${MODUTILS_CACHE:-~/.cache/modutils}/fuzz-runs.tsv (the figures in
# docs/reliability.md come from there).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=15
cache=${MODUTILS_CACHE:-$HOME/.cache/modutils}
while getopts "t:lsh" opt; do
    case $opt in
        t) seconds=$OPTARG ;;
        s)
            if [ ! -f "$cache/fuzz-runs.tsv" ]; then
                echo "no fuzzing runs recorded yet ($cache/fuzz-runs.tsv)"
                exit 0
            fi
            awk -F'\t' '{ t[$2] += $3; e[$2] += $4; if ($5 != "ok") f[$2]++; T += $3; E += $4 }
                END { for (k in t) printf "%-16s %7d s %14d execs %d failed runs\n", k, t[k], e[k], f[k]
                      printf "%-16s %7d s %14d execs\n", "total", T, E }' "$cache/fuzz-runs.tsv" | sort
            exit 0 ;;
        l) sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v modutils-fuzz; exit 0 ;;
        *) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 0 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v modutils-fuzz)
fi

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz --version 0.13.2 >&2
fi
cargo fuzz build -O >&2

bin=fuzz/target/x86_64-unknown-linux-gnu/release
mkdir -p "$cache"
failed=()
for t in "${targets[@]}"; do
    [ -x "$bin/$t" ] || { echo "fuzz: no target $t" >&2; exit 2; }
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/seeds/$t"
    log=fuzz/artifacts/$t/last-run.log
    status=ok
    start=$(date +%s)
    # -timeout: one input may take 10 s; -rss_limit_mb also caps single
    # allocations (malloc_limit_mb defaults to it).
    "$bin/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 \
        >"$log" 2>&1 || status=failed
    took=$(($(date +%s) - start))
    # Executions: the final statistics, or the last progress line when a
    # failure cut the run short.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$took" "${execs:-0}" "$status" \
        >>"$cache/fuzz-runs.tsv"
    printf 'fuzz: %-16s %6ss %12s execs  %s\n' "$t" "$took" "${execs:-?}" "$status" >&2
    if [ $status != ok ]; then
        failed+=("$t")
        grep -E 'ERROR|panicked|SUMMARY|Test unit written|timeout|out-of-memory' "$log" | head -20 >&2 || true
    fi
done
if [ ${#failed[@]} != 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
