//! The index reader and writer, and fnmatch, on a real kernel's module tree
//! against the real kmod.
//!
//! Needs `MODUTILS_TEST_TREE=<root>/lib/modules/<version>`: a module
//! directory whose indexes kmod's depmod wrote, e.g.
//! `MODUTILS_TEST_TREE=/tmp/t61/lib/modules/6.1.0-56-amd64 cargo test -p modutils-core`.
//! The oracle is kmod's `modprobe` (Debian's `kmod` package). Without the
//! variable these tests fail and say so: a silent skip would read as a pass.
//! `MODUTILS_TEST_ALIAS_SAMPLES` sets how many modaliases are resolved by
//! both sides (default 600; each costs one modprobe run).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use modutils_core::fnmatch::fnmatch;
use modutils_core::index::{Index, IndexBuilder, Layout};

const TREE_ENV: &str = "MODUTILS_TEST_TREE";

fn tree() -> PathBuf {
    let Some(dir) = std::env::var_os(TREE_ENV) else {
        panic!(
            "{TREE_ENV} is not set: point it at a module directory with \
             kmod-generated indexes, e.g. \
             {TREE_ENV}=/tmp/t61/lib/modules/6.1.0-56-amd64 cargo test -p modutils-core"
        );
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("modules.alias.bin").is_file(),
        "{TREE_ENV}={} has no modules.alias.bin",
        dir.display()
    );
    dir
}

fn open(name: &str) -> Index {
    let path = tree().join(name);
    Index::open(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs kmod's modprobe on the tree: `-d` wants the root above
/// lib/modules, `-S` the version; an empty `-C` keeps the host's
/// modprobe.d out of the comparison.
fn modprobe(args: &[&str]) -> std::process::Output {
    modprobe_on(&tree(), args)
}

fn modprobe_on(tree: &Path, args: &[&str]) -> std::process::Output {
    let version = tree.file_name().unwrap().to_str().unwrap().to_owned();
    let modules = tree.parent().unwrap();
    assert!(
        modules.ends_with("lib/modules"),
        "{TREE_ENV} must end in lib/modules/<version> for modprobe -d/-S"
    );
    let root = modules.parent().unwrap().parent().unwrap();
    let empty_conf = std::env::temp_dir().join("modutils-index-test-empty-conf");
    std::fs::create_dir_all(&empty_conf).unwrap();
    let output = Command::new(modutils_test_support::kmod::tool("modprobe"))
        .arg("-C")
        .arg(&empty_conf)
        .arg("-d")
        .arg(root)
        .args(["-S", &version])
        .args(args)
        .output()
        .expect("run modprobe");
    output
}

fn ours_dump() -> String {
    let mut dump = open("modules.alias.bin").dump("alias ").unwrap();
    dump.extend(open("modules.symbols.bin").dump("alias ").unwrap());
    String::from_utf8(dump).unwrap()
}

#[test]
fn dump_matches_modprobe_c() {
    let output = modprobe(&["-c"]);
    assert!(output.status.success(), "modprobe -c failed");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let marker = "\n# End of configuration files. Dumping indexes now:\n\n";
    let theirs = &stdout[stdout.find(marker).expect("dump marker") + marker.len()..];
    let ours = ours_dump();
    let (ours_lines, their_lines): (Vec<_>, Vec<_>) =
        (ours.lines().collect(), theirs.lines().collect());
    if let Some(i) = (0..ours_lines.len().max(their_lines.len()))
        .find(|&i| ours_lines.get(i) != their_lines.get(i))
    {
        panic!(
            "dump differs at line {i}: ours {:?}, kmod {:?}",
            ours_lines.get(i),
            their_lines.get(i)
        );
    }
    assert_eq!(ours, theirs);
    eprintln!("dump identical: {} lines", ours_lines.len());
}

/// A string the pattern matches: wildcards replaced, a bracket by one of
/// its members. None when the pattern has nothing we can stand in for.
fn concretize(pattern: &str, filler: &str) -> Option<String> {
    let bytes = pattern.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'*' => out.push_str(filler),
            b'?' => out.push('Q'),
            b'[' => {
                let end = i + 1 + pattern[i + 1..].find(']')?;
                let body = &pattern[i + 1..end];
                if body.starts_with('!') || body.starts_with('^') {
                    return None;
                }
                out.push(body.chars().find(|c| c.is_ascii_alphanumeric())?);
                i = end;
            }
            b'\\' => return None,
            c => out.push(c as char),
        }
        i += 1;
    }
    Some(out)
}

