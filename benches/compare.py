#!/usr/bin/env python3
"""Times two commands side by side: runs alternate (kmod, ours, kmod, ours…)
so both see the same machine state; reports median wall time, peak RSS and
the ratio ours/kmod. Peak RSS comes from separate runs under /usr/bin/time
(Debian package `time`): a child forked from Python would count Python's
pages as its own. Usage:

    compare.py --runs N --name NAME --kmod 'CMD…' --ours 'CMD…' [--setup 'CMD…']

Commands are run with stdout discarded: directly when they are plain words,
through /bin/sh when they use the shell's syntax (a shell in between costs
about a millisecond, a tenth of a run of ours that finds nothing to do). --setup runs before
every timed run (e.g. to restore a tree), untimed; `{who}` in it becomes
`kmod` or `ours`, the command about to run. --labels names the two
commands in the output when they are not kmod's and ours (e.g. two
variants of ours).
"""
import argparse, json, os, shlex, statistics, subprocess, sys, tempfile, time


def argv(cmd):
    """The command's words, run without a shell when it needs none."""
    if any(c in cmd for c in "|&;<>()$`\\\"'*?[#~=%{}\n"):
        return ["/bin/sh", "-c", cmd]
    return shlex.split(cmd)


def timed(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(argv(cmd), stdout=subprocess.DEVNULL)
    _, status, _ = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"warning: exit status {os.waitstatus_to_exitcode(status)}: {cmd[:120]}", file=sys.stderr)
    return wall


def peak_rss(cmd):
    """KiB: the largest resident set of the command and anything it waits for."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv(cmd),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return int(out.read().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--name", required=True)
    ap.add_argument("--kmod", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--setup", default=None)
    ap.add_argument("--json", default=None, help="append the result as a JSON line to this file")
    ap.add_argument("--labels", default="kmod,ours", help="names of the two commands in the output")
    a = ap.parse_args()
    results = {"kmod": [], "ours": []}
    for i in range(a.warmup + a.runs):
        order = [("kmod", a.kmod), ("ours", a.ours)] if i % 2 == 0 else [("ours", a.ours), ("kmod", a.kmod)]
        for who, cmd in order:
            if a.setup:
                subprocess.run(["/bin/sh", "-c", a.setup.replace("{who}", who)], check=True,
                               stdout=subprocess.DEVNULL)
            wall = timed(cmd)
            if i >= a.warmup:
                results[who].append(wall)
    med = {w: statistics.median(r) for w, r in results.items()}
    rss = {}
    for who, cmd in (("kmod", a.kmod), ("ours", a.ours)):
        samples = []
        for _ in range(3):
            if a.setup:
                subprocess.run(["/bin/sh", "-c", a.setup.replace("{who}", who)], check=True,
                               stdout=subprocess.DEVNULL)
            samples.append(peak_rss(cmd))
        rss[who] = max(samples)
    ratio = med["ours"] / med["kmod"]
    rss_ratio = rss["ours"] / rss["kmod"]
    k, o = a.labels.split(",")
    print(f"{a.name}: {k} {med['kmod']*1000:.1f} ms, {o} {med['ours']*1000:.1f} ms, "
          f"ratio {ratio:.3f}x; peak RSS {k} {rss['kmod']/1024:.1f} MiB, {o} {rss['ours']/1024:.1f} MiB "
          f"({rss_ratio:.2f}x); {a.runs} alternating runs, medians; load {os.getloadavg()[0]:.1f}")
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({"name": a.name, "runs": a.runs, "kmod_ms": med["kmod"] * 1000,
                                "ours_ms": med["ours"] * 1000, "ratio": ratio,
                                "kmod_rss_kib": rss["kmod"], "ours_rss_kib": rss["ours"]}) + "\n")


if __name__ == "__main__":
    main()
