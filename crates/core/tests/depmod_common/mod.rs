//! Shared helpers of the depmod integration tests: building scratch trees,
//! running kmod's depmod (the oracle) and ours, and comparing outputs.
#![allow(dead_code)]

pub mod scenario;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use modutils_core::config::DepmodConfig;
use modutils_core::depmod::{Collected, Depmod, Error, Options};

/// The real tree (`.../lib/modules/<version>`), from MODUTILS_TEST_TREE.
pub fn real_tree() -> PathBuf {
    let dir = std::env::var_os("MODUTILS_TEST_TREE").unwrap_or_else(|| {
        panic!(
            "MODUTILS_TEST_TREE is not set: point it at a lib/modules/<version> directory \
             (e.g. /root/.cache/modutils/trees/6.1/lib/modules/6.1.0-56-amd64)"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("modules.order").is_file(),
        "{} has no modules.order",
        dir.display()
    );
    dir
}

pub fn version_of(tree: &Path) -> String {
    tree.file_name().unwrap().to_string_lossy().into_owned()
}

/// Mirrors `src` into `dst`: directories are created, files hard-linked
/// (copied when linking fails). Symbolic links are resolved, so that the
/// copy can be changed (e.g. compressed) without touching the source.
pub fn link_tree(src: &Path, dst: &Path) {
    mirror(src, dst, &|from, to| {
        if fs::hard_link(fs::canonicalize(from).unwrap(), to).is_err() {
            fs::copy(from, to).unwrap();
        }
    });
}

/// Mirrors `src` into `dst` with a symbolic link to each file. Unlike a
/// hard link, a symbolic link leaves the shared tree's inodes alone: a
/// hard link changes each file's ctime (its link count), which tells a
/// depmod cache running in another test at that moment that every module
/// was replaced.
pub fn symlink_tree(src: &Path, dst: &Path) {
    mirror(src, dst, &|from, to| {
        std::os::unix::fs::symlink(fs::canonicalize(from).unwrap(), to).unwrap()
    });
}

fn mirror(src: &Path, dst: &Path, file: &dyn Fn(&Path, &Path)) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let Ok(meta) = fs::metadata(&from) else {
            continue;
        };
        if meta.is_dir() {
            mirror(&from, &to, file);
        } else {
            file(&from, &to);
        }
    }
}

/// A scratch base directory holding `lib/modules/<version>` copied from
/// `tree` (a `lib/modules/<version>` directory).
/// depmod's own outputs (and stamp files) are left out.
pub fn scratch_copy(tree: &Path) -> tempfile::TempDir {
    let base = tempfile::tempdir().unwrap();
    let dst = base.path().join("lib/modules").join(version_of(tree));
    fs::create_dir_all(&dst).unwrap();
    let keep = [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ];
    for entry in fs::read_dir(tree).unwrap() {
        let name = entry.unwrap().file_name();
        let n = name.to_string_lossy();
        if n.starts_with('.') || (n.starts_with("modules.") && !keep.contains(&n.as_ref())) {
            continue;
        }
        let (from, to) = (tree.join(&name), dst.join(&name));
        if fs::metadata(&from).unwrap().is_dir() {
            symlink_tree(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap();
        }
    }
    base
}

/// A copy of `tree` with every module compressed by the `xz` or `zstd`
/// command (Kbuild's options): the one tests/setup.sh builds and names in
/// MODUTILS_TEST_TREE_XZ / MODUTILS_TEST_TREE_ZST, else built here once,
/// in the same place (`$MODUTILS_CACHE/compressed/<version>-<kind>`).
pub fn compressed_tree(tree: &Path, kind: &str) -> PathBuf {
    let var = match kind {
        "xz" => "MODUTILS_TEST_TREE_XZ",
        "zst" => "MODUTILS_TEST_TREE_ZST",
        _ => panic!("unknown compression {kind}"),
    };
    if let Some(dir) = std::env::var_os(var) {
        return PathBuf::from(dir);
    }
    let ver = version_of(tree);
    let cache = std::env::var_os("MODUTILS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache/modutils"))
        .join("compressed")
        .join(format!("{ver}-{kind}"));
    let dir = cache.join("lib/modules").join(&ver);
    if cache.join(".modutils-complete").exists() {
        return dir;
    }
    let _ = fs::remove_dir_all(&cache);
    link_tree(tree, &dir);
    let cmd = match kind {
        "xz" => "xz -f --check=crc32 --lzma2=dict=1MiB",
        _ => "zstd -q -f --rm",
    };
    let script = format!("find . -name '*.ko' -print0 | xargs -0 -n 64 -P 2 {cmd}");
    let ok = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(ok.success(), "compressing {} failed", dir.display());
    fs::write(cache.join(".modutils-complete"), b"").unwrap();
    dir
}

