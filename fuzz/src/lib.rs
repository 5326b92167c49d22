//! Helpers shared by the fuzz targets: a scratch root for the parsers that
//! read files through a [`Root`], and the full set of queries a tool may
//! make on a module file, with the invariants their results must keep.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use modutils_core::elf::Elf;
use modutils_core::module_file::ModuleFile;
use modutils_core::{modinfo, signature, Root};

/// A per-process scratch directory (in /dev/shm when there is one, so
/// writing an input costs microseconds), used as a fake system root.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("modutils-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

/// The scratch directory as a [`Root`].
pub fn scratch_root() -> Root {
    Root::at(scratch())
}

/// Writes `data` to the target path `target` under the scratch root and
/// returns the host path.
pub fn put(target: &str, data: &[u8]) -> PathBuf {
    let host = scratch().join(target.trim_start_matches('/'));
    if let Some(parent) = host.parent() {
        std::fs::create_dir_all(parent).expect("scratch parent");
    }
    std::fs::write(&host, data).expect("scratch write");
    host
}

/// Every query the tools make on an opened module, checking that each
/// offset handed back lies inside the image.
pub fn exercise_module(file: &ModuleFile) {
    let bytes = file.bytes();
    let _ = signature::try_parse(bytes);
    if let Some(sig) = signature::parse(bytes) {
        let _ = signature::hex_field(&sig.key_id);
        let _ = signature::hex_field(&sig.signature);
    }
    if let Ok(fields) = modinfo::module_fields(file) {
        let _ = modinfo::merge_params(&fields);
    }
    let Ok(elf) = file.elf() else { return };
    exercise_elf(&elf, bytes.len());
}

/// The ELF queries alone.
pub fn exercise_elf(elf: &Elf<'_>, len: usize) {
    let _ = elf.is_64();
    let _ = elf.is_big_endian();
    for name in [".modinfo", "__versions", "__ksymtab_strings", ".symtab"] {
        let _ = elf.has_section(name);
    }
    let _ = elf.modinfo();
    let _ = elf.modversions();
    let _ = elf.exports();
    let _ = elf.imports();
    let _ = elf.this_module_name();
    if let Some(at) = elf.versions_alloc_flag_byte() {
        assert!(
            at < len,
            "SHF_ALLOC byte {at} outside an image of {len} bytes"
        );
    }
    if let Some(r) = elf.vermagic_range() {
        assert!(
            r.start <= r.end && r.end <= len,
            "vermagic {r:?} outside {len} bytes"
        );
    }
}
