//! Reading depmod's data out of a module's ELF image, touching only the
//! section headers and the sections it needs (`.modinfo`, `__versions`,
//! `__ksymtab_strings`, the symbol table and its strings, and the sections
//! `__crc_*` symbols point into).
//!
//! On real modules the results are those of [`crate::elf::Elf`]'s
//! `modinfo()`, `exports()` and `imports()` (a test holds the two together
//! on real trees), read in one pass over the symbol table. Where damaged
//! files make them differ, this follows kmod (checked against kmod's depmod
//! on damaged modules): sections are found by name, `.symtab` and `.strtab`
//! included; EI_VERSION is not checked; an unusable symbol table still
//! leaves the `__ksymtab_strings` exports. Names stay raw bytes.

use std::borrow::Cow;

use super::hash::FastMap;
use super::image::Image;
use super::parse::Parsed;

const SHN_UNDEF: u16 = 0;
const SHN_ABS: u16 = 0xfff1;
const STB_WEAK: u8 = 2;

#[derive(Debug, Clone, Copy)]
struct Section {
    name: u32,
    offset: u64,
    size: u64,
    link: u32,
}

struct Layout {
    is_64: bool,
    big: bool,
}

impl Layout {
    fn u16(&self, b: &[u8], at: usize) -> Option<u16> {
        let v: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        })
    }

    fn u32(&self, b: &[u8], at: usize) -> Option<u32> {
        let v: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        })
    }

    fn u64(&self, b: &[u8], at: usize) -> Option<u64> {
        let v: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        })
    }

    /// A class-sized word (address, offset, size).
    fn word(&self, b: &[u8], at: usize) -> Option<u64> {
        if self.is_64 {
            self.u64(b, at)
        } else {
            self.u32(b, at).map(u64::from)
        }
    }
}

/// Extracts everything depmod needs into `out`. `Err` is kmod's errno for
/// a file that is not a usable ELF image: ENOEXEC without the magic, else
/// EINVAL.
pub(crate) fn extract(image: &Image<'_>, out: &mut Parsed) -> Result<(), i32> {
    // kmod: anything up to the size of e_ident, or without the magic, is
    // not ELF at all.
    let ident = image.range(0, 16).ok_or(libc::ENOEXEC)?;
    if image.len() <= 16 || &ident[..4] != b"\x7fELF" {
        return Err(libc::ENOEXEC);
    }
    let l = Layout {
        is_64: match ident[4] {
            1 => false,
            2 => true,
            _ => return Err(libc::EINVAL),
        },
        big: match ident[5] {
            1 => false,
            2 => true,
            _ => return Err(libc::EINVAL),
        },
    };
    // EI_VERSION is not looked at (kmod does not; `crate::elf` does).
    let sections = section_headers(image, &l).ok_or(libc::EINVAL)?;
    // The first section of each wanted name whose data is inside the file.
    const WANTED: [&[u8]; 5] = [
        b".modinfo",
        b"__ksymtab_strings",
        b"__versions",
        b".symtab",
        b".strtab",
    ];
    let mut found: [Option<&Section>; 5] = [None; 5];
    for s in sections.list.iter().skip(1) {
        let Some(name) = name_at(&sections.names, s.name) else {
            continue;
        };
        if let Some(w) = WANTED.iter().position(|w| *w == name) {
            if found[w].is_none() && in_file(image, s) {
                found[w] = Some(s);
            }
        }
    }
    let find = |wanted: &[u8]| found[WANTED.iter().position(|w| *w == wanted).unwrap_or(0)];

    if let Some(data) = find(b".modinfo").and_then(|s| load(image, s)) {
        for record in nul_separated(&data) {
            out.add_modinfo(record);
        }
    }
    let symtab = symbols(image, &l, find(b".symtab"), find(b".strtab"));
    if let Some(syms) = symtab.as_ref().filter(|s| s.crcs_usable) {
        for &(r, shndx, value) in &syms.crcs {
            out.add_export(
                syms.name(r),
                crc_value(image, &l, &sections.list, shndx, value),
            );
        }
    }
    if out.exports.is_empty() {
        if let Some(data) = find(b"__ksymtab_strings").and_then(|s| load(image, s)) {
            for name in nul_separated(&data) {
                out.add_export(name, 0);
            }
        }
    }

    // A malformed __versions table spoils the imports, as in kmod.
    let versions_data = find(b"__versions").and_then(|s| load(image, s));
    let versions = match &versions_data {
        Some(data) => match versions(data, &l) {
            Some(v) => v,
            None => return Ok(()),
        },
        None => Vec::new(),
    };
    let Some(syms) = symtab.as_ref().filter(|s| s.imports_usable) else {
        return Ok(());
    };
    let mut claimed = vec![false; versions.len()];
    let lookup = VersionLookup::new(&versions);
    for &(r, weak) in &syms.undefined {
        let name = syms.name(r);
        let mut crc = 0;
        if let Some(i) = lookup.find(name) {
            crc = versions[i].1;
            claimed[i] = true;
        }
        out.add_import(name, crc, weak);
    }
    for (&(name, crc), claimed) in versions.iter().zip(&claimed) {
        if !claimed {
            out.add_import(name, crc, false);
        }
    }
    Ok(())
}