/// What a depmod run left behind.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub ok: bool,
}

/// Runs kmod's `depmod` with `args`, killed after a minute (kmod 30 can
/// loop forever on some dependency cycles).
const KMOD_HANG_LIMIT_SECONDS: u32 = 1200;

pub fn kmod(args: &[&str]) -> Outcome {
    // The loader's failed probes along cargo's LD_LIBRARY_PATH would leave
    // ENOENT in errno, which kmod prints in one message (`%m` after a
    // strtoull that does not set it).
    // The limit only catches a hang: a compressed real tree takes kmod
    // seconds alone and minutes on a machine busy with other work.
    let out = Command::new("timeout")
        .env_remove("LD_LIBRARY_PATH")
        .arg(KMOD_HANG_LIMIT_SECONDS.to_string())
        .arg("depmod")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("timeout(1) and kmod's depmod must be installed");
    assert_ne!(
        out.status.code(),
        Some(124),
        "kmod's depmod {args:?} still ran after {KMOD_HANG_LIMIT_SECONDS} s"
    );
    Outcome {
        stdout: out.stdout,
        stderr: out.stderr,
        ok: out.status.success(),
    }
}

/// Runs our engine as the front-end would, with kmod's stderr format.
pub fn ours(options: Options, config: &DepmodConfig) -> Outcome {
    let mut rep = Collected::default();
    let depmod = Depmod::new(options);
    let result = depmod.run(config, &mut rep);
    let mut stderr = rep.stderr("depmod");
    if let Err(Error::Fatal(msg)) = &result {
        stderr.extend_from_slice(b"depmod: FATAL: ");
        stderr.extend_from_slice(msg);
        stderr.push(b'\n');
    }
    Outcome {
        stdout: rep.stdout,
        stderr,
        ok: result.is_ok(),
    }
}

/// Options for a scan of `<base>/lib/modules/<version>`.
pub fn options(base: &Path, version: &str) -> Options {
    Options {
        base_dir: Some(base.to_path_buf()),
        kernel_version: version.to_string(),
        ..Options::default()
    }
}

