//! How depmod reads modules (in parallel, with per-thread buffers reused
//! from one module to the next, exports and imports in one pass over the
//! symbol table) against a plain `ModuleFile` + `Elf` read, module by
//! module, on the real tree (MODUTILS_TEST_TREE); and damaged copies of a
//! few real modules through kmod's depmod and ours.

use std::path::{Path, PathBuf};

use crate::depmod_common::real_tree;
use crate::depmod_common::scenario::{assert_same, Scenario, VERSION};
use modutils_core::depmod::{read_module, ModuleSymbols};
use modutils_core::module_file::ModuleFile;

/// The same data through `ModuleFile` + `Elf`.
fn via_elf(path: &Path) -> Result<ModuleSymbols, i32> {
    let file = ModuleFile::open(path).map_err(|e| e.errno())?;
    let elf = file.elf().map_err(|e| e.errno())?;
    let mut out = ModuleSymbols::default();
    if let Ok(exports) = elf.exports() {
        out.exports = exports.iter().map(|e| (e.name.to_vec(), e.crc)).collect();
    }
    if let Ok(imports) = elf.imports() {
        out.imports = imports
            .iter()
            .map(|i| (i.name.to_vec(), i.crc, i.weak))
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

/// Cut and corrupted copies of a few real modules, run through kmod's
/// depmod and ours with `-e -E` (an empty Module.symvers, so every needed
/// symbol is reported or resolved between the copies, CRCs compared): the
/// errors, warnings and every output must be the same.
#[test]
fn damaged_modules_read_as_kmod_reads_them() {
    let tree = real_tree();
    let s = Scenario::new();
    let samples = [
        "kernel/fs/jbd2/jbd2.ko",
        "kernel/lib/crc16.ko",
        "kernel/drivers/block/loop.ko",
        "kernel/fs/isofs/isofs.ko",
    ];
    let (mut count, mut skipped) = (0, 0);
    for (n, sample) in samples.iter().enumerate() {
        // The ELF image, whatever compression the tree uses.
        let file = ["", ".xz", ".zst", ".gz"]
            .iter()
            .map(|ext| tree.join(format!("{sample}{ext}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{sample} not in {}", tree.display()));
        let data = ModuleFile::open(&file).unwrap().bytes().to_vec();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for cut in [
            0,
            3,
            5,
            6,
            16,
            17,
            63,
            64,
            1000,
            data.len() / 2,
            data.len() - 1,
        ] {
            variants.push(data[..cut.min(data.len())].to_vec());
        }
        let header = 0x18..0x40;
        for at in (0..data.len()).step_by(data.len() / 97 + 1).chain(header) {
            let mut v = data.clone();
            v[at] ^= 0xa5;
            variants.push(v);
        }
        for (i, v) in variants.iter().enumerate() {
            // Some damage makes kmod 30 abort on an assertion; such files
            // stay out of the comparison (ours only has to survive them).
            let alone = Scenario::new();
            let path = alone.dir().join("m.ko");
            std::fs::write(&path, v).unwrap();
            // 8-bit names are fatal in an index for kmod 34.2 but not for
            // kmod 30 (docs/compat.md, "kmod 30 and 34.2"): also left out.
            let eight_bit = read_module(&path).is_ok_and(|m| {
                let names = m
                    .exports
                    .iter()
                    .map(|e| &e.0)
                    .chain(m.imports.iter().map(|i| &i.0));
                names
                    .chain(&m.aliases)
                    .any(|n| n.iter().any(|&b| b >= 0x80))
            });
            if eight_bit
                || !crate::depmod_common::kmod(&["-n", "-b", &alone.base_str(), VERSION]).ok
            {
                skipped += 1;
                continue;
            }
            std::fs::write(s.dir().join(format!("m{n}_{i}.ko")), v).unwrap();
            count += 1;
        }
    }
    s.file("Module.symvers", "");
    let symvers = format!("{}/Module.symvers", s.base_str());
    let k = s.kmod(&["-e", "-E", &symvers], &[]);
    let o = s.ours(None, |o| {
        o.errsyms = true;
        o.symvers = Some(symvers.clone().into());
    });
    assert_same(&o, &k, b"");
    eprintln!("{count} damaged modules: same as kmod ({skipped} left out)");
}
