//! modprobe against kmod's modprobe on the real Debian 6.1 tree: every
//! module's `--show-depends`, every alias pattern and a set of real device
//! strings through `--resolve-alias`, `-c`, the symbol dumps, and the
//! command-line errors. Both read the host's modprobe.d and /proc/cmdline.

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use modutils_core::name::modname_from_path;

use crate::modprobe_tree::{concrete, fixtures};
use crate::util::{normalize_libkmod_30, oracle, ours, real_tree, run, text};

/// `-d BASE -S VERSION` for the real tree.
fn tree_args() -> Vec<OsString> {
    let t = real_tree();
    vec![
        "-d".into(),
        t.base.clone().into_os_string(),
        "-S".into(),
        t.release.clone().into(),
    ]
}

/// Runs both with `args`, returning a description of any difference in
/// stdout, stderr (kmod 30's libkmod prefix normalised) or exit status.
fn differences(args: &[OsString]) -> Option<String> {
    let (k, o) = (run(&oracle("modprobe"), args), run(&ours("modprobe"), args));
    compare(&k, &o)
}

/// kmod 30's stderr as kmod 34.2 prints it. Its debug build puts the
/// source location in libkmod's messages (`libkmod: ERROR file.c:N fn: `
/// from the library's logger, `modprobe: ERROR: file.c:N fn() ` through
/// modprobe's), and 34.2 renamed one message: kmod 33's
/// weak dependencies made "soft dependency" there plain "dependency".
pub fn kmod30_as_34(stderr: &[u8]) -> String {
    normalize_libkmod_30(&text(stderr))
        .lines()
        .map(|l| {
            let l = match l.split_once(": ../libkmod/") {
                Some((head, rest)) => match rest.split_once("() ") {
                    Some((_, msg)) => format!("{head}: {msg}"),
                    None => l.to_string(),
                },
                None => l.to_string(),
            };
            l.replace(
                "failed to lookup soft dependency",
                "failed to lookup dependency",
            ) + "\n"
        })
        .collect()
}

fn compare(k: &Output, o: &Output) -> Option<String> {
    let mut d = String::new();
    if k.stdout != o.stdout {
        d += &first_difference("stdout", &text(&k.stdout), &text(&o.stdout));
    }
    let (ke, oe) = (kmod30_as_34(&k.stderr), text(&o.stderr));
    if ke != oe {
        d += &first_difference("stderr", &ke, &oe);
    }
    if k.status.code() != o.status.code() {
        d += &format!("exit {:?} vs {:?}\n", k.status.code(), o.status.code());
    }
    (!d.is_empty()).then_some(d)
}

fn first_difference(what: &str, k: &str, o: &str) -> String {
    let line = k
        .lines()
        .zip(o.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(k.lines().count().min(o.lines().count()));
    let pick = |s: &str| s.lines().skip(line).take(3).collect::<Vec<_>>().join("\n");
    format!(
        "{what} differs at line {}:\n--- kmod\n{}\n--- ours\n{}\n",
        line + 1,
        pick(k),
        pick(o)
    )
}

/// Normalised names of every module in modules.dep.
fn module_names() -> Vec<String> {
    let dep = fs::read_to_string(real_tree().moddir().join("modules.dep")).unwrap();
    dep.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(p, _)| modname_from_path(p))
        .collect()
}

/// Runs `-a <flag> NAMES…` on both, in chunks that fit a command line.
fn assert_all_same(flag: &str, names: &[String]) {
    for chunk in names.chunks(4000) {
        let mut args = tree_args();
        args.extend(["-a".into(), flag.into()]);
        args.extend(chunk.iter().map(OsString::from));
        if let Some(d) = differences(&args) {
            panic!("modprobe -a {flag} over {} names:\n{d}", chunk.len());
        }
    }
}

/// Runs `f(name)` for every name on two threads; panics listing failures.
fn for_each_parallel(names: &[String], f: impl Fn(&str) -> Option<String> + Sync) {
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                if let Some(d) = f(name) {
                    failures.lock().unwrap().push(format!("== {name}\n{d}"));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} differ; first:\n{}",
        failures.len(),
        names.len(),
        failures.iter().take(3).cloned().collect::<String>()
    );
}

