//! The ELF reader on damaged and unusual modules, against kmod: what
//! `modprobe --show-exports` and `--show-modversions` print (the exports and
//! `__versions` every tool reads), and what kmod's depmod makes of the same
//! files with `-e -E` (its unknown-symbol warnings show the imports).

use std::process::Command;

use crate::depmod_common::scenario::{assert_same, Scenario};
use modutils_core::depmod::read_module;
use modutils_core::elf::Elf;
use modutils_core::module_file::ModuleFile;
use modutils_test_support::fake_module::FakeModule;

fn base() -> FakeModule {
    FakeModule::bare()
        .info("license=GPL")
        .info("alias=foo")
        .export_crc("exp_a", 0x1111)
        .export_crc("exp_b", 0x2222)
        .export("exp_a")
        .export("exp_b")
        .export("kexp")
        .import("printk")
        .weak_import("maybe")
        .version("module_layout", 0xabc)
        .version("printk", 0x123)
}

/// Modules kmod reads without complaint, each damaged in one way.
fn variants() -> Vec<(&'static str, FakeModule)> {
    vec![
        ("plain", base()),
        // EI_VERSION is not checked.
        ("ei_version_0", base().ident_version(0)),
        ("ei_version_9", base().ident_version(9)),
        // The symbol table is found by name, not by type.
        ("symtab_renamed", base().symtab_name(".symtaX")),
        // A name past .strtab: the __crc_ exports give way to
        // __ksymtab_strings; an undefined one also loses the imports.
        ("bad_defined_name", base().symbol_name_at(1, 0xf_ffff)),
        ("bad_undefined_name", base().symbol_name_at(0, 0xf_ffff)),
    ]
}

/// 8-bit symbol names, kept as bytes.
fn eight_bit() -> FakeModule {
    FakeModule::bare()
        .export_crc(b"caf\xe9", 1)
        .import(b"na\xefve")
        .version(b"na\xefve", 0x77)
}

/// [`base`] with ELF header fields (ELF64, little-endian) overwritten.
fn patched(fields: &[(usize, &[u8])]) -> Vec<u8> {
    let mut bytes = base().build();
    for (at, value) in fields {
        bytes[*at..*at + value.len()].copy_from_slice(value);
    }
    bytes
}

/// Section header fields kmod takes as they stand: no section table at 0,
/// no extended numbering, the name table a real section. Only the first
/// of these gets past kmod 30's assertions (the others abort it); without
/// them, kmod's checks make each EINVAL.
fn bad_headers() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("shoff_0", patched(&[(0x28, &[0; 8])])),
        (
            "shoff_0_shnum_0",
            patched(&[(0x28, &[0; 8]), (0x3c, &[0; 4])]),
        ),
        ("shnum_0", patched(&[(0x3c, &[0; 2])])),
        ("shstrndx_0", patched(&[(0x3e, &[0; 2])])),
        ("shstrndx_xindex", patched(&[(0x3e, &[0xff; 2])])),
    ]
}

fn kmod_show(option: &str, path: &std::path::Path) -> std::process::Output {
    Command::new("modprobe")
        .env_remove("LD_LIBRARY_PATH")
        .arg(option)
        .arg(path)
        .output()
        .expect("kmod's modprobe (Debian package kmod) is needed as the oracle")
}

fn lines<'a>(entries: impl IntoIterator<Item = (u64, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (crc, name) in entries {
        out.extend_from_slice(format!("0x{crc:08x}\t").as_bytes());
        out.extend_from_slice(name);
        out.push(b'\n');
    }
    out
}

#[test]
fn exports_and_modversions_as_kmod_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = variants();
    all.push(("eight_bit", eight_bit()));
    for (name, module) in all {
        let path = dir.path().join(format!("{name}.ko"));
        let bytes = module.build();
        std::fs::write(&path, &bytes).unwrap();
        let elf = Elf::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let exports = elf.exports().unwrap();
        let ours = lines(exports.iter().map(|e| (e.crc, e.name)));
        let theirs = kmod_show("--show-exports", &path);
        assert!(theirs.status.success(), "{name}: kmod failed");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs.stdout),
            "{name}: exports"
        );
        assert_eq!(ours, theirs.stdout, "{name}: exports, bytes");
        let versions = elf.modversions().unwrap();
        let ours = lines(versions.iter().map(|v| (v.crc, v.name)));
        let theirs = kmod_show("--show-modversions", &path);
        assert_eq!(ours, theirs.stdout, "{name}: modversions");
    }
}

