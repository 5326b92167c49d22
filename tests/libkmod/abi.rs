//! The ABI against real programs: every binary and library of Debian 12
//! that imports from libkmod.so.2 (fetched by `fetch-programs.sh`, not
//! installed) finds each symbol it imports, with the version it asks for,
//! among ours; and ours exports exactly kmod 34.2's 75 functions with
//! their version nodes, under the SONAME libkmod.so.2.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{our_library_dir, source_dir};
use crate::util::text;

/// The unpacked packages (`tests/libkmod/fetch-programs.sh`, run by
/// tests/setup.sh, which exports `MODUTILS_PROGRAMS`).
pub fn programs_dir() -> PathBuf {
    let dir = std::env::var_os("MODUTILS_PROGRAMS").unwrap_or_else(|| {
        panic!("MODUTILS_PROGRAMS is not set: run tests/setup.sh (it fetches Debian's programs that use libkmod)")
    });
    PathBuf::from(dir)
}

fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .expect("readelf (binutils) is missing");
    text(&out.stdout)
}

/// `name@VERSION` of every symbol a file imports from libkmod.
fn kmod_imports(file: &Path) -> BTreeSet<String> {
    readelf(&["--dyn-syms", "-W"], file)
        .lines()
        .filter(|l| l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|s| s.starts_with("kmod_") && s.contains("@LIBKMOD_"))
        .map(str::to_string)
        .collect()
}

/// `name@VERSION` of every function a library defines (default version or
/// not), and its other defined global symbols.
fn exports(lib: &Path) -> (BTreeSet<String>, Vec<String>) {
    let mut funcs = BTreeSet::new();
    let mut other = Vec::new();
    for l in readelf(&["--dyn-syms", "-W"], lib).lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let numbered = f
            .first()
            .and_then(|n| n.strip_suffix(':'))
            .is_some_and(|n| n.parse::<u32>().is_ok());
        if f.len() < 8 || !numbered || f[6] == "UND" || f[4] == "LOCAL" {
            continue;
        }
        let sym = f[7].replace("@@", "@");
        if f[3] == "FUNC" {
            funcs.insert(sym);
        } else if !(f[3] == "OBJECT" && f[6] == "ABS") {
            // Version node definitions are absolute objects; anything else
            // global leaks from the implementation.
            other.push(sym);
        }
    }
    (funcs, other)
}

fn is_elf(p: &Path) -> bool {
    let mut magic = [0u8; 4];
    use std::io::Read;
    fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

fn elf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            elf_files(&p, out);
        } else if ty.is_file() && is_elf(&p) {
            out.push(p);
        }
    }
}

