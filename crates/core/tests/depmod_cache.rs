//! depmod's cache on small generated trees: runs with a cache give what
//! runs without one give; a cache that is foreign, damaged or hostile is
//! ignored; a changed file is read again, whichever way it changed; the
//! memo leaves untouched outputs alone and replays the run's messages.
//!
//! A "fabricated" cache — valid, its keys those of the files as they are,
//! but claiming an alias no module has — shows whether a run used the
//! cache: the alias appears in modules.alias exactly when it did. Each
//! case that must ignore a cache starts from one that would be used.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use modutils_core::config::DepmodConfig;
use modutils_core::depmod::cache::{
    read_image, split_image, CacheFile, CachedDirectory, CachedModule, Event, FileStat, Memo,
    SETTLE,
};
use modutils_core::depmod::{read_module, Depmod, Options};

use crate::depmod_common::scenario::{stack, Scenario, OUTPUTS, VERSION};
use crate::depmod_common::{lossy, options, ours, Outcome};
use modutils_test_support::fake_module::FakeModule;

const FABRICATED: &str = "fabricated-by-the-cache";

/// One run: status, streams and every output file (left in place).
#[derive(Debug, PartialEq, Eq)]
struct Result {
    ok: bool,
    stdout: String,
    stderr: String,
    files: Vec<(String, Vec<u8>)>,
}

fn run_with(s: &Scenario, tweak: impl FnOnce(&mut Options)) -> Result {
    let mut opts = options(s.base(), VERSION);
    tweak(&mut opts);
    let out: Outcome = ours(opts, &DepmodConfig::default());
    let files = OUTPUTS
        .iter()
        .filter_map(|n| fs::read(s.dir().join(n)).ok().map(|b| (n.to_string(), b)))
        .collect();
    Result {
        ok: out.ok,
        stdout: lossy(&out.stdout),
        stderr: lossy(&out.stderr),
        files,
    }
}

fn run(s: &Scenario) -> Result {
    run_with(s, |_| {})
}

/// A run without the cache, which must not touch it either.
fn reference(s: &Scenario) -> Result {
    let before = image(s);
    let r = run_with(s, |o| o.no_cache = true);
    assert_eq!(image(s), before, "--no-cache wrote the cache");
    r
}

/// The cache's index file.
fn cache_path(s: &Scenario) -> PathBuf {
    Depmod::new(options(s.base(), VERSION))
        .cache_file()
        .expect("a cache file")
}

/// The cache's two files as one buffer, if there is a cache.
fn image(s: &Scenario) -> Option<Vec<u8>> {
    read_image(&cache_path(s)).ok()
}

fn alias_file(r: &Result) -> String {
    lossy(
        &r.files
            .iter()
            .find(|(n, _)| n == "modules.alias")
            .unwrap()
            .1,
    )
}

fn modules_under(dir: &Path, rel: &str, out: &mut Vec<String>) {
    for e in fs::read_dir(dir.join(rel)).unwrap().flatten() {
        let name = format!("{rel}{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            modules_under(dir, &format!("{name}/"), out);
        } else if name.contains(".ko") {
            out.push(name);
        }
    }
}

/// A cache of every module of the tree as it is now, read with the
/// engine's own reader: what a run would write if the files were older.
fn cache_of(s: &Scenario) -> CacheFile {
    let dir = s.dir();
    let mut rels = Vec::new();
    modules_under(&dir, "", &mut rels);
    rels.sort();
    let modules = rels
        .iter()
        .map(|rel| CachedModule {
            path: rel.as_bytes().to_vec(),
            stat: FileStat::of(&fs::metadata(dir.join(rel)).unwrap()),
            symbols: read_module(&dir.join(rel)).unwrap(),
        })
        .collect();
    CacheFile {
        release: VERSION.as_bytes().to_vec(),
        modules,
        memo: None,
        directories: Vec::new(),
    }
}

/// [`cache_of`] with an alias added to `kernel/base.ko`.
fn fabricated(s: &Scenario) -> CacheFile {
    let mut c = cache_of(s);
    let base = c
        .modules
        .iter_mut()
        .find(|m| m.path == b"kernel/base.ko")
        .unwrap();
    base.symbols.aliases.push(FABRICATED.as_bytes().to_vec());
    c
}

