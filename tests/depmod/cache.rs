//! depmod's cache on the real trees (6.1 uncompressed, xz and zstd, and
//! 6.12 with xz): a sequence of changes to a tree, each followed by a run
//! with the cache and one without (`--no-cache`, writing elsewhere with
//! `-o`), which must agree byte for byte: exit status, stdout, stderr and
//! all eleven outputs.
//!
//! The trees are farms: `kernel/` is a directory of links to the real
//! tree's top directories (so whole subtrees can go), `updates/` holds
//! copies of the fixture modules that the steps change. Each step also
//! checks that the cache took part: after the first runs it knows every
//! module, and a run with nothing changed leaves modules.dep untouched.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use modutils_core::depmod::cache::{read_image, split_image, CacheFile, SETTLE};

use super::real::source;
use super::*;
use crate::util::{real_tree, text};

/// A farm of `kernel` (resolved) under `<at>/lib/modules/<release>`, with
/// the fixture modules mod_a, mod_b and mod_c in `updates/`.
fn cache_farm(at: &Path, release: &str, kernel: &Path, inputs: &Path) -> PathBuf {
    let dir = at.join("lib/modules").join(release);
    std::fs::create_dir_all(dir.join("kernel")).unwrap();
    for e in std::fs::read_dir(kernel).unwrap() {
        let e = e.unwrap();
        std::os::unix::fs::symlink(e.path(), dir.join("kernel").join(e.file_name())).unwrap();
    }
    for f in INPUTS {
        std::fs::copy(inputs.join(f), dir.join(f)).unwrap();
    }
    std::fs::create_dir(dir.join("updates")).unwrap();
    for m in ["mod_a", "mod_b", "mod_c"] {
        add_fixture(&dir, m, m);
    }
    dir
}

fn add_fixture(dir: &Path, fixture: &str, name: &str) {
    let from = fixture_dir().join(format!("{fixture}.ko"));
    std::fs::copy(from, dir.join("updates").join(format!("{name}.ko"))).unwrap();
}

/// One tree under test and where its cache-less twin writes.
struct Farm {
    base: PathBuf,
    release: String,
    reference: PathBuf,
    config: Vec<String>,
}

impl Farm {
    fn dir(&self) -> PathBuf {
        self.base.join("lib/modules").join(&self.release)
    }

    fn cache(&self) -> PathBuf {
        self.base
            .join("var/cache/modutils")
            .join(format!("{}.depmod", self.release))
    }

    fn dep_inode(&self) -> u64 {
        std::fs::metadata(self.dir().join("modules.dep"))
            .unwrap()
            .ino()
    }

    /// Runs depmod with the cache and without; both must agree. Returns
    /// the outputs.
    fn step(&self, what: &str) -> BTreeMap<String, Vec<u8>> {
        let b = self.base.to_str().unwrap();
        let r = self.reference.to_str().unwrap();
        let mut args: Vec<&str> = self.config.iter().map(String::as_str).collect();
        args.extend(["-b", b, &self.release]);
        let cached = exec(&our_depmod(), &args);
        let outputs = read_outputs(&self.dir());
        let mut args: Vec<&str> = vec!["--no-cache", "-o", r];
        args.extend(self.config.iter().map(String::as_str));
        args.extend(["-b", b, &self.release]);
        let without = exec(&our_depmod(), &args);
        let want = take_outputs(&self.reference.join("lib/modules").join(&self.release));
        assert_eq!(cached.code, Some(0), "{what}: {}", cached.show());
        assert_eq!(cached.code, without.code, "{what}: exit status");
        assert_eq!(
            text(&cached.stderr),
            text(&without.stderr),
            "{what}: stderr"
        );
        assert_eq!(
            text(&cached.stdout),
            text(&without.stdout),
            "{what}: stdout"
        );
        assert_eq!(outputs.len(), OUTPUTS.len(), "{what}");
        for name in OUTPUTS {
            assert!(outputs[name] == want[name], "{what}: {name} differs");
        }
        outputs
    }

    /// Module files in the farm (following links), for the cache's count.
    fn module_count(&self) -> usize {
        fn walk(p: &Path, n: &mut usize) {
            for e in std::fs::read_dir(p).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, n);
                } else if path.to_string_lossy().contains(".ko") {
                    *n += 1;
                }
            }
        }
        let mut n = 0;
        walk(&self.dir(), &mut n);
        n
    }
}

/// Puts a cache image (index, then data file) in place as its two files,
/// the index at `index`.
fn put_image(index: &Path, image: &[u8]) {
    let (head, data, name) = split_image(image);
    std::fs::write(index, head).unwrap();
    std::fs::write(index.with_file_name(name.unwrap()), data).unwrap();
}

/// Waits until the files in `dir` are old enough to be kept in the cache.
fn wait_until_settled(dir: &Path) {
    let newest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().ctime())
        .chain([std::fs::metadata(dir).unwrap().ctime()])
        .max()
        .unwrap_or(0);
    modutils_test_support::clock::wait_until_older_than(newest, SETTLE);
}

