//! Real modules, cut short and with corrupted headers, must give a clean
//! error or valid output from every reader — never a panic.
//!
//! Needs `MODUTILS_TEST_TREE=<root>/lib/modules/<version>` (set by tests/run).

use std::panic::{catch_unwind, AssertUnwindSafe};

use modutils_core::elf::Elf;
use modutils_core::module_file::{Compression, ModuleFile};
use modutils_core::{modinfo, signature};

/// Runs every reader over `bytes`; results are ignored, panics are not.
fn exercise(bytes: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let _ = signature::parse(bytes);
        if let Ok(elf) = Elf::parse(bytes) {
            let _ = elf.modinfo();
            let _ = elf.modversions();
            let _ = elf.exports();
            let _ = elf.imports();
            let _ = elf.this_module_name();
            let _ = elf.versions_alloc_flag_byte();
            let _ = elf.vermagic_range();
        }
    }))
    .is_ok()
}

/// Offsets worth cutting at: every section's start and end, the header
/// table, and a spread of fixed lengths.
fn cut_points(bytes: &[u8]) -> Vec<usize> {
    let mut cuts: Vec<usize> = vec![0, 1, 4, 5, 6, 16, 17, 52, 63, 64, 65];
    let len = bytes.len();
    cuts.extend((1..16).map(|i| len * i / 16));
    if len > 0x40 {
        let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
        let shnum = u16::from_le_bytes(bytes[0x3c..0x3e].try_into().unwrap()) as usize;
        for i in 0..shnum {
            let at = shoff + i * 64;
            let Some(sh) = bytes.get(at..at + 64) else {
                break;
            };
            let off = u64::from_le_bytes(sh[24..32].try_into().unwrap()) as usize;
            let size = u64::from_le_bytes(sh[32..40].try_into().unwrap()) as usize;
            cuts.extend([
                at,
                at + 32,
                off,
                off + size / 2,
                off.saturating_add(size).saturating_sub(1),
            ]);
        }
        cuts.extend([shoff, shoff + 1]);
    }
    cuts.retain(|&c| c < len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn truncated_modules_never_panic() {
    let mut runs = 0;
    for path in crate::common::real_modules().iter().step_by(8) {
        let bytes = std::fs::read(path).unwrap();
        for cut in cut_points(&bytes) {
            assert!(
                exercise(&bytes[..cut]),
                "{} cut at {cut} bytes panicked",
                path.display()
            );
            runs += 1;
        }
    }
    eprintln!("truncated modules: {runs} cuts, no panic");
}

#[test]
fn corrupted_headers_never_panic() {
    let mut runs = 0;
    for (n, path) in crate::common::real_modules().iter().step_by(16).enumerate() {
        let mut bytes = std::fs::read(path).unwrap();
        let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
        // Every byte of the ELF header, and bytes spread over the section headers.
        let mut targets: Vec<usize> = (0..64).collect();
        targets.extend((shoff..bytes.len()).step_by(7 + n % 5));
        for at in targets {
            for value in [0x00, 0xff, bytes[at] ^ 0x80, bytes[at].wrapping_add(1)] {
                let old = bytes[at];
                bytes[at] = value;
                assert!(
                    exercise(&bytes),
                    "{}: byte {at} set to {value:#x} panicked",
                    path.display()
                );
                bytes[at] = old;
                runs += 1;
            }
        }
    }
    eprintln!("corrupted headers: {runs} variants, no panic");
}

#[test]
fn damaged_compressed_modules_are_errors() {
    let path = &crate::common::real_modules()[0];
    let raw = std::fs::read(path).unwrap();
    for (tool, compression) in [
        ("xz", Compression::Xz),
        ("zstd", Compression::Zstd),
        ("gzip", Compression::Gzip),
    ] {
        let out = std::process::Command::new(tool)
            .args(["-c", &path.to_string_lossy()])
            .output()
            .unwrap_or_else(|e| panic!("{tool} is needed (tests/setup.sh installs it): {e}"));
        let packed = out.stdout;
        let whole = ModuleFile::from_bytes("m.ko", packed.clone()).unwrap();
        assert_eq!(whole.compression(), compression);
        assert_eq!(whole.bytes(), &raw[..], "{tool} round trip");
        let fields = modinfo::module_fields(&whole).unwrap();
        assert!(!fields.is_empty());
        for cut in [6, 12, packed.len() / 2, packed.len() - 1] {
            let r = catch_unwind(|| {
                ModuleFile::from_bytes("m.ko", packed[..cut].to_vec()).map(|m| m.bytes().len())
            });
            match r {
                Ok(Err(_)) => {}
                Ok(Ok(n)) => assert!(n < raw.len(), "{tool} cut at {cut} produced a whole module"),
                Err(_) => panic!("{tool} cut at {cut} panicked"),
            }
        }
    }
}
