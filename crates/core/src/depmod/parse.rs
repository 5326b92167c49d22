//! What depmod reads from each module file: exported symbols, needed
//! symbols, and the `.modinfo` entries it writes out (`alias`, `softdep`,
//! `weakdep`). Files are parsed in parallel; everything kept is copied into
//! one small buffer per module so the (possibly huge) image can go at once.
//!
//! What is kept here is also what depmod's cache holds per module: a
//! change to it must bump `cache::format::FORMAT_VERSION`.
//!
//! Modules are read through the ELF reader every tool uses
//! ([`module_file::with_elf`]): only the headers and the sections read are
//! read from an uncompressed file, and each worker thread keeps its
//! decompression buffers and decoders from one compressed module to the
//! next.

use std::cell::RefCell;
use std::sync::Arc;

use rayon::prelude::*;

use super::cache::format::{self, Data};
use crate::elf::Elf;
use crate::module_file::{self, Buffers};
use crate::Root;

/// A string inside [`Parsed::strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// A span the caller has checked against its strings.
    pub fn new(start: u32, len: u32) -> Span {
        Span { start, len }
    }

    pub fn parts(self) -> (u32, u32) {
        (self.start, self.len)
    }
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

/// A module's needed symbols: a list of its own, or a cache record's table,
/// read where it lies in the shared data section. A real tree's modules
/// need 189,000 symbols between them: decoded into a list each, they were
/// megabytes to allocate and fill in a run that changes one module, for
/// one pass over them.
#[derive(Debug)]
enum Imports {
    List(Vec<Import>),
    /// `count` items at `at` in the shared data section, checked when the
    /// record was decoded (see [`format::import_at`]).
    Table {
        at: usize,
        count: usize,
    },
}

impl Default for Imports {
    fn default() -> Imports {
        Imports::List(Vec::new())
    }
}

/// A module record's strings inside the cache's data section, which every
/// module read from the cache shares: copied out one by one, they were
/// 8 MiB more to allocate and fill in a run that changes one module.
#[derive(Debug)]
struct Shared {
    data: Arc<Data>,
    start: usize,
    len: usize,
}

/// One module's data.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// errno for a file that could not be read as a module at all; kmod
    /// reports it and keeps the module, without symbols or aliases.
    pub error: Option<i32>,
    /// The strings spans point into: `shared` when there, else these.
    strings: Vec<u8>,
    shared: Option<Shared>,
    pub exports: Vec<Export>,
    imports: Imports,
    pub aliases: Vec<Span>,
    pub softdeps: Vec<Span>,
    pub weakdeps: Vec<Span>,
}

impl Parsed {
    /// A module's data from its parts; every span must lie in
    /// `data[strings]`, `imports` is the place and count of a checked table
    /// of needed symbols in `data`.
    pub fn from_parts(
        data: Arc<Data>,
        strings: std::ops::Range<usize>,
        exports: Vec<Export>,
        imports: (usize, usize),
        aliases: Vec<Span>,
        softdeps: Vec<Span>,
        weakdeps: Vec<Span>,
    ) -> Parsed {
        Parsed {
            error: None,
            strings: Vec::new(),
            shared: Some(Shared {
                data,
                start: strings.start,
                len: strings.len(),
            }),
            exports,
            imports: Imports::Table {
                at: imports.0,
                count: imports.1,
            },
            aliases,
            softdeps,
            weakdeps,
        }
    }

    /// The engine's form of a module's public data.
    pub fn from_symbols(m: &super::ModuleSymbols) -> Parsed {
        let mut p = Parsed::default();
        for (name, crc) in &m.exports {
            p.add_export(name, *crc);
        }
        for (name, crc, weak) in &m.imports {
            p.add_import(name, *crc, *weak);
        }
        for (list, which) in [(&m.aliases, 0), (&m.softdeps, 1), (&m.weakdeps, 2)] {
            for v in list {
                let span = p.keep(v);
                [&mut p.aliases, &mut p.softdeps, &mut p.weakdeps][which].push(span);
            }
        }
        p
    }

    /// The bytes every span points into.
    pub fn strings(&self) -> &[u8] {
        match &self.shared {
            Some(Shared { data, start, len }) => &data[*start..*start + *len],
            None => &self.strings,
        }
    }

    pub fn str(&self, s: Span) -> &[u8] {
        let (start, len) = (s.start as usize, s.len as usize);
        // Spans are checked when made; one read since from a cache file
        // changed in place under its mapping gives nothing, never a panic.
        self.strings().get(start..start + len).unwrap_or_default()
    }

