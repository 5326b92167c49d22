//! depmod: our binary against kmod's (Debian 12's kmod 30), both run as
//! processes with the same argv[0].
//!
//! * `real`: the real 6.1 tree, uncompressed, xz and zstd: text outputs
//!   byte for byte; the indexes through kmod's own modprobe (`-c`, and `-D`
//!   for every module) reading ours and kmod's, and byte for byte up to the
//!   node order (docs/compat.md, "kmod 30 and 34.2").
//! * `fixtures`: scenario trees of the real fixture modules
//!   (MODUTILS_FIXTURES): the article's stack, softdep, weakdep, devname,
//!   aliases, naming, cycles, depmod.d and the options.
//! * `crash`: SIGKILL at many points of a run, and a full disk: every output
//!   is its complete old or complete new version.
//! * `cache`: runs with the cache against runs without it on the real
//!   trees, through a sequence of changes to the tree.
//!
//! Allowed differences from kmod 30 (docs/compat.md, "kmod 30 and 34.2"):
//! the index node order (kmod 34 writes pre-order), modules.weakdep (kmod
//! 33+), `-o` (31+) and `-m` (34); where they matter the expectation is
//! derived from kmod 34.2's rules and says so.

mod cache;
mod crash;
mod fixtures;
mod real;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modutils_core::index::{Index, IndexBuilder, Layout};

use crate::util::{oracle, ours, text};

/// Every file depmod writes, in kmod 34's order.
pub const OUTPUTS: [&str; 11] = [
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.weakdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
    "modules.devname",
];

pub const WEAKDEP_HEADER: &[u8] = b"# Weak dependencies extracted from modules themselves.\n";

/// The inputs depmod reads beside the modules, copied into scratch trees.
pub const INPUTS: [&str; 3] = [
    "modules.order",
    "modules.builtin",
    "modules.builtin.modinfo",
];

/// One finished run of a tool.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Out {
    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            text(&self.stdout),
            text(&self.stderr)
        )
    }
}

/// Runs `program` with `args`, argv[0] set to its file name (so that kmod's
/// and our messages quote the same name), without MODUTILS_SYSROOT and
/// without cargo's LD_LIBRARY_PATH (kmod 30 prints a stale errno in one
/// message, which the loader's failed probes along that path would set).
/// Killed after two minutes: kmod 30 can loop on some cycles.
pub fn exec<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Out {
    use std::os::unix::process::CommandExt;
    let argv0 = program.file_name().unwrap().to_os_string();
    let mut child = Command::new(program)
        .arg0(argv0)
        .args(args)
        .env_remove("MODUTILS_SYSROOT")
        .env_remove("MODUTILS_NO_CACHE")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("MODPROBE_OPTIONS")
        .env_remove("KMOD_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    // Only a hang guard: a loaded machine can stretch a run a lot.
    let deadline = Instant::now() + Duration::from_secs(1200);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {:?} did not finish in twenty minutes",
                program.display(),
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Out {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// kmod's depmod, and ours.
pub fn kmod_depmod() -> PathBuf {
    oracle("depmod")
}

pub fn our_depmod() -> PathBuf {
    ours("depmod")
}

/// The fixture modules built by tests/setup.sh (fixtures/build-modules.sh).
pub fn fixture_dir() -> PathBuf {
    let dir = std::env::var_os("MODUTILS_FIXTURES").unwrap_or_else(|| {
        panic!(
            "MODUTILS_FIXTURES is not set: run the suite with tests/run (or eval \"$(tests/setup.sh)\"), \
             which builds the fixture modules and exports their directory"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("mod_a.ko").is_file(),
        "{}: no mod_a.ko; rerun fixtures/build-modules.sh",
        dir.display()
    );
    dir
}

/// A file or directory an environment variable names; fails loudly.
pub fn env_path(var: &str, what: &str) -> PathBuf {
    let p = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set ({what}): run the suite with tests/run, or eval \"$(tests/setup.sh)\"")
    }));
    assert!(p.exists(), "{var}={}: does not exist", p.display());
    p
}

/// The output files present in `dir`.
pub fn read_outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    OUTPUTS
        .iter()
        .filter_map(|n| std::fs::read(dir.join(n)).ok().map(|b| (n.to_string(), b)))
        .collect()
}