/// Puts a cache image (see `split_image`) in place as its two files,
/// after removing whatever the cache directory held.
fn put_cache(s: &Scenario, bytes: &[u8]) {
    let path = cache_path(s);
    let dir = path.parent().unwrap();
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    let (index, data, name) = split_image(bytes);
    fs::write(&path, index).unwrap();
    if let Some(name) = name {
        fs::write(dir.join(name), data).unwrap();
    }
}

/// The data file a cache image names.
fn data_path(s: &Scenario, bytes: &[u8]) -> PathBuf {
    let name = split_image(bytes).2.expect("a cache image");
    cache_path(s).parent().unwrap().join(name)
}

fn stacked() -> Scenario {
    let s = Scenario::new();
    stack(&s);
    s
}

#[test]
fn a_cache_matching_the_files_is_used_without_reading_them() {
    let s = stacked();
    let want = reference(&s);
    put_cache(&s, &cache_of(&s).to_bytes());
    assert_eq!(run(&s), want);
    put_cache(&s, &fabricated(&s).to_bytes());
    let used = run(&s);
    assert!(
        alias_file(&used).contains(FABRICATED),
        "{}",
        alias_file(&used)
    );
    // Whatever way the file changes, its entry stops counting.
    let base = s.dir().join("kernel/base.ko");
    let changes: [(&str, &dyn Fn()); 4] = [
        ("chmod", &|| {
            fs::set_permissions(&base, fs::Permissions::from_mode(0o600)).unwrap()
        }),
        ("rewrite", &|| {
            fs::write(&base, fs::read(&base).unwrap()).unwrap()
        }),
        ("replace", &|| {
            let tmp = base.with_extension("new");
            fs::copy(&base, &tmp).unwrap();
            fs::rename(&tmp, &base).unwrap();
        }),
        ("rename", &|| {
            fs::rename(&base, s.dir().join("kernel/base2.ko")).unwrap();
            fs::rename(s.dir().join("kernel/base2.ko"), &base).unwrap();
        }),
    ];
    for (what, change) in changes {
        put_cache(&s, &fabricated(&s).to_bytes());
        change();
        let r = run(&s);
        assert!(!alias_file(&r).contains(FABRICATED), "after {what}");
        assert_eq!(r, want, "after {what}");
    }
}

/// [`cache_of`] with a listing of `kernel/` as it is, but without
/// base.ko: a run that walks the directory from the listing misses it.
fn listing_without_base(s: &Scenario) -> CacheFile {
    let mut c = cache_of(s);
    let kernel = s.dir().join("kernel");
    let entries = fs::read_dir(&kernel)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "base.ko")
        .map(|e| {
            use std::os::unix::fs::DirEntryExt;
            let kind = if e.file_type().unwrap().is_dir() {
                4
            } else {
                8
            };
            (e.file_name().into_encoded_bytes(), kind, e.ino())
        })
        .collect();
    c.directories = vec![CachedDirectory {
        path: format!("{}/", kernel.display()).into_bytes(),
        stat: FileStat::of(&fs::metadata(&kernel).unwrap()),
        entries,
    }];
    c
}

#[test]
fn a_listing_is_used_while_its_directory_is_unchanged() {
    let s = stacked();
    let want = reference(&s);
    let dep = |r: &Result| lossy(&r.files.iter().find(|(n, _)| n == "modules.dep").unwrap().1);
    assert!(dep(&want).contains("kernel/base.ko:"));
    put_cache(&s, &listing_without_base(&s).to_bytes());
    let used = run(&s);
    assert!(!dep(&used).contains("kernel/base.ko:"), "{}", dep(&used));
    // Whatever way the directory changes, its listing stops counting.
    let kernel = s.dir().join("kernel");
    let changes: [(&str, &dyn Fn()); 3] = [
        ("a file added", &|| {
            fs::write(kernel.join("notes.txt"), "x").unwrap()
        }),
        ("a file removed", &|| {
            fs::remove_file(kernel.join("notes.txt")).unwrap()
        }),
        ("chmod", &|| {
            fs::set_permissions(&kernel, fs::Permissions::from_mode(0o700)).unwrap()
        }),
    ];
    for (what, change) in changes {
        put_cache(&s, &listing_without_base(&s).to_bytes());
        change();
        assert_eq!(run(&s), want, "after {what}");
    }
}

