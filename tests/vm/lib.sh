# Assertions and the scenario runner of the modutils VM suite.
# Sourced by /init inside the VM (busybox sh); see tests/vm/README.md.
#
# Variables a scenario can use:
#   OURS      /ours/bin: our static binaries (insmod, rmmod, lsmod, modprobe, ...)
#   KMOD      /kmod/bin: Debian's kmod, the oracle (same tool names)
#   MODPROBE  the modprobe under test in a "# modprobe: both" scenario
#   KREL      the running kernel release; KIND: 6.1 or 6.12
#   MODDIR    /lib/modules/$KREL; fixture modules are in $MODDIR/extra
#   FIX       /fixtures: every fixture module as .ko, .ko.xz, .ko.gz, .ko.zst,
#             and the broken variants mod_a_badcrc.ko, mod_a_badmagic.ko (+ compressed)
#   EXT       the extension of modules in the tree (.ko on 6.1, .ko.xz on 6.12)
#   T         a scratch directory, emptied before each scenario
# After `run CMD...`: $RC, and the output in $T/out and $T/err.

OURS=/ours/bin
KMOD=/kmod/bin
FIX=/fixtures
T=/tmp/vmt

now_ms() {
    read -r up _ </proc/uptime
    echo $((${up%.*} * 1000 + 1${up#*.}0 - 1000))
}

fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}

note() {
    echo "note: $*"
}

# skip REASON: end the scenario as skipped.
skip() {
    echo "$*" >"$T/.skip"
    exit 0
}

# run CMD ARGS...: run a command, capturing stdout, stderr and exit code.
run() {
    echo "\$ $*"
    "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

# shell-quote each argument, for su -c.
quote() {
    for a in "$@"; do
        printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"
    done
}

# run_as_nobody CMD ARGS...: like run, as uid 65534 without capabilities.
run_as_nobody() {
    echo "\$ (as nobody) $*"
    su -s /bin/sh -c "cd /tmp && $(quote "$@")" nobody >"$T/out" 2>"$T/err"
    RC=$?
}

expect_rc() {
    [ "$RC" = "$1" ] || {
        fail "exit code $RC, expected $1"
        show_output
    }
}

show_output() {
    [ -s "$T/out" ] && { echo "  stdout:"; sed 's/^/  | /' "$T/out"; }
    [ -s "$T/err" ] && { echo "  stderr:"; sed 's/^/  | /' "$T/err"; }
    return 0
}

# _expect_same WHAT EXPECTED-FILE ACTUAL-FILE
_expect_same() {
    if ! cmp -s "$2" "$3"; then
        fail "$1 differs (- expected, + actual):"
        diff -u "$2" "$3" | sed '1,2d; s/^/  /'
    fi
}

# _expect WHAT FILE [LINE...]: the file holds exactly these lines
# (or, without LINE arguments, exactly what stdin holds).
_expect() {
    what=$1 file=$2
    shift 2
    if [ $# -gt 0 ]; then printf '%s\n' "$@" >"$T/expected"; else cat >"$T/expected"; fi
    _expect_same "$what" "$T/expected" "$file"
}

expect_out() { _expect stdout "$T/out" "$@"; }
expect_err() { _expect stderr "$T/err" "$@"; }
expect_no_out() { [ -s "$T/out" ] && { fail "unexpected stdout:"; sed 's/^/  | /' "$T/out"; }; return 0; }
expect_no_err() { [ -s "$T/err" ] && { fail "unexpected stderr:"; sed 's/^/  | /' "$T/err"; }; return 0; }
expect_silent_success() { expect_rc 0; expect_no_out; expect_no_err; }

# expect_err_line N TEXT: line N of stderr is TEXT.
expect_err_line() {
    got=$(sed -n "${1}p" "$T/err")
    [ "$got" = "$2" ] || fail "stderr line $1 is '$got', expected '$2'"
}

# expect_err_has TEXT: some line of stderr is exactly TEXT.
expect_err_has() {
    grep -Fxq -- "$1" "$T/err" || { fail "stderr lacks the line '$1'"; show_output; }
}

# expect_file PATH TEXT: the file holds exactly TEXT (plus a newline).
expect_file() {
    if [ ! -e "$1" ]; then fail "$1 does not exist"; return; fi
    printf '%s\n' "$2" >"$T/expected"
    _expect_same "$1" "$T/expected" "$1"
}

# Names of the loaded modules, sorted, on one line.
loaded() {
    cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ' | sed 's/ $//'
}

is_loaded() { grep -q "^$1 " /proc/modules; }

expect_loaded() {
    for m in "$@"; do is_loaded "$m" || fail "$m is not loaded"; done
}

expect_not_loaded() {
    for m in "$@"; do ! is_loaded "$m" || fail "$m is loaded"; done
}

# expect_nothing_loaded: the module list is back to what it was at boot.
expect_nothing_loaded() {
    now=$(loaded)
    [ "$now" = "$BASELINE" ] || fail "loaded modules: '$now', expected '$BASELINE'"
}

# Debian 12's kmod 30 is a debug build: libkmod's messages that go through
# the tool logger carry "../libkmod/file.c:NNN function() " after the level
# (docs/compat.md, "kmod 30 and 34.2"); kmod 34.2 prints none of it.
normalize_kmod30() {
    sed -i 's#^\([a-z]*: [A-Z]*: \)\.\./libkmod/[a-z-]*\.c:[0-9]* [a-z_]*() #\1#' "$1"
}

# run_kmod CMD ARGS...: like run, for kmod's tools (normalized stderr).
run_kmod() {
    run "$@"
    normalize_kmod30 "$T/err"
}

# same_as_kmod TOOL ARGS...: our TOOL and kmod's give the same stdout,
# stderr and exit code. Leaves ours in $T/out, $T/err, $RC.
same_as_kmod() {
    tool=$1
    shift
    echo "\$ [kmod] $tool $*"
    "$KMOD/$tool" "$@" >"$T/kmod.out" 2>"$T/kmod.err"
    krc=$?
    run "$OURS/$tool" "$@"
    sed -i "s#^$OURS/#X/#" "$T/err"
    sed -i "s#^$KMOD/#X/#" "$T/kmod.err"
    normalize_kmod30 "$T/kmod.err"
    [ "$RC" = "$krc" ] || fail "$tool exit code $RC, kmod's $krc"
    _expect_same "$tool stdout (- kmod, + ours)" "$T/kmod.out" "$T/out"
    _expect_same "$tool stderr (- kmod, + ours)" "$T/kmod.err" "$T/err"
}

# same_first_err_line_as_kmod TOOL ARGS...: kmod's first error line is
# unchanged in ours (ours may add explanations) and the exit codes agree.
same_first_err_line_as_kmod() {
    tool=$1
    shift
    echo "\$ [kmod] $tool $*"
    "$KMOD/$tool" "$@" >"$T/kmod.out" 2>"$T/kmod.err"
    krc=$?
    run "$OURS/$tool" "$@"
    [ "$RC" = "$krc" ] || fail "$tool exit code $RC, kmod's $krc"
    k1=$(head -n 1 "$T/kmod.err")
    o1=$(head -n 1 "$T/err")
    [ "$k1" = "$o1" ] || fail "first error line '$o1', kmod's '$k1'"
    _expect_same "$tool stdout (- kmod, + ours)" "$T/kmod.out" "$T/out"
}

# The modprobe under test is kmod's (the oracle-only run of a scenario).
oracle_run() {
    [ "$MODPROBE" = "$KMOD/modprobe" ]
}

# remove every module loaded since boot (kmod's rmmod, forced if need be).
cleanup_modules() {
    for _ in 1 2 3 4 5 6; do
        extra=$(for m in $(cut -d' ' -f1 /proc/modules); do
            case " $BASELINE " in *" $m "*) ;; *) echo "$m" ;; esac
        done)
        [ -z "$extra" ] && return 0
        for m in $extra; do "$KMOD/rmmod" "$m" 2>/dev/null || "$KMOD/rmmod" -f "$m" 2>/dev/null; done
    done
}

# Whether one of our tools exists yet (the placeholders exit 1 on -V).
ours_ready() {
    "$OURS/$1" -V >/dev/null 2>&1
}

wanted() {
    [ -z "$ONLY" ] && return 0
    for pat in $(echo "$ONLY" | tr ',' ' '); do
        case "$1" in $pat) return 0 ;; esac
    done
    return 1
}

PASSED=0 FAILED=0 SKIPPED=0

# run_variant FILE LABEL MODPROBE
run_variant() {
    file=$1 label=$2
    echo "@@BEGIN $label"
    rm -rf "$T"
    mkdir -p "$T"
    start=$(now_ms)
    (
        MODPROBE=$3
        FAILS=0
        cd /tmp || exit 99
        . "$file"
        exit "$FAILS"
    ) >/tmp/scenario.log 2>&1
    rc=$?
    if [ "$(loaded)" != "$BASELINE" ]; then
        echo "FAIL: the scenario left modules loaded: $(loaded)" >>/tmp/scenario.log
        [ $rc = 0 ] && rc=1
        cleanup_modules
    fi
    for f in /etc/modprobe.d/*.conf; do [ -e "$f" ] && rm -f "$f"; done
    echo "$NO_MODPROBE" >/proc/sys/kernel/modprobe
    ms=$(($(now_ms) - start))
    sed 's/^/@@| /' /tmp/scenario.log
    if [ -e "$T/.skip" ] && [ $rc = 0 ]; then
        echo "@@SKIP $label $ms $(cat "$T/.skip")"
        SKIPPED=$((SKIPPED + 1))
    elif [ $rc = 0 ]; then
        echo "@@PASS $label $ms"
        PASSED=$((PASSED + 1))
    else
        echo "@@| --- kernel log (last lines)"
        dmesg | tail -n 12 | sed 's/^/@@|   /'
        echo "@@FAIL $label $ms"
        FAILED=$((FAILED + 1))
    fi
}

# Runs every scenario of /vm/scenarios, in name order. A scenario whose
# header has "# modprobe: both" runs twice: with kmod's modprobe (its label
# ends in [kmod], an oracle-only run that exercises the scenario itself)
# and with ours ([ours]), skipped while our modprobe is a placeholder.
# "# requires: TOOL..." skips a scenario until those tools of ours exist.
run_all() {
    BASELINE=$(loaded)
    echo "@@START kind=$KIND release=$KREL baseline=[$BASELINE]"
    for file in /vm/scenarios/*.sh; do
        name=${file##*/}
        name=${name%.sh}
        wanted "$name" || continue
        missing=""
        for tool in $(sed -n 's/^# requires: *//p' "$file"); do
            ours_ready "$tool" || missing="$missing $tool"
        done
        if [ -n "$missing" ]; then
            echo "@@BEGIN $name"
            echo "@@SKIP $name 0 waits for our${missing}"
            SKIPPED=$((SKIPPED + 1))
            continue
        fi
        if grep -q '^# modprobe: both' "$file"; then
            run_variant "$file" "$name[kmod]" "$KMOD/modprobe"
            if ours_ready modprobe; then
                run_variant "$file" "$name[ours]" "$OURS/modprobe"
            else
                echo "@@BEGIN $name[ours]"
                echo "@@SKIP $name[ours] 0 waits for our modprobe"
                SKIPPED=$((SKIPPED + 1))
            fi
        else
            run_variant "$file" "$name" "$OURS/modprobe"
        fi
    done
    echo "@@DONE passed=$PASSED failed=$FAILED skipped=$SKIPPED"
}