/// Moves the output files out of `dir`, returning them.
pub fn take_outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let files = read_outputs(dir);
    for name in files.keys() {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    files
}

/// Writes `files` into `dir`.
pub fn put_outputs(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Names in `dir` other than the given ones (temporary files left over).
pub fn other_files(dir: &Path, known: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

/// One index entry: key, value, priority.
pub type IndexEntry = (Vec<u8>, Vec<u8>, u32);

/// All entries of an index, in dump order.
pub fn index_entries(name: &str, bytes: &[u8]) -> Result<Vec<IndexEntry>, String> {
    let index = Index::from_bytes(bytes.to_vec()).map_err(|e| format!("{name}: {e}"))?;
    let mut out = Vec::new();
    index
        .for_each_raw(|k, v, p| out.push((k.to_vec(), v.to_vec(), p)))
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(out)
}

/// Our index against kmod 30's: the same entries, our bytes exactly kmod
/// 34's pre-order layout of them and kmod 30's bytes exactly the post-order
/// layout — so the files are identical up to the node order.
/// Returns the number of entries.
pub fn check_index(name: &str, ours: &[u8], kmod30: &[u8]) -> Result<usize, String> {
    if ours.is_empty() || kmod30.is_empty() {
        return if ours.len() == kmod30.len() {
            Ok(0)
        } else {
            Err(format!(
                "{name}: {} bytes ours, {} bytes kmod",
                ours.len(),
                kmod30.len()
            ))
        };
    }
    let (o, k) = (index_entries(name, ours)?, index_entries(name, kmod30)?);
    if o != k {
        let at = o
            .iter()
            .zip(&k)
            .position(|(a, b)| a != b)
            .unwrap_or(o.len().min(k.len()));
        let show =
            |e: Option<&IndexEntry>| e.map(|(k, v, p)| format!("{} -> {} ({p})", text(k), text(v)));
        return Err(format!(
            "{name}: {} entries ours, {} kmod; first difference at {at}: {:?} vs {:?}",
            o.len(),
            k.len(),
            show(o.get(at)),
            show(k.get(at))
        ));
    }
    let mut builder = IndexBuilder::new();
    // Newest first keeps equal-priority values in their stored order.
    for (key, value, prio) in o.iter().rev() {
        builder
            .insert(key, value, *prio)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    if builder.to_bytes().unwrap() != ours {
        return Err(format!(
            "{name}: our bytes are not kmod 34's pre-order layout"
        ));
    }
    if builder.to_bytes_with(Layout::PostOrder).unwrap() != kmod30 {
        return Err(format!(
            "{name}: kmod 30's bytes are not the post-order layout of the same entries"
        ));
    }
    Ok(o.len())
}

/// The first differing line of two texts, for messages.
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (
        a.split(|&c| c == b'\n').collect(),
        b.split(|&c| c == b'\n').collect(),
    );
    let at = la
        .iter()
        .zip(&lb)
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    format!(
        "line {} ({} vs {} lines):\n ours: {:?}\n kmod: {:?}",
        at + 1,
        la.len(),
        lb.len(),
        la.get(at).map(|l| text(l)),
        lb.get(at).map(|l| text(l))
    )
}

/// Compares our output files with kmod 30's: the text files byte for byte,
/// the indexes with [`check_index`], and modules.weakdep (which kmod 30 does
/// not write) against `weakdep`, the entries in kmod 34's format. Returns the
/// problems and a tally (lines or entries per file).
pub fn compare_files(
    ours: &BTreeMap<String, Vec<u8>>,
    kmod: &BTreeMap<String, Vec<u8>>,
    weakdep: &[u8],
) -> (Vec<String>, BTreeMap<String, usize>) {
    let mut problems = Vec::new();
    let mut tally = BTreeMap::new();
    for name in OUTPUTS {
        let (o, k) = (ours.get(name), kmod.get(name));
        if name == "modules.weakdep" {
            match (o, kmod.is_empty()) {
                (None, true) => {}
                (Some(o), false) => {
                    let want = [WEAKDEP_HEADER, weakdep].concat();
                    if *o != want {
                        problems.push(format!(
                            "modules.weakdep differs from the derived one: {}",
                            first_difference(o, &want)
                        ));
                    }
                    tally.insert(name.to_string(), o.split(|&c| c == b'\n').count() - 2);
                }
                (o, _) => problems.push(format!(
                    "modules.weakdep: written by us {}, kmod wrote {} files",
                    o.is_some(),
                    kmod.len()
                )),
            }
            continue;
        }
        let (o, k) = match (o, k) {
            (Some(o), Some(k)) => (o, k),
            (None, None) => continue,
            (o, k) => {
                problems.push(format!(
                    "{name}: written by us {}, by kmod {}",
                    o.is_some(),
                    k.is_some()
                ));
                continue;
            }
        };
        if name.ends_with(".bin") {
            match check_index(name, o, k) {
                Ok(n) => {
                    tally.insert(name.to_string(), n);
                }
                Err(e) => problems.push(e),
            }
        } else if o != k {
            problems.push(format!("{name} differs at {}", first_difference(o, k)));
        } else {
            tally.insert(name.to_string(), o.split(|&c| c == b'\n').count() - 1);
        }
    }
    (problems, tally)
}

/// `text` with every `from` replaced by `to`.
pub fn replace(text: &[u8], from: &str, to: &str) -> Vec<u8> {
    let (from, to) = (from.as_bytes(), to.as_bytes());
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if !from.is_empty() && text[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// Runs `f` over `items` on `threads` threads; results in item order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// Threads for running many short processes: more than the cores, since
/// each process spends part of its life in exec and the loader.
pub fn process_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

/// kmod's modprobe `<mode> <name>` (`-D`, `-R`) over the module directory
/// of `base`, with the modprobe.d of `config` (an empty directory keeps the
/// host's out): exit status, stdout and stderr, `base` spelled `@BASE@`.
pub fn modprobe_query(
    base: &Path,
    release: &str,
    config: &Path,
    mode: &str,
    name: &str,
) -> Vec<u8> {
    let base_s = base.to_str().unwrap();
    let args: Vec<OsString> = vec![
        mode.into(),
        "-C".into(),
        config.into(),
        "-d".into(),
        base.into(),
        "-S".into(),
        release.into(),
        name.into(),
    ];
    let out = exec(&oracle("modprobe"), &args);
    let mut all = format!("exit {:?}\n", out.code).into_bytes();
    all.extend_from_slice(&out.stdout);
    all.extend_from_slice(b"--- stderr\n");
    all.extend_from_slice(&out.stderr);
    replace(&all, base_s, "@BASE@")
}

/// kmod's `modprobe -c`: the configuration, then the alias and symbol
/// indexes dumped key by key.
pub fn modprobe_dump(base: &Path, release: &str, config: &Path) -> Vec<u8> {
    let args: Vec<OsString> = vec![
        "-c".into(),
        "-C".into(),
        config.into(),
        "-d".into(),
        base.into(),
        "-S".into(),
        release.into(),
    ];
    let out = exec(&oracle("modprobe"), &args);
    assert_eq!(out.code, Some(0), "modprobe -c: {}", out.show());
    let mut all = out.stdout;
    all.extend_from_slice(b"--- stderr\n");
    all.extend_from_slice(&out.stderr);
    replace(&all, base.to_str().unwrap(), "@BASE@")
}

/// Module names of a modules.dep (the file name up to its first `.`).
pub fn dep_names(modules_dep: &[u8]) -> Vec<String> {
    text(modules_dep)
        .lines()
        .map(|l| {
            let path = l.split(':').next().unwrap();
            let file = path.rsplit('/').next().unwrap();
            file.split('.').next().unwrap().to_string()
        })
        .collect()
}