#[test]
fn foreign_and_untrusted_caches_are_ignored() {
    let s = stacked();
    let want = reference(&s);
    let good = fabricated(&s);
    let path = cache_path(&s);
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let put = |c: &CacheFile| put_cache(&s, &c.to_bytes());
    let cases: Vec<Case> = vec![
        (
            "another release",
            Box::new(|| {
                put(&CacheFile {
                    release: b"1.1".to_vec(),
                    ..good.clone()
                })
            }),
        ),
        (
            "owned by someone else",
            Box::new(|| {
                put(&good);
                std::os::unix::fs::chown(&path, Some(4242), None).unwrap();
            }),
        ),
        (
            "a data file owned by someone else",
            Box::new(|| {
                put(&good);
                let data = data_path(&s, &good.to_bytes());
                std::os::unix::fs::chown(data, Some(4242), None).unwrap();
            }),
        ),
        (
            "a world-writable data file",
            Box::new(|| {
                put(&good);
                let data = data_path(&s, &good.to_bytes());
                fs::set_permissions(data, fs::Permissions::from_mode(0o646)).unwrap();
            }),
        ),
        (
            "no data file",
            Box::new(|| {
                put(&good);
                fs::remove_file(data_path(&s, &good.to_bytes())).unwrap();
            }),
        ),
        (
            "group-writable",
            Box::new(|| {
                put(&good);
                fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
            }),
        ),
        (
            "world-writable",
            Box::new(|| {
                put(&good);
                fs::set_permissions(&path, fs::Permissions::from_mode(0o646)).unwrap();
            }),
        ),
        (
            "a symbolic link",
            Box::new(|| {
                let real = s.base().join("elsewhere");
                fs::write(&real, split_image(&good.to_bytes()).0).unwrap();
                let _ = fs::remove_file(&path);
                std::os::unix::fs::symlink(&real, &path).unwrap();
            }),
        ),
        (
            "a FIFO",
            Box::new(|| {
                let _ = fs::remove_file(&path);
                let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
                // SAFETY: a NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            }),
        ),
        ("empty", Box::new(|| put_cache(&s, b""))),
    ];
    for (what, make) in cases {
        put(&good);
        let control = run(&s);
        assert!(alias_file(&control).contains(FABRICATED), "{what}: control");
        make();
        let r = within_a_minute(what, || run(&s));
        assert_eq!(r, want, "{what}");
        let _ = fs::remove_file(&path);
    }
    // Another format or build version: the version fields are in the head
    // that its checksum covers, so only a rebuilt head would pass; the
    // version check itself is in the fuzzed reader's unit tests.
}

/// `f()`, failing instead of waiting forever (a FIFO opened for reading
/// waits for a writer).
fn within_a_minute<T: Send>(what: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        scope.spawn(move || tx.send(f()));
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(v) => v,
            // The stuck thread is left behind: exit, not join.
            Err(_) => {
                eprintln!("{what}: the run did not end");
                std::process::exit(101)
            }
        }
    })
}

#[test]
fn damaged_caches_are_ignored() {
    let s = stacked();
    let want = reference(&s);
    let bytes = fabricated(&s).to_bytes();
    put_cache(&s, &bytes);
    assert!(alias_file(&run(&s)).contains(FABRICATED));
    // Cut anywhere, or any byte changed: never used, never an error.
    let step = (bytes.len() / 97).max(1);
    for at in (0..bytes.len()).step_by(step) {
        put_cache(&s, &bytes[..at]);
        assert_eq!(run(&s), want, "cut at {at}");
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x40;
        put_cache(&s, &flipped);
        assert_eq!(run(&s), want, "byte {at} changed");
    }
    // Bytes after the index's sections: refused. Bytes after the data
    // section: what a run appended, or one killed while appending, leaves.
    put_cache(&s, &bytes);
    let mut longer = fs::read(cache_path(&s)).unwrap();
    longer.extend_from_slice(b"more");
    fs::write(cache_path(&s), longer).unwrap();
    assert_eq!(run(&s), want, "trailing bytes in the index");
    put_cache(&s, &bytes);
    let mut data = fs::OpenOptions::new()
        .append(true)
        .open(data_path(&s, &bytes))
        .unwrap();
    std::io::Write::write_all(&mut data, b"more").unwrap();
    assert!(
        alias_file(&run(&s)).contains(FABRICATED),
        "bytes after the data section"
    );
}