    /// The symbols the module needs, in its order.
    pub fn imports(&self) -> impl Iterator<Item = Import> + '_ {
        let (list, table) = self.import_parts();
        let from_table = table
            .chunks_exact(format::IMPORT_LEN)
            .map(format::import_at);
        list.iter().copied().chain(from_table)
    }

    pub fn import_count(&self) -> usize {
        let (list, table) = self.import_parts();
        list.len() + table.len() / format::IMPORT_LEN
    }

    /// The needed symbols as a list, or as the bytes of a cache record's
    /// table (one of them empty).
    fn import_parts(&self) -> (&[Import], &[u8]) {
        match (&self.imports, &self.shared) {
            (Imports::List(list), _) => (list, &[]),
            (&Imports::Table { at, count }, Some(shared)) => {
                let len = count.saturating_mul(format::IMPORT_LEN);
                let table = at
                    .checked_add(len)
                    .and_then(|end| shared.data.get(at..end))
                    .unwrap_or_default();
                (&[], table)
            }
            (Imports::Table { .. }, None) => (&[], &[]),
        }
    }

    fn keep(&mut self, bytes: &[u8]) -> Span {
        if self.shared.is_some() {
            // Spans are relative to the strings: they stay as they are.
            self.imports = Imports::List(self.imports().collect());
            self.strings = self.strings().to_vec();
            self.shared = None;
        }
        let start = self.strings.len() as u32;
        self.strings.extend_from_slice(bytes);
        Span {
            start,
            len: bytes.len() as u32,
        }
    }

    pub fn add_export(&mut self, name: &[u8], crc: u64) {
        let name = self.keep(name);
        self.exports.push(Export { name, crc });
    }

    pub fn add_import(&mut self, name: &[u8], crc: u64, weak: bool) {
        let name = self.keep(name);
        if let Imports::List(list) = &mut self.imports {
            list.push(Import { name, crc, weak });
        }
    }

    /// A `.modinfo` record `key=value`; only the keys depmod writes out are
    /// kept. A record without `=` is a key with an empty value.
    pub fn add_modinfo(&mut self, record: &[u8]) {
        let (key, value) = match record.iter().position(|&b| b == b'=') {
            Some(eq) => (&record[..eq], &record[eq + 1..]),
            None => (record, &b""[..]),
        };
        let which = match key {
            b"alias" => 0,
            b"softdep" => 1,
            b"weakdep" => 2,
            _ => return,
        };
        let span = self.keep(value);
        [&mut self.aliases, &mut self.softdeps, &mut self.weakdeps][which].push(span);
    }

    fn failed(errno: i32) -> Parsed {
        Parsed {
            error: Some(errno),
            ..Parsed::default()
        }
    }
}

/// A module file as read: what depmod takes from it, and the file's
/// identity when it was opened (`None` if it could not be read).
pub(crate) type FileRead = (Parsed, Option<format::FileStat>);

/// Reads every module (target paths), in parallel, results in input order.
pub(crate) fn parse_all(paths: &[&[u8]], root: &Root) -> Vec<FileRead> {
    let compressed = paths.iter().any(|p| !p.ends_with(b".ko"));
    if !compressed {
        return paths
            .par_iter()
            .with_max_len(4)
            .map(|p| read_one(&root.host_bytes(p)))
            .collect();
    }
    // Decompression dominates and one large module (amdgpu: 19 MiB) takes a
    // while: biggest first, so no worker is left alone with one at the end.
    let mut sized: Vec<(u64, usize)> = paths
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            (
                std::fs::metadata(root.host_bytes(p)).map_or(0, |m| m.len()),
                i,
            )
        })
        .collect();
    sized.sort_unstable_by(|a, b| b.cmp(a));
    let done: Vec<(usize, FileRead)> = sized
        .par_iter()
        .with_max_len(1)
        .map(|&(_, i)| (i, read_one(&root.host_bytes(paths[i]))))
        .collect();
    let mut out: Vec<FileRead> = std::iter::repeat_with(|| (Parsed::default(), None))
        .take(paths.len())
        .collect();
    for (i, p) in done {
        out[i] = p;
    }
    out
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Reads one module file. Sections that are missing or malformed simply
/// contribute nothing, as in kmod; only a file that cannot be opened or is
/// not ELF at all is an error (kmod's errno: ENOEXEC without the ELF
/// magic, EINVAL for a file too short for a magic number, corrupt
/// compressed data or unusable ELF headers).
pub(crate) fn parse_one(path: &std::path::Path) -> Parsed {
    read_one(path).0
}

/// [`parse_one`], with the file's identity: taken from the descriptor
/// read, it costs no lookup of the path. A change to the file while it is
/// read gives it a ctime too recent for the cache to trust.
fn read_one(path: &std::path::Path) -> FileRead {
    BUFFERS.with(|buffers| {
        let read = |elf: &Elf<'_>, meta: &std::fs::Metadata| {
            (
                extract(elf),
                meta.is_file().then(|| format::FileStat::of(meta)),
            )
        };
        match module_file::with_elf_and_metadata(path, &mut buffers.borrow_mut(), read) {
            Ok(read) => read,
            Err(e) => (Parsed::failed(e.errno()), None),
        }
    })
}

/// Copies what depmod needs out of the image.
fn extract(elf: &Elf<'_>) -> Parsed {
    let mut out = Parsed::default();
    for record in elf.modinfo().unwrap_or_default() {
        out.add_modinfo(record);
    }
    let symbols = elf.symbols();
    for e in &symbols.exports {
        out.add_export(e.name, e.crc);
    }
    // Unusable imports (no symbol table, a name outside it, a malformed
    // __versions) are none at all, as in kmod.
    for i in symbols.imports.iter().flatten() {
        out.add_import(i.name, i.crc, i.weak);
    }
    out.strings.shrink_to_fit();
    out
}
