//! The signature fields of every module in a real tree, and of every crafted
//! trailer in `data/signature/cases.tsv`, against the installed kmod modinfo.
//!
//! Needs `MODUTILS_TEST_TREE` (a `lib/modules/<release>` directory, e.g. the
//! Debian 6.1 tree) and kmod's `modinfo` on PATH (or `MODUTILS_ORACLE_MODINFO`).
//! Without the tree the test fails: nothing is skipped silently.
//!
//! What kmod's modinfo shows for an unusual signature depends on the OpenSSL
//! it runs with. `cases.tsv` records the libssl3 its expectations came from;
//! the crafted-case test names the libssl3 it ran against and refuses an
//! older one (tests/setup.sh installs the archive's current libssl3).

use modutils_core::signature::{self, hex_field};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIELDS: [&str; 5] = ["sig_id", "signer", "sig_key", "sig_hashalgo", "signature"];
/// Files per modinfo run: well below the argument-size limit.
const BATCH: usize = 500;

fn tree() -> PathBuf {
    let dir = std::env::var_os("MODUTILS_TEST_TREE").unwrap_or_else(|| {
        panic!("MODUTILS_TEST_TREE is not set: point it at a lib/modules/<release> directory of a real kernel")
    });
    PathBuf::from(dir)
}

fn modinfo_program() -> String {
    std::env::var("MODUTILS_ORACLE_MODINFO").unwrap_or_else(|_| "modinfo".into())
}

fn collect_modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_modules(&path, out);
        } else if path.extension().is_some_and(|e| e == "ko") {
            out.push(path);
        }
    }
}

/// The five fields (absent when modinfo shows none) of each file, from one
/// kmod run per batch. With `-0`, records end in NUL and each module starts
/// with its padded `filename:` line.
fn kmod_fields(files: &[PathBuf]) -> Vec<HashMap<String, Vec<u8>>> {
    let mut all = Vec::with_capacity(files.len());
    for batch in files.chunks(BATCH) {
        let out = Command::new(modinfo_program())
            .arg("-0")
            .args(batch)
            .output()
            .expect("running kmod's modinfo");
        assert!(
            out.status.success(),
            "modinfo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut current: Option<HashMap<String, Vec<u8>>> = None;
        for record in out.stdout.split(|&b| b == 0) {
            if record.starts_with(b"filename:") {
                all.extend(current.take());
                current = Some(HashMap::new());
                continue;
            }
            let Some(eq) = record.iter().position(|&b| b == b'=') else {
                continue;
            };
            let key = String::from_utf8_lossy(&record[..eq]).into_owned();
            if let (Some(map), true) = (current.as_mut(), FIELDS.contains(&key.as_str())) {
                map.insert(key, record[eq + 1..].to_vec());
            }
        }
        all.extend(current.take());
    }
    assert_eq!(
        all.len(),
        files.len(),
        "modinfo printed a different number of modules"
    );
    all
}

/// The five fields as we would print them.
fn our_fields(bytes: &[u8]) -> HashMap<String, Vec<u8>> {
    let Some(sig) = signature::parse(bytes) else {
        return HashMap::new();
    };
    let values: [Vec<u8>; 5] = [
        sig.id_type_name().into(),
        sig.signer.to_vec(),
        hex_field(&sig.key_id).into(),
        sig.hash_algo.as_str().into(),
        hex_field(&sig.signature).into(),
    ];
    FIELDS.iter().map(|f| f.to_string()).zip(values).collect()
}

fn compare(files: &[PathBuf], read: impl Fn(&Path) -> Vec<u8>) -> (usize, usize, Vec<String>) {
    let theirs = kmod_fields(files);
    let mut signed = 0;
    let mut wrong = Vec::new();
    for (path, theirs) in files.iter().zip(&theirs) {
        let ours = our_fields(&read(path));
        signed += usize::from(!theirs.is_empty());
        if &ours != theirs {
            wrong.push(format!(
                "{}:\n  ours {ours:?}\n  kmod {theirs:?}",
                path.display()
            ));
        }
    }
    (files.len(), signed, wrong)
}

#[test]
fn real_tree_matches_kmod() {
    let mut files = Vec::new();
    collect_modules(&tree().join("kernel"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .ko files under {}", tree().display());
    let (total, signed, wrong) = compare(&files, |p| std::fs::read(p).unwrap());
    eprintln!(
        "{total} modules, {signed} signed per kmod, {} differ",
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {total} modules differ:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(5)].join("\n")
    );
    // parse() alone, for the record (the files are in the page cache now).
    let contents: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let start = std::time::Instant::now();
    let parsed = contents
        .iter()
        .filter(|c| signature::parse(c).is_some())
        .count();
    eprintln!("parse() of {parsed} signed modules: {:?}", start.elapsed());
}

/// The installed version of a Debian package.
fn package_version(name: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", name])
        .output()
        .expect("running dpkg-query");
    assert!(out.status.success(), "{name} is not installed");
    String::from_utf8(out.stdout).expect("a UTF-8 version")
}

/// The libssl3 whose behaviour cases.tsv records, from its header line.
fn recorded_libssl() -> &'static str {
    include_str!("data/signature/cases.tsv")
        .lines()
        .find_map(|l| l.strip_prefix("# oracle: ")?.split(" with libssl3 ").nth(1))
        .expect("cases.tsv names the libssl3 of its oracle")
}

/// Re-checks the committed expectations: each kmod-30-sourced trailer of
/// cases.tsv appended to a real module, run through kmod now.
#[test]
fn crafted_cases_match_kmod() {
    let signed =
        std::fs::read(tree().join("kernel/net/key/af_key.ko")).expect("af_key.ko in the tree");
    let sig_len = u32::from_be_bytes(
        signed[signed.len() - 32..signed.len() - 28]
            .try_into()
            .unwrap(),
    );
    let base = &signed[..signed.len() - 40 - sig_len as usize];
    let (installed, recorded) = (package_version("libssl3"), recorded_libssl());
    eprintln!("kmod's modinfo runs with libssl3 {installed}; cases.tsv follows {recorded}");
    let not_older = Command::new("dpkg")
        .args(["--compare-versions", &installed, "ge", recorded])
        .status()
        .expect("running dpkg --compare-versions");
    assert!(
        not_older.success(),
        "libssl3 {installed} is older than the {recorded} whose behaviour we follow: run tests/setup.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for line in include_str!("data/signature/cases.tsv").lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        // Other sources are rows where kmod 30 is not the oracle (34.2 rows).
        if line.starts_with('#') || cols[1] != "kmod30" {
            continue;
        }
        let trailer: Vec<u8> = (0..cols[2].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&cols[2][i..i + 2], 16).unwrap())
            .collect();
        let path = dir.path().join(format!("{}.ko", cols[0]));
        std::fs::write(&path, [base, &trailer].concat()).unwrap();
        files.push(path);
    }
    let (total, signed, wrong) = compare(&files, |p| std::fs::read(p).unwrap());
    eprintln!(
        "{total} crafted modules, {signed} signed per kmod, {} differ",
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {total} crafted modules differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