#[test]
fn hostile_caches_with_valid_checksums_are_ignored() {
    let s = stacked();
    let want = reference(&s);
    let good = fabricated(&s);
    put_cache(&s, &good.to_bytes());
    assert!(alias_file(&run(&s)).contains(FABRICATED));
    let victim = b"kernel/sub/mid-dash.ko";
    for (what, bytes) in crate::depmod_cache_format::hostile_variants(&good, victim) {
        assert!(
            CacheFile::from_bytes(&bytes).is_err(),
            "{what}: the reader accepted it"
        );
        put_cache(&s, &bytes);
        assert_eq!(run(&s), want, "{what}");
    }
}

#[test]
fn an_unusable_cache_directory_means_a_run_without_cache() {
    let s = stacked();
    let want = reference(&s);
    // `var/cache` is a file: nothing can be created under it.
    fs::create_dir_all(s.base().join("var")).unwrap();
    fs::write(s.base().join("var/cache"), b"").unwrap();
    assert_eq!(run(&s), want);
    fs::remove_file(s.base().join("var/cache")).unwrap();
    // The cache file's name is a directory: it cannot be replaced.
    fs::create_dir_all(cache_path(&s)).unwrap();
    assert_eq!(run(&s), want);
    assert!(cache_path(&s).is_dir());
}

#[test]
fn dry_runs_use_the_cache_but_never_write_it() {
    let s = stacked();
    let want = run_with(&s, |o| {
        o.dry_run = true;
        o.no_cache = true;
    });
    let path = cache_path(&s);
    let r = run_with(&s, |o| o.dry_run = true);
    assert_eq!(r, want);
    assert!(!path.exists(), "-n wrote the cache");
    put_cache(&s, &fabricated(&s).to_bytes());
    let before = image(&s).unwrap();
    let r = run_with(&s, |o| o.dry_run = true);
    assert!(r.stdout.contains(FABRICATED), "{}", r.stdout);
    assert_eq!(image(&s).unwrap(), before);
}

#[test]
fn no_cache_neither_reads_nor_writes() {
    let s = stacked();
    put_cache(&s, &fabricated(&s).to_bytes());
    let r = reference(&s);
    assert!(!alias_file(&r).contains(FABRICATED));
}

#[test]
fn runs_on_named_files_read_the_cache_but_leave_it() {
    let s = stacked();
    put_cache(&s, &fabricated(&s).to_bytes());
    let before = image(&s).unwrap();
    let base = s.dir().join("kernel/base.ko");
    let r = run_with(&s, |o| o.files = vec![base.clone()]);
    assert!(r.ok, "{}", r.stderr);
    assert!(alias_file(&r).contains(FABRICATED));
    assert_eq!(image(&s).unwrap(), before);
}

#[test]
fn the_cache_lives_under_the_output_prefix() {
    let s = stacked();
    let out = tempfile::tempdir().unwrap();
    let mut opts = options(s.base(), VERSION);
    opts.out_dir = Some(out.path().to_path_buf());
    let file = Depmod::new(opts.clone()).cache_file().unwrap();
    assert_eq!(
        file,
        out.path()
            .join("var/cache/modutils")
            .join(format!("{VERSION}.depmod"))
    );
    // A release that cannot name a file has no cache.
    opts.kernel_version = "../1.0".to_string();
    assert_eq!(Depmod::new(opts).cache_file(), None);
}

/// Waits until every file under `dir` is old enough for the cache.
fn wait_until_settled(dir: &Path) {
    let mut newest = 0i64;
    let mut rels = Vec::new();
    modules_under(dir, "", &mut rels);
    for rel in rels {
        newest = newest.max(fs::metadata(dir.join(rel)).unwrap().ctime());
    }
    modutils_test_support::clock::wait_until_older_than(newest, SETTLE);
}

