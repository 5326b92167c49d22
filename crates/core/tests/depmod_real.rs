//! Our depmod against kmod's on a real module tree (MODUTILS_TEST_TREE,
//! the `lib/modules/<version>` directory of a distribution kernel).
//!
//! The oracle is Debian 12's kmod 30. Allowed differences (docs/compat.md,
//! "kmod 30 and 34.2"): kmod 30 writes the indexes in post-order (so indexes are compared
//! entry by entry, not byte by byte) and predates modules.weakdep.

use std::path::Path;

use crate::depmod_common::*;
use modutils_core::config::DepmodConfig;
use modutils_core::depmod::Options;

const WEAKDEP_HEADER: &[u8] = b"# Weak dependencies extracted from modules themselves.\n";

/// Runs kmod on one copy and us on another, and compares everything.
fn compare_on(tree: &Path, extra: &[&str], tweak: impl Fn(&mut Options)) -> String {
    let ver = version_of(tree);
    let (theirs, mine) = (scratch_copy(tree), scratch_copy(tree));
    let mut args = vec!["-b", path_str(theirs.path())];
    args.extend_from_slice(extra);
    args.push(&ver);
    let k = kmod(&args);
    let mut opts = options(mine.path(), &ver);
    tweak(&mut opts);
    let o = ours(opts, &DepmodConfig::default());
    assert!(
        k.ok && o.ok,
        "kmod ok={} ours ok={}\n{}",
        k.ok,
        o.ok,
        lossy(&o.stderr)
    );
    // Messages name absolute paths, which differ only by the scratch base.
    let (from, to) = (
        path_str(theirs.path()).as_bytes(),
        path_str(mine.path()).as_bytes(),
    );
    assert_same_text("stderr", &o.stderr, &replace_bytes(&k.stderr, from, to));
    assert_same_text("stdout", &o.stdout, &replace_bytes(&k.stdout, from, to));

    let sub = Path::new("lib/modules").join(&ver);
    let (kdir, odir) = (theirs.path().join(&sub), mine.path().join(&sub));
    let (problems, tally) = compare_outputs(&kdir, &odir);
    assert!(
        problems.is_empty(),
        "outputs differ:\n{}",
        problems.join("\n")
    );
    assert_index_layout(&odir);
    // kmod 30 has no modules.weakdep; 6.1 modules declare no weak deps.
    assert_eq!(
        std::fs::read(odir.join("modules.weakdep")).unwrap(),
        WEAKDEP_HEADER
    );
    let summary = format!("{tally:?}");
    eprintln!("identical: {summary}");
    summary
}

#[test]
fn uncompressed_tree_matches_kmod() {
    compare_on(&real_tree(), &[], |_| {});
}

#[test]
fn xz_tree_matches_kmod() {
    compare_on(&compressed_tree(&real_tree(), "xz"), &[], |_| {});
}

#[test]
fn zstd_tree_matches_kmod() {
    compare_on(&compressed_tree(&real_tree(), "zst"), &[], |_| {});
}

#[test]
fn verbose_dependency_lines_match_kmod() {
    compare_on(&real_tree(), &["-v"], |o| o.verbose = true);
}

#[test]
fn dry_run_matches_kmod() {
    let tree = real_tree();
    let ver = version_of(&tree);
    let base = scratch_copy(&tree);
    let k = kmod(&["-n", "-b", path_str(base.path()), &ver]);
    let mut opts = options(base.path(), &ver);
    opts.dry_run = true;
    let o = ours(opts, &DepmodConfig::default());
    assert!(k.ok && o.ok);
    assert_eq!(lossy(&o.stderr), lossy(&k.stderr));
    // kmod 34 prints modules.weakdep (header only here) right after the
    // soft dependencies, which end where the symbols header starts.
    let marker = b"# Aliases for symbols, used by symbol_request().\n";
    let at = k
        .stdout
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    let mut want = k.stdout[..at].to_vec();
    want.extend_from_slice(WEAKDEP_HEADER);
    want.extend_from_slice(&k.stdout[at..]);
    assert!(o.stdout == want, "-n output differs");
    let dir = base.path().join("lib/modules").join(&ver);
    let written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("modules.") && !n.starts_with("modules.builtin") && n != "modules.order"
        })
        .collect();
    assert!(
        written.is_empty(),
        "-n must not write files, found {written:?}"
    );
}

