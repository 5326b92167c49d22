//! Autoclean and rmmod end to end, hermetically: our modprobe and rmmod on
//! a fake root (`MODUTILS_SYSROOT`) with the fake kernel
//! (`MODUTILS_FAKE_KERNEL`). The kernel's own call of modprobe is faked
//! by what tells it apart: `-q -- NAME`, and a parent (this test process)
//! whose `/proc/<pid>/stat` under the root says it is a kernel thread.
//! The VM suite (`11-autoclean`) does the same on real kernels.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use modutils_core::sandbox::Sandbox;

use crate::util::{ours, text};

const STATE: &str = "/run/modutils/autoclean";
/// A kernel worker's flags on Debian's 6.1 and 6.12 (PF_KTHREAD set).
const KWORKER_FLAGS: u64 = 69239136;
/// Busybox init's flags: a user process.
const USER_FLAGS: u64 = 4194560;

struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new(sandbox: Sandbox) -> Machine {
        let m = Machine {
            dir: tempfile::tempdir().unwrap(),
        };
        sandbox.write(m.dir.path()).unwrap();
        m.parent_flags(KWORKER_FLAGS);
        m
    }

    fn path(&self, target: &str) -> PathBuf {
        self.dir.path().join(target.trim_start_matches('/'))
    }

    /// What the tools will read as their parent's `/proc/<pid>/stat`.
    fn parent_flags(&self, flags: u64) {
        let pid = std::process::id();
        let stat = self.path(&format!("/proc/{pid}/stat"));
        fs::create_dir_all(stat.parent().unwrap()).unwrap();
        let line = format!("{pid} (kworker/u2:0+events_unbound) S 2 0 0 0 -1 {flags} 0 5 0\n");
        fs::write(stat, line).unwrap();
    }

    fn log(&self) -> PathBuf {
        self.path("/calls.log")
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(ours(tool));
        cmd.args(args)
            .env("MODUTILS_SYSROOT", self.dir.path())
            .env("MODUTILS_FAKE_KERNEL", self.log())
            .env_remove("MODPROBE_OPTIONS")
            .env_remove("KMOD_LOG");
        cmd
    }

    /// Runs a tool; returns its output and the fake kernel's calls.
    fn run(&self, tool: &str, args: &[&str]) -> (Output, Vec<String>) {
        let _ = fs::remove_file(self.log());
        let out = self.command(tool, args).output().unwrap();
        let calls = fs::read_to_string(self.log()).unwrap_or_default();
        (out, calls.lines().map(str::to_string).collect())
    }

    fn loaded(&self, name: &str) -> bool {
        self.path(&format!("/sys/module/{name}/initstate")).exists()
    }

    fn recorded(&self) -> Vec<String> {
        let text = fs::read_to_string(self.path(STATE)).unwrap_or_default();
        let lines = text.lines().filter(|l| !l.starts_with('#'));
        lines
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    }
}

