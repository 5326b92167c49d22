//! The engine on small trees under a temporary root, with the fake kernel.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::modprobe::{KernelCmdline, LoadOptions};
use crate::config::ModprobeConfig;
use crate::index::IndexBuilder;
use crate::Root;

const DIR: &str = "/lib/modules/1.0";

/// A module tree: `deps` are modules.dep lines (`a: b c`, names only, each
/// file `kernel/<name>.ko`), `aliases` are `pattern module` pairs.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(deps: &[&str], aliases: &[(&str, &str)], builtin: &[&str], conf: &str) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let t = Tree { dir };
        let mut dep = IndexBuilder::new();
        for (i, line) in deps.iter().enumerate() {
            let (name, rest) = line.split_once(':').unwrap_or((line, ""));
            let ko = |n: &str| format!("kernel/{n}.ko");
            let names: Vec<&str> = rest.split_whitespace().collect();
            let value = format!(
                "{}:{}",
                ko(name),
                names
                    .iter()
                    .map(|n| format!(" {}", ko(n)))
                    .collect::<String>()
            );
            dep.insert(name, value, i as u32).unwrap();
            t.write(
                &format!("{DIR}/{}", ko(name)),
                &format!("depends={}\n", names.join(",")),
            );
        }
        t.write_index("modules.dep.bin", &dep);
        let mut alias = IndexBuilder::new();
        for (i, (pattern, m)) in aliases.iter().enumerate() {
            alias.insert(pattern, m, i as u32).unwrap();
        }
        t.write_index("modules.alias.bin", &alias);
        let mut b = IndexBuilder::new();
        for name in builtin {
            b.insert(name, "", 0).unwrap();
        }
        t.write_index("modules.builtin.bin", &b);
        t.write("/etc/modprobe.d/test.conf", conf);
        fs::create_dir_all(t.host("/sys/module")).unwrap();
        t
    }

    fn host(&self, target: &str) -> PathBuf {
        self.dir.path().join(target.trim_start_matches('/'))
    }

    fn write(&self, target: &str, text: &str) {
        let p = self.host(target);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn write_index(&self, name: &str, b: &IndexBuilder) {
        let p = self.host(&format!("{DIR}/{name}"));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b.to_bytes().unwrap()).unwrap();
    }

    fn root(&self) -> Root {
        Root::at(self.dir.path())
    }

    fn context(&self) -> Context {
        let root = self.root();
        let opts = LoadOptions {
            root: &root,
            config_paths: None,
            module_dir: Some(PathBuf::from(DIR)),
            kernel_cmdline: KernelCmdline::Ignore,
        };
        let config = ModprobeConfig::load(&opts).config;
        Context::new(root.clone(), Some(PathBuf::from(DIR))).with_config(config)
    }

    /// A loaded module in the fake /sys.
    fn loaded(&self, name: &str, refcnt: i64, holders: &[&str]) {
        let d = format!("/sys/module/{name}");
        self.write(&format!("{d}/initstate"), "live\n");
        self.write(&format!("{d}/refcnt"), &format!("{refcnt}\n"));
        fs::create_dir_all(self.host(&format!("{d}/holders"))).unwrap();
        for h in holders {
            fs::create_dir_all(self.host(&format!("{d}/holders/{h}"))).unwrap();
        }
    }

    fn is_loaded(&self, name: &str) -> bool {
        self.host(&format!("/sys/module/{name}/initstate")).exists()
    }
}

fn ko(name: &str) -> String {
    format!("{DIR}/kernel/{name}.ko")
}

/// Runs `f` on an engine over `tree` with a fake kernel that records
/// commands without running them.
fn with_engine<T>(tree: &Tree, f: impl FnOnce(&mut Engine) -> T) -> (T, Recorded, Vec<Call>) {
    let ctx = tree.context();
    let mut sys = FakeSystem::new(tree.root(), None);
    sys.run_commands = false;
    let mut rec = Recorded::default();
    let out = {
        let mut engine = Engine::new(&ctx, &mut sys, &mut rec);
        f(&mut engine)
    };
    let calls = sys.calls().to_vec();
    (out, rec, calls)
}

fn show_depends(tree: &Tree, name: &str) -> String {
    let opts = ProbeOptions {
        ignore_loaded: true,
        dry_run: true,
        ..ProbeOptions::default()
    };
    let (_, rec, calls) = with_engine(tree, |e| {
        for id in e.lookup(name).unwrap() {
            e.probe(id, &opts, None).unwrap();
        }
    });
    assert!(calls.is_empty());
    rec.shown_text()
}

fn inserted(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Insert { path, .. } => Some(crate::name::modname_from_path(path)),
            _ => None,
        })
        .collect()
}

