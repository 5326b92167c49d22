//! Hostile module files against the library: every reader gives a clean
//! error naming the file (or a harmless result) in bounded time, never a
//! panic. Real modules cut at every section boundary are in
//! `module_robustness.rs`; the tools' exit codes and messages for the same
//! files, and the decompression bomb's memory, are in the front-end's
//! `tests/hostile.rs`.

use std::time::Duration;

use crate::common::cpu::CpuTimer;

use modutils_core::elf::{self, Elf};
use modutils_core::module_file::{self, ModuleFile};
use modutils_core::{modinfo, signature};
use modutils_test_support::fake_module::FakeModule;

/// A module with every section the readers look at.
fn sample() -> Vec<u8> {
    FakeModule::new("hostile")
        .needs("_printk", 0x1234)
        .weak_import("maybe")
        .export_crc("hostile_fn", 0xabcd)
        .build()
}

fn shoff(m: &[u8]) -> usize {
    u64::from_le_bytes(m[0x28..0x30].try_into().unwrap()) as usize
}

fn shnum(m: &[u8]) -> usize {
    usize::from(u16::from_le_bytes([m[0x3c], m[0x3d]]))
}

/// Sets a 64-bit field of section header `i`: 0x18 offset, 0x20 size.
fn set_sh(m: &mut [u8], i: usize, field: usize, value: u64) {
    let at = shoff(m) + i * 64 + field;
    m[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Runs every query; returns how long it took.
fn exercise(bytes: &[u8]) -> Duration {
    let start = CpuTimer::start();
    let _ = signature::try_parse(bytes);
    if let Ok(file) = ModuleFile::from_bytes("/lib/modules/x/hostile.ko", bytes.to_vec()) {
        let _ = modinfo::module_fields(&file);
        if let Ok(e) = file.elf() {
            let _ = e.modinfo();
            let _ = e.modversions();
            let _ = e.exports();
            let _ = e.imports();
            let _ = e.this_module_name();
            if let Some(at) = e.versions_alloc_flag_byte() {
                assert!(at < bytes.len());
            }
            if let Some(r) = e.vermagic_range() {
                assert!(r.end <= bytes.len());
            }
        }
    }
    start.elapsed()
}

#[test]
fn empty_and_five_byte_files_are_too_short() {
    let dir = tempfile::tempdir().unwrap();
    for len in [0usize, 5] {
        let path = dir.path().join(format!("m{len}.ko"));
        std::fs::write(&path, vec![0x7f; len]).unwrap();
        let err = ModuleFile::open(&path).unwrap_err();
        assert!(matches!(err, module_file::Error::TooShort { .. }), "{err}");
        assert_eq!(err.errno(), libc::EINVAL);
        assert!(
            err.to_string().starts_with(&path.display().to_string()),
            "{err}"
        );
        let err = ModuleFile::from_bytes(&path, vec![0; len]).unwrap_err();
        assert_eq!(err.path(), path);
    }
    // Six bytes is enough to look at, not to be ELF.
    let file = ModuleFile::from_bytes("six.ko", b"\x7fELF\x02\x01".to_vec()).unwrap();
    assert_eq!(file.elf().unwrap_err().errno(), libc::ENOEXEC);
}

#[test]
fn a_directory_or_a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = ModuleFile::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    assert!(
        err.errno() == libc::EISDIR || err.errno() == libc::EINVAL,
        "{err}"
    );
    let missing = dir.path().join("nope.ko");
    let err = ModuleFile::open(&missing).unwrap_err();
    assert_eq!(err.errno(), libc::ENOENT);
    assert_eq!(err.path(), missing);
}

#[test]
fn truncated_at_every_section_boundary() {
    let m = sample();
    let mut cuts = vec![0, 5, 6, 16, 17, 63, 64];
    let table = shoff(&m);
    for i in 0..shnum(&m) {
        let h = table + i * 64;
        let off = u64::from_le_bytes(m[h + 0x18..h + 0x20].try_into().unwrap()) as usize;
        let size = u64::from_le_bytes(m[h + 0x20..h + 0x28].try_into().unwrap()) as usize;
        cuts.extend([
            off,
            off + 1,
            off + size.saturating_sub(1),
            off + size,
            h,
            h + 32,
        ]);
    }
    cuts.retain(|&c| c <= m.len());
    for cut in cuts {
        assert!(exercise(&m[..cut]) < Duration::from_secs(1));
        // Cut short, the section table is gone: no ELF, a clean error.
        if cut < m.len() && cut >= 6 {
            let file = ModuleFile::from_bytes("cut.ko", m[..cut].to_vec()).unwrap();
            assert!(file.elf().is_err(), "cut at {cut} parsed");
        }
    }
}

#[test]
fn section_offsets_past_the_end_are_passed_over() {
    let base = sample();
    for (i, field, value) in [
        (1, 0x18, 1u64 << 40),        // .modinfo far away
        (1, 0x20, u64::MAX),          // .modinfo of absurd size
        (2, 0x18, base.len() as u64), // __versions starting at the end
        (2, 0x20, 65),                // __versions overrunning by one record
        (4, 0x18, u64::MAX - 8),      // .symtab whose end overflows
        (5, 0x20, u64::MAX),          // .strtab of absurd size
    ] {
        let mut m = base.clone();
        set_sh(&mut m, i, field, value);
        assert!(exercise(&m) < Duration::from_secs(1));
        let e = Elf::parse(&m).unwrap();
        if i == 1 {
            // kmod and the kernel look for another section of that name.
            assert_eq!(e.modinfo().unwrap_err(), elf::Error::NoSection(".modinfo"));
        }
    }
}

#[test]
fn huge_section_counts_are_refused_quickly() {
    let base = sample();
    // 65,535 headers claimed, a handful present.
    let mut m = base.clone();
    m[0x3c..0x3e].copy_from_slice(&0xffffu16.to_le_bytes());
    let start = CpuTimer::start();
    assert!(Elf::parse(&m).is_err());
    // Extended numbering: e_shnum 0, the count in section 0's sh_size.
    let mut m = base.clone();
    m[0x3c..0x3e].copy_from_slice(&0u16.to_le_bytes());
    set_sh(&mut m, 0, 0x20, u64::from(u32::MAX));
    assert!(Elf::parse(&m).is_err());
    // The section name table index out of range.
    let mut m = base.clone();
    m[0x3e..0x40].copy_from_slice(&0xfffeu16.to_le_bytes());
    assert!(Elf::parse(&m).is_err());
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn overlapping_sections_read_without_harm() {
    let base = sample();
    let len = base.len() as u64;
    // Every section over the whole file, the ELF header included.
    let mut m = base.clone();
    for i in 1..shnum(&base) - 1 {
        set_sh(&mut m, i, 0x18, 0);
        set_sh(&mut m, i, 0x20, len - len % 64);
    }
    assert!(exercise(&m) < Duration::from_secs(1));
    // The symbol table is the string table and the other way round.
    let mut m = base.clone();
    let h = shoff(&m);
    let (sym, str_) = (h + 4 * 64, h + 5 * 64);
    let sym_range: Vec<u8> = m[sym + 0x18..sym + 0x28].to_vec();
    let str_range: Vec<u8> = m[str_ + 0x18..str_ + 0x28].to_vec();
    m[sym + 0x18..sym + 0x28].copy_from_slice(&str_range);
    m[str_ + 0x18..str_ + 0x28].copy_from_slice(&sym_range);
    assert!(exercise(&m) < Duration::from_secs(1));
    // __versions and .modinfo on the same bytes.
    let mut m = base.clone();
    let (off, size) = (h + 64 + 0x18, h + 64 + 0x28);
    let modinfo = m[off..size].to_vec();
    m[h + 128 + 0x18..h + 128 + 0x28].copy_from_slice(&modinfo);
    assert!(exercise(&m) < Duration::from_secs(1));
}

#[test]
fn many_symbols_and_versions_stay_fast() {
    // 40,000 undefined symbols, each with a __versions entry: matching them
    // must not be quadratic (it was: 9 s for 40,000 in a debug build).
    let mut f = FakeModule::new("wide");
    for i in 0..40_000 {
        f = f.needs(format!("sym_{i}"), i);
    }
    let m = f.build();
    let start = CpuTimer::start();
    let e = Elf::parse(&m).unwrap();
    let imports = e.imports().unwrap();
    assert_eq!(imports.len(), 40_000);
    assert_eq!(imports[39_999].crc, 39_999);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "imports took {took:?}");
}

#[test]
fn many_parameters_stay_fast() {
    // Merging parm/parmtype records was quadratic: 21 s for these.
    let mut f = FakeModule::new("params");
    for i in 0..30_000 {
        f.modinfo.push(format!("parm=p{i}:described").into_bytes());
        f.modinfo.push(format!("parmtype=p{i}:int").into_bytes());
    }
    let file = ModuleFile::from_bytes("params.ko", f.build()).unwrap();
    let start = CpuTimer::start();
    let fields = modinfo::module_fields(&file).unwrap();
    let params = modinfo::merge_params(&fields);
    assert_eq!(params.params.len(), 30_000);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "parameters took {took:?}");
}

#[test]
fn the_ident_version_byte_is_not_checked() {
    // kmod and the kernel look at the magic, class and byte order only; a
    // damaged EI_VERSION made the object crate refuse the whole file (found
    // by the mutation test against kmod's modinfo, tests/hostile_modinfo.rs).
    for version in [0u8, 2, 0xff] {
        let mut m = sample();
        m[6] = version;
        let e = Elf::parse(&m).unwrap();
        assert!(e.modinfo().unwrap().contains(&&b"license=GPL"[..]));
        assert_eq!(e.imports().unwrap().len(), 2);
    }
}
