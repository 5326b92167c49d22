//! The parts of a module's ELF image the tools read: `.modinfo`, `__versions`,
//! exported and undefined symbols, and the module's own name. Every tool
//! reads modules through here, depmod included.
//!
//! Class (32/64-bit) and byte order come from the file itself, so modules for
//! any architecture can be inspected on any host. Every offset is checked:
//! malformed input gives an [`Error`], never a panic.
//!
//! Damaged files are read as kmod reads them (checked against kmod's depmod
//! and `modprobe --show-exports` on damaged real modules):
//! * `EI_VERSION` is not looked at;
//! * sections are found by name, the first of that name whose data lies in
//!   the file; the symbol table is `.symtab` with names from `.strtab`,
//!   whatever the section types and `sh_link` say;
//! * a symbol whose name offset is past `.strtab` makes the `__crc_`
//!   exports unusable (the names of `__ksymtab_strings` stand in, with CRC
//!   0); when that symbol is undefined, the imports are unusable too;
//! * names are bytes, as kmod keeps them: front-ends convert for display.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use rustc_hash::FxHashMap as FastMap;

/// Why an ELF image could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The file does not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// The headers contradict each other or the file; the text says which part.
    #[error("malformed ELF: {0}")]
    Malformed(&'static str),
    /// `__versions` is not a whole number of 64-byte entries (CRC plus a 56-byte name).
    #[error("section {0} has a size that is not a multiple of 64")]
    BadVersionsSize(&'static str),
    /// A name in the named section (`__versions`) has no terminating NUL.
    #[error("section {0} holds a string that is not NUL-terminated")]
    Unterminated(&'static str),
    /// kmod's -ENODATA: the section the caller asked for is absent.
    #[error("no {0} section")]
    NoSection(&'static str),
}

const VERSIONS: &str = "__versions";
const MODINFO: &str = ".modinfo";
const KSYMTAB_STRINGS: &str = "__ksymtab_strings";
const THIS_MODULE: &str = ".gnu.linkonce.this_module";
const SYMTAB: &str = ".symtab";
const STRTAB: &str = ".strtab";

/// The section flag `--force-modversion` clears in `__versions`.
pub(crate) const SHF_ALLOC: u64 = 2;
const SHN_UNDEF: u16 = 0;
const SHN_ABS: u16 = 0xfff1;
const STB_WEAK: u8 = 2;
/// SPARC's register declarations: undefined in the symbol table, but no
/// symbol anything must provide.
const STT_SPARC_REGISTER: u8 = 13;

/// `e_machine` values the tools treat specially.
pub mod machine {
    /// SPARC (32-bit).
    pub const SPARC: u16 = 2;
    /// i386.
    pub const I386: u16 = 3;
    /// 64-bit PowerPC.
    pub const PPC64: u16 = 21;
    /// SPARC V9 (64-bit).
    pub const SPARCV9: u16 = 43;
    /// x86-64.
    pub const X86_64: u16 = 62;
}

/// One section header, reduced to what the tools need.
#[derive(Debug, Clone)]
struct Section {
    /// The name's range in the section name table; empty when the name
    /// offset is unreadable (then nothing matches it).
    name: Range<usize>,
    offset: u64,
    size: u64,
    flags: u64,
    /// File offset of the header itself (for `--force`).
    header_at: usize,
}

/// Where the image's bytes come from: memory, or a file read on demand
/// (only the headers and the sections asked for are read).
#[derive(Debug)]
enum Source<'a> {
    Memory(&'a [u8]),
    File { file: &'a File, len: u64 },
}

impl<'a> Source<'a> {
    fn len(&self) -> u64 {
        match self {
            Source::Memory(data) => data.len() as u64,
            Source::File { len, .. } => *len,
        }
    }

    /// `size` bytes at `offset`; `None` if that is not inside the image
    /// (or, for a file, cannot be read).
    fn read(&self, offset: u64, size: u64) -> Option<Cow<'a, [u8]>> {
        let end = offset.checked_add(size)?;
        if end > self.len() {
            return None;
        }
        match self {
            Source::Memory(data) => Some(Cow::Borrowed(&data[offset as usize..end as usize])),
            Source::File { file, .. } => {
                let mut buf = vec![0; usize::try_from(size).ok()?];
                file.read_exact_at(&mut buf, offset).ok()?;
                Some(Cow::Owned(buf))
            }
        }
    }
}

/// An entry of `__versions`: the CRC the module was built against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modversion<'a> {
    /// The symbol's CRC as the module was built against it.
    pub crc: u64,
    /// The name of the symbol the CRC is for, as bytes.
    pub name: &'a [u8],
}

/// A symbol the module exports, with its CRC (0 without modversions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export<'a> {
    /// The exported symbol's name, as bytes.
    pub name: &'a [u8],
    /// Its CRC, from the matching `__crc_` symbol; 0 without modversions.
    pub crc: u64,
}

/// A symbol the module needs from the kernel or another module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import<'a> {
    /// The name of the symbol the module uses but does not define, as bytes.
    pub name: &'a [u8],
    /// Its CRC from `__versions`, 0 when that table has no entry for it.
    pub crc: u64,
    /// Whether the module can load without it (a weak reference).
    pub weak: bool,
}