/// A run without a cache takes each file's identity from the file as it
/// reads it (its walk takes none): those are the identities the next
/// run's walk finds, so that run reads nothing and writes nothing.
#[test]
fn a_cache_written_by_a_run_without_one_serves_the_next_run() {
    let s = stacked();
    wait_until_settled(&s.dir());
    let first = run(&s);
    let cache = CacheFile::open(&cache_path(&s)).unwrap();
    let mut rels = Vec::new();
    modules_under(&s.dir(), "", &mut rels);
    assert_eq!(cache.modules.len(), rels.len());
    for m in &cache.modules {
        let path = s.dir().join(lossy(&m.path));
        assert_eq!(
            m.stat,
            FileStat::of(&fs::metadata(&path).unwrap()),
            "{path:?}"
        );
    }
    assert!(cache.memo.is_some());
    let inode = || fs::metadata(s.dir().join("modules.dep")).unwrap().ino();
    let before = inode();
    assert_eq!(run(&s), first);
    assert_eq!(inode(), before, "modules.dep was rewritten");
}

/// The one way a file can change behind the cache's back: rewritten in
/// place, same size, its mtime put back. Only its ctime tells; a file
/// changed so recently that a second change could hide in the same
/// timestamp tick is never kept.
#[test]
fn a_file_rewritten_in_place_with_its_old_mtime_is_read_again() {
    let s = stacked();
    let dir = s.dir();
    let base = dir.join("kernel/base.ko");
    let original = FakeModule::bare()
        .export("base_fn")
        .export("base_data")
        .info("alias=base-alias-one")
        .build();
    fs::write(&base, &original).unwrap();
    let r = run(&s);
    assert!(r.ok);
    let stored = |s: &Scenario| {
        CacheFile::open(&cache_path(s))
            .unwrap()
            .modules
            .iter()
            .any(|m| m.path == b"kernel/base.ko" && m.stat != FileStat::UNSETTLED)
    };
    assert!(
        !stored(&s),
        "a file changed just now was kept by its identity"
    );
    wait_until_settled(&dir);
    assert_eq!(run(&s), r);
    assert!(stored(&s), "a settled file was not kept");
    let mtime = fs::metadata(&base).unwrap().modified().unwrap();
    let changed = crate::depmod_common::replace_bytes(&original, b"alias-one", b"alias-two");
    assert_eq!(changed.len(), original.len());
    fs::OpenOptions::new()
        .write(true)
        .open(&base)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &changed))
        .unwrap();
    fs::File::options()
        .write(true)
        .open(&base)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let after = run(&s);
    assert!(
        alias_file(&after).contains("base-alias-two"),
        "{}",
        alias_file(&after)
    );
    assert_eq!(after, reference(&s));
}

/// With every module known, a run that finds the outputs it would write
/// already there rewrites nothing and reports what the run that wrote them
/// reported.
#[test]
fn an_unchanged_tree_rewrites_nothing_and_repeats_its_messages() {
    let s = stacked();
    // A duplicate alias (-w) and dependency lines (-v): messages on both
    // streams to be replayed.
    s.module(
        "kernel/dup.ko",
        FakeModule::bare()
            .import("base_fn")
            .info("alias=same")
            .info("alias=same"),
    );
    let tweak = |o: &mut Options| {
        o.warn = true;
        o.verbose = true;
    };
    let want = run_with(&s, |o| {
        tweak(o);
        o.no_cache = true;
    });
    assert!(
        want.stderr.contains("duplicate module alias"),
        "{}",
        want.stderr
    );
    assert!(want.stdout.contains("needs"), "{}", want.stdout);
    put_cache(&s, &cache_of(&s).to_bytes());
    let first = run_with(&s, tweak);
    assert_eq!(first, want);
    let memo = CacheFile::open(&cache_path(&s)).unwrap().memo;
    let memo: Memo = memo.expect("a memo after a run with every module known");
    assert!(memo
        .events
        .iter()
        .any(|e| matches!(e, Event::Stdout(b) if lossy(b).contains("needs"))));
    let inode = |s: &Scenario| fs::metadata(s.dir().join("modules.dep")).unwrap().ino();
    let before = inode(&s);
    let cache_before = image(&s).unwrap();
    assert_eq!(run_with(&s, tweak), want);
    assert_eq!(inode(&s), before, "modules.dep was rewritten");
    assert_eq!(image(&s).unwrap(), cache_before);

    // Each of these makes the run write again, and the outputs stay those
    // of a run without cache.
    let edits: [(&str, &dyn Fn()); 4] = [
        ("an output edited", &|| {
            fs::write(s.dir().join("modules.alias"), b"# edited\n").unwrap()
        }),
        ("an output removed", &|| {
            fs::remove_file(s.dir().join("modules.symbols.bin")).unwrap()
        }),
        ("modules.builtin changed", &|| {
            fs::write(s.dir().join("modules.builtin"), b"kernel/fs/ext4.ko\n").unwrap()
        }),
        ("another option", &|| {}),
    ];
    for (what, edit) in edits {
        edit();
        let before = inode(&s);
        let options = |o: &mut Options| {
            if what == "another option" {
                o.verbose = true;
            } else {
                tweak(o);
            }
        };
        let r = run_with(&s, options);
        // Looked at before the run without cache writes again: the file
        // system may give that run's file the inode number just freed.
        assert_ne!(inode(&s), before, "{what}: nothing was written");
        let want = run_with(&s, |o| {
            options(o);
            o.no_cache = true;
        });
        assert_eq!(r, want, "{what}");
    }
}

