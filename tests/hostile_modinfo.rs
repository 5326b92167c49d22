//! Differential: our modinfo against kmod's on real modules mutated at
//! random (deterministically: the seed is fixed) — bytes flipped in the ELF
//! header, the section headers, `.modinfo` and the signature; words set to
//! extreme values; files cut short. Exit code, stdout and stderr must be
//! identical, except for the documented differences that `known_delta`
//! names (docs/reliability.md lists them). `MODUTILS_MUTATIONS=N` runs N
//! mutations per module instead of the default; `MODUTILS_KEEP_DELTAS=1`
//! keeps the inputs of the documented differences too, for inspection.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{both, normalize_libkmod_30, real_tree, text};
use modutils_test_support::rng::Rng;

fn le(b: &[u8], at: usize, n: usize) -> usize {
    b.get(at..at + n)
        .map(|w| {
            w.iter()
                .rev()
                .fold(0usize, |v, &x| (v << 8) | usize::from(x))
        })
        .unwrap_or(0)
}

/// (offset, size) of the section called `name`, from a 64-bit LE image.
fn section(b: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let (shoff, shnum, strndx) = (le(b, 0x28, 8), le(b, 0x3c, 2), le(b, 0x3e, 2));
    let sh = |i: usize, f: usize, n: usize| le(b, shoff + i * 64 + f, n);
    let names = sh(strndx, 0x18, 8);
    (0..shnum).find_map(|i| {
        let at = names + sh(i, 0, 4);
        let end = b.get(at..)?.iter().position(|&c| c == 0)?;
        (&b[at..at + end] == name).then(|| (sh(i, 0x18, 8), sh(i, 0x20, 8)))
    })
}

