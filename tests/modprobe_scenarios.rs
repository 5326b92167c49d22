//! Hermetic load and remove scenarios: our modprobe on a fake root
//! (`MODUTILS_SYSROOT`) with the fake kernel (`MODUTILS_FAKE_KERNEL`),
//! which keeps `/sys/module` as the kernel would and logs every call.
//! These pin our behaviour where kmod cannot be run (it would load into
//! the real kernel), including the one deliberate difference: `-r` removes
//! every dependency that becomes unused.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::modprobe_tree::{build_moddir, fixtures};
use crate::util::ours;

const MODDIR: &str = "/lib/modules/1.0";

struct System {
    dir: tempfile::TempDir,
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    /// The fake kernel's log: `insert PATH OPTIONS`, `remove NAME`, …
    calls: Vec<String>,
}

impl System {
    /// The test tree installed as the running kernel's modules, nothing
    /// loaded, and `conf` as the only modprobe.d file.
    fn new(conf: &str) -> System {
        let s = System {
            dir: tempfile::tempdir().unwrap(),
        };
        build_moddir(&fixtures().join("modprobe/tree"), &s.path(MODDIR));
        s.write("/proc/sys/kernel/osrelease", "1.0\n");
        s.write("/proc/cmdline", "quiet\n");
        s.write("/proc/modules", "");
        s.write("/etc/modprobe.d/test.conf", conf);
        fs::create_dir_all(s.path("/sys/module")).unwrap();
        s
    }

    fn path(&self, target: &str) -> PathBuf {
        self.dir.path().join(target.trim_start_matches('/'))
    }

    fn write(&self, target: &str, text: &str) {
        let p = self.path(target);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn loaded(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path("/sys/module"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| self.path(&format!("/sys/module/{n}/initstate")).exists())
            .collect();
        names.sort();
        names
    }

    /// A module loaded before the test, used by `holders`.
    fn preload(&self, name: &str, holders: &[&str]) {
        let d = format!("/sys/module/{name}");
        self.write(&format!("{d}/initstate"), "live\n");
        self.write(&format!("{d}/refcnt"), &format!("{}\n", holders.len()));
        fs::create_dir_all(self.path(&format!("{d}/holders"))).unwrap();
        for h in holders {
            fs::create_dir_all(self.path(&format!("{d}/holders/{h}"))).unwrap();
        }
    }

    fn modprobe(&self, args: &[&str]) -> Run {
        self.modprobe_env(args, &[])
    }

    fn modprobe_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let log = self.dir.path().join("calls.log");
        let _ = fs::remove_file(&log);
        let mut cmd = Command::new(ours("modprobe"));
        cmd.args(args)
            .env("MODUTILS_SYSROOT", self.dir.path())
            .env("MODUTILS_FAKE_KERNEL", &log)
            .env_remove("MODPROBE_OPTIONS")
            .env_remove("KMOD_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let calls = fs::read_to_string(&log).unwrap_or_default();
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
            calls: calls.lines().map(str::to_string).collect(),
        }
    }
}

fn ko(rel: &str) -> String {
    format!("{MODDIR}/kernel/{rel}.ko")
}

fn ins(rel: &str, options: &str) -> String {
    format!("insert {} {options}", ko(rel))
}