#[test]
fn unusable_section_headers_are_einval() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in bad_headers() {
        let path = dir.path().join(format!("{name}.ko"));
        std::fs::write(&path, &bytes).unwrap();
        let errno = ModuleFile::open(&path)
            .unwrap()
            .elf()
            .map(|_| ())
            .map_err(|e| e.errno());
        assert_eq!(errno, Err(libc::EINVAL), "{name}");
        assert_eq!(read_module(&path), Err(libc::EINVAL), "{name}");
        if name == "shoff_0" {
            let theirs = kmod_show("--show-exports", &path);
            let stderr = String::from_utf8_lossy(&theirs.stderr);
            assert!(stderr.ends_with("Invalid argument\n"), "{name}: {stderr}");
        }
    }
}

#[test]
fn what_each_damage_does() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str, m: FakeModule| {
        let path = dir.path().join(format!("{name}.ko"));
        m.write(&path);
        read_module(&path).unwrap()
    };
    let names = |v: &[(Vec<u8>, u64)]| -> Vec<(Vec<u8>, u64)> { v.to_vec() };
    let plain = read("plain", base());
    assert_eq!(
        names(&plain.exports),
        [(b"exp_a".to_vec(), 0x1111), (b"exp_b".to_vec(), 0x2222)]
    );
    let imports: Vec<(&[u8], u64, bool)> = plain
        .imports
        .iter()
        .map(|(n, c, w)| (n.as_slice(), *c, *w))
        .collect();
    assert_eq!(
        imports,
        [
            (&b"printk"[..], 0x123, false),
            (b"maybe", 0, true),
            (b"module_layout", 0xabc, false)
        ]
    );
    assert_eq!(plain.aliases, [b"foo".to_vec()]);

    let strings = [
        (b"exp_a".to_vec(), 0),
        (b"exp_b".to_vec(), 0),
        (b"kexp".to_vec(), 0),
    ];
    for (name, m) in variants() {
        let got = read(name, m);
        match name {
            "symtab_renamed" | "bad_undefined_name" => {
                assert_eq!(got.exports, strings, "{name}");
                assert!(got.imports.is_empty(), "{name}");
            }
            "bad_defined_name" => {
                assert_eq!(got.exports, strings, "{name}");
                assert_eq!(got.imports, plain.imports, "{name}");
            }
            _ => assert_eq!(got, plain, "{name}"),
        }
    }

    let got = read("eight_bit", eight_bit());
    assert_eq!(got.exports, [(b"caf\xe9".to_vec(), 1)]);
    assert_eq!(got.imports, [(b"na\xefve".to_vec(), 0x77, false)]);
}

/// The same damaged modules in one tree, through kmod's depmod and ours
/// with `-e -E` and an empty Module.symvers: every import a module reads
/// is reported as unknown, so the warnings show what each side read.
#[test]
fn depmod_reads_damaged_modules_as_kmod_does() {
    let s = Scenario::new();
    for (name, m) in variants() {
        s.module(&format!("kernel/{name}.ko"), m);
    }
    let (name, bytes) = bad_headers().swap_remove(0);
    std::fs::write(s.dir().join(format!("kernel/{name}.ko")), bytes).unwrap();
    s.file("Module.symvers", "");
    let symvers = format!("{}/Module.symvers", s.base_str());
    let k = s.kmod(&["-e", "-E", &symvers], &[]);
    let o = s.ours(None, |o| {
        o.errsyms = true;
        o.symvers = Some(symvers.clone().into());
    });
    assert!(
        k.out.stderr.windows(7).any(|w| w == b"unknown"),
        "the imports show in kmod's warnings"
    );
    assert!(
        k.out.stderr.windows(16).any(|w| w == b"Invalid argument"),
        "kmod reports the unusable headers"
    );
    assert_same(&o, &k, b"");
}

/// SPARC's register declarations are undefined symbols that nothing
/// provides: kmod's depmod skips them on SPARC only (and so does the
/// kernel's loader there). The same symbol on x86-64 is a need.
#[test]
fn sparc_register_declarations_are_not_needs() {
    const GLOBAL_REGISTER: u8 = 0x1d;
    let s = Scenario::new();
    for (name, machine) in [("sparc", 2), ("sparcv9", 43), ("x86", 62)] {
        let m = FakeModule::bare()
            .info("license=GPL")
            .machine(machine)
            .import("printk")
            .typed_import("reg_g2", GLOBAL_REGISTER);
        s.module(&format!("kernel/{name}.ko"), m);
    }
    s.file("Module.symvers", "");
    let symvers = format!("{}/Module.symvers", s.base_str());
    let k = s.kmod(&["-e", "-E", &symvers], &[]);
    let o = s.ours(None, |o| {
        o.errsyms = true;
        o.symvers = Some(symvers.clone().into());
    });
    let warnings = String::from_utf8_lossy(&k.out.stderr);
    assert_eq!(
        warnings.matches("needs unknown symbol reg_g2").count(),
        1,
        "kmod: {warnings}"
    );
    assert_same(&o, &k, b"");
}