/// One mutation of `m`, and what it did.
fn mutate(m: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut b = m.to_vec();
    let shoff = le(&b, 0x28, 8);
    let kind = rng.below(7);
    let what = match kind {
        0 => {
            let at = rng.below(64);
            b[at] = rng.next_u64() as u8;
            format!("ELF header byte {at}")
        }
        1 if shoff < b.len() => {
            let at = shoff + rng.below(b.len() - shoff);
            b[at] = rng.next_u64() as u8;
            format!("section header byte {at}")
        }
        2 => {
            let (off, size) = section(&b, b".modinfo").unwrap_or((0, 64));
            let at = (off + rng.below(size)).min(b.len() - 1);
            b[at] = *[0u8, b'=', b'\n', 0xff, rng.next_u64() as u8]
                .get(rng.below(5))
                .unwrap_or(&0);
            format!(".modinfo byte {at}")
        }
        3 => {
            let at = b.len() - 1 - rng.below(1024.min(b.len() - 1));
            b[at] = rng.next_u64() as u8;
            format!("trailer byte {at}")
        }
        4 if shoff < b.len() => {
            let at = shoff + rng.below((b.len() - shoff) / 8) * 8;
            let v: u64 = *[0, u64::MAX, 1 << 40, b.len() as u64, 0x7fff_ffff]
                .get(rng.below(5))
                .unwrap_or(&0);
            let end = (at + 8).min(b.len());
            b[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            format!("section header word {at} = {v:#x}")
        }
        5 => {
            let cut = rng.below(b.len());
            b.truncate(cut);
            format!("cut at {cut}")
        }
        _ => {
            // Signature length word and header bytes.
            let n = b.len();
            if n > 40 {
                let at = n - 28 - 12 + rng.below(12);
                b[at] = rng.next_u64() as u8;
            }
            "signature header".to_string()
        }
    };
    (b, what)
}

/// kmod 30's output as 34.2 would print it (docs/compat.md, "kmod 30 and 34.2"):
/// a key longer than 15 bytes is followed by |15 - len| spaces in 30 and by
/// none in 34; a missing section is ENOENT in 30 and ENODATA in 34.
fn as_34(kmod_out: &str, our_out: &str) -> String {
    let mut out = String::new();
    let mut ours = our_out.lines();
    for line in kmod_out.lines() {
        let mine = ours.next().unwrap_or("");
        let mut fixed = line.to_string();
        if line != mine && line.len() > mine.len() {
            let extra = line.len() - mine.len();
            for (p, _) in mine.match_indices(':') {
                // Any colon: the key may hold colons, spaces or newlines of
                // its own, so the line alone cannot tell where it ended. Short
                // keys' padding is pinned by the parity tests over every real
                // module (tests/modinfo.rs), where keys are all short.
                {
                    let padded = format!("{}{}{}", &mine[..=p], " ".repeat(extra), &mine[p + 1..]);
                    if padded == line {
                        fixed = mine.to_string();
                        break;
                    }
                }
            }
        }
        out.push_str(&fixed);
        out.push('\n');
    }
    if !kmod_out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The differences kmod and we have on purpose, by what they look like.
fn known_delta(kmod_out: &str, our_out: &str) -> Option<&'static str> {
    let is_sig = |l: &&str| {
        [
            "sig_id:",
            "signer:",
            "sig_key:",
            "sig_hashalgo:",
            "signature:",
            "\t\t",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    };
    let rest = |s: &str| {
        s.lines()
            .filter(|l| !is_sig(l))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    if rest(kmod_out) != rest(our_out) {
        return None;
    }
    let hash = our_out
        .lines()
        .find_map(|l| l.strip_prefix("sig_hashalgo:"))
        .map(str::trim);
    // kmod 30 knows a fixed list of digests and shows no signature for any
    // other; 34.2 prints what OpenSSL calls the OID, dotted when it has no
    // name, and so do we. A mutated digest OID
    // makes the difference.
    const KMOD30_HASHES: [&str; 9] = [
        "md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3",
    ];
    if !kmod_out.lines().any(|l| l.starts_with("sig_id:"))
        && hash.is_some_and(|h| !KMOD30_HASHES.contains(&h))
    {
        return Some(
            "kmod 30 hides a signature whose digest is outside its list (34.2 names the OID)",
        );
    }
    None
}

#[test]
fn modinfo_agrees_with_kmod_on_mutated_modules() {
    let tree = real_tree();
    let per_module: usize = std::env::var("MODUTILS_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir().unwrap();
    let modules: Vec<&PathBuf> = tree
        .modules()
        .iter()
        .filter(|p| {
            fs::metadata(p)
                .map(|m| m.len() < 64 * 1024)
                .unwrap_or(false)
        })
        .step_by(97)
        .take(24)
        .collect();
    assert!(modules.len() >= 20);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut runs, mut identical) = (0, 0);
    let mut deltas: Vec<(&str, usize)> = Vec::new();
    let mut failures = Vec::new();
    for path in modules {
        let original = fs::read(path).unwrap();
        let name = path.file_name().unwrap();
        for _ in 0..per_module {
            let (bytes, what) = mutate(&original, &mut rng);
            let file = dir.path().join(name);
            fs::write(&file, &bytes).unwrap();
            let args: [OsString; 1] = [file.clone().into_os_string()];
            let (k, o) = both("modinfo", &args);
            runs += 1;
            let oo = text(&o.stdout);
            let ko = as_34(&text(&k.stdout), &oo);
            let ke = normalize_libkmod_30(&text(&k.stderr))
                .replace("': No such file or directory\n", "': No data available\n");
            let oe = text(&o.stderr);
            assert!(
                o.status.code().is_some(),
                "{what} of {name:?}: ours was killed"
            );
            if k.status.code() == o.status.code() && ko == oo && ke == oe {
                identical += 1;
                continue;
            }
            if k.status.code().is_none() && o.status.code() == Some(1) {
                // kmod asserts on a section name table index past the
                // section count, and aborts; we report the file as invalid.
                let reason = "kmod aborts (assertion in its ELF reader), ours reports an error";
                match deltas.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => deltas.push((reason, 1)),
                }
                continue;
            }
            if k.status.code() == o.status.code() && ke == oe {
                if let Some(reason) = known_delta(&ko, &oo) {
                    if std::env::var_os("MODUTILS_KEEP_DELTAS").is_some() {
                        let kept = keep(&file, &bytes, 1000 + runs);
                        eprintln!("{reason}: {what} of {name:?}, kept as {}", kept.display());
                    }
                    match deltas.iter_mut().find(|(r, _)| *r == reason) {
                        Some((_, n)) => *n += 1,
                        None => deltas.push((reason, 1)),
                    }
                    continue;
                }
            }
            let kept = keep(&file, &bytes, failures.len());
            failures.push(format!(
                "{what} of {name:?} (kept as {}): exit {:?}/{:?}\n kmod: {:?} {:?}\n ours: {:?} {:?}",
                kept.display(),
                k.status.code(),
                o.status.code(),
                ke.chars().take(300).collect::<String>(),
                first_difference(&ko, &oo).0,
                oe.chars().take(300).collect::<String>(),
                first_difference(&ko, &oo).1,
            ));
        }
    }
    eprintln!("modinfo on {runs} mutated modules: {identical} identical, documented deltas {deltas:?}, {} unexplained", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {runs} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn first_difference(a: &str, b: &str) -> (Option<String>, Option<String>) {
    let i = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()));
    (
        a.lines().nth(i).map(str::to_string),
        b.lines().nth(i).map(str::to_string),
    )
}

/// Keeps a failing input for inspection, outside the temporary directory.
fn keep(file: &Path, bytes: &[u8], n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join("modutils-modinfo-mutations");
    fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!(
        "{n}-{}",
        file.file_name().unwrap().to_string_lossy()
    ));
    fs::write(&out, bytes).unwrap();
    out
}
