//! The differential runs: the real Debian tree module by module, the
//! modprobe.d corpus through the iterators and probes, every index dump,
//! and the checklist of subtle behaviours of libkmod's contract (`check.c`).

use std::fs;
use std::path::{Path, PathBuf};

use super::{assert_identical, run_with, source_dir, Lib};
use crate::modprobe_corpus::{base_for, names, scenarios};
use crate::modprobe_tree::{build_moddir, fixtures};
use crate::util::{real_tree, text};

/// The names of the real tree: every module of modules.dep, then every
/// built-in of modules.builtin.
fn tree_names(moddir: &Path) -> Vec<String> {
    let read = |f: &str| fs::read_to_string(moddir.join(f)).unwrap();
    let stem = |p: &str| {
        let base = p.rsplit('/').next().unwrap();
        base.split(".ko").next().unwrap().to_string()
    };
    let mut names: Vec<String> = read("modules.dep")
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(stem)
        .collect();
    names.extend(read("modules.builtin").lines().map(stem));
    names
}

#[test]
fn every_module_of_the_real_tree_is_identical() {
    let moddir = real_tree().moddir();
    let names = tree_names(&moddir);
    assert!(names.len() > 4000, "only {} names", names.len());
    let input = names.join("\n") + "\n";
    let total = assert_identical("modules", "modules", &[&moddir], input.as_bytes(), None);
    assert_eq!(total, names.len(), "a block per module");
}

/// Module files compressed with xz and zstd, opened by path: what is read
/// from them (info, signature, versions, symbols) is the same as kmod's.
#[test]
fn compressed_modules_read_identically() {
    let moddir = real_tree().moddir();
    let mut input = String::new();
    let mut count = 0;
    for var in ["MODUTILS_TEST_TREE_XZ", "MODUTILS_TEST_TREE_ZST"] {
        let dir = PathBuf::from(
            std::env::var_os(var).unwrap_or_else(|| panic!("{var} is not set: run tests/setup.sh")),
        );
        let mut files = Vec::new();
        collect_modules(&dir.join("kernel"), &mut files);
        files.sort();
        assert!(
            files.len() > 4000,
            "{}: only {} modules",
            dir.display(),
            files.len()
        );
        // Every 8th: decompressing all of them twice adds minutes.
        for f in files.iter().step_by(8) {
            input += &format!("{}\n", f.display());
            count += 1;
        }
    }
    let total = assert_identical("compressed", "modules", &[&moddir], input.as_bytes(), None);
    assert_eq!(total, count);
}

fn collect_modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect_modules(&p, out);
        } else if p.to_string_lossy().contains(".ko") {
            out.push(p);
        }
    }
}

/// The modprobe.d corpus and modprobe's own scenarios over the fixture
/// tree: iterators, config strings, softdeps and dry-run probes under
/// every flag combination, for every name the scenario mentions.
#[test]
fn config_corpus_is_identical() {
    let mut blocks = 0;
    for s in scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let modules = base_for(&s, tmp.path());
        let moddir = tmp.path().join("lib/modules/1.0");
        let input = names(&s, &modules).join("\n") + "\n";
        let mut args: Vec<&Path> = vec![&moddir];
        args.extend(s.configs.iter().map(PathBuf::as_path));
        let what = format!("config {}", s.dir.file_name().unwrap().to_string_lossy());
        blocks += assert_identical(&what, "config", &args, input.as_bytes(), None);
    }
    eprintln!("config corpus: {blocks} blocks identical in all");
}

/// The same scenarios with probes that run. Every module file is replaced
/// by a directory: it still passes `stat` (a module made from its path
/// exists) but cannot be read, so an insertion fails with -EISDIR before
/// any system call reaches the kernel, while install commands go to the
/// run_install callback.
#[test]
fn probes_that_run_are_identical() {
    for s in scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let modules = base_for(&s, tmp.path());
        let moddir = tmp.path().join("lib/modules/1.0");
        unreadable_modules(&moddir.join("kernel"));
        run_exec(&s, &moddir, &modules, "files unreadable");
    }
}