/// Replaces `old` by `new` (same length) in a module, keeping its size
/// and mtime; the file is replaced, as package managers do.
fn patch_keeping_size_and_mtime(path: &Path, old: &[u8], new: &[u8]) {
    let bytes = std::fs::read(path).unwrap();
    let mut patched = bytes.clone();
    let mut at = 0;
    while let Some(i) = patched[at..].windows(old.len()).position(|w| w == old) {
        patched[at + i..at + i + new.len()].copy_from_slice(new);
        at += i + new.len();
    }
    assert_ne!(patched, bytes);
    assert_eq!(patched.len(), bytes.len());
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &patched).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn differential(kind: &str) {
    let (kernel, inputs) = match kind {
        "6.12" => {
            let dir = env_path("MODUTILS_TEST_TREE_612", "Debian's 6.12 tree");
            (std::fs::canonicalize(dir.join("kernel")).unwrap(), dir)
        }
        _ => source(kind),
    };
    let release = inputs.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let mut farm = Farm {
        base: tmp.path().join("a"),
        release: release.clone(),
        reference: tmp.path().join("reference"),
        config: Vec::new(),
    };
    let dir = cache_farm(&farm.base, &release, &kernel, &inputs);
    let updates = dir.join("updates");

    farm.step("cold");
    assert!(farm.cache().is_file(), "no cache written");
    wait_until_settled(&updates);
    farm.step("every file settled");
    let cached = CacheFile::open(&farm.cache()).unwrap();
    assert_eq!(cached.modules.len(), farm.module_count());
    assert!(cached.memo.is_some(), "no memo");
    // The farm's own directories are settled now, and listed in the cache
    // beside the real tree's (by their paths under -b).
    let listed = |p: &str| {
        let p = format!("/lib/modules/{release}/{p}");
        cached
            .directories
            .iter()
            .any(|d| d.path.ends_with(p.as_bytes()))
    };
    assert!(listed("updates/"), "updates/ not listed in the cache");
    assert!(listed("kernel/"), "kernel/ not listed in the cache");
    assert!(cached.directories.len() > 2);
    let inode = farm.dep_inode();
    let cache_inode = || std::fs::metadata(farm.cache()).unwrap().ino();
    let before = cache_inode();
    farm.step("nothing changed");
    // Had a listing been read again, the cache would be written again.
    assert_eq!(
        cache_inode(),
        before,
        "nothing changed, yet the cache rewritten"
    );
    assert_eq!(
        farm.dep_inode(),
        inode,
        "nothing changed, yet outputs rewritten"
    );

    // A rebuild from changed code: other bytes, the same symbols and
    // aliases. The run reads that file and has nothing to write.
    patch_keeping_size_and_mtime(
        &updates.join("mod_a.ko"),
        b"modutils test suite",
        b"modutils test suitE",
    );
    farm.step("rebuilt with the same symbols");
    assert_eq!(
        farm.dep_inode(),
        inode,
        "the same symbols, yet outputs rewritten"
    );

    let before = farm.step("nothing changed, again");
    patch_keeping_size_and_mtime(&updates.join("mod_a.ko"), b"mod_a_value", b"mod_a_valuZ");
    let after = farm.step("replaced with the same size and mtime");
    assert_ne!(before["modules.symbols"], after["modules.symbols"]);
    // Steps whose handling does not depend on compression run on the
    // uncompressed tree only: a run without cache on a compressed tree
    // takes long in a debug build.
    let every_step = kind == "uncompressed";
    if every_step {
        std::fs::File::options()
            .write(true)
            .open(updates.join("mod_b.ko"))
            .unwrap()
            .set_modified(std::time::SystemTime::now())
            .unwrap();
        farm.step("touched");
    }
    std::fs::remove_file(updates.join("mod_c.ko")).unwrap();
    farm.step("removed");
    if every_step {
        std::fs::rename(updates.join("mod_b.ko"), updates.join("mod_b2.ko")).unwrap();
        farm.step("renamed");
    }
    add_fixture(&dir, "mod_devname", "mod_devname");
    farm.step("added");
    if every_step {
        std::fs::remove_file(dir.join("kernel/sound")).unwrap();
        farm.step("a subtree removed");
        let conf = tmp.path().join("search.conf");
        std::fs::write(&conf, "search built-in updates\n").unwrap();
        farm.config = vec!["-C".to_string(), conf.to_str().unwrap().to_string()];
        farm.step("depmod.d search order");
        farm.config.clear();
    }
    let xz = std::process::Command::new("xz")
        .arg(updates.join("mod_devname.ko"))
        .status()
        .unwrap();
    assert!(xz.success());
    farm.step("compression changed");

    let moved = tmp.path().join("moved");
    std::fs::rename(&farm.base, &moved).unwrap();
    farm.base = moved;
    farm.step("tree moved");
    let cache = read_image(&farm.cache()).unwrap();
    let fresh = |name: &str| {
        let f = Farm {
            base: tmp.path().join(name),
            release: release.clone(),
            reference: farm.reference.clone(),
            config: Vec::new(),
        };
        std::fs::create_dir_all(f.cache().parent().unwrap()).unwrap();
        f
    };
    let other = fresh("other");
    cache_farm(&other.base, &release, &kernel, &inputs);
    put_image(&other.cache(), &cache);
    other.step("another tree's cache");
    if kind == "xz" || kind == "zstd" {
        // The uncompressed tree's cache, under the same release.
        let (raw, raw_inputs) = source("uncompressed");
        let plain = fresh("plain");
        cache_farm(&plain.base, &release, &raw, &raw_inputs);
        let r = exec(
            &our_depmod(),
            &["-b", plain.base.to_str().unwrap(), &release],
        );
        assert_eq!(r.code, Some(0), "{}", r.show());
        let third = fresh("third");
        cache_farm(&third.base, &release, &kernel, &inputs);
        put_image(&third.cache(), &read_image(&plain.cache()).unwrap());
        third.step("the uncompressed tree's cache");
    }
}

#[test]
fn cached_runs_match_runs_without_cache_uncompressed() {
    assert_eq!(
        real_tree().release,
        source("uncompressed")
            .1
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
    );
    differential("uncompressed");
}

#[test]
fn cached_runs_match_runs_without_cache_xz() {
    differential("xz");
}

#[test]
fn cached_runs_match_runs_without_cache_zstd() {
    differential("zstd");
}

#[test]
fn cached_runs_match_runs_without_cache_612() {
    differential("6.12");
}