#[test]
fn show_depends_of_every_module_is_identical() {
    let names = module_names();
    assert!(names.len() > 4000, "only {} modules", names.len());
    // One process per module, as a user or initramfs builder runs it.
    for_each_parallel(&names, |name| {
        let mut args = tree_args();
        args.extend(["-D".into(), name.into()]);
        differences(&args)
    });
    // And all at once: -a gives the same lines module after module.
    assert_all_same("-D", &names);
    eprintln!("modprobe -D identical for {} modules", names.len());
}

#[test]
fn show_depends_of_builtin_modules_and_file_names_is_identical() {
    let builtin = fs::read_to_string(real_tree().moddir().join("modules.builtin")).unwrap();
    let mut names: Vec<String> = builtin.lines().map(modname_from_path).collect();
    // Names as files spell them (dashes) resolve to the same modules.
    let dep = fs::read_to_string(real_tree().moddir().join("modules.dep")).unwrap();
    names.extend(dep.lines().filter_map(|l| {
        let (p, _) = l.split_once(':')?;
        let base = p.rsplit('/').next()?;
        Some(base.split('.').next()?.to_string()).filter(|n| n.contains('-'))
    }));
    assert_all_same("-D", &names);
}

/// Every pattern of modules.alias, made concrete twice (`*` as one
/// character and as nothing).
fn alias_strings() -> Vec<String> {
    let aliases = fs::read_to_string(real_tree().moddir().join("modules.alias")).unwrap();
    let mut out = Vec::new();
    for line in aliases.lines() {
        let Some(pattern) = line
            .strip_prefix("alias ")
            .and_then(|l| l.split(' ').next())
        else {
            continue;
        };
        out.push(concrete(pattern, "1"));
        out.push(concrete(pattern, ""));
    }
    out
}

#[test]
fn resolve_alias_of_every_alias_pattern_is_identical() {
    let strings = alias_strings();
    assert!(strings.len() > 50_000, "only {} strings", strings.len());
    assert_all_same("-R", &strings);
    eprintln!("modprobe -R identical for {} alias strings", strings.len());
}

