//! Small helpers shared by the integration tests: where our binaries are,
//! where the real kernel tree is, and how to run kmod (the oracle).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Path of one of our binaries, built by cargo for this test run.
pub fn ours(tool: &str) -> PathBuf {
    let exe = match tool {
        "kmod" => env!("CARGO_BIN_EXE_kmod"),
        "insmod" => env!("CARGO_BIN_EXE_insmod"),
        "rmmod" => env!("CARGO_BIN_EXE_rmmod"),
        "lsmod" => env!("CARGO_BIN_EXE_lsmod"),
        "modprobe" => env!("CARGO_BIN_EXE_modprobe"),
        "depmod" => env!("CARGO_BIN_EXE_depmod"),
        "modinfo" => env!("CARGO_BIN_EXE_modinfo"),
        other => panic!("unknown tool {other}"),
    };
    PathBuf::from(exe)
}

pub use modutils_test_support::kmod::tool as oracle;

/// A real Debian kernel module tree prepared by `tests/setup.sh`: the module
/// directory (`…/lib/modules/<release>`), with kmod's indexes beside it.
pub struct Tree {
    /// The base directory to pass as `-b`/`-d` (contains `lib/modules/<release>`).
    pub base: PathBuf,
    pub release: String,
}

impl Tree {
    pub fn moddir(&self) -> PathBuf {
        self.base.join("lib/modules").join(&self.release)
    }

    /// Every module file below the module directory, sorted.
    pub fn modules(&self) -> &'static [PathBuf] {
        static MODULES: OnceLock<Vec<PathBuf>> = OnceLock::new();
        MODULES.get_or_init(|| {
            let mut out = Vec::new();
            walk(&self.moddir(), &mut out);
            out.sort();
            out
        })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p.is_dir() {
            if name != "build" && name != "source" {
                walk(&p, out);
            }
        } else if [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
}

/// The real 6.1 tree with kmod's own depmod output, from `MODUTILS_TEST_TREE`
/// (set by tests/run). Its absence fails the test: nothing is skipped.
pub fn real_tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let var = std::env::var_os("MODUTILS_TEST_TREE").unwrap_or_else(|| {
            panic!("MODUTILS_TEST_TREE is not set: run the suite with tests/run, which fetches a real Debian kernel tree and sets it")
        });
        let moddir = PathBuf::from(var);
        let release = moddir.file_name().unwrap().to_string_lossy().into_owned();
        let base = moddir.parent().and_then(Path::parent).and_then(Path::parent).unwrap().to_path_buf();
        let tree = Tree { base, release };
        assert!(tree.moddir().join("modules.dep.bin").exists(), "{}: no modules.dep.bin; run tests/setup.sh", tree.moddir().display());
        tree
    })
}

pub fn run<I, S>(program: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::os::unix::process::CommandExt;
    // Both tools get the same argv[0], which glibc-style messages quote.
    let argv0 = program.file_name().unwrap_or_default().to_os_string();
    Command::new(program)
        .arg0(argv0)
        .args(args)
        .env_remove("MODUTILS_SYSROOT")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
}

/// Runs kmod's and our tool with the same arguments.
pub fn both<I, S>(tool: &str, args: I) -> (Output, Output)
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<OsStr>,
{
    (run(&oracle(tool), args.clone()), run(&ours(tool), args))
}

/// kmod 30's library messages as kmod 34.2 prints them
/// ([`modutils_test_support::kmod::normalise_libkmod_prefix`]).
pub fn normalize_libkmod_30(stderr: &str) -> String {
    text(&modutils_test_support::kmod::normalise_libkmod_prefix(
        stderr.as_bytes(),
    ))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
