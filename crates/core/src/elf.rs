//! The parts of a module's ELF image the tools read: `.modinfo`, `__versions`,
//! exported and undefined symbols, and the module's own name.
//!
//! Class (32/64-bit) and byte order come from the file itself, so modules for
//! any architecture can be inspected on any host. Every offset is checked:
//! malformed input gives an [`Error`], never a panic.

use std::collections::HashMap;

use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{elf, Endianness};

/// Why an ELF image could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not an ELF file")]
    NotElf,
    #[error("malformed ELF: {0}")]
    Malformed(&'static str),
    #[error("section {0} has a size that is not a multiple of 64")]
    BadVersionsSize(&'static str),
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

/// One section header, reduced to what the tools need.
#[derive(Debug, Clone, Copy)]
struct Section<'a> {
    name: &'a [u8],
    sh_type: u32,
    offset: u64,
    size: u64,
    /// Offset of the header's `sh_flags` field in the file (for `--force`).
    flags_at: usize,
    flags: u64,
}

/// A symbol of `.symtab`, in a class-independent form.
#[derive(Debug, Clone, Copy)]
struct RawSym<'a> {
    name: &'a [u8],
    shndx: u16,
    value: u64,
    weak: bool,
}

/// An entry of `__versions`: the CRC the module was built against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modversion<'a> {
    pub crc: u64,
    pub name: &'a str,
}

/// A symbol the module exports, with its CRC (0 without modversions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export<'a> {
    pub name: &'a str,
    pub crc: u64,
}

/// A symbol the module needs from the kernel or another module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import<'a> {
    pub name: &'a str,
    pub crc: u64,
    pub weak: bool,
}

