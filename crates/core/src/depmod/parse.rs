//! What depmod reads from each module file: exported symbols, needed
//! symbols, and the `.modinfo` entries it writes out (`alias`, `softdep`,
//! `weakdep`). Files are parsed in parallel; everything kept is copied into
//! one small buffer per module so the (possibly huge) image can go at once.

use rayon::prelude::*;

use super::scan::host;
use crate::module_file::ModuleFile;
use crate::Root;

/// A string inside [`Parsed::strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Export {
    pub name: Span,
    pub crc: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Import {
    pub name: Span,
    pub crc: u64,
    pub weak: bool,
}

/// One module's data.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// errno for a file that could not be read as a module at all; kmod
    /// reports it and keeps the module, without symbols or aliases.
    pub error: Option<i32>,
    strings: Vec<u8>,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
    pub aliases: Vec<Span>,
    pub softdeps: Vec<Span>,
    pub weakdeps: Vec<Span>,
}

impl Parsed {
    pub fn str(&self, s: Span) -> &[u8] {
        &self.strings[s.start as usize..(s.start + s.len) as usize]
    }

    fn keep(&mut self, bytes: &[u8]) -> Span {
        let start = self.strings.len() as u32;
        self.strings.extend_from_slice(bytes);
        Span {
            start,
            len: bytes.len() as u32,
        }
    }

    fn failed(errno: i32) -> Parsed {
        Parsed {
            error: Some(errno),
            ..Parsed::default()
        }
    }
}

/// Parses every module (target paths), in parallel, results in input order.
pub(crate) fn parse_all(paths: &[&[u8]], root: &Root) -> Vec<Parsed> {
    paths
        .par_iter()
        .with_max_len(4)
        .map(|p| parse_one(&host(root, p)))
        .collect()
}

/// Reads one module file. Sections that are missing or malformed simply
/// contribute nothing, as in kmod; only a file that cannot be opened or is
/// not ELF at all is an error.
pub(crate) fn parse_one(path: &std::path::Path) -> Parsed {
    let file = match ModuleFile::open(path) {
        Ok(f) => f,
        Err(e) => return Parsed::failed(e.errno()),
    };
    let elf = match file.elf() {
        Ok(elf) => elf,
        Err(e) => return Parsed::failed(e.errno()),
    };
    let mut out = Parsed::default();
    if let Ok(exports) = elf.exports() {
        out.exports.reserve(exports.len());
        for e in exports {
            let name = out.keep(e.name.as_bytes());
            out.exports.push(Export { name, crc: e.crc });
        }
    }
    if let Ok(records) = elf.modinfo() {
        for rec in records {
            let (key, value) = match rec.iter().position(|&b| b == b'=') {
                Some(eq) => (&rec[..eq], &rec[eq + 1..]),
                None => (rec, &b""[..]),
            };
            let list = match key {
                b"alias" => 0,
                b"softdep" => 1,
                b"weakdep" => 2,
                _ => continue,
            };
            let span = out.keep(value);
            [&mut out.aliases, &mut out.softdeps, &mut out.weakdeps][list].push(span);
        }
    }
    if let Ok(imports) = elf.imports() {
        out.imports.reserve(imports.len());
        for i in imports {
            let name = out.keep(i.name.as_bytes());
            out.imports.push(Import {
                name,
                crc: i.crc,
                weak: i.weak,
            });
        }
    }
    out.strings.shrink_to_fit();
    out
}
