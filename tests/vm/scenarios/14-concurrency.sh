# Scenario 14, concurrency: many modprobe and modprobe -r processes at once,
# on one module and on a dependency stack (mod_c uses mod_b and mod_a,
# mod_b uses mod_a). Every process must exit 0, or 1 with one of the
# messages a lost race gives (the module went away, or was still held,
# between the check and the system call); none may crash or print anything
# else. After every storm the state is consistent: each loaded module's
# dependencies are loaded, each is listed once, and each use count matches
# the users listed. Loads that nothing disturbs must all succeed.
# modprobe: both

N=12

# Lines a process that lost a race may print (through modprobe's logger,
# with kmod 30's debug prefix for libkmod's messages, or libkmod's own):
# kmod and ours alike, e.g. a /sys/module attribute read while the module
# goes (ENODEV). Anything else fails.
RACE_LINES='^(modprobe: (FATAL|ERROR|WARNING): (\.\./libkmod/[a-z-]+\.c:[0-9]+ [a-z_]+\(\) )?|libkmod: ERROR.* kmod_module_[a-z_]+: )(could not (insert|remove) .mod_[abc].: (No such file or directory|Resource temporarily unavailable|Device or resource busy|File exists|Unknown symbol in module, or unknown parameter \(see dmesg\)|Invalid argument)|could not read integer from ./sys/module/mod_[abc]/refcnt.: .(No such device|No such file or directory).|could not read from ./sys/module/mod_[abc]/initstate.: (No such device|No such file or directory)|Module mod_[abc] is in use\.|Module mod_[abc] is not in kernel\.)$'

# The kernel's view agrees with itself.
consistent() {
    for m in mod_a mod_b mod_c; do
        n=$(grep -c "^$m " /proc/modules)
        [ "$n" -le 1 ] || fail "$1: $m listed $n times"
    done
    if is_loaded mod_c; then
        is_loaded mod_b || fail "$1: mod_c loaded without mod_b"
        is_loaded mod_a || fail "$1: mod_c loaded without mod_a"
    fi
    if is_loaded mod_b; then is_loaded mod_a || fail "$1: mod_b loaded without mod_a"; fi
    # /proc/modules: name size refcnt users state address
    while read -r name _ refcnt users _; do
        case $name in mod_a | mod_b | mod_c) ;; *) continue ;; esac
        listed=$(echo "$users" | tr ',' '\n' | grep -c '^mod_')
        [ "$refcnt" = "$listed" ] || fail "$1: $name use count $refcnt, users '$users'"
    done </proc/modules
}

# storm LABEL < FILE: runs every line of FILE at once, waits, checks each
# exit code and message, then the state. $T/ok counts the exits 0. (A
# redirection, not a pipe: fail must run in this shell to count.)
storm() {
    label=$1
    i=0
    while IFS= read -r cmd; do
        i=$((i + 1))
        (sh -c "$cmd" </dev/null >"$T/s.$i.out" 2>"$T/s.$i.err"; echo $? >"$T/s.$i.rc") &
    done
    wait
    ok=0
    j=0
    while [ $j -lt $i ]; do
        j=$((j + 1))
        rc=$(cat "$T/s.$j.rc")
        case $rc in
            0) ok=$((ok + 1)) ;;
            1) [ -s "$T/s.$j.err" ] || fail "$label #$j: exit 1 without a message" ;;
            *) fail "$label #$j: exit $rc (killed?): $(cat "$T/s.$j.err")" ;;
        esac
        bad=$(grep -v -E "$RACE_LINES" "$T/s.$j.err")
        [ -z "$bad" ] || fail "$label #$j: unexpected message: $bad"
        [ -s "$T/s.$j.out" ] && fail "$label #$j printed: $(head -3 "$T/s.$j.out")"
    done
    echo $ok >"$T/ok"
    consistent "$label"
    note "$label: $ok of $i exited 0"
}

lines() { k=0; while [ $k -lt "$1" ]; do k=$((k + 1)); echo "$2"; done; }

# 1. One module, N loaders: all succeed, it is loaded once.
lines $N "$MODPROBE mod_a" >"$T/cmds"
storm "load mod_a x$N" <"$T/cmds"
[ "$(cat "$T/ok")" = $N ] || fail "only $(cat "$T/ok") of $N loads of mod_a succeeded"
expect_loaded mod_a

# 2. The stack, N loaders of mod_c while mod_a is loaded: all succeed.
lines $N "$MODPROBE mod_c" >"$T/cmds"
storm "load mod_c x$N" <"$T/cmds"
[ "$(cat "$T/ok")" = $N ] || fail "only $(cat "$T/ok") of $N loads of mod_c succeeded"
expect_loaded mod_a mod_b mod_c

# 3. N removers of mod_c at once.
lines $N "$MODPROBE -r mod_c" >"$T/cmds"
storm "remove mod_c x$N" <"$T/cmds"
[ "$(cat "$T/ok")" -ge 1 ] || fail "no removal of mod_c succeeded"
expect_not_loaded mod_c
cleanup_modules

# 4. Loaders and removers of the stack and of its parts, mixed, in rounds.
for round in 1 2 3; do
    {
        lines 4 "$MODPROBE mod_c"
        lines 4 "$MODPROBE -r mod_c"
        lines 2 "$MODPROBE mod_b"
        lines 2 "$MODPROBE -r mod_b"
        lines 2 "$MODPROBE -r mod_a"
        lines 2 "$MODPROBE -a mod_a mod_c"
    } >"$T/cmds"
    storm "mixed round $round" <"$T/cmds"
done
cleanup_modules

# 5. After the storms, a plain load and removal still work.
run $MODPROBE mod_c
expect_silent_success
expect_loaded mod_a mod_b mod_c
run $MODPROBE -r mod_c
expect_silent_success
oracle_run && $KMOD/rmmod mod_a
expect_nothing_loaded