/// Exports and imports, read in one pass over the symbol table
/// ([`Elf::symbols`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbols<'a> {
    /// The symbols the module exports.
    pub exports: Vec<Export<'a>>,
    /// The symbols it needs, or why they cannot be told (a damaged `__versions` or symbol table).
    pub imports: Result<Vec<Import<'a>>, Error>,
}

/// A parsed ELF module image: the file's bytes in memory, or the file
/// itself, read as sections are asked for.
#[derive(Debug)]
pub struct Elf<'a> {
    source: Source<'a>,
    is_64: bool,
    big: bool,
    /// `e_machine`: the architecture the module was built for.
    machine: u16,
    /// The section name table.
    names: Cow<'a, [u8]>,
    /// Indexed by section number; section 0 included.
    sections: Vec<Section>,
    /// Section contents, read on first use.
    contents: Vec<OnceCell<Option<Cow<'a, [u8]>>>>,
}

impl<'a> Elf<'a> {
    /// Reads the ELF header and the section headers. As in kmod: anything
    /// up to the size of `e_ident` or without the magic is
    /// [`Error::NotElf`]; an unknown class or byte order, a section header
    /// size other than the class's, a header table outside the file, or a
    /// section name table that is not a section inside the file ending in
    /// NUL is [`Error::Malformed`].
    pub fn parse(data: &'a [u8]) -> Result<Elf<'a>, Error> {
        Elf::new(Source::Memory(data))
    }

    /// [`Elf::parse`] for an uncompressed module file of `len` bytes,
    /// which is read as needed: the headers, then each section asked for.
    /// A read error makes the range unreadable, as if outside the file.
    pub fn from_file(file: &'a File, len: u64) -> Result<Elf<'a>, Error> {
        Elf::new(Source::File { file, len })
    }

    fn new(source: Source<'a>) -> Result<Elf<'a>, Error> {
        let len = source.len();
        let head = source.read(0, len.min(64)).ok_or(Error::NotElf)?;
        if len <= 16 || &head[..4] != b"\x7fELF" {
            return Err(Error::NotElf);
        }
        let is_64 = match head[4] {
            1 => false,
            2 => true,
            _ => return Err(Error::Malformed("unknown ELF class")),
        };
        let big = match head[5] {
            1 => false,
            2 => true,
            _ => return Err(Error::Malformed("unknown byte order")),
        };
        // EI_VERSION (head[6]) is not looked at: kmod does not either.
        let mut elf = Elf {
            source,
            is_64,
            big,
            machine: 0,
            names: Cow::Borrowed(&[]),
            sections: Vec::new(),
            contents: Vec::new(),
        };
        elf.machine = elf.u16_at(&head, 18).unwrap_or(0);
        elf.read_sections(&head)?;
        Ok(elf)
    }

    /// Whether the image is ELFCLASS64.
    pub fn is_64(&self) -> bool {
        self.is_64
    }

    /// Whether the image stores its integers big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big
    }

    /// `e_machine`, the architecture (see [`machine`]).
    pub fn machine(&self) -> u16 {
        self.machine
    }

    /// Whether a section called `name` exists (with its data in the file).
    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// The raw `.modinfo` records in section order, NUL padding skipped.
    /// Each is normally `key=value`; a final record may lack its NUL.
    pub fn modinfo(&self) -> Result<Vec<&[u8]>, Error> {
        let data = self.named_data(MODINFO).ok_or(Error::NoSection(MODINFO))?;
        Ok(nul_separated(data).collect())
    }

    /// The `__versions` table; [`Error::NoSection`] when the module has none.
    pub fn modversions(&self) -> Result<Vec<Modversion<'_>>, Error> {
        let data = self
            .named_data(VERSIONS)
            .ok_or(Error::NoSection(VERSIONS))?;
        self.versions_in(data)
    }

    /// Exported symbols: `__crc_<sym>` symbols with their CRCs or, for
    /// kernels without modversions (or when the symbol table is unusable),
    /// the names in `__ksymtab_strings` with CRC 0. Empty when neither is
    /// there (callers that must tell that apart ask [`Elf::has_section`]).
    pub fn exports(&self) -> Result<Vec<Export<'_>>, Error> {
        Ok(self.walk(true, false).exports)
    }