/// Real device and request strings: PCI, USB, ACPI, of:, platform:,
/// char-major-, block-major-, fs-, net-pf-, crypto-, symbol: and others.
fn real_modaliases() -> Vec<String> {
    let list = fs::read_to_string(fixtures().join("modprobe/modaliases.txt")).unwrap();
    list.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn real_modaliases_resolve_and_load_identically() {
    let strings = real_modaliases();
    assert!(strings.len() >= 60, "only {} strings", strings.len());
    assert_all_same("-R", &strings);
    assert_all_same("-D", &strings);
    // One at a time: a miss is modprobe's fatal error then.
    for_each_parallel(&strings, |s| {
        let mut args = tree_args();
        args.extend(["-R".into(), s.into()]);
        differences(&args).or_else(|| {
            args[4] = "-D".into();
            differences(&args)
        })
    });
    eprintln!(
        "modprobe -R and -D identical for {} device strings",
        strings.len()
    );
}

#[test]
fn show_config_with_the_real_indexes_is_identical() {
    let mut args = tree_args();
    args.push("-c".into());
    if let Some(d) = differences(&args) {
        panic!("modprobe -c:\n{d}");
    }
}

/// kmod 34.2 reports a missing ELF section as ENODATA; kmod 30 said ENOENT
/// (docs/compat.md, "kmod 30 and 34.2").
fn enodata_as_in_34(stderr: &[u8]) -> Vec<u8> {
    text(stderr)
        .replace(": No such file or directory\n", ": No data available\n")
        .into_bytes()
}

#[test]
fn symbol_dumps_are_identical() {
    let modules = real_tree().modules();
    let sample: Vec<String> = modules
        .iter()
        .step_by(20)
        .map(|p| p.display().to_string())
        .collect();
    let symbols = |flag: &str, path: &str| {
        let args: [OsString; 2] = [flag.into(), path.into()];
        let mut k = run(&oracle("modprobe"), &args);
        if k.stderr.starts_with(b"modprobe: FATAL: could not get ") {
            k.stderr = enodata_as_in_34(&k.stderr);
        }
        compare(&k, &run(&ours("modprobe"), &args))
    };
    for_each_parallel(&sample, |path| {
        ["--show-modversions", "--show-exports"]
            .iter()
            .find_map(|flag| symbols(flag, path))
    });
    let bad = ["/nonexistent.ko", "/dev/null", "/etc/hostname", "bttv"];
    for path in bad {
        for flag in ["--show-modversions", "--show-exports", "--dump-modversions"] {
            if let Some(d) = symbols(flag, path) {
                panic!("{flag} {path}:\n{d}");
            }
        }
    }
}

#[test]
fn command_line_errors_are_identical() {
    let cases: &[&[&str]] = &[
        &[],
        &["-q"],
        &["--show-", "x"],
        &["--force-", "x"],
        &["--d", "x"],
        &["--re", "x"],
        &["--bogus"],
        &["-x"],
        &["-C"],
        &["--config"],
        &["--remove=1", "x"],
        &["-w", "abc", "-r", "x"],
        &["-w", "", "-r", "x"],
        &["-w", "0x", "-r", "x"],
    ];
    for case in cases {
        let args: Vec<OsString> = case.iter().map(OsString::from).collect();
        if let Some(d) = differences(&args) {
            panic!("modprobe {case:?}:\n{d}");
        }
    }
}

#[test]
fn not_found_messages_are_identical() {
    let cases: &[&[&str]] = &[
        &["-D", "no-such-module"],
        &["-q", "-D", "no-such-module"],
        &["-R", "pci:v0000FFFFd0000FFFFsv0sd0bc0sc0i0"],
        &["-a", "-D", "nope1", "bttv", "nope2"],
        &["-r", "no-such-module"],
        &["-r", "-a", "nope1", "nope2"],
        &["-D", "bad[name"],
        // `-r bad[name`: kmod exits 1 without a word; we say "not found"
        // (docs/modprobe.md; pinned in tests/hostile.rs).
        &["-D", "-b", "bttv"],
        &["-D", "-i", "ext4"],
    ];
    for case in cases {
        let mut args = tree_args();
        args.extend(case.iter().map(OsString::from));
        if let Some(d) = differences(&args) {
            panic!("modprobe {case:?}:\n{d}");
        }
    }
}

/// Dry runs (`-n`, never a kernel call) that look at the running system:
/// what `/sys/module` says is loaded or built in decides, for both tools
/// alike, what is skipped, what is "in use" or "not in kernel".
#[test]
fn dry_runs_against_the_running_system_are_identical() {
    let builtin = fs::read_to_string(real_tree().moddir().join("modules.builtin")).unwrap();
    let mut names = module_names();
    names.extend(builtin.lines().map(modname_from_path));
    let modes: &[&[&str]] = &[
        &["-n", "-v"],
        &["-n", "-v", "--first-time"],
        &["-r", "-n", "-v"],
        &["-r", "-n", "-v", "--first-time"],
        &["-r", "-n", "-v", "-i"],
        &["-r", "-n", "-v", "--remove-holders"],
    ];
    for mode in modes {
        assert!(mode.contains(&"-n"), "a dry run only");
        let mut args = tree_args();
        args.push("-a".into());
        args.extend(mode.iter().map(OsString::from));
        args.extend(names.iter().map(OsString::from));
        if let Some(d) = differences(&args) {
            panic!("modprobe -a {mode:?} over every module:\n{d}");
        }
    }
}

/// `MODPROBE_OPTIONS` words come before the command line's options.
#[test]
fn options_from_the_environment_are_identical() {
    let cases: &[(&str, &[&str])] = &[
        ("-q", &["no-such-module"]),
        ("-D", &["bttv"]),
        ("-v -n", &["ext4"]),
        ("--bogus", &["bttv"]),
        ("-a", &["-D", "nope", "bttv"]),
        // Two spaces: an empty word, taken as -C's value; `x` is an operand.
        ("-C  x", &["-D", "bttv"]),
        ("\"-D\" -q", &["bttv", "nope"]),
        ("-R 'unterminated", &["bttv"]),
    ];
    for (env, case) in cases {
        let mut args = tree_args();
        args.extend(case.iter().map(OsString::from));
        let runs = [oracle("modprobe"), ours("modprobe")].map(|p| {
            std::process::Command::new(p)
                .arg0("modprobe")
                .args(&args)
                .env("MODPROBE_OPTIONS", env)
                .env_remove("MODUTILS_SYSROOT")
                .output()
                .unwrap()
        });
        if let Some(d) = compare(&runs[0], &runs[1]) {
            panic!("MODPROBE_OPTIONS={env:?} modprobe {case:?}:\n{d}");
        }
    }
}
