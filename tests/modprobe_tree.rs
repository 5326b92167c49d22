//! Module directories for the modprobe tests, made from text: the
//! `modules.dep`, `modules.alias`, `modules.symbols`, `modules.builtin`
//! and `modules.builtin.alias` files of a fixture become the `.bin`
//! indexes kmod and we read. Module files are text stand-ins saying what
//! they depend on (`depends=a,b`), which the fake kernel reads.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use modutils_core::index::IndexBuilder;
use modutils_core::name::{modname_from_path, underscores};

/// The repository's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Writes the indexes for the text files found in `src` into `moddir`
/// (created), copying any other file (`modules.softdep`, …) as is, and a
/// stand-in file for every module in modules.dep. Returns the module names
/// in modules.dep order.
pub fn build_moddir(src: &Path, moddir: &Path) -> Vec<String> {
    fs::create_dir_all(moddir).unwrap();
    let read = |name: &str| fs::read_to_string(src.join(name)).unwrap_or_default();
    let mut names = Vec::new();
    let mut dep = IndexBuilder::new();
    for line in read("modules.dep").lines().filter(|l| !l.is_empty()) {
        let (path, deps) = line.split_once(':').expect("modules.dep line");
        let name = modname_from_path(path);
        dep.insert(&name, line, names.len() as u32).unwrap();
        let depends: Vec<String> = deps.split_whitespace().map(modname_from_path).collect();
        // Absolute paths in modules.dep are legal; never write outside.
        if !path.starts_with('/') {
            let file = moddir.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, format!("depends={}\n", depends.join(","))).unwrap();
        }
        names.push(name);
    }
    write(moddir, "modules.dep.bin", &dep);
    let priority = |m: &str| names.iter().position(|n| n == m).unwrap_or(0) as u32;
    for (text, bin) in [
        ("modules.alias", "modules.alias.bin"),
        ("modules.symbols", "modules.symbols.bin"),
        ("modules.builtin.alias", "modules.builtin.alias.bin"),
    ] {
        let mut b = IndexBuilder::new();
        for line in read(text).lines().filter(|l| l.starts_with("alias ")) {
            let mut w = line.split_whitespace().skip(1);
            let (pattern, module) = (w.next().unwrap(), w.next().unwrap());
            // depmod stores patterns normalised, as lookups normalise.
            let pattern = underscores(pattern.as_bytes()).expect("alias pattern");
            b.insert(pattern, module, priority(module)).unwrap();
        }
        write(moddir, bin, &b);
    }
    let mut builtin = IndexBuilder::new();
    for line in read("modules.builtin").lines().filter(|l| !l.is_empty()) {
        builtin.insert(modname_from_path(line), "", 0).unwrap();
    }
    write(moddir, "modules.builtin.bin", &builtin);
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let generated = [
            "modules.dep",
            "modules.alias",
            "modules.symbols",
            "modules.builtin",
            "modules.builtin.alias",
        ];
        if entry.path().is_file() && !generated.contains(&name.as_str()) {
            fs::copy(entry.path(), moddir.join(&name)).unwrap();
        }
    }
    names
}

fn write(moddir: &Path, name: &str, b: &IndexBuilder) {
    fs::write(moddir.join(name), b.to_bytes().unwrap()).unwrap();
}

/// A concrete string matching the fnmatch pattern: `*` becomes `star`,
/// `?` a `0`, a bracket expression its first allowed character (the first
/// printable one outside the set when negated).
pub fn concrete(pattern: &str, star: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => out.push_str(star),
            '?' => out.push('0'),
            '\\' if i + 1 < p.len() => {
                i += 1;
                out.push(p[i]);
            }
            '[' => match bracket(&p[i + 1..]) {
                Some((c, len)) => {
                    out.push(c);
                    i += len;
                }
                None => out.push('['),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The character chosen for a bracket expression starting after `[`, and
/// how many characters the expression takes after the `[`.
fn bracket(p: &[char]) -> Option<(char, usize)> {
    let neg = matches!(p.first(), Some('!' | '^'));
    let start = usize::from(neg);
    let mut j = start;
    if p.get(j) == Some(&']') {
        j += 1;
    }
    while p.get(j).is_some_and(|&c| c != ']') {
        j += 1;
    }
    if j >= p.len() {
        return None;
    }
    let body = &p[start..j];
    let mut set = Vec::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            set.extend(body[k]..=body[k + 2]);
            k += 3;
        } else {
            set.push(body[k]);
            k += 1;
        }
    }
    let c = if neg {
        ('0'..='~').find(|c| !set.contains(c))?
    } else {
        *set.iter().min()?
    };
    Some((c, j + 1))
}

#[test]
fn concrete_strings_match_their_patterns() {
    assert_eq!(concrete("pci:v*d00001234sv*", "1"), "pci:v1d00001234sv1");
    assert_eq!(concrete("a?[0-9]x[!a]", ""), "a00x0");
    assert_eq!(concrete("of:N*T*Cfoo,bar[]]", ""), "of:NTCfoo,bar]");
}
