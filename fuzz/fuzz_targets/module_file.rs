//! The module-file reader: compression detection and decompression, the
//! ELF parser with every query the tools make, the signature trailer, and
//! depmod's way of reading it (sections read from the file on demand).
//!
//! The first byte picks how the rest is used: as the file itself (most
//! inputs, so mutations reach the ELF parser and the raw decoders), or
//! compressed first with gzip, xz or zstd so that well-formed streams carry
//! fuzzed ELF images through each decompression path.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use modutils_core::module_file::ModuleFile;
use modutils_fuzz::{exercise_module, put};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (name, raw) = match mode % 8 {
        5 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(rest).unwrap();
            ("m.ko.gz", e.finish().unwrap())
        }
        6 => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 0);
            e.write_all(rest).unwrap();
            ("m.ko.xz", e.finish().unwrap())
        }
        7 => ("m.ko.zst", zstd::bulk::compress(rest, 1).unwrap()),
        _ => ("m.ko", rest.to_vec()),
    };
    // depmod reads sections from the file on demand.
    let host = put(&format!("/lib/modules/fuzz/{name}"), &raw);
    let _ = modutils_core::depmod::read_module(&host);
    // The tools' reader, from memory and through the file (mmap).
    if let Ok(file) = ModuleFile::from_bytes(name, raw) {
        exercise_module(&file);
    }
    if let Ok(file) = ModuleFile::open(&host) {
        exercise_module(&file);
    }
});
