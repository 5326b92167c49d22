//! The ELF reader gives the same answers whether the image is in memory
//! (`Elf::parse`, what `ModuleFile` hands out) or read from the file as
//! sections are asked for (`Elf::from_file`, what depmod uses through
//! `module_file::with_elf`): real modules, cut short and with corrupted
//! headers, through both.
//!
//! Needs `MODUTILS_TEST_TREE=<root>/lib/modules/<version>` (set by tests/run).

use std::fs::File;
use std::path::Path;

use modutils_core::elf::{Elf, Error};
use modutils_core::module_file::{self, Buffers};

type Owned = Vec<u8>;
type Exports = Vec<(Owned, u64)>;
type Imports = Result<Vec<(Owned, u64, bool)>, Error>;

/// Everything the reader answers, owned.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    modinfo: Result<Vec<Owned>, Error>,
    modversions: Result<Vec<(u64, Owned)>, Error>,
    exports: Result<Exports, Error>,
    imports: Imports,
    both: (Exports, Imports),
    this_module: Option<String>,
    alloc_flag: Option<usize>,
    vermagic: Option<std::ops::Range<usize>>,
    sections: [bool; 3],
}

fn answers(elf: Result<Elf<'_>, Error>) -> Result<Answers, Error> {
    elf.map(|elf| answers_of(&elf))
}

fn answers_of(elf: &Elf<'_>) -> Answers {
    let exports = |v: &[modutils_core::elf::Export<'_>]| -> Vec<(Owned, u64)> {
        v.iter().map(|e| (e.name.to_vec(), e.crc)).collect()
    };
    let imports = |v: &[modutils_core::elf::Import<'_>]| -> Vec<(Owned, u64, bool)> {
        v.iter().map(|i| (i.name.to_vec(), i.crc, i.weak)).collect()
    };
    let both = elf.symbols();
    Answers {
        modinfo: elf
            .modinfo()
            .map(|v| v.into_iter().map(<[u8]>::to_vec).collect()),
        modversions: elf
            .modversions()
            .map(|v| v.into_iter().map(|m| (m.crc, m.name.to_vec())).collect()),
        exports: elf.exports().map(|v| exports(&v)),
        imports: elf.imports().map(|v| imports(&v)),
        both: (
            exports(&both.exports),
            both.imports.as_deref().map(imports).map_err(Clone::clone),
        ),
        this_module: elf.this_module_name().map(str::to_string),
        alloc_flag: elf.versions_alloc_flag_byte(),
        vermagic: elf.vermagic_range(),
        sections: [".modinfo", "__versions", ".symtab"].map(|s| elf.has_section(s)),
    }
}

/// Both sources on `bytes`, written to `scratch` for the file one.
fn check(bytes: &[u8], scratch: &Path, what: &dyn Fn() -> String) {
    std::fs::write(scratch, bytes).unwrap();
    let memory = answers(Elf::parse(bytes));
    let file = File::open(scratch).unwrap();
    let from_file = answers(Elf::from_file(&file, bytes.len() as u64));
    assert_eq!(memory, from_file, "{}", what());
    // depmod's entry point reads the file the same way (files too short
    // for a magic number are its own error, as in kmod).
    let via = module_file::with_elf(scratch, &mut Buffers::default(), answers_of);
    match (&memory, via) {
        (Ok(a), Ok(b)) => assert_eq!(a, &b, "{}: with_elf", what()),
        (Err(_), Err(_)) => {}
        (m, v) => panic!("{}: with_elf {v:?}, memory {m:?}", what()),
    }
}

fn cut_points(len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = vec![0, 5, 6, 16, 17, 52, 63, 64, 65];
    cuts.extend((1..24).map(|i| len * i / 24));
    cuts.extend([len.saturating_sub(1), len.saturating_sub(100)]);
    cuts.retain(|&c| c <= len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn memory_and_file_sources_agree_on_damaged_modules() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("m.ko");
    let mut variants = 0;
    for (n, path) in crate::common::real_modules()
        .iter()
        .step_by(128)
        .enumerate()
    {
        let mut bytes = std::fs::read(path).unwrap();
        check(&bytes, &scratch, &|| path.display().to_string());
        for cut in cut_points(bytes.len()) {
            let what = || format!("{} cut at {cut}", path.display());
            check(&bytes[..cut], &scratch, &what);
            variants += 1;
        }
        let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
        let mut targets: Vec<usize> = (0..64).collect();
        targets.extend((shoff..bytes.len()).step_by(37 + n % 7));
        for at in targets {
            for value in [0xff, bytes[at] ^ 0x80] {
                let old = bytes[at];
                bytes[at] = value;
                let what = || format!("{}: byte {at} set to {value:#x}", path.display());
                check(&bytes, &scratch, &what);
                bytes[at] = old;
                variants += 1;
            }
        }
    }
    eprintln!("{variants} damaged variants: both sources agree");
}