#[test]
fn load_with_dependencies_and_post_softdep() {
    let s = System::new("");
    let r = s.modprobe(&["mod_c"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (Some(0), "", "")
    );
    assert_eq!(
        r.calls,
        [
            ins("drivers/mod_a", ""),
            ins("drivers/mod-b", ""),
            ins("drivers/mod_c", ""),
            ins("drivers/other_mod", ""),
        ]
    );
    assert_eq!(s.loaded(), ["mod_a", "mod_b", "mod_c", "other_mod"]);
    // A second time there is nothing to do; --first-time makes that an error.
    let again = s.modprobe(&["mod_c"]);
    assert_eq!((again.code, again.calls.len()), (Some(0), 0));
    let first = s.modprobe(&["--first-time", "mod_c"]);
    assert_eq!(first.code, Some(1));
    assert_eq!(
        first.stderr,
        "modprobe: ERROR: could not insert 'mod_c': Module already in kernel\n"
    );
}

#[test]
fn verbose_shows_actions_and_options() {
    let s = System::new("options mod_a debug=1\n");
    s.write(
        "/proc/cmdline",
        "quiet mod_c.from_cmdline=2 mod-b.x=\"a b\"\n",
    );
    let r = s.modprobe(&["-v", "mod_c", "p=1", "q=two words"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "insmod {} debug=1 \ninsmod {} x=\"a b\" \ninsmod {} from_cmdline=2 p=1 q=\"two words\"\ninsmod {} \n",
            ko("drivers/mod_a"),
            ko("drivers/mod-b"),
            ko("drivers/mod_c"),
            ko("drivers/other_mod")
        )
    );
    assert_eq!(
        r.calls[2],
        ins("drivers/mod_c", "from_cmdline=2 p=1 q=\"two words\"")
    );
}

#[test]
fn builtin_modules() {
    let s = System::new("");
    let r = s.modprobe(&["unix"]);
    assert_eq!((r.code, r.calls.len(), r.stderr.as_str()), (Some(0), 0, ""));
    assert_eq!(s.modprobe(&["-D", "net-pf-1"]).stdout, "builtin unix\n");
    let first = s.modprobe(&["--first-time", "unix"]);
    assert_eq!(
        (first.code, first.stderr.as_str()),
        (
            Some(1),
            "modprobe: ERROR: could not insert 'unix': Module already in kernel\n"
        )
    );
    let rm = s.modprobe(&["-r", "unix"]);
    assert_eq!(
        (rm.code, rm.stderr.as_str()),
        (Some(1), "modprobe: FATAL: Module unix is builtin.\n")
    );
}

#[test]
fn blacklist_by_alias_and_with_b() {
    let s = System::new("blacklist e1000e\nblacklist ptp\nalias my-nic e1000e\n");
    let pci = "pci:v00008086d000015BBsv00001028sd00000001bc02sc00i00";
    for alias in [pci, "my-nic"] {
        let r = s.modprobe(&[alias]);
        assert_eq!((r.code, r.calls.len(), r.stderr.as_str()), (Some(0), 0, ""));
    }
    let b = s.modprobe(&["-b", "e1000e"]);
    assert_eq!((b.code, b.calls.len()), (Some(0), 0));
    // By name it loads, and a blacklisted dependency comes along.
    let r = s.modprobe(&["e1000e"]);
    assert_eq!(
        r.calls,
        [
            ins("lib/pps_core", ""),
            ins("net/ptp", ""),
            ins("net/e1000e", "")
        ]
    );
    // The kernel command line blacklists too.
    let s = System::new("");
    s.write("/proc/cmdline", "modprobe.blacklist=mod_c,x\n");
    let r = s.modprobe(&["usb:v1234p0001d0000dc00dsc00dp00ic00isc00ip00in00"]);
    assert_eq!((r.code, r.calls.len()), (Some(0), 0));
}

#[test]
fn install_commands_run_through_the_shell() {
    let conf = "install mod_a echo installing $MODPROBE_MODULE with $CMDLINE_OPTS; echo opts=$MODPROBE_OPTIONS\noptions mod_a x=1\n";
    let s = System::new(conf);
    let r = s.modprobe(&["-v", "-C", "/etc/modprobe.d", "mod_a", "y=2"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // The command writes straight to the pipe; our own line, buffered as
    // C's stdio buffers it, comes out at exit: kmod's order.
    assert_eq!(
        r.stdout,
        "installing mod_a with x=1 y=2\nopts=-v -C /etc/modprobe.d\n\
         install echo installing $MODPROBE_MODULE with $CMDLINE_OPTS; echo opts=$MODPROBE_OPTIONS x=1 y=2\n"
    );
    assert_eq!(
        r.calls,
        ["run mod_a echo installing $MODPROBE_MODULE with x=1 y=2; echo opts=$MODPROBE_OPTIONS"]
    );
    assert!(s.loaded().is_empty());
}

#[test]
fn failing_install_command() {
    let s = System::new("install mod_a exit 3\n");
    let r = s.modprobe(&["mod_a"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "modprobe: ERROR: Error running install command 'exit 3' for module mod_a: retcode 3\n\
         modprobe: ERROR: could not insert 'mod_a': Invalid argument\n"
    );
    // -i ignores it and inserts the file.
    let r = s.modprobe(&["-i", "mod_a"]);
    assert_eq!(
        (r.code, r.calls.clone()),
        (Some(0), vec![ins("drivers/mod_a", "")])
    );
}

#[test]
fn install_command_calling_modprobe_again() {
    let me = ours("modprobe");
    let conf = format!(
        "install mod_a {} --ignore-install mod_a $CMDLINE_OPTS && echo done\n",
        me.display()
    );
    let s = System::new(&conf);
    let r = s.modprobe(&["mod_a", "z=3"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "done\n"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.calls,
        [
            format!(
                "run mod_a {} --ignore-install mod_a z=3 && echo done",
                me.display()
            ),
            ins("drivers/mod_a", "z=3"),
        ]
    );
    assert_eq!(s.loaded(), ["mod_a"]);
}

#[test]
fn softdeps_and_their_failures() {
    let s = System::new("softdep mod_a pre: x post: z q\n");
    s.write("/fake-kernel.rules", "insert z 1\n");
    let r = s.modprobe(&["-v", "mod_a"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.calls,
        [
            ins("drivers/x", ""),
            ins("drivers/mod_a", ""),
            ins("drivers/z", ""),
            ins("drivers/q", "")
        ]
    );
    // A soft dependency that fails does not fail the load; -vv shows why.
    assert_eq!(r.stderr, "");
    let s2 = System::new("softdep mod_a pre: x post: z q\n");
    s2.write("/fake-kernel.rules", "insert z 1\n");
    let vv = s2.modprobe(&["-vv", "mod_a"]);
    assert_eq!(
        vv.stderr,
        format!(
            "modprobe: INFO: Failed to insert module '{}': Operation not permitted\n",
            ko("drivers/z")
        )
    );
}

#[test]
fn failing_dependency_fails_the_load() {
    for (errno, why) in [
        (
            "2",
            "Unknown symbol in module, or unknown parameter (see dmesg)",
        ),
        ("1", "Operation not permitted"),
        ("8", "Exec format error"),
    ] {
        let s = System::new("");
        s.write("/fake-kernel.rules", &format!("insert mod_c {errno}\n"));
        let r = s.modprobe(&["mod_c"]);
        assert_eq!(r.code, Some(1));
        assert_eq!(
            r.stderr,
            format!("modprobe: ERROR: could not insert 'mod_c': {why}\n")
        );
        assert_eq!(r.calls.len(), 3, "{:?}", r.calls);
    }
    // Loaded by someone else meanwhile: fine, unless --first-time.
    let s = System::new("");
    s.write("/fake-kernel.rules", "insert mod_c 17\n");
    assert_eq!(s.modprobe(&["mod_c"]).code, Some(0));
    let r = s.modprobe(&["--first-time", "mod_c"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            Some(1),
            "modprobe: ERROR: could not insert 'mod_c': Module already in kernel\n"
        )
    );
}

#[test]
fn remove_takes_unused_dependencies_dependents_first() {
    // mod_c uses mod_b and mod_a, mod_b uses mod_a. kmod tries mod_a
    // before mod_b, finds it still in use, and leaves it loaded.
    let s = System::new("");
    s.modprobe(&["mod_c"]);
    let r = s.modprobe(&["-r", "-v", "mod_c"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "rmmod other_mod\nrmmod mod_c\nrmmod mod_b\nrmmod mod_a\n"
    );
    assert_eq!(
        r.calls,
        [
            "remove other_mod",
            "remove mod_c",
            "remove mod_b",
            "remove mod_a"
        ]
    );
    assert!(s.loaded().is_empty());
}

#[test]
fn remove_keeps_what_others_use_and_refuses_modules_in_use() {
    let s = System::new("");
    s.modprobe(&["-a", "mod_c", "b"]);
    s.modprobe(&["a"]);
    // mod_a is used by mod_b: in use.
    let r = s.modprobe(&["-r", "mod_a"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "modprobe: FATAL: Module mod_a is in use.\n")
    );
    assert!(r.calls.is_empty());
    // b uses a, and nothing else does: a goes with b.
    let r = s.modprobe(&["-r", "b"]);
    assert_eq!(r.calls, ["remove b", "remove a"]);
    // Quiet: no message, still a failure.
    let q = s.modprobe(&["-q", "-r", "mod_a"]);
    assert_eq!((q.code, q.stderr.as_str()), (Some(1), ""));
}

#[test]
fn remove_holders_first() {
    let s = System::new("");
    s.modprobe(&["mod_c"]);
    let r = s.modprobe(&["-r", "--remove-holders", "mod_a"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // Holders in reverse order (the fake lists them sorted): mod_c with
    // its post soft dependency, then mod_b, unused by then, goes as mod_c's
    // dependency; mod_a is left to its own removal, last.
    assert_eq!(
        r.calls,
        [
            "remove other_mod",
            "remove mod_c",
            "remove mod_b",
            "remove mod_a"
        ]
    );
    assert!(s.loaded().is_empty());
}

#[test]
fn remove_holders_goes_one_level() {
    // --remove-holders goes one level, as kmod 34.2: mod_b is held by
    // mod_c, so removing mod_b (a holder of mod_a) fails in use.
    let s = System::new("");
    s.preload("mod_a", &["mod_b"]);
    s.preload("mod_b", &["mod_c"]);
    s.preload("mod_c", &[]);
    let r = s.modprobe(&["-r", "--remove-holders", "mod_a"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "modprobe: FATAL: Module mod_b is in use.\n")
    );
}

#[test]
fn remove_commands_and_not_loaded() {
    let s =
        System::new("remove mod_b echo removing $MODPROBE_MODULE$CMDLINE_OPTS\nremove z exit 4\n");
    let r = s.modprobe(&["-r", "mod_b"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "removing mod_b\n"));
    let r = s.modprobe(&["-r", "z"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            Some(1),
            "modprobe: FATAL: Error running remove command for z\n"
        )
    );
    // Not loaded: fine, unless --first-time.
    let r = s.modprobe(&["-r", "mod_a"]);
    assert_eq!((r.code, r.stderr.as_str(), r.calls.len()), (Some(0), "", 0));
    let r = s.modprobe(&["-r", "--first-time", "mod_a"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "modprobe: FATAL: Module mod_a is not in kernel.\n")
    );
    let r = s.modprobe(&["-r", "nosuch"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "modprobe: FATAL: Module nosuch not found.\n")
    );
}

#[test]
fn wait_for_a_busy_module() {
    let s = System::new("");
    s.preload("mod_a", &[]);
    s.write("/fake-kernel.rules", "busy mod_a 20\n");
    let r = s.modprobe(&["-r", "-w", "100", "mod_a"]);
    assert_eq!((r.code, r.stderr.as_str()), (Some(0), ""));
    assert_eq!(
        r.calls,
        [
            "remove mod_a",
            "sleep 2",
            "remove mod_a",
            "sleep 6",
            "remove mod_a",
            "sleep 14",
            "remove mod_a",
            "sleep 30",
            "remove mod_a"
        ]
    );
    s.preload("mod_a", &[]);
    s.write("/fake-kernel.rules", "busy mod_a 1000\n");
    let r = s.modprobe(&["-r", "--wait=0x10", "mod_a"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            Some(1),
            "modprobe: ERROR: could not remove 'mod_a': Resource temporarily unavailable\n"
        )
    );
    assert_eq!(r.calls.last().unwrap(), "remove mod_a");
    assert!(r.calls.contains(&"sleep 16".to_string()));
}

#[test]
fn all_and_quiet() {
    let s = System::new("");
    let r = s.modprobe(&["-a", "mod_a", "nosuch", "ptp"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        format!("modprobe: WARNING: Module nosuch not found in directory {MODDIR}\n")
    );
    assert_eq!(
        r.calls,
        [
            ins("drivers/mod_a", ""),
            ins("lib/pps_core", ""),
            ins("net/ptp", "")
        ]
    );
    let q = s.modprobe(&["-q", "nosuch"]);
    assert_eq!(
        (q.code, q.stdout.as_str(), q.stderr.as_str()),
        (Some(1), "", "")
    );
    let q = s.modprobe_env(&["nosuch"], &[("MODPROBE_OPTIONS", "-q")]);
    assert_eq!((q.code, q.stderr.as_str()), (Some(1), ""));
}

#[test]
fn dry_run_and_force() {
    let s = System::new("");
    let n = s.modprobe(&["-n", "mod_c"]);
    assert_eq!((n.code, n.stdout.as_str(), n.calls.len()), (Some(0), "", 0));
    let nv = s.modprobe(&["-n", "-v", "mod_c"]);
    assert_eq!(nv.stdout.lines().count(), 4);
    assert!(nv.calls.is_empty());
    let f = s.modprobe(&["-f", "mod_a"]);
    assert_eq!(
        f.calls,
        [format!(
            "insert --force-modversion --force-vermagic {} ",
            ko("drivers/mod_a")
        )]
    );
    let f = s.modprobe(&["--force-vermagic", "x"]);
    assert_eq!(
        f.calls,
        [format!("insert --force-vermagic {} ", ko("drivers/x"))]
    );
}

#[test]
fn module_given_by_path() {
    let s = System::new("");
    s.write("/opt/m/mod_c.ko", "depends=mod_b,mod_a\n");
    let r = s.modprobe(&["/opt/m/mod_c.ko"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.calls,
        [
            ins("drivers/mod_a", ""),
            ins("drivers/mod-b", ""),
            "insert /opt/m/mod_c.ko ".to_string(),
            ins("drivers/other_mod", ""),
        ]
    );
    let r = s.modprobe(&["/opt/m/missing.ko"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            Some(1),
            "modprobe: FATAL: Failed to get module from path /opt/m/missing.ko: No such file or directory\n"
        )
    );
}

#[test]
fn module_given_by_relative_path() {
    // Relative to the working directory. Inside the root it is shown as
    // the path it has on the target system; outside, as given.
    let s = System::new("");
    s.write("/opt/m/mod_c.ko", "depends=mod_b,mod_a\n");
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("x.ko"), "depends=\n").unwrap();
    let cases = [
        (s.path("/opt/m"), "./mod_c.ko", "/opt/m/./mod_c.ko"),
        (
            s.path("/opt"),
            "./m/../m/mod_c.ko",
            "/opt/./m/../m/mod_c.ko",
        ),
        (
            s.dir.path().to_path_buf(),
            "./opt/m/mod_c.ko",
            "/./opt/m/mod_c.ko",
        ),
        (outside.path().to_path_buf(), "./x.ko", "./x.ko"),
    ];
    for (cwd, arg, shown) in cases {
        for m in s.loaded() {
            fs::remove_dir_all(s.path(&format!("/sys/module/{m}"))).unwrap();
        }
        let log = s.dir.path().join("calls.log");
        let _ = fs::remove_file(&log);
        let out = Command::new(ours("modprobe"))
            .args(["-v", arg])
            .current_dir(&cwd)
            .env("MODUTILS_SYSROOT", s.dir.path())
            .env("MODUTILS_FAKE_KERNEL", &log)
            .env_remove("MODPROBE_OPTIONS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{arg} in {cwd:?}: {stderr}");
        let calls = fs::read_to_string(&log).unwrap();
        let line = format!("insert {shown} ");
        assert!(calls.lines().any(|l| l == line), "{arg}: {calls}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("insmod {shown} \n")), "{stdout}");
    }
}

#[test]
fn missing_file_of_a_known_module() {
    let s = System::new("");
    fs::remove_file(s.path(&ko("drivers/x"))).unwrap();
    let r = s.modprobe(&["x"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            Some(1),
            "modprobe: ERROR: could not insert 'x': Unknown symbol in module, or unknown parameter (see dmesg)\n"
        )
    );
    // An alias to a module no index has a file for.
    let r = s.modprobe(&["gone-alias"]);
    assert_eq!(
        r.stderr,
        "modprobe: ERROR: could not find module by name='module_without_file'\n\
         modprobe: ERROR: could not insert 'module_without_file': Unknown symbol in module, or unknown parameter (see dmesg)\n"
    );
}

#[test]
fn fake_kernel_needs_a_relocated_root() {
    // The fake kernel variable alone never stands in for the real kernel:
    // without MODUTILS_SYSROOT this is a real (dry) run on the host.
    let out = Command::new(ours("modprobe"))
        .args(["-D", "-d", "/nonexistent", "x"])
        .env("MODUTILS_FAKE_KERNEL", "/nonexistent/log")
        .env_remove("MODUTILS_SYSROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!Path::new("/nonexistent/log").exists());
}

#[test]
fn fake_kernel_needs_a_root_other_than_the_hosts() {
    // A root that is the host's own `/` under another name is no relocated
    // root: modprobe runs for real, so the install command runs and the
    // fake kernel's log is never written.
    let s = System::new("install mod_a echo real\n");
    let to_root = s.dir.path().join("to-root");
    std::os::unix::fs::symlink("/", &to_root).unwrap();
    for root in [Path::new("/.."), Path::new("//"), to_root.as_path()] {
        let log = s.dir.path().join("calls.log");
        let out = Command::new(ours("modprobe"))
            .arg("-d")
            .arg(s.dir.path())
            .args(["-S", "1.0", "-C"])
            .arg(s.path("/etc/modprobe.d"))
            .arg("mod_a")
            .env("MODUTILS_SYSROOT", root)
            .env("MODUTILS_FAKE_KERNEL", &log)
            .env_remove("MODPROBE_OPTIONS")
            .output()
            .unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).as_ref()
            ),
            (Some(0), "real\n"),
            "MODUTILS_SYSROOT={}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!log.exists(), "MODUTILS_SYSROOT={}", root.display());
    }
}

#[test]
fn unknown_kernel_compression_is_reported_at_start() {
    // libkmod reads /sys/module/compression when it starts, before the
    // configuration, and says so through its own logger.
    let s = System::new("bogus line\n");
    s.write("/sys/module/compression", "lz4\n");
    let r = s.modprobe(&["-D", "mod_a"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(
        r.stderr,
        "libkmod: ERROR: get_kernel_compression: unknown kernel compression lz4\n\
         libkmod: ERROR: kmod_config_parse: /etc/modprobe.d/test.conf line 1: ignoring bad line starting with 'bogus'\n"
    );
    s.write("/sys/module/compression", "zstd\n");
    let r = s.modprobe(&["-q", "-D", "mod_a"]);
    assert!(!r.stderr.contains("compression"), "{}", r.stderr);
}