/// The 75 functions with their nodes (tests/libkmod/symbols.txt).
fn expected_exports() -> BTreeSet<String> {
    fs::read_to_string(source_dir().join("symbols.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join("@"))
        .collect()
}

fn our_lib() -> PathBuf {
    fs::canonicalize(our_library_dir().join("libkmod.so.2")).unwrap()
}

#[test]
fn ours_exports_kmods_75_functions_and_nothing_else() {
    let lib = our_lib();
    let (funcs, other) = exports(&lib);
    let mut expected = expected_exports();
    assert_eq!(expected.len(), 75);
    // The one deliberate extra (docs/libkmod.md): Debian 12's kmod 30
    // exports this function at LIBKMOD_5, and programs built against it
    // import it there.
    assert!(expected.insert("kmod_module_new_from_name_lookup@LIBKMOD_5".to_string()));
    let missing: Vec<_> = expected.difference(&funcs).collect();
    let extra: Vec<_> = funcs.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert!(other.is_empty(), "other global symbols: {other:?}");
    let dynamic = readelf(&["-d", "-W"], &lib);
    assert!(
        dynamic.contains("(SONAME)") && dynamic.contains("[libkmod.so.2]"),
        "{dynamic}"
    );
    // kmod's version nodes, defined in its order. The map makes each node
    // inherit the previous one, but rustc's default linker (LLD) records
    // no parents in the version definitions; the dynamic loader never
    // reads them, so binding is unaffected (docs/libkmod.md).
    let versions = readelf(&["-V", "-W"], &lib);
    let defined: Vec<&str> = versions
        .lines()
        .take_while(|l| !l.starts_with("Version needs"))
        .filter_map(|l| l.split("Name: ").nth(1))
        .map(str::trim)
        .collect();
    assert_eq!(
        defined,
        [
            "libkmod.so.2",
            "LIBKMOD_5",
            "LIBKMOD_6",
            "LIBKMOD_22",
            "LIBKMOD_30",
            "LIBKMOD_33"
        ],
        "{versions}"
    );
}

#[test]
fn every_debian_program_using_libkmod_resolves_against_ours() {
    let (ours, _) = exports(&our_lib());
    let mut files = Vec::new();
    elf_files(&programs_dir(), &mut files);
    let mut users = Vec::new();
    let mut failures = Vec::new();
    let mut imported = BTreeSet::new();
    for f in &files {
        let imports = kmod_imports(f);
        if imports.is_empty() {
            continue;
        }
        let name = f
            .strip_prefix(programs_dir())
            .unwrap()
            .display()
            .to_string();
        for sym in &imports {
            if !ours.contains(sym) {
                failures.push(format!("{name}: {sym}"));
            }
        }
        imported.extend(imports);
        users.push(name);
    }
    eprintln!(
        "{} files import {} distinct libkmod symbols:\n  {}",
        users.len(),
        imported.len(),
        users.join("\n  ")
    );
    // bookworm's systemd-udevd is a link to udevadm, the one binary.
    let udevd = programs_dir().join("udev/lib/systemd/systemd-udevd");
    assert_eq!(
        fs::read_link(&udevd).ok(),
        Some(PathBuf::from("/bin/udevadm")),
        "{}",
        udevd.display()
    );
    for required in [
        "udevadm",
        "libsystemd-shared-252.so",
        "lspci",
        "dracut-install",
    ] {
        assert!(
            users.iter().any(|u| u.ends_with(&format!("/{required}"))),
            "{required} not found among the importers: {users:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "unresolved against ours:\n{}",
        failures.join("\n")
    );
}

/// kmod 30, the libkmod Debian 12 builds programs against, defines
/// `kmod_module_new_from_name_lookup` at LIBKMOD_5 (34.2: LIBKMOD_30). A
/// program compiled on Debian 12 that calls it asks for
/// `@LIBKMOD_5`, and must still start and find the module with ours.
#[test]
fn a_program_built_against_kmod_30_finds_name_lookup_in_ours() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("name_lookup.c");
    fs::write(
        &src,
        r#"#include <stdio.h>
#include <libkmod.h>
int main(int argc, char **argv)
{
    const char *none[] = { NULL };
    struct kmod_ctx *ctx = kmod_new(argv[1], none);
    struct kmod_module *mod = NULL;
    int rc = kmod_module_new_from_name_lookup(ctx, argc > 2 ? argv[2] : "bttv", &mod);
    printf("%d %s\n", rc, mod ? kmod_module_get_name(mod) : "(null)");
    kmod_module_unref(mod);
    kmod_unref(ctx);
    return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.path().join("name_lookup");
    // kmod's header and library: what a Debian 12 build uses.
    let status = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-lkmod")
        .status()
        .unwrap();
    assert!(status.success(), "cc against libkmod-dev failed");
    let wanted = kmod_imports(&exe);
    assert!(
        wanted.contains("kmod_module_new_from_name_lookup@LIBKMOD_5"),
        "{wanted:?}"
    );
    let tree = crate::util::real_tree().moddir();
    let out = Command::new(&exe)
        .arg(&tree)
        .env("LD_LIBRARY_PATH", our_library_dir())
        .output()
        .unwrap();
    assert_eq!(
        (text(&out.stdout), text(&out.stderr), out.status.code()),
        ("0 bttv\n".to_string(), String::new(), Some(0))
    );
}