fn success(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn ok(stdout: &str) -> (Option<i32>, String, String) {
    (Some(0), stdout.to_string(), String::new())
}

fn iso_machine() -> Machine {
    Machine::new(
        Sandbox::new("6.1.0-test")
            .module("cdrom", &[])
            .module("isofs", &["cdrom"])
            .module("dummy", &[])
            .module("e1000", &[])
            .alias("fs-iso9660", "isofs"),
    )
}

#[test]
fn the_kernels_request_is_recorded_and_two_sweeps_remove_it() {
    let m = iso_machine();
    let (out, calls) = m.run("modprobe", &["-q", "--", "fs-iso9660"]);
    assert_eq!(success(&out), ok(""));
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(m.recorded(), ["cdrom", "isofs"]);
    // Loaded by hand, and by a user program with the kernel's arguments.
    assert_eq!(success(&m.run("modprobe", &["dummy"]).0), ok(""));
    m.parent_flags(USER_FLAGS);
    assert_eq!(
        success(&m.run("modprobe", &["-q", "--", "e1000"]).0),
        ok("")
    );
    assert_eq!(m.recorded(), ["cdrom", "isofs"]);

    // First sweep: nothing goes, both are marked.
    let (out, calls) = m.run("rmmod", &["-a", "-v"]);
    assert_eq!(success(&out), ok("mark cdrom\nmark isofs\n"));
    assert!(calls.is_empty(), "{calls:?}");
    // A dry run lists what the next sweep removes, and removes nothing.
    let state = fs::read(m.path(STATE)).unwrap();
    let (out, calls) = m.run("rmmod", &["-a", "--dry-run"]);
    assert_eq!(success(&out), ok("rmmod isofs\nrmmod cdrom\n"));
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(fs::read(m.path(STATE)).unwrap(), state);
    // Second sweep: isofs, then what it used.
    let (out, calls) = m.run("rmmod", &["-a", "-v"]);
    assert_eq!(success(&out), ok("rmmod isofs\nrmmod cdrom\n"));
    assert_eq!(calls, ["remove isofs", "remove cdrom"]);
    assert!(!m.loaded("isofs") && !m.loaded("cdrom"));
    assert!(m.loaded("dummy") && m.loaded("e1000"));
    assert!(m.recorded().is_empty());
    // Nothing more to do, and without -v a sweep is silent.
    let (out, calls) = m.run("rmmod", &["-a"]);
    assert_eq!(success(&out), ok(""));
    assert!(calls.is_empty());
}

#[test]
fn now_skips_the_second_sweep_and_a_named_module_goes_anyway() {
    let m = iso_machine();
    m.run("modprobe", &["-q", "--", "fs-iso9660"]);
    m.run("modprobe", &["dummy"]);
    let (out, calls) = m.run("rmmod", &["-a", "--now"]);
    assert_eq!(success(&out), ok(""));
    assert_eq!(calls, ["remove isofs", "remove cdrom"]);
    let (out, calls) = m.run("rmmod", &["dummy"]);
    assert_eq!(success(&out), ok(""));
    assert_eq!(calls, ["remove dummy"]);
}

#[test]
fn without_a_state_a_sweep_does_nothing_and_creates_nothing() {
    let m = iso_machine();
    m.run("modprobe", &["dummy"]);
    for args in [&["-a"][..], &["-a", "--now", "-v"], &["-a", "-n"]] {
        let (out, calls) = m.run("rmmod", args);
        assert_eq!(success(&out), ok(""), "{args:?}");
        assert!(calls.is_empty());
    }
    assert!(!m.path("/run/modutils").exists());
    assert!(m.loaded("dummy"));
}

#[test]
fn a_damaged_state_is_reported_and_nothing_is_removed() {
    let m = iso_machine();
    m.run("modprobe", &["-q", "--", "fs-iso9660"]);
    fs::write(m.path(STATE), "isofs 1\n").unwrap();
    let (out, calls) = m.run("rmmod", &["-a", "--now"]);
    assert_eq!(
        success(&out),
        (
            Some(1),
            String::new(),
            format!("rmmod: ERROR: {STATE}:1: expected NAME INSTANCE MARK\n")
        )
    );
    assert!(calls.is_empty());
    assert!(m.loaded("isofs"));
}

#[test]
fn concurrent_requests_and_sweeps_lose_no_record() {
    const N: usize = 16;
    let mut sandbox = Sandbox::new("6.1.0-test");
    for i in 0..N {
        sandbox = sandbox.module(&format!("m{i}"), &[]);
    }
    let m = Machine::new(sandbox);
    let mut children = Vec::new();
    for i in 0..N {
        let name = format!("m{i}");
        let mut cmd = m.command("modprobe", &["-q", "--", &name]);
        children.push(cmd.spawn().unwrap());
        if i % 4 == 0 {
            children.push(m.command("rmmod", &["-a"]).spawn().unwrap());
        }
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // Two sweeps may already have removed the first modules; every module
    // still loaded must still be recorded, exactly once.
    let recorded = m.recorded();
    let loaded: Vec<String> = (0..N)
        .map(|i| format!("m{i}"))
        .filter(|n| m.loaded(n))
        .collect();
    let mut sorted = recorded.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), recorded.len(), "{recorded:?}");
    let mut expected = loaded.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    assert!(!m.path("/run/modutils/autoclean.new").exists());
    let (out, calls) = m.run("rmmod", &["-a", "--now"]);
    assert_eq!(success(&out), ok(""));
    assert_eq!(calls.len(), loaded.len());
    assert!(m.recorded().is_empty());
}

#[test]
fn rmmod_removes_through_the_fake_kernel() {
    let m = Machine::new(
        Sandbox::new("6.1.0-test")
            .module("mod_a", &[])
            .module("mod_b", &["mod_a"])
            .module("mod_c", &["mod_a", "mod_b"]),
    );
    let (out, _) = m.run("modprobe", &["mod_c"]);
    assert_eq!(success(&out), ok(""));
    // In use: refused before the kernel is asked.
    let (out, calls) = m.run("rmmod", &["mod_a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("rmmod: ERROR: Module mod_a is in use by: "));
    assert!(calls.is_empty());
    // The kernel's own refusal, from the fake kernel's rules.
    fs::write(m.path("/fake-kernel.rules"), "remove mod_b 16\n").unwrap();
    let (out, calls) = m.run("rmmod", &["mod_c", "mod_b"]);
    assert_eq!(
        success(&out),
        (
            Some(1),
            String::new(),
            "rmmod: ERROR: could not remove 'mod_b': Device or resource busy\n\
             rmmod: ERROR: could not remove module mod_b: Device or resource busy\n"
                .to_string()
        )
    );
    assert_eq!(calls, ["remove mod_c", "remove mod_b"]);
    assert!(!m.loaded("mod_c") && m.loaded("mod_b"));
    fs::remove_file(m.path("/fake-kernel.rules")).unwrap();
    // By file name too, and forced without the checks.
    let (out, calls) = m.run("rmmod", &["/lib/modules/6.1.0-test/kernel/mod_b.ko"]);
    assert_eq!(success(&out), ok(""));
    assert_eq!(calls, ["remove mod_b"]);
    let (out, calls) = m.run("rmmod", &["-f", "mod_a"]);
    assert_eq!(success(&out), ok(""));
    assert_eq!(calls, ["remove --force mod_a"]);
    assert!(!m.path("/sys/module/mod_a").exists());
}