/// A module rebuilt from changed code (a DKMS rebuild) is a new file with
/// the same symbols and aliases: the run reads that one file, finds what
/// it holds unchanged, and leaves the outputs as they are. A rebuild that
/// changes what depmod reads makes the run write again.
#[test]
fn a_rebuilt_module_with_the_same_symbols_changes_no_output() {
    let s = stacked();
    let dkms = |version: &str, alias: &str| {
        FakeModule::bare()
            .import("base_fn")
            .export("dkms_fn")
            .info(format!("alias={alias}"))
            .info(format!("version={version}"))
    };
    s.module("updates/dkms.ko", dkms("1", "dkms-one"));
    put_cache(&s, &cache_of(&s).to_bytes());
    let first = run(&s);
    assert!(cache_of_run(&s).memo.is_some(), "no memo");
    let inode = |s: &Scenario| fs::metadata(s.dir().join("modules.dep")).unwrap().ino();
    let before = inode(&s);

    s.module("updates/dkms.ko", dkms("2", "dkms-one"));
    assert_eq!(run(&s), first);
    assert_eq!(inode(&s), before, "outputs rewritten for the same symbols");
    let cached = cache_of_run(&s);
    assert!(cached.memo.is_some(), "the memo was dropped");
    let entry = cached
        .modules
        .iter()
        .find(|m| m.path == b"updates/dkms.ko")
        .expect("the rebuilt module is in the cache");
    assert_eq!(entry.stat, FileStat::UNSETTLED, "kept by a fresh identity");
    // Read again next time, with the same outcome.
    assert_eq!(run(&s), first);
    assert_eq!(inode(&s), before);
    assert_eq!(first, reference(&s));

    s.module("updates/dkms.ko", dkms("3", "dkms-two"));
    let changed = run(&s);
    assert!(alias_file(&changed).contains("dkms-two"));
    assert_eq!(changed, reference(&s));
}

fn cache_of_run(s: &Scenario) -> CacheFile {
    CacheFile::open(&cache_path(s)).unwrap()
}

/// A run that took most modules from the cache copies the old records and
/// adds those it read; records no entry uses any more stay until they
/// would make a quarter of the data, and that run writes the cache whole.
/// Every cache on the way is valid, and every run's outputs are a
/// cache-less run's.
#[test]
fn records_are_copied_until_a_quarter_would_be_unused() {
    let s = stacked();
    let dir = s.dir();
    for i in 0..12 {
        s.module(
            &format!("kernel/extra{i}.ko"),
            FakeModule::bare()
                .export(format!("extra_fn{i}"))
                .import("base_fn")
                .info(format!("alias=extra-alias-{i}")),
        );
    }
    let size = |s: &Scenario| image(s).unwrap().len();
    // The cache as a whole write of what it holds would be.
    let whole = |s: &Scenario| cache_of_run(s).to_bytes().len();
    run(&s);
    wait_until_settled(&dir);
    // Every module read again (none was kept by its identity): whole.
    assert_eq!(run(&s), reference(&s));
    assert_eq!(size(&s), whole(&s));

    // One module added: its record follows the copied ones.
    s.module(
        "updates/added.ko",
        FakeModule::bare()
            .import("extra_fn3")
            .info("alias=added-alias"),
    );
    let added = run(&s);
    assert!(alias_file(&added).contains("added-alias"));
    assert_eq!(added, reference(&s));
    assert_eq!(size(&s), whole(&s));
    let cache = cache_of_run(&s);
    assert!(cache.modules.iter().any(|m| m.path == b"updates/added.ko"));

    // One removed: its record stays, unused.
    fs::remove_file(dir.join("kernel/extra0.ko")).unwrap();
    let removed = run(&s);
    assert_eq!(removed, reference(&s));
    let unused = size(&s) - whole(&s);
    assert!(unused > 0, "the removed module's record was not kept");
    assert_eq!(run(&s), removed, "the cache with an unused record");

    // Most removed: the cache is written whole again.
    for i in 1..10 {
        fs::remove_file(dir.join(format!("kernel/extra{i}.ko"))).unwrap();
    }
    assert_eq!(run(&s), reference(&s));
    assert_eq!(size(&s), whole(&s));
}

