//! The library seen from C: the exports and their versions, and the
//! smoke test (tests/c/smoke.c) on a sandboxed system with the fake
//! kernel, under valgrind when it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use modutils_core::index::IndexBuilder;
use modutils_core::sandbox::Sandbox;

/// The library cargo built with this test: `cargo test` leaves it in
/// target/<profile>/deps (beside this executable), `cargo build` in
/// target/<profile>.
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|d| d.join("libkmod.so"))
        .find(|p| p.exists())
        .expect("libkmod.so built")
}

/// A directory with the library under both of its names, for linking
/// (`libkmod.so`) and for the loader (`libkmod.so.2`).
fn lib_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("lib");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["libkmod.so", "libkmod.so.2"] {
        let _ = std::os::unix::fs::symlink(built_library(), dir.join(name));
    }
    dir
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compile(source: &Path, out: &Path, lib: &Path) {
    let status = Command::new("cc")
        .args(["-Wall", "-Werror", "-g", "-o"])
        .arg(out)
        .arg(source)
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-L")
        .arg(lib)
        .arg("-l:libkmod.so")
        .status()
        .expect("run cc");
    assert!(status.success(), "compiling {}", source.display());
}

/// Fails the test, naming the tool, when it is not installed: nothing here
/// is skipped (tests/setup.sh installs what the suite needs).
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: run tests/setup.sh");
}

/// The system smoke.c expects.
fn sandbox(dir: &Path) {
    Sandbox::new("6.1.0-test")
        .module("e1000", &[])
        .module("bttv", &["videodev", "tveeprom"])
        .module("videodev", &[])
        .module("tveeprom", &[])
        .module("mc", &[])
        .alias("pci:v00008086d0000100Esv*sd*bc*sc*i*", "e1000")
        .builtin("ext4")
        .config(
            "blacklist tveeprom\n\
             options bttv card=2\t x=1\n\
             install snd-dummy /bin/true $CMDLINE_OPTS\n\
             softdep bttv pre: a-b c post: d e-f\n\
             bogus line\n",
        )
        .loaded("mc", &[])
        .loaded("videodev", &["mc"])
        .write(dir)
        .expect("write sandbox");
    // The indexes the sandbox does not write, empty, so that resources load.
    let empty = IndexBuilder::new().to_bytes().expect("empty index");
    let moddir = dir.join("lib/modules/6.1.0-test");
    std::fs::write(moddir.join("modules.symbols.bin"), &empty).unwrap();
    std::fs::write(moddir.join("modules.builtin.alias.bin"), &empty).unwrap();
}

/// Compiles tests/c/`name`.c and runs it on `root` with the fake kernel,
/// under valgrind when installed; it must pass every check.
fn run_checks(name: &str, tmp: &Path, root: &Path) -> String {
    let exe = tmp.join(name);
    let lib = lib_dir(tmp);
    compile(
        &manifest_dir().join(format!("tests/c/{name}.c")),
        &exe,
        &lib,
    );
    require("valgrind");
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "-q",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
    ])
    .arg(&exe);
    let out = cmd
        .arg(root)
        .env("LD_LIBRARY_PATH", &lib)
        .env("MODUTILS_SYSROOT", root)
        .env("MODUTILS_FAKE_KERNEL", tmp.join("fake.log"))
        .env_remove("KMOD_LOG")
        .output()
        .expect("run the checks");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.ends_with("\n0 failed\n"), "{stdout}");
    stdout.into_owned()
}

#[test]
fn smoke_test_passes_without_memory_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    sandbox(&root);
    run_checks("smoke", tmp.path(), &root);
    let fake = std::fs::read_to_string(tmp.path().join("fake.log")).unwrap_or_default();
    assert!(
        fake.contains("insert /lib/modules/6.1.0-test/kernel/e1000.ko"),
        "the fake kernel saw the insertion:\n{fake}"
    );
}

#[test]
fn bad_names_and_damaged_indexes_give_errors_not_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    sandbox(&root);
    let moddir = root.join("lib/modules/6.1.0-test");
    let alias = std::fs::read(moddir.join("modules.alias.bin")).unwrap();
    std::fs::write(moddir.join("modules.alias.bin"), &alias[..8]).unwrap();
    let mut dep = std::fs::read(moddir.join("modules.dep.bin")).unwrap();
    dep[8..12].copy_from_slice(&0x0fff_fff0u32.to_be_bytes());
    std::fs::write(moddir.join("modules.dep.bin"), &dep).unwrap();
    run_checks("hostile", tmp.path(), &root);
}

