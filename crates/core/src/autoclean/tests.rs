//! The state file and the sweep on a temporary root, with the fake kernel.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use super::*;
use crate::probe::{FakeSystem, Force, System};
use crate::Root;

struct Machine {
    dir: tempfile::TempDir,
    sys: FakeSystem,
}

impl Machine {
    /// Module files `/m/<name>.ko` (text stand-ins the fake kernel reads)
    /// with their dependencies; nothing loaded.
    fn new(modules: &[(&str, &[&str])]) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sys/module")).unwrap();
        fs::create_dir_all(dir.path().join("m")).unwrap();
        for (name, deps) in modules {
            let text = format!("depends={}\n", deps.join(","));
            fs::write(dir.path().join(format!("m/{name}.ko")), text).unwrap();
        }
        let sys = FakeSystem::new(Root::at(dir.path()), None);
        Machine { dir, sys }
    }

    fn root(&self) -> Root {
        Root::at(self.dir.path())
    }

    fn host(&self, target: &str) -> PathBuf {
        self.dir.path().join(target.trim_start_matches('/'))
    }

    fn load(&mut self, name: &str) {
        let path = PathBuf::from(format!("/m/{name}.ko"));
        self.sys.insert(&path, b"", Force::default()).unwrap();
    }

    /// Loads `names` (dependencies first) as the kernel's request would,
    /// through a [`Recorder`], and records them.
    fn autoload(&mut self, names: &[&str]) {
        let root = self.root();
        let mut rec = Recorder::new(&mut self.sys);
        for name in names {
            let path = PathBuf::from(format!("/m/{name}.ko"));
            rec.insert(&path, b"", Force::default()).unwrap();
        }
        let inserted = rec.inserted().to_vec();
        assert_eq!(inserted, self::names(names));
        record(&root, &mut self.sys, &inserted).unwrap();
    }

    fn sweep(&mut self, now: bool) -> Outcome {
        let opts = SweepOptions {
            now,
            dry_run: false,
        };
        sweep(&self.root(), &mut self.sys, opts).unwrap()
    }

    fn dry_run(&mut self) -> Outcome {
        let opts = SweepOptions {
            now: false,
            dry_run: true,
        };
        sweep(&self.root(), &mut self.sys, opts).unwrap()
    }

    fn loaded(&self, name: &str) -> bool {
        self.host(&format!("/sys/module/{name}/initstate")).exists()
    }

    fn set_refcnt(&self, name: &str, n: i64) {
        fs::write(
            self.host(&format!("/sys/module/{name}/refcnt")),
            format!("{n}\n"),
        )
        .unwrap();
    }

    fn recorded(&self) -> Vec<(Vec<u8>, bool)> {
        let state = State::read(&self.root()).unwrap();
        state
            .entries
            .into_iter()
            .map(|e| (e.name, e.unused))
            .collect()
    }

    fn removals(&self) -> Vec<String> {
        let calls = self.sys.calls().iter().map(|c| c.line());
        let calls = calls.map(|l| String::from_utf8(l).unwrap());
        calls.filter(|l| l.starts_with("remove")).collect()
    }
}