fn removed(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Remove { name, .. } => Some(String::from_utf8(name.clone()).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn dependencies_load_deepest_first_with_a_trailing_space() {
    let t = Tree::new(&["c: b a", "b: a", "a"], &[], &[], "");
    let want = format!(
        "insmod {} \ninsmod {} \ninsmod {} \n",
        ko("a"),
        ko("b"),
        ko("c")
    );
    assert_eq!(show_depends(&t, "c"), want);
}

#[test]
fn softdeps_surround_and_duplicate() {
    // Both dependencies pull in `base` through a soft dependency; the
    // second time it is already walked. `d1` was only appended, never
    // walked, so `top`'s soft dependency walks it and it is listed again.
    let conf = "softdep d1 pre: base\nsoftdep d2 pre: base post: tail\nsoftdep top pre: d1\n";
    let t = Tree::new(&["top: d2 d1", "d1", "d2", "base", "tail"], &[], &[], conf);
    let got = show_depends(&t, "top");
    let names: Vec<String> = got
        .lines()
        .map(|l| crate::name::modname_from_path(l.trim_end().trim_start_matches("insmod ")))
        .collect();
    assert_eq!(names, ["base", "d1", "d2", "tail", "d1", "top"]);
}

#[test]
fn install_command_is_shown_raw_and_ignored_with_softdeps() {
    let conf = "install a /bin/echo $CMDLINE_OPTS\noptions a x=1\ninstall b /bin/false\nsoftdep b post: a\n";
    let t = Tree::new(&["a", "b"], &[], &[], conf);
    assert_eq!(
        show_depends(&t, "a"),
        "install /bin/echo $CMDLINE_OPTS x=1 \n"
    );
    // b has a soft dependency: its install command is ignored.
    let got = show_depends(&t, "b");
    assert_eq!(
        got,
        format!(
            "insmod {} \ninstall /bin/echo $CMDLINE_OPTS x=1 \n",
            ko("b")
        )
    );
}

#[test]
fn options_from_alias_and_command_line() {
    let conf = "options pci:v1* speed=2\noptions a debug=1\nalias pci:v1* a\n";
    let t = Tree::new(&["a"], &[], &[], conf);
    let opts = ProbeOptions::default();
    let (_, _, calls) = with_engine(&t, |e| {
        let id = e.lookup("pci:v1d2").unwrap()[0];
        e.probe(id, &opts, Some(b"x=\"a b\"")).unwrap()
    });
    assert_eq!(
        calls,
        [Call::Insert {
            path: ko("a").into(),
            options: b"speed=2 debug=1 x=\"a b\"".to_vec(),
            force: Force::default(),
        }]
    );
}

#[test]
fn loaded_builtin_and_blacklisted_targets() {
    let t = Tree::new(&["a", "b"], &[("pci:*", "b")], &["bi"], "blacklist b\n");
    t.loaded("a", 0, &[]);
    let opts = ProbeOptions::default();
    let (r, _, calls) = with_engine(&t, |e| {
        let a = e.lookup("a").unwrap()[0];
        let bi = e.lookup("bi").unwrap()[0];
        let by_alias = e.lookup("pci:1").unwrap()[0];
        let by_name = e.lookup("b").unwrap()[0];
        let first_time = ProbeOptions {
            fail_on_loaded: true,
            ..opts
        };
        let always = ProbeOptions {
            blacklist: BlacklistMode::Always,
            ..opts
        };
        [
            e.probe(a, &opts, None),
            e.probe(a, &first_time, None),
            e.probe(bi, &opts, None),
            e.probe(by_alias, &opts, None),
            e.probe(by_name, &always, None),
            e.probe(by_name, &opts, None),
        ]
    });
    assert_eq!(
        r,
        [
            Ok(Probed::AlreadyLoaded),
            Err(libc::EEXIST),
            Ok(Probed::AlreadyLoaded),
            Ok(Probed::Blacklisted),
            Ok(Probed::Blacklisted),
            Ok(Probed::Done),
        ]
    );
    assert_eq!(inserted(&calls), ["b"]);
}

#[test]
fn failing_softdep_is_ignored_but_a_dependency_is_not() {
    let t = Tree::new(
        &["top: dep", "dep", "soft"],
        &[],
        &[],
        "softdep top pre: soft\n",
    );
    t.write(super::fake::RULES, "insert soft 1\n");
    let (r, rec, calls) = with_engine(&t, |e| {
        let id = e.lookup("top").unwrap()[0];
        e.probe(id, &ProbeOptions::default(), None)
    });
    assert_eq!(r, Ok(Probed::Done));
    assert_eq!(inserted(&calls), ["dep", "soft", "top"]);
    assert_eq!(rec.messages.len(), 1, "{:?}", rec.messages);
    assert!(rec.messages[0].1.starts_with(b"Failed to insert module '"));

    t.write(super::fake::RULES, "insert dep 2\n");
    for m in ["dep", "soft", "top"] {
        fs::remove_dir_all(t.host(&format!("/sys/module/{m}"))).ok();
    }
    let (r, _, calls) = with_engine(&t, |e| {
        let id = e.lookup("top").unwrap()[0];
        e.probe(id, &ProbeOptions::default(), None)
    });
    assert_eq!(r, Err(2));
    assert_eq!(inserted(&calls), ["dep"]);
}

#[test]
fn install_command_failure_is_einval() {
    let t = Tree::new(&["a"], &[], &[], "install a exit 3\n");
    let ctx = t.context();
    let mut sys = FakeSystem::new(t.root(), None);
    let mut rec = Recorded::default();
    let r = {
        let mut e = Engine::new(&ctx, &mut sys, &mut rec);
        let id = e.lookup("a").unwrap()[0];
        e.probe(id, &ProbeOptions::default(), None)
    };
    assert_eq!(r, Err(libc::EINVAL));
    assert_eq!(
        rec.messages,
        [(
            Level::Err,
            b"Error running install command 'exit 3' for module a: retcode 3".to_vec()
        )]
    );
}

#[test]
fn removal_takes_every_dependency_that_becomes_unused() {
    // c uses b and a, b uses a: kmod would leave a loaded (its use count
    // is still 1 from b when it is tried first).
    let t = Tree::new(&["c: b a", "b: a", "a"], &[], &[], "");
    let (r, _, calls) = with_engine(&t, |e| {
        let c = e.lookup("c").unwrap()[0];
        e.probe(c, &ProbeOptions::default(), None).unwrap();
        e.remove(c, &RemoveOptions::default())
    });
    assert_eq!(r, Ok(()));
    assert_eq!(inserted(&calls), ["a", "b", "c"]);
    assert_eq!(removed(&calls), ["c", "b", "a"]);
    assert!(!t.is_loaded("a"));
}

#[test]
fn removal_keeps_dependencies_still_in_use() {
    let t = Tree::new(&["c: b a", "b: a", "a", "other: a"], &[], &[], "");
    let (_, _, calls) = with_engine(&t, |e| {
        let c = e.lookup("c").unwrap()[0];
        let o = e.lookup("other").unwrap()[0];
        e.probe(c, &ProbeOptions::default(), None).unwrap();
        e.probe(o, &ProbeOptions::default(), None).unwrap();
        e.remove(c, &RemoveOptions::default()).unwrap();
    });
    assert_eq!(removed(&calls), ["c", "b"]);
    assert!(t.is_loaded("a") && t.is_loaded("other"));
}

#[test]
fn dry_run_removal_shows_what_would_go() {
    let t = Tree::new(&["c: b a", "b: a", "a"], &[], &[], "");
    t.loaded("a", 2, &["b", "c"]);
    t.loaded("b", 1, &["c"]);
    t.loaded("c", 0, &[]);
    let opts = RemoveOptions {
        dry_run: true,
        ..RemoveOptions::default()
    };
    let (_, rec, calls) = with_engine(&t, |e| {
        let c = e.lookup("c").unwrap()[0];
        e.remove(c, &opts).unwrap();
    });
    assert!(calls.is_empty());
    assert_eq!(rec.shown_text(), "rmmod c\nrmmod b\nrmmod a\n");
}

#[test]
fn removal_in_use_not_loaded_and_builtin() {
    let t = Tree::new(&["a", "b"], &[], &["bi"], "");
    t.loaded("a", 1, &[]);
    let (r, rec, calls) = with_engine(&t, |e| {
        let first = RemoveOptions {
            first_time: true,
            ..RemoveOptions::default()
        };
        let a = e.lookup("a").unwrap()[0];
        let b = e.lookup("b").unwrap()[0];
        let bi = e.lookup("bi").unwrap()[0];
        [
            e.remove(a, &RemoveOptions::default()),
            e.remove(b, &RemoveOptions::default()),
            e.remove(b, &first),
            e.remove(bi, &RemoveOptions::default()),
        ]
    });
    assert_eq!(
        r,
        [
            Err(libc::EBUSY),
            Ok(()),
            Err(libc::ENOENT),
            Err(libc::ENOENT)
        ]
    );
    assert!(calls.is_empty());
    let msgs: Vec<&str> = rec
        .messages
        .iter()
        .map(|(_, m)| std::str::from_utf8(m).unwrap())
        .collect();
    assert_eq!(
        msgs,
        [
            "Module a is in use.",
            "Module b is not in kernel.",
            "Module bi is builtin."
        ]
    );
}

#[test]
fn remove_holders_first() {
    let t = Tree::new(&["a", "h1: a", "h2: a"], &[], &[], "");
    let (_, _, calls) = with_engine(&t, |e| {
        for m in ["h1", "h2"] {
            let id = e.lookup(m).unwrap()[0];
            e.probe(id, &ProbeOptions::default(), None).unwrap();
        }
        let a = e.lookup("a").unwrap()[0];
        let opts = RemoveOptions {
            remove_holders: true,
            ..RemoveOptions::default()
        };
        e.remove(a, &opts).unwrap();
    });
    // Holders in reverse directory order (the fake sorts them).
    assert_eq!(removed(&calls), ["h2", "h1", "a"]);
}

#[test]
fn wait_retries_with_backoff_until_the_module_is_free() {
    let t = Tree::new(&["a"], &[], &[], "");
    t.loaded("a", 0, &[]);
    t.write(super::fake::RULES, "busy a 20\n");
    let opts = RemoveOptions {
        wait_msec: 100,
        ..RemoveOptions::default()
    };
    let (r, rec, calls) = with_engine(&t, |e| {
        let a = e.lookup("a").unwrap()[0];
        e.remove(a, &opts)
    });
    assert_eq!(r, Ok(()));
    assert!(rec.messages.is_empty());
    let sleeps: Vec<String> = calls
        .iter()
        .filter(|c| matches!(c, Call::Sleep { .. }))
        .map(|c| String::from_utf8(c.line()).unwrap())
        .collect();
    assert_eq!(sleeps, ["sleep 2", "sleep 6", "sleep 14", "sleep 30"]);

    // Still busy at the deadline: one error.
    t.loaded("a", 0, &[]);
    t.write(super::fake::RULES, "busy a 1000\n");
    let (r, rec, _) = with_engine(&t, |e| {
        let a = e.lookup("a").unwrap()[0];
        e.remove(a, &opts)
    });
    assert_eq!(r, Err(libc::EAGAIN));
    assert_eq!(
        rec.messages,
        [(
            Level::Err,
            b"could not remove 'a': Resource temporarily unavailable".to_vec()
        )]
    );
}

#[test]
fn softdep_cycles_on_removal_end() {
    let t = Tree::new(
        &["a", "b"],
        &[],
        &[],
        "softdep a post: b\nsoftdep b post: a\n",
    );
    t.loaded("a", 0, &[]);
    t.loaded("b", 0, &[]);
    let (r, _, calls) = with_engine(&t, |e| {
        let a = e.lookup("a").unwrap()[0];
        e.remove(a, &RemoveOptions::default())
    });
    assert_eq!(r, Ok(()));
    assert_eq!(removed(&calls), ["b", "a"]);
}

#[test]
fn module_given_by_path_takes_dependencies_by_name() {
    let t = Tree::new(&["c: a", "a"], &[], &[], "");
    t.write("/tmp/c.ko", "depends=a\n");
    let (_, rec, _) = with_engine(&t, |e| {
        let id = e.from_path(Path::new("/tmp/c.ko")).unwrap();
        let opts = ProbeOptions {
            ignore_loaded: true,
            dry_run: true,
            ..ProbeOptions::default()
        };
        e.probe(id, &opts, None).unwrap();
    });
    assert_eq!(
        rec.shown_text(),
        format!("insmod {} \ninsmod /tmp/c.ko \n", ko("a"))
    );
}

#[test]
fn names_that_are_not_utf8_match_byte_for_byte() {
    let t = Tree::new(&["a"], &[], &[], "");
    fs::write(
        t.host("/etc/modprobe.d/test.conf"),
        b"alias caf\xe9 a\ninstall inst\xe9 echo\nsoftdep a pre: inst\xe9\nremove rem\xe9 true\n",
    )
    .unwrap();
    let ((found, lossy, removed), rec, calls) = with_engine(&t, |e| {
        let found = e.lookup(b"caf\xe9").unwrap();
        let lossy = e.lookup("caf\u{fffd}").unwrap();
        e.probe(found[0], &ProbeOptions::default(), None).unwrap();
        let rem = e.lookup(b"rem\xe9").unwrap()[0];
        (
            found.len(),
            lossy.len(),
            e.remove(rem, &RemoveOptions::default()),
        )
    });
    assert_eq!((found, lossy, removed), (1, 0, Ok(())));
    assert!(rec.messages.is_empty(), "{:?}", rec.messages);
    let run = |module: &[u8], command: &[u8]| Call::Run {
        module: module.to_vec(),
        command: command.to_vec(),
    };
    assert_eq!(calls[0], run(b"inst\xe9", b"echo"));
    assert!(matches!(&calls[1], Call::Insert { path, .. } if path == Path::new(&ko("a"))));
    assert_eq!(calls[2], run(b"rem\xe9", b"true"));
}