/// Runs tests/c/log.c with `KMOD_LOG` set to `kmod_log`: its stdout
/// and stderr.
fn run_log_program(kmod_log: &str) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    sandbox(&root);
    let exe = tmp.path().join("log");
    let lib = lib_dir(tmp.path());
    compile(&manifest_dir().join("tests/c/log.c"), &exe, &lib);
    let out = Command::new(&exe)
        .env("LD_LIBRARY_PATH", &lib)
        .env("MODUTILS_SYSROOT", &root)
        .env("KMOD_LOG", kmod_log)
        .output()
        .expect("run log");
    assert!(out.status.success());
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn default_logger_writes_libkmods_format_to_stderr() {
    let (stdout, stderr) = run_log_program("err");
    assert_eq!(stdout, "priority 3\n");
    assert_eq!(
        stderr,
        "libkmod: ERROR: kmod_config_parse: /etc/modprobe.d/sandbox.conf line 5: \
         ignoring bad line starting with 'bogus'\n\
         libkmod: ERROR: kmod_module_insert_module: could not find module by name='nonexistent'\n"
    );
}

#[test]
fn kmod_log_sets_the_priority() {
    let (stdout, stderr) = run_log_program("info");
    assert_eq!(stdout, "priority 6\n");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() == 3, "{stderr}");
    assert!(
        lines[1].starts_with("libkmod: INFO: kmod_new: ctx 0x") && lines[1].ends_with(" created"),
        "{stderr}"
    );
    // Silenced by kmod_set_log_fn(NULL): nothing after the first error,
    // not even the release of the context.
    assert!(lines[2].starts_with("libkmod: ERROR: kmod_module_insert_module"));

    assert_eq!(run_log_program("7").0, "priority 7\n");
    // Anything else is priority 0: not even errors are shown.
    assert_eq!(
        run_log_program("bogus"),
        ("priority 0\n".into(), String::new())
    );
}

/// The names and versions libkmod.map gives, as `name@NODE`.
fn map_symbols() -> Vec<String> {
    let map = std::fs::read_to_string(manifest_dir().join("libkmod.map")).unwrap();
    let mut node = String::new();
    let mut out: Vec<String> = Vec::new();
    for line in map.lines() {
        let t = line.trim();
        if let Some(n) = t.strip_suffix(" {") {
            node = n.to_string();
        } else if let Some(sym) = t.strip_suffix(';') {
            if sym.starts_with("kmod_") {
                // Listed again in a later node: the earlier version stays
                // as a non-default one (name@NODE) for old programs.
                let default_prefix = format!("{sym}@@");
                if let Some(old) = out.iter_mut().find(|s| s.starts_with(&default_prefix)) {
                    *old = old.replacen("@@", "@", 1);
                }
                out.push(format!("{sym}@@{node}"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn exports_are_the_75_functions_with_their_versions() {
    require("readelf");
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(built_library())
        .output()
        .expect("run readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut defined: Vec<String> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Num: Value Size Type Bind Vis Ndx Name
        let numbered = f.first().is_some_and(|n| {
            n.strip_suffix(':')
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 0))
        });
        if numbered && f.len() >= 8 && f[6] != "UND" {
            assert_eq!(f[3], "FUNC", "only functions are exported: {line}");
            defined.push(f[7].to_string());
        }
    }
    defined.sort();
    let expected = map_symbols();
    let mut names: Vec<&str> = expected
        .iter()
        .map(|s| s.split('@').next().unwrap())
        .collect();
    names.dedup();
    assert_eq!(names.len(), 75);
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert_eq!(defined, expected);
    } else {
        let bare: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        assert_eq!(defined, bare);
    }
    let soname = Command::new("readelf")
        .args(["-d"])
        .arg(built_library())
        .output()
        .expect("run readelf");
    assert!(String::from_utf8_lossy(&soname.stdout).contains("[libkmod.so.2]"));
}
