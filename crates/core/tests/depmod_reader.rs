//! depmod's own section reader (partial reads, one pass over the symbol
//! table) against the general ELF reader, module by module, on the real
//! tree (MODUTILS_TEST_TREE) and on damaged copies of a few modules.

mod depmod_common;

use std::path::{Path, PathBuf};

use depmod_common::real_tree;
use modutils_core::depmod::{read_module, ModuleSymbols};
use modutils_core::module_file::ModuleFile;

/// The same data through `ModuleFile` + `Elf`.
fn via_elf(path: &Path) -> Result<ModuleSymbols, i32> {
    let file = ModuleFile::open(path).map_err(|e| e.errno())?;
    let elf = file.elf().map_err(|e| e.errno())?;
    let mut out = ModuleSymbols::default();
    if let Ok(exports) = elf.exports() {
        out.exports = exports
            .iter()
            .map(|e| (e.name.as_bytes().to_vec(), e.crc))
            .collect();
    }
    if let Ok(imports) = elf.imports() {
        out.imports = imports
            .iter()
            .map(|i| (i.name.as_bytes().to_vec(), i.crc, i.weak))
            .collect();
    }
    for rec in elf.modinfo().unwrap_or_default() {
        let (key, value) = match rec.iter().position(|&b| b == b'=') {
            Some(eq) => (&rec[..eq], rec[eq + 1..].to_vec()),
            None => (rec, Vec::new()),
        };
        match key {
            b"alias" => out.aliases.push(value),
            b"softdep" => out.softdeps.push(value),
            b"weakdep" => out.weakdeps.push(value),
            _ => {}
        }
    }
    Ok(out)
}

fn modules_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::metadata(&path).unwrap().is_dir() {
            modules_under(&path, out);
        } else if path.to_string_lossy().contains(".ko") {
            out.push(path);
        }
    }
}

#[test]
fn same_as_the_elf_reader_on_every_real_module() {
    let mut paths = Vec::new();
    modules_under(&real_tree().join("kernel"), &mut paths);
    assert!(paths.len() > 100, "too few modules under the tree");
    let mut exports = 0;
    for p in &paths {
        let (ours, theirs) = (read_module(p), via_elf(p));
        assert_eq!(ours, theirs, "{}", p.display());
        exports += ours.map(|m| m.exports.len()).unwrap_or(0);
    }
    eprintln!("{} modules, {exports} exports: identical", paths.len());
}

/// Cut and corrupted modules: both readers agree on what is usable, and
/// neither panics.
#[test]
fn same_as_the_elf_reader_on_damaged_modules() {
    let tree = real_tree();
    let scratch = tempfile::tempdir().unwrap();
    let samples = [
        "kernel/fs/jbd2/jbd2.ko",
        "kernel/fs/ext4/ext4.ko",
        "kernel/lib/crc16.ko",
    ];
    for sample in samples {
        let data = std::fs::read(tree.join(sample)).unwrap();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for cut in [0, 3, 5, 6, 16, 63, 64, 1000, data.len() / 2, data.len() - 1] {
            variants.push(data[..cut].to_vec());
        }
        for at in (0..data.len())
            .step_by(data.len() / 97 + 1)
            .chain(0x18..0x40)
        {
            let mut v = data.clone();
            v[at] ^= 0xa5;
            variants.push(v);
        }
        for (i, v) in variants.iter().enumerate() {
            let p = scratch.path().join(format!("v{i}.ko"));
            std::fs::write(&p, v).unwrap();
            // Names that are not UTF-8 read as empty through `Elf`; ours
            // keeps the bytes, so those are blanked before comparing.
            let ours = read_module(&p).map(|mut m| {
                let blank = |n: &mut Vec<u8>| {
                    if std::str::from_utf8(n).is_err() {
                        n.clear();
                    }
                };
                m.exports.iter_mut().for_each(|e| blank(&mut e.0));
                m.imports.iter_mut().for_each(|e| blank(&mut e.0));
                m
            });
            if v.len() > 6 && v[6] != 1 {
                // EI_VERSION: kmod (and this reader) ignore it, `Elf` refuses.
                continue;
            }
            assert_eq!(ours, via_elf(&p), "{sample} variant {i}");
        }
    }
}