    /// Symbols the module needs, in `.symtab` order, each with the CRC recorded
    /// in `__versions`; then the `__versions` entries no undefined symbol
    /// claimed (such as `module_layout`), as kmod's depmod lists them. On
    /// SPARC, register declarations (`STT_REGISTER`) are not needs. An
    /// error when `.symtab` or `.strtab` is missing, an undefined symbol's
    /// name is outside `.strtab`, or `__versions` is malformed.
    pub fn imports(&self) -> Result<Vec<Import<'_>>, Error> {
        self.walk(false, true).imports
    }

    /// [`Elf::exports`] and [`Elf::imports`] together, in one pass over the
    /// symbol table (what depmod reads of every module).
    pub fn symbols(&self) -> Symbols<'_> {
        self.walk(true, true)
    }

    /// The name the module was built with, from `struct module` in
    /// `.gnu.linkonce.this_module`; `None` if absent or unreadable.
    pub fn this_module_name(&self) -> Option<&str> {
        let data = self.named_data(THIS_MODULE)?;
        // struct module begins with `enum module_state` and a `list_head`.
        let at = if self.is_64 { 24 } else { 12 };
        let field = data.get(at..)?;
        let end = field.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&field[..end])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// Where `--force-modversion` patches the image: the file offset of the
    /// byte holding `SHF_ALLOC` in `__versions`' header, if there is one.
    pub fn versions_alloc_flag_byte(&self) -> Option<usize> {
        let s = &self.sections[self.section(VERSIONS)?];
        if s.flags & SHF_ALLOC == 0 {
            return None;
        }
        let width = self.word_len();
        let flags_at = s.header_at + 8;
        Some(if self.big {
            flags_at + width - 1
        } else {
            flags_at
        })
    }

    /// File range of the `vermagic=…` record in `.modinfo`, for `--force-vermagic`.
    pub fn vermagic_range(&self) -> Option<Range<usize>> {
        let i = self.section(MODINFO)?;
        let data = self.section_data(i)?;
        let base = self.sections[i].offset as usize;
        nul_separated(data).find_map(|rec| {
            let start = rec.as_ptr() as usize - data.as_ptr() as usize;
            rec.starts_with(b"vermagic=")
                .then(|| base + start..base + start + rec.len())
        })
    }

    fn word_len(&self) -> usize {
        if self.is_64 {
            8
        } else {
            4
        }
    }

    /// The first section called `name` whose data lies inside the file.
    /// Headers pointing elsewhere are passed over, as kmod and the kernel do.
    fn section(&self, name: &str) -> Option<usize> {
        let len = self.source.len();
        self.sections.iter().enumerate().skip(1).find_map(|(i, s)| {
            let inside = s.offset.checked_add(s.size).is_some_and(|end| end <= len);
            (inside && &self.names[s.name.clone()] == name.as_bytes()).then_some(i)
        })
    }

    /// Section `i`'s contents, read on first use.
    fn section_data(&self, i: usize) -> Option<&[u8]> {
        let s = &self.sections[i];
        self.contents[i]
            .get_or_init(|| self.source.read(s.offset, s.size))
            .as_deref()
    }

    fn named_data(&self, name: &'static str) -> Option<&[u8]> {
        self.section_data(self.section(name)?)
    }

    fn u16_at(&self, b: &[u8], at: usize) -> Option<u16> {
        let v: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        })
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let v: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        })
    }

    fn u64_at(&self, b: &[u8], at: usize) -> Option<u64> {
        let v: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        })
    }

    /// A class-sized word (address, offset, size).
    fn word_at(&self, b: &[u8], at: usize) -> Option<u64> {
        if self.is_64 {
            self.u64_at(b, at)
        } else {
            self.u32_at(b, at).map(u64::from)
        }
    }

    /// Fills `sections` from the section header table. As in kmod, the
    /// counts are `e_shnum` and `e_shstrndx` as they stand (no extended
    /// numbering: neither kmod nor the kernel has it), and the section name
    /// table must be a real section, 1 ≤ `e_shstrndx` < `e_shnum`.
    fn read_sections(&mut self, head: &[u8]) -> Result<(), Error> {
        let bad = Error::Malformed;
        let (ehsize, shsize) = if self.is_64 { (64, 64) } else { (52, 40) };
        let eh = head
            .get(..ehsize)
            .ok_or(bad("file too short for its header"))?;
        let (shoff, entsize_at) = if self.is_64 {
            (self.u64_at(eh, 0x28), 0x3a)
        } else {
            (self.u32_at(eh, 0x20).map(u64::from), 0x2e)
        };
        let shoff = shoff.ok_or(bad("bad ELF header"))?;
        let field = |at| self.u16_at(eh, at).map(usize::from);
        let (Some(entsize), Some(count), Some(strndx)) = (
            field(entsize_at),
            field(entsize_at + 2),
            field(entsize_at + 4),
        ) else {
            return Err(bad("bad ELF header"));
        };
        // kmod insists on the class's header size; so do we.
        if entsize != shsize {
            return Err(bad("unexpected section header size"));
        }
        let table = self
            .source
            .read(shoff, (count * shsize) as u64)
            .ok_or(bad("section header table outside the file"))?;
        let header = |i: usize| -> Option<(u32, u64, u64, u64)> {
            let at = i * shsize;
            let (o, w) = if self.is_64 { (0x18, 8) } else { (0x10, 4) };
            Some((
                self.u32_at(&table, at)?,
                self.word_at(&table, at + 8)?,
                self.word_at(&table, at + o)?,
                self.word_at(&table, at + o + w)?,
            ))
        };
        if strndx == 0 || strndx >= count {
            return Err(bad("bad section name table index"));
        }
        let (_, _, off, size) = header(strndx).ok_or(bad("bad section name table index"))?;
        let names = self
            .source
            .read(off, size)
            .ok_or(bad("section name table outside the file"))?;
        if names.last() != Some(&0) {
            return Err(bad("section name table is not NUL-terminated"));
        }
        let mut sections = Vec::with_capacity(count);
        for i in 0..count {
            let (name, flags, offset, size) =
                header(i).ok_or(bad("section header table outside the file"))?;
            let start = name as usize;
            let name = match names
                .get(start..)
                .and_then(|r| r.iter().position(|&b| b == 0))
            {
                Some(len) => start..start + len,
                None => 0..0,
            };
            sections.push(Section {
                name,
                offset,
                size,
                flags,
                header_at: shoff as usize + i * shsize,
            });
        }
        self.contents = std::iter::repeat_with(OnceCell::new).take(count).collect();
        self.sections = sections;
        self.names = names;
        Ok(())
    }

    /// `__versions`: 64-byte records of CRC and NUL-terminated name (a
    /// leading `.` dropped).
    fn versions_in<'s>(&self, data: &'s [u8]) -> Result<Vec<Modversion<'s>>, Error> {
        if data.len() % 64 != 0 {
            return Err(Error::BadVersionsSize(VERSIONS));
        }
        let crc_len = self.word_len();
        data.chunks_exact(64)
            .map(|rec| {
                let crc = self.word_at(rec, 0).unwrap_or(0);
                let field = &rec[crc_len..];
                let end = field
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(Error::Unterminated(VERSIONS))?;
                let name = field[..end].strip_prefix(b".").unwrap_or(&field[..end]);
                Ok(Modversion { crc, name })
            })
            .collect()
    }

    /// One pass over `.symtab` (names from `.strtab`, both found by name
    /// as kmod finds them) for the `__crc_` exports and the undefined
    /// symbols; then kmod's fallbacks.
    fn walk(&self, want_exports: bool, want_imports: bool) -> Symbols<'_> {
        let table = match (self.named_data(SYMTAB), self.named_data(STRTAB)) {
            (Some(symtab), Some(strtab)) => {
                Some(self.read_symtab(symtab, strtab, want_exports, want_imports))
            }
            _ => None,
        };
        let mut exports = Vec::new();
        if want_exports {
            if let Some(t) = table.as_ref().filter(|t| t.crcs_usable) {
                exports = t
                    .crcs
                    .iter()
                    .map(|&(name, shndx, value)| Export {
                        name,
                        crc: self.crc_value(shndx, value),
                    })
                    .collect();
            }
            if exports.is_empty() {
                if let Some(strings) = self.named_data(KSYMTAB_STRINGS) {
                    exports = nul_separated(strings)
                        .map(|name| Export { name, crc: 0 })
                        .collect();
                }
            }
        }
        let imports = if want_imports {
            self.imports_from(table.as_ref())
        } else {
            Ok(Vec::new())
        };
        Symbols { exports, imports }
    }

    fn imports_from<'s>(
        &'s self,
        table: Option<&SymbolTable<'s>>,
    ) -> Result<Vec<Import<'s>>, Error> {
        // A malformed __versions table spoils the imports, as in kmod.
        let versions = match self.modversions() {
            Ok(v) => v,
            Err(Error::NoSection(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let table = table.ok_or(Error::NoSection(SYMTAB))?;
        if !table.imports_usable {
            return Err(Error::Malformed("symbol name outside the string table"));
        }
        let lookup = VersionLookup::new(&versions);
        let mut claimed = vec![false; versions.len()];
        let mut out = Vec::with_capacity(table.undefined.len() + versions.len());
        for &(name, weak) in &table.undefined {
            let mut crc = 0;
            if let Some(i) = lookup.find(name) {
                crc = versions[i].crc;
                claimed[i] = true;
            }
            out.push(Import { name, crc, weak });
        }
        for (v, claimed) in versions.iter().zip(claimed) {
            if !claimed {
                out.push(Import {
                    name: v.name,
                    crc: v.crc,
                    weak: false,
                });
            }
        }
        Ok(out)
    }

    fn read_symtab<'s>(
        &self,
        symtab: &'s [u8],
        strings: &'s [u8],
        want_exports: bool,
        want_imports: bool,
    ) -> SymbolTable<'s> {
        let entsize = if self.is_64 { 24 } else { 16 };
        let mut out = SymbolTable {
            crcs: Vec::new(),
            undefined: Vec::new(),
            crcs_usable: true,
            imports_usable: true,
        };
        let sparc = matches!(self.machine, machine::SPARC | machine::SPARCV9);
        // A partial last entry is ignored, as kmod's count is a division.
        for rec in symtab.chunks_exact(entsize).skip(1) {
            let (name_off, info, shndx, value) = if self.is_64 {
                (
                    self.u32_at(rec, 0),
                    rec[4],
                    self.u16_at(rec, 6),
                    self.u64_at(rec, 8),
                )
            } else {
                (
                    self.u32_at(rec, 0),
                    rec[12],
                    self.u16_at(rec, 14),
                    self.u32_at(rec, 4).map(u64::from),
                )
            };
            let (Some(name_off), Some(shndx), Some(value)) = (name_off, shndx, value) else {
                continue;
            };
            let at = name_off as usize;
            if at >= strings.len() {
                out.crcs_usable = false;
                out.imports_usable &= shndx != SHN_UNDEF;
                continue;
            }
            // Most symbols are defined and not `__crc_*`: a look at the
            // first bytes settles those without finding the end of the name.
            let crc_like = want_exports && strings.get(at..at + 6) == Some(b"__crc_");
            let undefined =
                want_imports && shndx == SHN_UNDEF && !(sparc && info & 0xf == STT_SPARC_REGISTER);
            if !crc_like && !undefined {
                continue;
            }
            // An unterminated name reads as empty, and empty names are skipped.
            let name = name_at(strings, at).unwrap_or(b"");
            if name.is_empty() {
                continue;
            }
            if undefined {
                out.undefined.push((name, info >> 4 == STB_WEAK));
            }
            if crc_like {
                out.crcs.push((&name[6..], shndx, value));
            }
        }
        out
    }

    /// A `__crc_` symbol's value: absolute symbols carry it directly; others
    /// point at a u32 in their section. Unreadable → all ones, as kmod does.
    fn crc_value(&self, shndx: u16, value: u64) -> u64 {
        if shndx == SHN_UNDEF || shndx == SHN_ABS {
            return value;
        }
        let read = || {
            let sec = self.sections.get(usize::from(shndx))?;
            let bytes = self.source.read(sec.offset.checked_add(value)?, 4)?;
            self.u32_at(&bytes, 0).map(u64::from)
        };
        read().unwrap_or(u64::from(u32::MAX))
    }
}