struct Sections {
    list: Vec<Section>,
    names: Vec<u8>,
}

fn section_headers(image: &Image<'_>, l: &Layout) -> Option<Sections> {
    let (ehsize, shsize) = if l.is_64 { (64, 64) } else { (52, 40) };
    let eh = image.range(0, ehsize)?;
    let (shoff, entsize_at) = if l.is_64 {
        (l.u64(&eh, 0x28)?, 0x3a)
    } else {
        (u64::from(l.u32(&eh, 0x20)?), 0x2e)
    };
    if u64::from(l.u16(&eh, entsize_at)?) != shsize {
        return None;
    }
    let mut count = u64::from(l.u16(&eh, entsize_at + 2)?);
    let mut strndx = u32::from(l.u16(&eh, entsize_at + 4)?);
    if shoff == 0 {
        return Some(Sections {
            list: Vec::new(),
            names: Vec::new(),
        });
    }
    let first = image.range(shoff, shsize)?;
    let parse = |b: &[u8], at: usize| -> Option<Section> {
        let (o, w) = if l.is_64 { (0x18, 8) } else { (0x10, 4) };
        Some(Section {
            name: l.u32(b, at)?,
            offset: l.word(b, at + o)?,
            size: l.word(b, at + o + w)?,
            link: l.u32(b, at + o + 2 * w)?,
        })
    };
    // Extended numbering: the real counts live in section 0.
    if count == 0 {
        count = parse(&first, 0)?.size;
    }
    if strndx == 0xffff {
        strndx = parse(&first, 0)?.link;
    }
    let table = image.range(shoff, count.checked_mul(shsize)?)?;
    let list: Vec<Section> = (0..count as usize)
        .map(|i| parse(&table, i * shsize as usize))
        .collect::<Option<_>>()?;
    let mut names = Vec::new();
    if strndx != 0 {
        let s = list.get(strndx as usize)?;
        names = load(image, s)?.into_owned();
        if names.last() != Some(&0) {
            return None;
        }
    }
    Some(Sections { list, names })
}

fn in_file(image: &Image<'_>, s: &Section) -> bool {
    s.offset
        .checked_add(s.size)
        .is_some_and(|end| end <= image.len())
}

fn load<'i>(image: &'i Image<'_>, s: &Section) -> Option<Cow<'i, [u8]>> {
    image.range(s.offset, s.size)
}

fn name_at(names: &[u8], at: u32) -> Option<&[u8]> {
    let rest = names.get(at as usize..)?;
    Some(&rest[..rest.iter().position(|&b| b == 0)?])
}

/// NUL-separated strings, empty ones skipped; a final string may lack its NUL.
fn nul_separated(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == 0).filter(|s| !s.is_empty())
}

/// `__versions`: 64-byte records of CRC and NUL-terminated name (a leading
/// `.` dropped). `None` if the table is malformed.
fn versions<'d>(data: &'d [u8], l: &Layout) -> Option<Vec<(&'d [u8], u64)>> {
    if data.len() % 64 != 0 {
        return None;
    }
    let crc_len = if l.is_64 { 8 } else { 4 };
    data.chunks_exact(64)
        .map(|rec| {
            let crc = l.word(rec, 0)?;
            let field = &rec[crc_len..];
            let name = &field[..field.iter().position(|&b| b == 0)?];
            Some((name.strip_prefix(b".").unwrap_or(name), crc))
        })
        .collect()
}

/// Finds a name's first `__versions` entry; big tables get an index.
struct VersionLookup<'v> {
    versions: &'v [(&'v [u8], u64)],
    index: Option<FastMap<&'v [u8], usize>>,
}