/// The kernel's Module.symvers: MODUTILS_TEST_SYMVERS, else the headers
/// that tests/setup.sh (fixtures/fetch-kernel.sh) unpacks into the cache.
fn symvers(ver: &str) -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MODUTILS_TEST_SYMVERS") {
        return p.into();
    }
    let cache = std::env::var_os("MODUTILS_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache/modutils"));
    let p = cache.join(format!(
        "headers/{ver}/usr/src/linux-headers-{ver}/Module.symvers"
    ));
    assert!(
        p.is_file(),
        "no Module.symvers at {}: run fixtures/fetch-kernel.sh {ver}, or set MODUTILS_TEST_SYMVERS",
        p.display()
    );
    p
}

/// `-e -E`: warnings for unknown symbols and CRC mismatches, in kmod's
/// order. The real Module.symvers agrees with every module, so a doctored
/// copy (some symbols dropped, some CRCs changed) provokes both kinds.
#[test]
fn errsyms_with_symvers_match_kmod() {
    let tree = real_tree();
    let ver = version_of(&tree);
    let real = std::fs::read_to_string(symvers(&ver)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let doctored = scratch.path().join("Module.symvers");
    let mut text = String::new();
    for (i, line) in real.lines().enumerate() {
        match i % 97 {
            0 => continue,
            1 => text.push_str(&line.replacen("0x", "0x1", 1)),
            _ => text.push_str(line),
        }
        text.push('\n');
    }
    std::fs::write(&doctored, text).unwrap();
    for file in [symvers(&ver), doctored] {
        let base = scratch_copy(&tree);
        let f = path_str(&file).to_string();
        let k = kmod(&["-n", "-e", "-E", &f, "-b", path_str(base.path()), &ver]);
        let mut opts = options(base.path(), &ver);
        (opts.dry_run, opts.errsyms, opts.symvers) = (true, true, Some(file.clone()));
        let o = ours(opts, &DepmodConfig::default());
        assert!(k.ok && o.ok);
        assert_eq!(lossy(&o.stderr), lossy(&k.stderr), "-e -E {f}");
        let warnings = k
            .stderr
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        eprintln!("{f}: {warnings} identical warnings");
    }
}

/// `-e -F System.map`: unknown-symbol warnings without CRC checks.
#[test]
fn errsyms_with_system_map_match_kmod() {
    let tree = real_tree();
    let ver = version_of(&tree);
    // The image package's map sits in <root>/boot; the tree may be a copy
    // whose `kernel` directory links into that package's tree.
    let file = format!("System.map-{ver}");
    let mut places = vec![tree.join("../../../boot")];
    if let Ok(kernel) = std::fs::canonicalize(tree.join("kernel")) {
        places.push(kernel.join("../../../../boot"));
    }
    let map = places
        .iter()
        .map(|p| p.join(&file))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no {file} next to {}", tree.display()));
    let scratch = tempfile::tempdir().unwrap();
    // Drop a few exports so that some warnings appear.
    let text: String = std::fs::read_to_string(&map)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 89 != 0)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let doctored = scratch.path().join("System.map.doctored");
    std::fs::write(&doctored, text).unwrap();
    let base = scratch_copy(&tree);
    let f = path_str(&doctored).to_string();
    let k = kmod(&["-n", "-e", "-F", &f, "-b", path_str(base.path()), &ver]);
    let mut opts = options(base.path(), &ver);
    (opts.dry_run, opts.errsyms, opts.system_map) = (true, true, Some(doctored.clone()));
    let o = ours(opts, &DepmodConfig::default());
    assert!(k.ok && o.ok);
    assert_eq!(lossy(&o.stderr), lossy(&k.stderr));
    assert!(
        !k.stderr.is_empty(),
        "expected some unknown-symbol warnings"
    );
}