/// Every (key, value, priority) of a `.bin` index, in dump order.
pub fn dump_index(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, u32)> {
    fn be(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn cstr(b: &[u8], at: usize) -> (&[u8], usize) {
        let end = at + b[at..].iter().position(|&c| c == 0).unwrap();
        (&b[at..end], end + 1)
    }
    fn node(b: &[u8], word: u32, key: Vec<u8>, out: &mut Vec<(Vec<u8>, Vec<u8>, u32)>) {
        let mut at = (word & 0x0fff_ffff) as usize;
        let mut key = key;
        if word & 0x8000_0000 != 0 {
            let (p, next) = cstr(b, at);
            key.extend_from_slice(p);
            at = next;
        }
        let mut kids = Vec::new();
        if word & 0x2000_0000 != 0 {
            let (first, last) = (b[at], b[at + 1]);
            at += 2;
            for c in first..=last {
                let w = be(b, at);
                at += 4;
                if w != 0 {
                    kids.push((c, w));
                }
            }
        }
        if word & 0x4000_0000 != 0 {
            let n = be(b, at);
            at += 4;
            for _ in 0..n {
                let prio = be(b, at);
                let (v, next) = cstr(b, at + 4);
                out.push((key.clone(), v.to_vec(), prio));
                at = next;
            }
        }
        for (c, w) in kids {
            let mut k = key.clone();
            k.push(c);
            node(b, w, k, out);
        }
    }
    let mut out = Vec::new();
    if bytes.is_empty() {
        return out;
    }
    assert_eq!(be(bytes, 0), 0xb007_f457, "bad index magic");
    node(bytes, be(bytes, 8), Vec::new(), &mut out);
    out
}

/// The output files kmod 30 writes (it predates modules.weakdep).
pub const KMOD30_FILES: [&str; 10] = [
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
    "modules.devname",
];

/// Compares the outputs in two module directories: text files byte for
/// byte, indexes entry by entry. Returns a description of each difference,
/// and a tally of what matched for the report.
pub fn compare_outputs(kmod_dir: &Path, our_dir: &Path) -> (Vec<String>, BTreeMap<String, usize>) {
    let mut problems = Vec::new();
    let mut tally = BTreeMap::new();
    for name in KMOD30_FILES {
        let (a, b) = (fs::read(kmod_dir.join(name)), fs::read(our_dir.join(name)));
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                if a.is_ok() != b.is_ok() {
                    problems.push(format!(
                        "{name}: exists for kmod {} / ours {}",
                        a.is_ok(),
                        b.is_ok()
                    ));
                }
                continue;
            }
        };
        if name.ends_with(".bin") {
            let (da, db) = (dump_index(&a), dump_index(&b));
            if da != db {
                let first = da
                    .iter()
                    .zip(&db)
                    .position(|(x, y)| x != y)
                    .unwrap_or(da.len().min(db.len()));
                problems.push(format!(
                    "{name}: {} vs {} entries, first difference at {first}: {:?} vs {:?}",
                    da.len(),
                    db.len(),
                    da.get(first).map(show_entry),
                    db.get(first).map(show_entry)
                ));
            }
            tally.insert(name.to_string(), da.len());
        } else {
            if a != b {
                let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (
                    a.split(|&c| c == b'\n').collect(),
                    b.split(|&c| c == b'\n').collect(),
                );
                let first = la
                    .iter()
                    .zip(&lb)
                    .position(|(x, y)| x != y)
                    .unwrap_or(la.len().min(lb.len()));
                problems.push(format!(
                    "{name}: differs at line {}: {:?} vs {:?}",
                    first + 1,
                    la.get(first).map(|l| String::from_utf8_lossy(l)),
                    lb.get(first).map(|l| String::from_utf8_lossy(l))
                ));
            }
            tally.insert(
                name.to_string(),
                a.split(|&c| c == b'\n').count().saturating_sub(1),
            );
        }
    }
    (problems, tally)
}

/// Our index files must be exactly what the project's general index writer
/// makes of the same entries in kmod 34's layout (kmod 30's own files are in
/// the older post-order layout, so only their entries can be compared).
pub fn assert_index_layout(dir: &Path) {
    for name in KMOD30_FILES.iter().filter(|n| n.ends_with(".bin")) {
        assert_index_bytes(name, &fs::read(dir.join(name)).unwrap());
    }
}

/// [`assert_index_layout`] for one file's bytes.
pub fn assert_index_bytes(name: &str, ours: &[u8]) {
    if ours.is_empty() {
        return;
    }
    let mut builder = modutils_core::index::IndexBuilder::new();
    // Reinserting newest-first keeps equal-priority values in place.
    for (k, v, p) in dump_index(ours).into_iter().rev() {
        builder.insert(&k, &v, p).unwrap();
    }
    assert!(
        builder.to_bytes().unwrap() == ours,
        "{name}: layout differs from IndexBuilder's"
    );
}

fn show_entry(e: &(Vec<u8>, Vec<u8>, u32)) -> String {
    format!(
        "{} -> {} ({})",
        String::from_utf8_lossy(&e.0),
        String::from_utf8_lossy(&e.1),
        e.2
    )
}

/// Asserts two texts are equal, showing only the first differing line.
#[track_caller]
pub fn assert_same_text(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours == theirs {
        return;
    }
    let (a, b): (Vec<&[u8]>, Vec<&[u8]>) = (
        ours.split(|&c| c == b'\n').collect(),
        theirs.split(|&c| c == b'\n').collect(),
    );
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "{what} differs at line {} (ours {} lines, kmod {} lines):\n ours: {:?}\n kmod: {:?}",
        at + 1,
        a.len(),
        b.len(),
        a.get(at).map(|l| lossy(l)),
        b.get(at).map(|l| lossy(l))
    );
}

/// `text` with every occurrence of `from` replaced by `to`.
pub fn replace_bytes(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
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

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn path_str(p: &Path) -> &str {
    std::str::from_utf8(p.as_os_str().as_bytes()).unwrap()
}
