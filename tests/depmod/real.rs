//! The real Debian 6.1 tree (4,023 modules), as it ships and compressed
//! with xz and with zstd. kmod's depmod writes into one symlink farm, ours
//! into another (`lib/modules/<rel>/kernel` -> the same module directory,
//! so both read the same directory in the same order).
//!
//! Text outputs must be byte-identical. The indexes are read back by kmod's
//! own modprobe: `modprobe -c` (the alias and symbol indexes), `-D` for
//! every module of modules.dep and every built-in module (modules.dep.bin,
//! modules.builtin.bin, modules.softdep), `-R` and `-D` for every built-in
//! alias (modules.builtin.alias.bin); and byte for byte up to kmod 34's
//! node order (`check_index`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::util::{real_tree, text};

/// `<at>/lib/modules/<release>` with `kernel` linking to `kernel` and
/// copies of modules.order and modules.builtin*. Returns the module dir.
pub fn farm(at: &Path, release: &str, kernel: &Path, inputs: &Path) -> PathBuf {
    let dir = at.join("lib/modules").join(release);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(kernel, dir.join("kernel")).unwrap();
    for f in INPUTS {
        std::fs::copy(inputs.join(f), dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", inputs.join(f).display()));
    }
    dir
}

/// The module directory of a tree kind: its `kernel` directory (resolved)
/// and where its modules.order and modules.builtin* are.
pub fn source(kind: &str) -> (PathBuf, PathBuf) {
    let dir = match kind {
        "uncompressed" => real_tree().moddir(),
        "xz" => env_path("MODUTILS_TEST_TREE_XZ", "the real tree compressed with xz"),
        "zstd" => env_path(
            "MODUTILS_TEST_TREE_ZST",
            "the real tree compressed with zstd",
        ),
        _ => unreachable!(),
    };
    let kernel = std::fs::canonicalize(dir.join("kernel")).unwrap();
    (kernel, dir)
}

fn builtin_names_and_aliases(dir: &Path) -> (Vec<String>, Vec<String>) {
    let names = text(&std::fs::read(dir.join("modules.builtin")).unwrap())
        .lines()
        .map(|l| {
            let file = l.rsplit('/').next().unwrap();
            file.split('.').next().unwrap().to_string()
        })
        .collect();
    let modinfo = std::fs::read(dir.join("modules.builtin.modinfo")).unwrap();
    let aliases = modinfo
        .split(|&b| b == 0)
        .filter_map(|rec| {
            let rec = text(rec);
            let (_, value) = rec.split_once(".alias=")?;
            Some(value.to_string())
        })
        .collect();
    (names, aliases)
}

/// kmod's depmod on one farm, ours on another; everything compared.
fn compare_real(kind: &str) {
    let release = real_tree().release.clone();
    let (kernel, inputs) = source(kind);
    let tmp = tempfile::tempdir().unwrap();
    let (kbase, obase) = (tmp.path().join("k"), tmp.path().join("o"));
    let kdir = farm(&kbase, &release, &kernel, &inputs);
    let odir = farm(&obase, &release, &kernel, &inputs);
    let (kb, ob) = (kbase.to_str().unwrap(), obase.to_str().unwrap());

    let k = exec(&kmod_depmod(), &["-b", kb, &release]);
    let o = exec(&our_depmod(), &["-b", ob, &release]);
    assert_eq!(k.code, Some(0), "kmod: {}", k.show());
    assert_eq!(o.code, Some(0), "ours: {}", o.show());
    assert_eq!(
        text(&o.stdout),
        text(&replace(&k.stdout, kb, ob)),
        "{kind}: stdout"
    );
    assert_eq!(
        text(&o.stderr),
        text(&replace(&k.stderr, kb, ob)),
        "{kind}: stderr"
    );

    let (kfiles, ofiles) = (read_outputs(&kdir), read_outputs(&odir));
    assert_eq!(kfiles.len(), 10, "kmod 30 writes 10 files");
    // No 6.1 module declares a weak dependency (MODULE_WEAKDEP is 6.11+):
    // modules.weakdep is its header alone, as kmod 34 writes it.
    let (problems, tally) = compare_files(&ofiles, &kfiles, b"");
    assert!(problems.is_empty(), "{kind}: {}", problems.join("\n"));
    assert!(
        other_files(&odir, &[&OUTPUTS[..], &INPUTS[..], &["kernel"]].concat()).is_empty(),
        "left over in {}",
        odir.display()
    );

    // kmod's modprobe reading our indexes and reading kmod's.
    let config = tmp.path().join("empty-modprobe.d");
    std::fs::create_dir(&config).unwrap();
    let (kdump, odump) = (
        modprobe_dump(&kbase, &release, &config),
        modprobe_dump(&obase, &release, &config),
    );
    assert!(
        odump == kdump,
        "{kind}: modprobe -c differs at {}",
        first_difference(&odump, &kdump)
    );
    let dump_lines = text(&kdump)
        .lines()
        .filter(|l| l.starts_with("alias "))
        .count();

    let names = dep_names(&kfiles["modules.dep"]);
    let (builtins, builtin_aliases) = builtin_names_and_aliases(&inputs);
    let mut queries: Vec<(&str, String)> = Vec::new();
    queries.extend(names.iter().map(|n| ("-D", n.clone())));
    queries.extend(builtins.iter().map(|n| ("-D", n.clone())));
    for a in &builtin_aliases {
        queries.push(("-R", a.clone()));
        queries.push(("-D", a.clone()));
    }
    let results = parallel_map(&queries, process_threads(), |(mode, name)| {
        let kq = modprobe_query(&kbase, &release, &config, mode, name);
        let oq = modprobe_query(&obase, &release, &config, mode, name);
        (kq == oq, kq, oq)
    });
    let mismatches: Vec<String> = queries
        .iter()
        .zip(&results)
        .filter(|(_, r)| !r.0)
        .take(5)
        .map(|((mode, name), (_, kq, oq))| {
            format!(
                "modprobe {mode} {name}:\n--- kmod's indexes\n{}--- ours\n{}",
                text(kq),
                text(oq)
            )
        })
        .collect();
    let failed = results.iter().filter(|r| !r.0).count();
    assert!(
        failed == 0,
        "{kind}: {failed} of {} modprobe queries differ; first:\n{}",
        queries.len(),
        mismatches.join("\n")
    );
    // The queries did find something: every module loads from its file.
    let insmods = results
        .iter()
        .zip(&queries)
        .filter(|(r, q)| q.0 == "-D" && text(&r.1).contains("insmod "))
        .count();
    let builtin_lines = results
        .iter()
        .filter(|r| text(&r.1).lines().any(|l| l.starts_with("builtin ")))
        .count();
    assert!(
        insmods >= names.len(),
        "{kind}: only {insmods} -D outputs load a module"
    );
    assert!(
        builtin_lines >= builtins.len(),
        "{kind}: {builtin_lines} built-in answers"
    );

    let counts: BTreeMap<&str, usize> = [
        ("modules", names.len()),
        ("built-in modules", builtins.len()),
        ("built-in aliases", builtin_aliases.len()),
        ("modprobe -c index lines", dump_lines),
        ("modprobe queries", queries.len()),
    ]
    .into();
    eprintln!(
        "depmod {kind}: files identical {tally:?}; kmod's modprobe identical on ours: {counts:?}"
    );
}

#[test]
fn real_tree_uncompressed() {
    compare_real("uncompressed");
}

#[test]
fn real_tree_xz() {
    compare_real("xz");
}

#[test]
fn real_tree_zstd() {
    compare_real("zstd");
}

/// `-n -e -E Module.symvers` on the real tree: the text outputs on stdout
/// (kmod 34 adds the modules.weakdep section) and the
/// symbol warnings, with the kernel's own Module.symvers and with a copy
/// that misses some symbols and has some CRCs changed.
#[test]
fn real_tree_dry_run_with_symbol_checks() {
    let release = real_tree().release.clone();
    let (kernel, inputs) = source("uncompressed");
    let symvers = env_path("MODUTILS_TEST_SYMVERS", "the kernel's Module.symvers");
    let tmp = tempfile::tempdir().unwrap();
    let doctored = tmp.path().join("Module.symvers");
    let mut t = String::new();
    for (i, line) in std::fs::read_to_string(&symvers)
        .unwrap()
        .lines()
        .enumerate()
    {
        match i % 53 {
            0 => continue,
            1 => t.push_str(&line.replacen("0x", "0x7", 1)),
            _ => t.push_str(line),
        }
        t.push('\n');
    }
    std::fs::write(&doctored, t).unwrap();
    let base = tmp.path().join("t");
    let dir = farm(&base, &release, &kernel, &inputs);
    let b = base.to_str().unwrap();
    for file in [symvers.as_path(), doctored.as_path()] {
        let f = file.to_str().unwrap();
        let args = ["-n", "-e", "-E", f, "-b", b, &release];
        let (k, o) = (exec(&kmod_depmod(), &args), exec(&our_depmod(), &args));
        assert_eq!(
            (k.code, o.code),
            (Some(0), Some(0)),
            "{}\n{}",
            k.show(),
            o.show()
        );
        assert!(
            o.stderr == k.stderr,
            "-e -E {f}: stderr {}",
            first_difference(&o.stderr, &k.stderr)
        );
        let marker = b"# Aliases for symbols, used by symbol_request().\n";
        let at = k
            .stdout
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap();
        let want = [&k.stdout[..at], WEAKDEP_HEADER, &k.stdout[at..]].concat();
        assert!(
            o.stdout == want,
            "-n stdout {}",
            first_difference(&o.stdout, &want)
        );
        let warnings = text(&k.stderr).lines().count();
        eprintln!("depmod -n -e -E {f}: stdout and {warnings} warnings identical");
    }
    assert!(read_outputs(&dir).is_empty(), "-n wrote files");
}