/// The symbol table's interesting entries.
struct SymbolTable<'a> {
    /// `__crc_<name>`: the name (prefix dropped), section index, value.
    crcs: Vec<(&'a [u8], u16, u64)>,
    /// Undefined symbols: name, weak binding.
    undefined: Vec<(&'a [u8], bool)>,
    /// kmod gives up on the `__crc_` exports when any name offset is past
    /// the string table, and on the imports when an undefined symbol's is.
    crcs_usable: bool,
    imports_usable: bool,
}

/// Finds a name's first `__versions` entry; big tables get an index.
struct VersionLookup<'v> {
    versions: &'v [Modversion<'v>],
    index: Option<FastMap<&'v [u8], usize>>,
}

impl<'v> VersionLookup<'v> {
    fn new(versions: &'v [Modversion<'v>]) -> VersionLookup<'v> {
        let index = (versions.len() > 16).then(|| {
            let mut m = FastMap::with_capacity_and_hasher(versions.len(), Default::default());
            for (i, v) in versions.iter().enumerate() {
                m.entry(v.name).or_insert(i);
            }
            m
        });
        VersionLookup { versions, index }
    }

    fn find(&self, name: &[u8]) -> Option<usize> {
        match &self.index {
            Some(m) => m.get(name).copied(),
            None => self.versions.iter().position(|v| v.name == name),
        }
    }
}

/// The NUL-terminated string at `at`; `None` if it does not end in `table`.
fn name_at(table: &[u8], at: usize) -> Option<&[u8]> {
    let rest = table.get(at..)?;
    Some(&rest[..rest.iter().position(|&b| b == 0)?])
}

/// Splits a block of NUL-terminated strings, skipping empty runs. The section
/// end terminates a final string that lacks its NUL, as in kmod.
fn nul_separated(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(0, data)
        .chain(std::iter::once(data.len()))
        .map(move |end| {
            let piece = &data[start..end];
            start = end + 1;
            piece
        })
        .filter(|s| !s.is_empty())
}