/// A parsed ELF module image borrowing the file's bytes.
#[derive(Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    is_64: bool,
    endian: Endianness,
    sections: Vec<Section<'a>>,
}

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Elf<'a>, Error> {
        if data.len() <= 16 || &data[..4] != b"\x7fELF" {
            return Err(Error::NotElf);
        }
        match object::elf::FileClass(data[4]) {
            elf::ELFCLASS32 => parse_sections::<elf::FileHeader32<Endianness>>(data, false),
            elf::ELFCLASS64 => parse_sections::<elf::FileHeader64<Endianness>>(data, true),
            _ => Err(Error::Malformed("unknown ELF class")),
        }
    }

    pub fn is_64(&self) -> bool {
        self.is_64
    }

    pub fn is_big_endian(&self) -> bool {
        self.endian == Endianness::Big
    }

    /// Whether a section called `name` exists (with its data in the file).
    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// The first section called `name` whose data lies inside the file.
    /// Headers pointing elsewhere are passed over, as kmod and the kernel do.
    fn section(&self, name: &str) -> Option<&Section<'a>> {
        self.sections
            .iter()
            .skip(1)
            .find(|s| s.name == name.as_bytes() && range(self.data, s.offset, s.size).is_some())
    }

    fn section_data(&self, s: &Section<'a>) -> &'a [u8] {
        range(self.data, s.offset, s.size).unwrap_or(&[])
    }

    fn named_data(&self, name: &'static str) -> Option<&'a [u8]> {
        self.section(name).map(|s| self.section_data(s))
    }

    /// The raw `.modinfo` records in section order, NUL padding skipped.
    /// Each is normally `key=value`; a final record may lack its NUL.
    pub fn modinfo(&self) -> Result<Vec<&'a [u8]>, Error> {
        let data = self.named_data(MODINFO).ok_or(Error::NoSection(MODINFO))?;
        Ok(nul_separated(data))
    }

    /// The `__versions` table; [`Error::NoSection`] when the module has none.
    pub fn modversions(&self) -> Result<Vec<Modversion<'a>>, Error> {
        let data = self
            .named_data(VERSIONS)
            .ok_or(Error::NoSection(VERSIONS))?;
        if data.len() % 64 != 0 {
            return Err(Error::BadVersionsSize(VERSIONS));
        }
        let crc_len = if self.is_64 { 8 } else { 4 };
        data.chunks_exact(64)
            .map(|rec| {
                let crc = self.read_word(rec, crc_len);
                let field = &rec[crc_len..];
                let end = memchr(field).ok_or(Error::Unterminated(VERSIONS))?;
                let name = field[..end].strip_prefix(b".").unwrap_or(&field[..end]);
                Ok(Modversion {
                    crc,
                    name: ascii_lossless(name),
                })
            })
            .collect()
    }

    /// Exported symbols: `__crc_<sym>` symbols with their CRCs or, for kernels
    /// without modversions, the names in `__ksymtab_strings` with CRC 0.
    pub fn exports(&self) -> Result<Vec<Export<'a>>, Error> {
        let symbols = self.symbols()?;
        let mut out = Vec::new();
        for sym in &symbols {
            let Some(name) = sym.name.strip_prefix(b"__crc_") else {
                continue;
            };
            out.push(Export {
                name: ascii_lossless(name),
                crc: self.crc_value(sym),
            });
        }
        if !out.is_empty() {
            return Ok(out);
        }
        let Some(strings) = self.named_data(KSYMTAB_STRINGS) else {
            return Ok(out);
        };
        Ok(nul_separated(strings)
            .into_iter()
            .map(|name| Export {
                name: ascii_lossless(name),
                crc: 0,
            })
            .collect())
    }

    /// Symbols the module needs, in `.symtab` order, each with the CRC recorded
    /// in `__versions`; then the `__versions` entries no undefined symbol
    /// claimed (such as `module_layout`), as kmod's depmod lists them.
    pub fn imports(&self) -> Result<Vec<Import<'a>>, Error> {
        let versions = match self.modversions() {
            Ok(v) => v,
            Err(Error::NoSection(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut claimed = vec![false; versions.len()];
        // Name -> first entry of that name, so that matching stays linear.
        let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(versions.len());
        for (i, v) in versions.iter().enumerate() {
            by_name.entry(v.name).or_insert(i);
        }
        let mut out = Vec::new();
        for sym in self.symbols()? {
            if sym.shndx != elf::SHN_UNDEF.0 || sym.name.is_empty() {
                continue;
            }
            let name = ascii_lossless(sym.name);
            let mut crc = 0;
            if let Some(&i) = by_name.get(name) {
                crc = versions[i].crc;
                claimed[i] = true;
            }
            out.push(Import {
                name,
                crc,
                weak: sym.weak,
            });
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

    /// The name the module was built with, from `struct module` in
    /// `.gnu.linkonce.this_module`; `None` if absent or unreadable.
    pub fn this_module_name(&self) -> Option<&'a str> {
        let data = self.named_data(THIS_MODULE)?;
        // struct module begins with `enum module_state` and a `list_head`.
        let at = if self.is_64 { 24 } else { 12 };
        let field = data.get(at..)?;
        let end = memchr(field)?;
        std::str::from_utf8(&field[..end])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// Where `--force-modversion` patches the image: the file offset of the
    /// byte holding `SHF_ALLOC` in `__versions`' header, if there is one.
    pub fn versions_alloc_flag_byte(&self) -> Option<usize> {
        let s = self.section(VERSIONS)?;
        if s.flags & elf::SHF_ALLOC.0 == 0 {
            return None;
        }
        let width = if self.is_64 { 8 } else { 4 };
        Some(if self.is_big_endian() {
            s.flags_at + width - 1
        } else {
            s.flags_at
        })
    }

    /// File range of the `vermagic=…` record in `.modinfo`, for `--force-vermagic`.
    pub fn vermagic_range(&self) -> Option<std::ops::Range<usize>> {
        let s = self.section(MODINFO)?;
        let data = self.section_data(s);
        let base = s.offset as usize;
        nul_separated(data).into_iter().find_map(|rec| {
            let start = rec.as_ptr() as usize - data.as_ptr() as usize;
            rec.starts_with(b"vermagic=")
                .then(|| base + start..base + start + rec.len())
        })
    }

    fn read_word(&self, bytes: &[u8], len: usize) -> u64 {
        let b = &bytes[..len];
        let mut v = 0u64;
        if self.is_big_endian() {
            for &x in b {
                v = (v << 8) | u64::from(x);
            }
        } else {
            for &x in b.iter().rev() {
                v = (v << 8) | u64::from(x);
            }
        }
        v
    }

    /// A `__crc_` symbol's value: absolute symbols carry it directly; others
    /// point at a u32 in their section. Unreadable → all ones, as kmod does.
    fn crc_value(&self, sym: &RawSym<'a>) -> u64 {
        if sym.shndx == elf::SHN_UNDEF.0 || sym.shndx == elf::SHN_ABS.0 {
            return sym.value;
        }
        let Some(sec) = self.sections.get(usize::from(sym.shndx)) else {
            return u64::from(u32::MAX);
        };
        match sec
            .offset
            .checked_add(sym.value)
            .and_then(|at| range(self.data, at, 4))
        {
            Some(b) => self.read_word(b, 4),
            None => u64::from(u32::MAX),
        }
    }

    fn symbols(&self) -> Result<Vec<RawSym<'a>>, Error> {
        if self.is_64 {
            read_symbols::<elf::FileHeader64<Endianness>>(self)
        } else {
            read_symbols::<elf::FileHeader32<Endianness>>(self)
        }
    }
}

fn parse_sections<'a, H>(data: &'a [u8], is_64: bool) -> Result<Elf<'a>, Error>
where
    H: FileHeader<Endian = Endianness>,
{
    let header = file_header::<H>(data)?;
    let endian = header
        .endian()
        .map_err(|_| Error::Malformed("unknown byte order"))?;
    // kmod insists on the native header size; so do we.
    if usize::from(header.e_shentsize(endian)) != std::mem::size_of::<H::SectionHeader>() {
        return Err(Error::Malformed("unexpected section header size"));
    }
    let table = header
        .sections(endian, data)
        .map_err(|_| Error::Malformed("section header table outside the file"))?;
    let strndx = header
        .shstrndx(endian, data)
        .map_err(|_| Error::Malformed("bad section name table index"))?;
    if strndx != 0 {
        let names = table
            .section(object::SectionIndex(strndx as usize))
            .ok()
            .and_then(|s| {
                let (off, size) = (s.sh_offset(endian).into(), s.sh_size(endian).into());
                range(data, off, size)
            })
            .ok_or(Error::Malformed("section name table outside the file"))?;
        if names.last() != Some(&0) {
            return Err(Error::Malformed("section name table is not NUL-terminated"));
        }
    }
    let shoff: u64 = header.e_shoff(endian).into();
    let entsize = std::mem::size_of::<H::SectionHeader>();
    let mut sections = Vec::with_capacity(table.len());
    for (i, sh) in table.iter().enumerate() {
        sections.push(Section {
            name: table.section_name(endian, sh).unwrap_or(b""),
            sh_type: sh.sh_type(endian).0,
            offset: sh.sh_offset(endian).into(),
            size: sh.sh_size(endian).into(),
            flags_at: shoff as usize + i * entsize + 8,
            flags: sh.sh_flags(endian).0,
        });
    }
    Ok(Elf {
        data,
        is_64,
        endian,
        sections,
    })
}

/// The file header, checked as kmod checks it: magic, class and byte order.
/// The object crate also wants `EI_VERSION` to be 1, which neither kmod nor
/// the kernel looks at, so it parses a copy with that byte set.
fn file_header<H>(data: &[u8]) -> Result<H, Error>
where
    H: FileHeader<Endian = Endianness>,
{
    let mut head = data
        .get(..std::mem::size_of::<H>())
        .ok_or(Error::Malformed("bad ELF header"))?
        .to_vec();
    head[6] = elf::EV_CURRENT.0;
    H::parse(&head[..])
        .copied()
        .map_err(|_| Error::Malformed("bad ELF header"))
}

fn read_symbols<'a, H>(elf: &Elf<'a>) -> Result<Vec<RawSym<'a>>, Error>
where
    H: FileHeader<Endian = Endianness>,
{
    let Some(symtab) = elf
        .sections
        .iter()
        .position(|s| s.sh_type == elf::SHT_SYMTAB.0)
    else {
        return Ok(Vec::new());
    };
    let header = file_header::<H>(elf.data)?;
    let endian = elf.endian;
    let table = header
        .sections(endian, elf.data)
        .map_err(|_| Error::Malformed("section header table outside the file"))?;
    let symbols = table
        .symbol_table_by_index(endian, elf.data, object::SectionIndex(symtab))
        .map_err(|_| Error::Malformed("symbol table outside the file"))?;
    let strings = symbols.strings();
    let mut out = Vec::with_capacity(symbols.len());
    for sym in symbols.iter().skip(1) {
        let name = sym.name(endian, strings).unwrap_or(b"");
        out.push(RawSym {
            name,
            shndx: sym.st_shndx(endian).0,
            value: sym.st_value(endian).into(),
            weak: sym.st_bind() == elf::STB_WEAK,
        });
    }
    Ok(out)
}

fn range(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    data.get(start..end)
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

/// Splits a block of NUL-terminated strings, skipping empty runs. The section
/// end terminates a final string that lacks its NUL, as in kmod.
fn nul_separated(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == 0).filter(|s| !s.is_empty()).collect()
}

/// Symbol names are ASCII in practice; anything else is shown, not trusted.
fn ascii_lossless(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}