fn names(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

const ISO: &[(&str, &[&str])] = &[("cdrom", &[]), ("isofs", &["cdrom"]), ("dummy", &[])];

#[test]
fn second_sweep_removes_the_request_and_its_dependencies_only() {
    let mut m = Machine::new(ISO);
    m.load("dummy");
    m.autoload(&["cdrom", "isofs"]);
    assert_eq!(
        m.recorded(),
        [(b"cdrom".to_vec(), false), (b"isofs".to_vec(), false)]
    );

    let first = m.sweep(false);
    assert_eq!(first.removed, Vec::<Vec<u8>>::new());
    assert_eq!(first.marked, names(&["cdrom", "isofs"]));
    assert_eq!(
        m.recorded(),
        [(b"cdrom".to_vec(), true), (b"isofs".to_vec(), true)]
    );
    assert!(m.removals().is_empty());

    let second = m.sweep(false);
    assert_eq!(second.removed, names(&["isofs", "cdrom"]));
    assert_eq!(m.removals(), ["remove isofs", "remove cdrom"]);
    assert!(!m.loaded("isofs") && !m.loaded("cdrom"));
    assert!(m.loaded("dummy"), "a module loaded by hand stays");
    assert!(m.recorded().is_empty());

    let third = m.sweep(false);
    assert_eq!(third, Outcome::default());
    assert!(m.loaded("dummy"));
}

#[test]
fn a_module_in_use_is_not_marked_and_use_clears_the_mark() {
    let mut m = Machine::new(ISO);
    m.autoload(&["cdrom", "isofs"]);
    // Mounted: isofs has a user that is not a module, so cdrom is held
    // by a module in use.
    m.set_refcnt("isofs", 1);
    assert_eq!(m.sweep(false), Outcome::default());
    assert_eq!(
        m.recorded(),
        [(b"cdrom".to_vec(), false), (b"isofs".to_vec(), false)]
    );

    m.set_refcnt("isofs", 0);
    assert_eq!(m.sweep(false).marked, names(&["cdrom", "isofs"]));
    // Used again between two sweeps: the mark goes, nothing is removed.
    m.set_refcnt("isofs", 1);
    assert_eq!(m.sweep(false), Outcome::default());
    assert_eq!(
        m.recorded(),
        [(b"cdrom".to_vec(), false), (b"isofs".to_vec(), false)]
    );
    m.set_refcnt("isofs", 0);
    assert!(m.sweep(false).removed.is_empty());
    assert_eq!(m.sweep(false).removed, names(&["isofs", "cdrom"]));
}

#[test]
fn a_dependency_used_by_a_module_loaded_by_hand_stays() {
    let mut m = Machine::new(&[
        ("cdrom", &[]),
        ("isofs", &["cdrom"]),
        ("sr_mod", &["cdrom"]),
    ]);
    m.autoload(&["cdrom", "isofs"]);
    m.load("sr_mod");
    assert_eq!(m.sweep(false).marked, names(&["isofs"]));
    assert_eq!(m.sweep(false).removed, names(&["isofs"]));
    assert!(m.loaded("cdrom") && m.loaded("sr_mod"));
    assert_eq!(m.recorded(), [(b"cdrom".to_vec(), false)]);
}

#[test]
fn now_removes_at_once() {
    let mut m = Machine::new(ISO);
    m.autoload(&["cdrom", "isofs"]);
    let out = m.sweep(true);
    assert_eq!(out.removed, names(&["isofs", "cdrom"]));
    assert!(out.marked.is_empty());
    assert!(m.recorded().is_empty());
}

#[test]
fn dry_run_shows_what_would_go_and_changes_nothing() {
    let mut m = Machine::new(ISO);
    m.autoload(&["cdrom", "isofs"]);
    let before = fs::read(m.host(STATE_FILE)).unwrap();
    let out = m.dry_run();
    assert_eq!(out.marked, names(&["cdrom", "isofs"]));
    assert!(out.removed.is_empty());
    assert_eq!(fs::read(m.host(STATE_FILE)).unwrap(), before);

    m.sweep(false);
    let before = fs::read(m.host(STATE_FILE)).unwrap();
    let out = m.dry_run();
    assert_eq!(out.removed, names(&["isofs", "cdrom"]));
    assert!(m.removals().is_empty());
    assert!(m.loaded("isofs") && m.loaded("cdrom"));
    assert_eq!(fs::read(m.host(STATE_FILE)).unwrap(), before);
}

#[test]
fn records_of_gone_or_reloaded_modules_are_dropped_untouched() {
    let mut m = Machine::new(ISO);
    m.autoload(&["cdrom", "isofs", "dummy"]);
    m.sweep(false);
    // dummy removed and loaded again by hand: another load. Its old
    // directory is kept aside so the new one cannot reuse its inode.
    fs::rename(m.host("/sys/module/dummy"), m.host("/old-dummy")).unwrap();
    m.load("dummy");
    // isofs and cdrom removed by someone else.
    m.sys.remove(b"isofs", false).unwrap();
    m.sys.remove(b"cdrom", false).unwrap();
    let out = m.sweep(false);
    assert_eq!(out.dropped, names(&["cdrom", "isofs", "dummy"]));
    assert!(out.removed.is_empty());
    assert!(m.loaded("dummy"));
    assert!(m.recorded().is_empty());
}

#[test]
fn a_refused_removal_is_reported_and_permission_stops_the_sweep() {
    let mut m = Machine::new(ISO);
    m.autoload(&["cdrom", "isofs", "dummy"]);
    fs::write(m.host("/fake-kernel.rules"), "remove dummy 1\n").unwrap();
    m.sweep(false);
    let out = m.sweep(false);
    assert_eq!(out.failed, [(b"dummy".to_vec(), libc::EPERM)]);
    assert!(out.removed.is_empty());
    assert_eq!(m.removals(), ["remove dummy"]);
    // Still recorded and still marked: the next sweep tries again.
    assert!(m.recorded().iter().all(|(_, unused)| *unused));
}

#[test]
fn a_module_recorded_again_starts_unmarked() {
    let mut m = Machine::new(ISO);
    m.autoload(&["dummy"]);
    m.sweep(false);
    m.sys.remove(b"dummy", false).unwrap();
    m.autoload(&["dummy"]);
    assert_eq!(m.recorded(), [(b"dummy".to_vec(), false)]);
}

#[test]
fn no_state_is_nothing_to_do_and_creates_nothing() {
    let mut m = Machine::new(ISO);
    m.load("dummy");
    assert_eq!(m.sweep(true), Outcome::default());
    assert_eq!(m.dry_run(), Outcome::default());
    assert!(!m.host(STATE_DIR).exists());
    assert!(m.loaded("dummy"));
}

#[test]
fn state_text_round_trips_and_bad_lines_are_named() {
    let state = State {
        entries: vec![
            Entry {
                name: b"cdrom".to_vec(),
                instance: 12490,
                unused: true,
            },
            Entry {
                name: b"isofs".to_vec(),
                instance: 12492,
                unused: false,
            },
        ],
    };
    let text = state.to_bytes();
    assert!(
        text.ends_with(b"cdrom 12490 unused\nisofs 12492 -\n"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(State::parse(&text, STATE_FILE).unwrap(), state);
    for (bad, line, reason) in [
        ("a 1\n", 1, "expected NAME INSTANCE MARK"),
        ("# c\n\na 1 - x\n", 3, "expected NAME INSTANCE MARK"),
        ("a/b 1 -\n", 1, "not a module name"),
        ("a x -\n", 1, "not an instance number"),
        ("a 1 used\n", 1, "the mark is neither \"unused\" nor \"-\""),
        ("a 1 -\na 2 -\n", 2, "a module recorded twice"),
    ] {
        let e = State::parse(bad.as_bytes(), STATE_FILE).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{STATE_FILE}:{line}: {reason}"),
            "{bad:?}"
        );
        assert_eq!(e.errno(), libc::EINVAL);
    }
}

#[test]
fn a_damaged_state_is_an_error_and_stays_as_it_is() {
    let mut m = Machine::new(ISO);
    m.autoload(&["dummy"]);
    fs::write(m.host(STATE_FILE), "dummy\n").unwrap();
    let opts = SweepOptions::default();
    let e = sweep(&m.root(), &mut m.sys, opts).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{STATE_FILE}:1: expected NAME INSTANCE MARK")
    );
    let e = record(&m.root(), &mut m.sys, &names(&["dummy"])).unwrap_err();
    assert!(matches!(e, Error::Format { line: 1, .. }));
    assert_eq!(fs::read_to_string(m.host(STATE_FILE)).unwrap(), "dummy\n");
    assert!(m.loaded("dummy"));
}

#[test]
fn the_kernel_request_is_told_by_its_arguments_and_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::at(dir.path());
    let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
    let request = args(&["/sbin/modprobe", "-q", "--", "fs-iso9660"]);
    // SAFETY: getppid cannot fail.
    let ppid = unsafe { libc::getppid() };
    let stat = dir.path().join(format!("proc/{ppid}"));
    fs::create_dir_all(&stat).unwrap();
    let write_flags = |flags: u64| {
        let line = format!("{ppid} (kworker/u2:0+events) unbound) S 2 0 0 0 -1 {flags} 0 5 0\n");
        fs::write(stat.join("stat"), line).unwrap();
    };
    // As the kernel's kworker had it on 6.1 and 6.12.
    write_flags(69239136);
    assert_eq!(kernel_request(&root, &request), Some("fs-iso9660".into()));
    for other in [
        args(&["/sbin/modprobe", "-q", "fs-iso9660"]),
        args(&["/sbin/modprobe", "-q", "--", "fs-iso9660", "x=1"]),
        args(&["/sbin/modprobe", "-v", "--", "fs-iso9660"]),
        args(&["/sbin/modprobe", "--", "-q", "fs-iso9660"]),
    ] {
        assert_eq!(kernel_request(&root, &other), None, "{other:?}");
    }
    // A user program as the parent (busybox init's flags).
    write_flags(4194560);
    assert_eq!(kernel_request(&root, &request), None);
    fs::remove_file(stat.join("stat")).unwrap();
    assert_eq!(kernel_request(&root, &request), None);
}