fn sample_count() -> usize {
    std::env::var("MODUTILS_TEST_ALIAS_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600)
}

#[test]
fn wildcard_lookup_matches_modprobe_resolve() {
    let aliases = open("modules.alias.bin");
    let deps = open("modules.dep.bin");
    let keys: Vec<String> = aliases
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    let wanted = sample_count();
    let stride = (keys.len() / wanted).max(1);
    let fillers = ["", "0", "1A2B", "x:y"];
    let mut queries = Vec::new();
    for (n, key) in keys.iter().step_by(stride).enumerate() {
        // Every tenth query is the pattern itself, which kmod may find twice.
        let query = if n % 10 == 9 {
            Some(key.clone())
        } else {
            concretize(key, fillers[n % fillers.len()])
        };
        queries.extend(query);
    }
    let mut compared = 0;
    let mut repeated = 0;
    for query in &queries {
        // kmod rewrites '-' to '_' and tries modules.dep.bin first for names
        // without ':'; keep to queries where only modules.alias.bin speaks.
        if query.contains('-') || query.contains(' ') || query.is_empty() {
            continue;
        }
        if !query.contains(':') && deps.lookup(query).unwrap().is_some() {
            continue;
        }
        let ours: Vec<String> = aliases
            .lookup_wild(query)
            .unwrap()
            .into_iter()
            .map(|v| String::from_utf8(v.value).unwrap())
            .collect();
        if ours.is_empty() {
            continue; // kmod would go on to the builtin indexes
        }
        let output = modprobe(&["-R", query]);
        let theirs: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(ours, theirs, "modules for {query:?}");
        compared += 1;
        let mut unique = ours.clone();
        unique.dedup();
        repeated += usize::from(unique.len() != ours.len());
    }
    assert!(
        compared >= queries.len() / 2,
        "only {compared} of {} compared",
        queries.len()
    );
    eprintln!("{compared} modaliases resolved identically ({repeated} with repeated modules)");
}

#[test]
fn symbol_lookup_matches_modprobe_resolve() {
    let symbols = open("modules.symbols.bin");
    let entries = symbols.entries().unwrap();
    let stride = (entries.len() / 100).max(1);
    let mut compared = 0;
    for entry in entries.iter().step_by(stride) {
        if entry.key.contains('-') {
            continue;
        }
        let ours: Vec<String> = symbols
            .lookup_wild(&entry.key)
            .unwrap()
            .into_iter()
            .map(|v| String::from_utf8(v.value).unwrap())
            .collect();
        let output = modprobe(&["-R", &entry.key]);
        let theirs: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(ours, theirs, "modules for {:?}", entry.key);
        compared += 1;
    }
    eprintln!("{compared} symbols resolved identically");
}

#[test]
fn dep_index_agrees_with_modules_dep() {
    let deps = open("modules.dep.bin");
    let text = std::fs::read_to_string(tree().join("modules.dep")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let path = line.split(':').next().unwrap();
        let file = path.rsplit('/').next().unwrap();
        let name = file.split('.').next().unwrap().replace('-', "_");
        assert_eq!(
            deps.lookup(&name).unwrap(),
            Some(line.as_bytes()),
            "module {name}"
        );
        checked += 1;
    }
    assert!(checked > 0);
    eprintln!("{checked} modules.dep lines found by exact lookup");
}

const INDEXES: [&str; 5] = [
    "modules.dep.bin",
    "modules.alias.bin",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
];

#[test]
fn rebuilt_indexes_are_identical() {
    for name in INDEXES {
        let original = std::fs::read(tree().join(name)).unwrap();
        let entries = open(name).entries().unwrap();
        // Equal-priority values come out newest first, so inserting the
        // dump backwards restores their stored order.
        let mut builder = IndexBuilder::new();
        for e in entries.iter().rev() {
            builder.insert(&e.key, &e.value, e.priority).unwrap();
        }
        // kmod 30 writes post-order: that layout must match to the byte.
        let post = builder.to_bytes_with(Layout::PostOrder).unwrap();
        assert!(post == original, "{name}: post-order rebuild differs");
        let pre = Index::from_bytes(builder.to_bytes().unwrap()).unwrap();
        assert_eq!(
            pre.entries().unwrap(),
            entries,
            "{name}: pre-order round trip"
        );
        eprintln!(
            "{name}: {} entries, {} bytes, identical",
            entries.len(),
            original.len()
        );
    }
}

/// kmod 34 writes pre-order, which the kmod at hand (30) never wrote: check
/// that it reads our pre-order files to the same dump and resolutions.
#[test]
fn kmod_reads_our_pre_order_files() {
    let original = tree();
    let version = original.file_name().unwrap();
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("lib/modules").join(version);
    std::fs::create_dir_all(&copy).unwrap();
    for name in INDEXES {
        let mut builder = IndexBuilder::new();
        for e in open(name).entries().unwrap().iter().rev() {
            builder.insert(&e.key, &e.value, e.priority).unwrap();
        }
        std::fs::write(copy.join(name), builder.to_bytes().unwrap()).unwrap();
    }
    let dump = |tree: &Path| {
        let out = modprobe_on(tree, &["-c"]);
        let text = String::from_utf8(out.stdout).unwrap();
        let marker = "# End of configuration files. Dumping indexes now:";
        text[text.find(marker).expect("dump marker")..].to_owned()
    };
    assert!(
        dump(&copy) == dump(&original),
        "modprobe -c differs on pre-order files"
    );
    for query in [
        "pci:v00008086d00001502sv00001028sd000005CDbc02sc00i00",
        "acpi*:PNP0C0A:*",
        "symbol:printk",
    ] {
        let theirs = modprobe_on(&copy, &["-R", query]).stdout;
        assert_eq!(theirs, modprobe(&["-R", query]).stdout, "{query}");
    }
}

fn glibc(pattern: &str, string: &str) -> bool {
    let p = CString::new(pattern).unwrap();
    let s = CString::new(string).unwrap();
    // SAFETY: valid NUL-terminated strings that outlive the call.
    unsafe { libc::fnmatch(p.as_ptr(), s.as_ptr(), 0) == 0 }
}

#[test]
fn fnmatch_matches_glibc_on_real_aliases() {
    let text = std::fs::read_to_string(tree().join("modules.alias")).unwrap();
    let mut patterns: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("alias "))
        .filter_map(|l| l.rsplit_once(' ').map(|(p, _)| p.to_owned()))
        .collect();
    // The normalized keys kmod actually matches against, too.
    patterns.extend(
        open("modules.alias.bin")
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.key),
    );
    patterns.dedup();
    let mut tried = 0;
    let mut failures = Vec::new();
    for (n, pattern) in patterns.iter().enumerate() {
        let mut strings = vec![pattern.clone()];
        for filler in ["", "x", "0A1", ":*?["] {
            strings.extend(concretize(pattern, filler));
        }
        // Near misses: one byte dropped, one appended.
        if let Some(first) = strings.get(1).cloned() {
            let mut shorter = first.clone();
            shorter.pop();
            strings.push(shorter);
            strings.push(first + "z");
        }
        // And the strings of a few other patterns.
        for k in [1, 7, 101] {
            let other = &patterns[(n + k) % patterns.len()];
            strings.extend(concretize(other, "9"));
        }
        for s in &strings {
            tried += 1;
            if fnmatch(pattern.as_bytes(), s.as_bytes()) != glibc(pattern, s) {
                failures.push(format!("{pattern:?} vs {s:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {tried} differ: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    eprintln!(
        "{} patterns, {tried} comparisons with glibc, all equal",
        patterns.len()
    );
}