/// And with the module files gone while modules.dep still lists them: a
/// dependency that cannot be made from its path.
#[test]
fn dependencies_missing_on_disk_are_identical() {
    for s in scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let modules = base_for(&s, tmp.path());
        let moddir = tmp.path().join("lib/modules/1.0");
        fs::remove_dir_all(moddir.join("kernel")).unwrap();
        run_exec(&s, &moddir, &modules, "files missing");
    }
}

fn run_exec(s: &crate::modprobe_corpus::Scenario, moddir: &Path, modules: &[String], how: &str) {
    let input = names(s, modules).join("\n") + "\n";
    let exec = PathBuf::from("--exec");
    let mut args: Vec<&Path> = vec![&exec, moddir];
    args.extend(s.configs.iter().map(PathBuf::as_path));
    let what = format!(
        "config --exec {} ({how})",
        s.dir.file_name().unwrap().to_string_lossy()
    );
    assert_identical(&what, "config", &args, input.as_bytes(), None);
}

/// Replaces every file under `dir` by an empty directory of that name.
pub(super) fn unreadable_modules(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            unreadable_modules(&p);
        } else {
            fs::remove_file(&p).unwrap();
            fs::create_dir(&p).unwrap();
        }
    }
}

#[test]
fn index_dumps_are_identical() {
    let real = real_tree().moddir();
    assert_identical("dump real tree", "dump", &[&real], b"", None);
    let tmp = tempfile::tempdir().unwrap();
    let moddir = tmp.path().join("lib/modules/1.0");
    build_moddir(&fixtures().join("modprobe/tree"), &moddir);
    assert_identical("dump fixture tree", "dump", &[&moddir], b"", None);
    // A directory without indexes.
    assert_identical("dump empty dir", "dump", &[tmp.path()], b"", None);
}

/// The checklist, run in the same directory for both libraries (paths
/// appear in the output), rebuilt before each run.
fn run_check(lib: Lib) -> std::process::Output {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libkmod-check");
    let _ = fs::remove_dir_all(&base);
    build_moddir(
        &fixtures().join("modprobe/tree"),
        &base.join("lib/modules/1.0"),
    );
    make_bad_elves(&base.join("elf"));
    let fixtures = PathBuf::from(
        std::env::var_os("MODUTILS_FIXTURES")
            .expect("MODUTILS_FIXTURES is not set: run tests/setup.sh"),
    );
    run_with(lib, "check", &[&base, &fixtures], b"", None)
}

