//! Our libkmod.so.2 against kmod's: C programs written for these tests
//! (`tests/libkmod/*.c`) are built once against the C header and Debian's
//! libkmod (libkmod-dev), run once with kmod's library and once with ours
//! (`LD_LIBRARY_PATH`), and their outputs must be byte-identical, block by
//! block, after the one normalisation of kmod 30's known differences
//! ([`kmod30_as_34`]). Our library also runs them under valgrind.
//!
//! Our library is `$MODUTILS_LIBKMOD` (a `libkmod.so.2` file) when set,
//! else the one `crates/libkmod` builds. Nothing here is skipped: a
//! missing library, compiler, libkmod-dev or valgrind fails the tests.

mod abi;
mod differential;
mod dracut;
mod memory;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::util::text;

/// The C programs, each built from `tests/libkmod/<name>.c`.
pub const PROGRAMS: [&str; 4] = ["modules", "config", "dump", "check"];

/// Which libkmod.so.2 a program runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lib {
    /// Debian's, from the system library path: the oracle.
    Kmod,
    /// Ours, through `LD_LIBRARY_PATH`.
    Ours,
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libkmod")
}

/// Our header: the programs are compiled against it, so that a prototype
/// or enum value that differs from kmod's breaks the build or the output.
/// `MODUTILS_LIBKMOD_INCLUDE` points elsewhere (kmod's own header, to
/// try the programs before our library exists).
fn include_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MODUTILS_LIBKMOD_INCLUDE") {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/libkmod/include");
    assert!(
        dir.join("libkmod.h").is_file(),
        "{}/libkmod.h is missing: our libkmod is not in this tree",
        dir.display()
    );
    dir
}

/// Path of a compiled test program (built on first use).
pub fn program(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libkmod-programs");
        std::fs::create_dir_all(&out).unwrap();
        for name in PROGRAMS {
            let status = Command::new("cc")
                .args(["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror"])
                .args(["-Wno-deprecated-declarations", "-Wno-unused-result"])
                .arg("-Wno-format-truncation")
                .arg("-I")
                .arg(include_dir())
                .arg(source_dir().join(format!("{name}.c")))
                .arg("-o")
                .arg(out.join(name))
                // Linked against Debian's libkmod.so (package libkmod-dev).
                .args(["-lkmod", "-ldl"])
                .status()
                .unwrap_or_else(|e| panic!("cc: {e}: tests/setup.sh installs gcc"));
            assert!(
                status.success(),
                "building {name}.c failed (libkmod-dev missing? tests/setup.sh installs it)"
            );
        }
        out
    });
    dir.join(name)
}

/// The directory holding our `libkmod.so.2`, for `LD_LIBRARY_PATH`.
pub fn our_library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let lib = match std::env::var_os("MODUTILS_LIBKMOD") {
            Some(p) => PathBuf::from(p),
            None => build_our_library(),
        };
        assert!(
            lib.is_file(),
            "{}: our libkmod.so.2 is missing",
            lib.display()
        );
        // The loader looks for the SONAME's file name in the directory.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libkmod-ours");
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("libkmod.so.2");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(std::fs::canonicalize(&lib).unwrap(), &link).unwrap();
        dir
    })
}

/// Builds crates/libkmod (release, as it is installed) and returns the
/// shared object.
fn build_our_library() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("crates/libkmod/Cargo.toml").is_file(),
        "crates/libkmod is missing: our libkmod.so.2 cannot be built (set MODUTILS_LIBKMOD to a built one)"
    );
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--release", "-q", "-p", "modutils-libkmod"])
        .status()
        .unwrap();
    assert!(status.success(), "building crates/libkmod failed");
    root.join("target/release/libkmod.so")
}

/// Runs a test program with one of the libraries; stdin is fed `input`.
pub fn run_with(lib: Lib, prog: &str, args: &[&Path], input: &[u8], cwd: Option<&Path>) -> Output {
    let mut cmd = Command::new(program(prog));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("KMOD_LOG")
        .env_remove("MODUTILS_SYSROOT")
        .env_remove("LD_PRELOAD");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    match lib {
        Lib::Kmod => cmd.env_remove("LD_LIBRARY_PATH"),
        Lib::Ours => cmd.env("LD_LIBRARY_PATH", our_library_dir()),
    };
    spawn_fed(cmd, input)
}