impl<'v> VersionLookup<'v> {
    fn new(versions: &'v [(&'v [u8], u64)]) -> VersionLookup<'v> {
        let index = (versions.len() > 16).then(|| {
            let mut m = FastMap::with_capacity_and_hasher(versions.len(), Default::default());
            for (i, (name, _)) in versions.iter().enumerate() {
                m.entry(*name).or_insert(i);
            }
            m
        });
        VersionLookup { versions, index }
    }

    fn find(&self, name: &[u8]) -> Option<usize> {
        match &self.index {
            Some(m) => m.get(name).copied(),
            None => self.versions.iter().position(|(n, _)| *n == name),
        }
    }
}

type Range = (usize, usize);

/// The symbol table's interesting entries, as ranges of `strings`.
struct Symbols<'i> {
    strings: Cow<'i, [u8]>,
    /// `__crc_<name>`: the name's range, section index, value.
    crcs: Vec<(Range, u16, u64)>,
    /// Undefined symbols: name range, weak binding.
    undefined: Vec<(Range, bool)>,
    /// kmod gives up on the `__crc_` exports when any name offset is past
    /// the string table (and falls back to `__ksymtab_strings`), and on
    /// the imports when an undefined symbol's is.
    crcs_usable: bool,
    imports_usable: bool,
}

impl Symbols<'_> {
    fn name(&self, r: Range) -> &[u8] {
        &self.strings[r.0..r.1]
    }
}

/// One pass over `.symtab` (names from `.strtab`, as kmod looks them up):
/// `__crc_*` symbols and undefined ones. `None` when either is missing.
fn symbols<'i>(
    image: &'i Image<'_>,
    l: &Layout,
    symtab: Option<&Section>,
    strtab: Option<&Section>,
) -> Option<Symbols<'i>> {
    let entsize = if l.is_64 { 24 } else { 16 };
    // A partial last entry is ignored, as kmod's count is a division.
    let syms = load(image, symtab?)?;
    let strings = load(image, strtab?)?;
    let mut out = Symbols {
        strings,
        crcs: Vec::new(),
        undefined: Vec::new(),
        crcs_usable: true,
        imports_usable: true,
    };
    for rec in syms.chunks_exact(entsize).skip(1) {
        let name_off = l.u32(rec, 0)?;
        let (info, shndx, value) = if l.is_64 {
            (rec[4], l.u16(rec, 6)?, l.u64(rec, 8)?)
        } else {
            (rec[12], l.u16(rec, 14)?, u64::from(l.u32(rec, 4)?))
        };
        // Most symbols are defined and not `__crc_*`: a look at the first
        // bytes settles those without finding the end of the name.
        let at = name_off as usize;
        if at >= out.strings.len() {
            out.crcs_usable = false;
            out.imports_usable &= shndx != SHN_UNDEF;
            continue;
        }
        let crc_like = out.strings.get(at..at + 6) == Some(b"__crc_");
        if shndx != SHN_UNDEF && !crc_like {
            continue;
        }
        let r = name_range(&out.strings, name_off);
        if shndx == SHN_UNDEF && r.1 > r.0 {
            out.undefined.push((r, info >> 4 == STB_WEAK));
        }
        if crc_like && r.1 > r.0 {
            out.crcs.push(((r.0 + 6, r.1), shndx, value));
        }
    }
    Some(out)
}

/// Where a NUL-terminated name at `at` lies; unreadable names are empty.
fn name_range(strings: &[u8], at: u32) -> Range {
    let start = at as usize;
    match strings
        .get(start..)
        .and_then(|r| r.iter().position(|&b| b == 0))
    {
        Some(len) => (start, start + len),
        None => (0, 0),
    }
}

/// A `__crc_` symbol's value: absolute symbols carry it; others point at a
/// u32 in their section. Unreadable gives all ones, as in kmod.
fn crc_value(image: &Image<'_>, l: &Layout, list: &[Section], shndx: u16, value: u64) -> u64 {
    if shndx == SHN_UNDEF || shndx == SHN_ABS {
        return value;
    }
    let read = || {
        let sec = list.get(usize::from(shndx))?;
        let bytes = image.range(sec.offset.checked_add(value)?, 4)?;
        l.u32(&bytes, 0).map(u64::from)
    };
    read().unwrap_or(u64::from(u32::MAX))
}