/// Files that are not good modules, for the ELF checks of check.c.
pub(super) fn make_bad_elves(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let fixtures = PathBuf::from(std::env::var_os("MODUTILS_FIXTURES").unwrap());
    let good = fs::read(fixtures.join("mod_a.ko")).unwrap();
    fs::write(dir.join("tiny.ko"), b"\x7fELF\x02").unwrap();
    fs::write(dir.join("text.ko"), b"hello, not an ELF file at all\n").unwrap();
    fs::write(dir.join("empty.ko"), b"").unwrap();
    fs::write(dir.join("trunc.ko"), &good[..64]).unwrap();
    // Section headers said to lie far past the end of the file.
    let mut bad = good.clone();
    bad[0x28..0x30].copy_from_slice(&0x7fff_ff00u64.to_le_bytes());
    fs::write(dir.join("badelf.ko"), bad).unwrap();
    // A relocatable object without .modinfo, __versions or exports.
    let src = dir.join("noinfo.c");
    fs::write(&src, "int modutils_noinfo(void) { return 1; }\n").unwrap();
    let status = std::process::Command::new("cc")
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(dir.join("noinfo.o"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn checklist_is_identical() {
    let _guard = check_lock();
    let k = run_check(Lib::Kmod);
    let o = run_check(Lib::Ours);
    assert!(k.status.success(), "kmod's run failed: {}", text(&k.stderr));
    // One block per check family ("lists.", "lookup.", …), cut after the
    // normalisation so that the lines only ours has do not shift blocks.
    let split = |out: String| {
        let mut s = String::new();
        let mut last = String::new();
        for line in out.lines() {
            let family = line.split(['.', ' ']).next().unwrap_or("").to_string();
            if family != last && !line.starts_with(' ') {
                s += &format!("== {family}\n");
                last = family;
            }
            s += line;
            s.push('\n');
        }
        s
    };
    let ks = split(super::kmod30_as_34(&text(&k.stdout)));
    let os = split(super::ours_for_comparison(&text(&o.stdout)));
    let (same, total, report) = super::compare_blocks(&ks, &os, "== ");
    eprintln!("checklist: {same}/{total} blocks identical");
    assert!(
        report.is_empty(),
        "checklist: {same}/{total} identical\n{report}"
    );
    assert_eq!(
        super::stderr_as_34(&k.stderr),
        text(&o.stderr),
        "checklist: stderr"
    );
    assert_eq!(k.status.code(), o.status.code());
}

/// check.c runs in one fixed directory.
fn check_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// kmod 30 has no weak dependencies and crashes on `free_iter(NULL)`:
/// ours are checked against kmod 34.2's rules (docs/compat.md, "kmod 30
/// and 34.2"). `weakdep w-one  z1 z-2 mod-b`
/// keeps one leading blank on its first token (two separators after the
/// name); `weakdep w-two` has none; values are tokens joined by spaces.
#[test]
fn weakdeps_follow_the_reference() {
    let _guard = check_lock();
    let o = run_check(Lib::Ours);
    let out = text(&o.stdout);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("weakdep") || l.starts_with("k34"))
        .collect();
    let expected = [
        "k34.free_iter-null ok",
        "k34.dirname-null-ctx (null)",
        r#"weakdep-iter "w_one" " z1 z-2 mod-b""#,
        r#"weakdep-iter "w_two" """#,
        // Tokens go through the full lookup: " z1" and "z-2" find nothing.
        r#"weakdeps-module w-one 0  1 "mod_b""#,
        r#"weakdeps-module w_two 0  0"#,
        r#"weakdeps-module mod_weakdep 0  0"#,
        "weakdeps-null -2",
    ];
    assert_eq!(lines, expected, "{out}");
}

/// Every function libkmod exports is called by the programs.
#[test]
fn the_programs_call_all_75_functions() {
    let list = fs::read_to_string(source_dir().join("symbols.txt")).unwrap();
    let names: Vec<&str> = list
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names.len(), 75);
    let mut sources = String::new();
    for e in fs::read_dir(source_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "c" || x == "h") {
            sources += &fs::read_to_string(&p).unwrap();
        }
    }
    let uncalled: Vec<&&str> = names
        .iter()
        .filter(|n| {
            // Called, or looked up by name (the LIBKMOD_33 pair).
            !sources.contains(&format!("{n}(")) && !sources.contains(&format!("\"{n}\""))
        })
        .collect();
    assert!(uncalled.is_empty(), "never called: {uncalled:?}");
}

/// The programs do run with our library when told to.
#[test]
fn ours_is_the_library_loaded() {
    let out = std::process::Command::new(super::program("dump"))
        .env("LD_LIBRARY_PATH", super::our_library_dir())
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .unwrap();
    let listing = text(&out.stdout);
    let ours = fs::canonicalize(super::our_library_dir().join("libkmod.so.2")).unwrap();
    let line = listing
        .lines()
        .find(|l| l.contains("libkmod.so.2"))
        .unwrap_or_else(|| panic!("no libkmod in {listing}"));
    let loaded = line
        .split("=> ")
        .nth(1)
        .and_then(|r| r.split(" (").next())
        .unwrap();
    assert_eq!(fs::canonicalize(loaded).unwrap(), ours, "{listing}");
}