/// The data file a cache names, and its length.
fn data_file_of_run(s: &Scenario) -> (PathBuf, u64) {
    let path = data_path(s, &image(s).unwrap());
    let len = fs::metadata(&path).unwrap().len();
    (path, len)
}

/// [`stacked`], run until its cache holds every module with its settled
/// identity, and that cache's data file with its length.
fn stacked_and_cached() -> (Scenario, PathBuf, u64) {
    let s = stacked();
    run(&s);
    wait_until_settled(&s.dir());
    assert_eq!(run(&s), reference(&s));
    let (first, len) = data_file_of_run(&s);
    (s, first, len)
}

/// A run appends its records to the data file only where the index it
/// read says the data ends. Bytes after that (another depmod appended, or
/// one was killed while appending) make it write the cache whole, under a
/// new data file, and remove the old one.
#[test]
fn records_are_appended_only_where_the_data_ends() {
    let (s, first, len) = stacked_and_cached();

    s.module(
        "updates/one.ko",
        FakeModule::bare().import("base_fn").info("alias=one-alias"),
    );
    assert_eq!(run(&s), reference(&s));
    let (same, longer) = data_file_of_run(&s);
    assert_eq!(same, first, "one module added: a new data file");
    assert!(longer > len, "the record was not appended");

    let mut data = fs::OpenOptions::new().append(true).open(&first).unwrap();
    std::io::Write::write_all(&mut data, b"left by a killed run").unwrap();
    s.module(
        "updates/two.ko",
        FakeModule::bare().import("base_fn").info("alias=two-alias"),
    );
    let r = run(&s);
    assert!(alias_file(&r).contains("two-alias"));
    assert_eq!(r, reference(&s));
    let (new, _) = data_file_of_run(&s);
    assert_ne!(new, first, "appended after bytes no index names");
    assert!(!first.exists(), "the old data file was left");
    assert_eq!(image(&s).unwrap().len(), cache_of_run(&s).to_bytes().len());
}

/// The cache is written whatever becomes of the outputs: a run stopped by
/// a dependency cycle still appends the records it read to the data file
/// and leaves a valid index that names them.
#[test]
fn a_run_stopped_by_a_cycle_keeps_the_records_it_appended() {
    let (s, first, len) = stacked_and_cached();
    let dir = s.dir();

    s.module(
        "updates/loop_a.ko",
        FakeModule::bare().export("loop_a_fn").import("loop_b_fn"),
    );
    s.module(
        "updates/loop_b.ko",
        FakeModule::bare().export("loop_b_fn").import("loop_a_fn"),
    );
    let stopped = run(&s);
    assert!(!stopped.ok, "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("Cycle detected"),
        "{}",
        stopped.stderr
    );
    let (same, longer) = data_file_of_run(&s);
    assert_eq!(same, first, "the records were not appended");
    assert!(longer > len, "the records were not appended");
    let cache = cache_of_run(&s);
    for path in [&b"updates/loop_a.ko"[..], b"updates/loop_b.ko"] {
        assert!(cache.modules.iter().any(|m| m.path == path));
    }

    fs::remove_file(dir.join("updates/loop_b.ko")).unwrap();
    assert_eq!(run(&s), reference(&s));
}