/// Spawns `cmd` with piped stdio, writes `input` from a thread (outputs
/// may be large) and waits.
pub fn spawn_fed(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

const SOFTDEP_30: &str = "lookup_softdep: failed to lookup soft dependency '";
const SOFTDEP_34: &str = "lookup_dep: failed to lookup dependency '";

/// kmod 30 (the oracle Debian ships) where kmod 34.2, our target, differs,
/// in one place:
/// * weak dependencies (LIBKMOD_33) do not exist in kmod 30: the programs
///   look the two functions up at run time, and every line about them
///   (each starts with `weakdep`) is dropped from both outputs, as are the
///   lines of the checks kmod 30 fails (they start with `k34`: it crashes
///   on `kmod_config_iter_free_iter(NULL)` and `kmod_get_dirname(NULL)`);
///   ours are checked against kmod 34.2's rules instead
///   (`weakdeps_follow_the_reference`);
/// * a module file without the ELF section asked for (`.modinfo`,
///   `__versions`, exports): kmod 30 returns -ENOENT from `get_info`,
///   `get_versions` and `get_symbols`, 34.2 -ENODATA (docs/compat.md,
///   "kmod 30 and 34.2"); kmod's -2 becomes -61 where the module has a file;
/// * kmod 33 renamed `lookup_softdep` to `lookup_dep` and its message
///   `failed to lookup soft dependency` to `failed to lookup dependency`;
/// * the default logger's prefix, and kmod 30's errors for `weakdep`
///   lines (stderr, [`stderr_as_34`]).
///
/// The programs avoid the other deltas (`*.alias` config files, the
/// DISTCONFDIR directory) by passing their config paths explicitly.
pub fn kmod30_as_34(stdout: &str) -> String {
    let mut out = String::with_capacity(stdout.len());
    let mut has_file = false;
    for line in stdout.lines() {
        if only_34(line) {
            continue;
        }
        if line.starts_with("== ") {
            has_file = false;
        } else if let Some(path) = line.strip_prefix("path ") {
            has_file = path != "(null)";
        }
        // kmod 33 renamed the function and its message (weak dependencies
        // share it).
        let line = &line.replace(SOFTDEP_30, SOFTDEP_34);
        match line.as_str() {
            "info -2" | "versions -2" | "symbols -2" if has_file => {
                out += line.strip_suffix("-2").unwrap();
                out += "-61";
            }
            // check.c's ELF lines for files (not the built-in or the
            // module without a file).
            _ if line.starts_with("elf.")
                && !line.starts_with("elf.builtin ")
                && !line.starts_with("elf.nowhere ") =>
            {
                out += &line
                    .replace(" info=-2 ", " info=-61 ")
                    .replace(" versions=-2 ", " versions=-61 ")
                    .replace(" symbols=-2 ", " symbols=-61 ");
            }
            _ => out += line,
        }
        out.push('\n');
    }
    out
}

/// Lines about what kmod 30 lacks (the weak dependencies, the `k34`
/// checks): dropped from both outputs.
fn only_34(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("weakdep") || l.starts_with("k34")
}

/// Our output for the comparison: only the lines kmod 30 cannot have are
/// left out; nothing else is changed.
pub fn ours_for_comparison(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|l| !only_34(l))
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// stderr of a program, kmod 30's log prefix made 34.2's, without its
/// complaints about `weakdep` lines (a directive it does not know).
pub fn stderr_as_34(stderr: &[u8]) -> String {
    crate::util::normalize_libkmod_30(&text(stderr))
        .lines()
        .filter(|l| !l.ends_with("ignoring bad line starting with 'weakdep'"))
        .map(|l| l.replace(SOFTDEP_30, SOFTDEP_34) + "\n")
        .collect()
}

/// Compares two outputs block by block (a block starts at a line
/// beginning with `marker`). Returns (identical, total, report of the
/// first differing blocks).
pub fn compare_blocks(kmod: &str, ours: &str, marker: &str) -> (usize, usize, String) {
    let (k, o) = (blocks(kmod, marker), blocks(ours, marker));
    let mut same = 0;
    let mut report = String::new();
    let mut shown = 0;
    for i in 0..k.len().max(o.len()) {
        let (kb, ob) = (
            k.get(i).copied().unwrap_or(""),
            o.get(i).copied().unwrap_or(""),
        );
        if kb == ob {
            same += 1;
        } else if shown < 5 {
            shown += 1;
            report += &first_difference(kb, ob);
        }
    }
    (same, k.len().max(o.len()), report)
}

fn blocks<'a>(s: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in s.split_inclusive('\n') {
        if line.starts_with(marker) && pos > start {
            out.push(&s[start..pos]);
            start = pos;
        }
        pos += line.len();
    }
    if pos > start {
        out.push(&s[start..pos]);
    }
    out
}

/// The block's first line and the first line that differs, with context.
pub fn first_difference(kmod: &str, ours: &str) -> String {
    let (k, o): (Vec<&str>, Vec<&str>) = (kmod.lines().collect(), ours.lines().collect());
    let i = (0..k.len().max(o.len()))
        .find(|&i| k.get(i) != o.get(i))
        .unwrap_or(0);
    let from = i.saturating_sub(3);
    let part = |v: &[&str]| v.get(from..(i + 4).min(v.len())).unwrap_or(&[]).join("\n");
    format!(
        "block {:?}, line {}:\n--- kmod\n{}\n--- ours\n{}\n",
        k.first().or(o.first()).unwrap_or(&""),
        i + 1,
        part(&k),
        part(&o)
    )
}

/// Runs a program with both libraries (in parallel) and compares stdout
/// by blocks and stderr whole; panics with the differences.
pub fn assert_identical(
    what: &str,
    prog: &str,
    args: &[&Path],
    input: &[u8],
    cwd: Option<&Path>,
) -> usize {
    let (k, o) = std::thread::scope(|s| {
        let k = s.spawn(|| run_with(Lib::Kmod, prog, args, input, cwd));
        let o = run_with(Lib::Ours, prog, args, input, cwd);
        (k.join().unwrap(), o)
    });
    check_outputs(what, &k, &o)
}

/// The comparison of [`assert_identical`], for outputs produced otherwise.
pub fn check_outputs(what: &str, k: &Output, o: &Output) -> usize {
    assert!(
        k.status.success(),
        "{what}: kmod's run failed: {:?}\n{}",
        k.status,
        text(&k.stderr)
    );
    let (ks, os) = (
        kmod30_as_34(&text(&k.stdout)),
        ours_for_comparison(&text(&o.stdout)),
    );
    let (same, total, report) = compare_blocks(&ks, &os, "== ");
    eprintln!("{what}: {same}/{total} blocks identical");
    assert!(
        report.is_empty(),
        "{what}: {same}/{total} identical\n{report}"
    );
    assert_eq!(
        stderr_as_34(&k.stderr),
        text(&o.stderr),
        "{what}: stderr differs"
    );
    assert_eq!(k.status.code(), o.status.code(), "{what}: exit status");
    total
}
