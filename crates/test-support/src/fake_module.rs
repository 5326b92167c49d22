//! Module files made in memory: a minimal x86-64 relocatable ELF carrying
//! what the readers look at (`.modinfo`, `__ksymtab_strings`, `__versions`,
//! `.gnu.linkonce.this_module`, a symbol table with undefined symbols and
//! `__crc_` exports). The one builder of both test suites.
//!
//! Two shapes, because tests patch headers by index and compare kmod's
//! reading of the files with ours, so each suite keeps the bytes it was
//! checked with: [`FakeModule::new`] is shaped as kbuild shapes a module
//! (every section, 8-byte alignment, the name in `this_module`, imports
//! before exports); [`FakeModule::bare`] holds only the sections asked for
//! (the depmod tests', whose damaged files need the freedom).

use std::path::Path;

#[derive(Debug, Clone)]
pub struct FakeModule {
    /// The name in `.gnu.linkonce.this_module` (kbuild's shape only).
    pub name: String,
    /// `.modinfo` records, `key=value`, as bytes (they need not be UTF-8).
    pub modinfo: Vec<Vec<u8>>,
    /// Undefined symbols: (name, weak).
    imports: Vec<(Vec<u8>, bool)>,
    /// Undefined symbols with a raw `st_info` (binding and type).
    typed_imports: Vec<(Vec<u8>, u8)>,
    /// `__versions` entries: the CRCs the module was built against.
    versions: Vec<(Vec<u8>, u64)>,
    /// Exports with a CRC, as `__crc_<name>` absolute symbols.
    crcs: Vec<(Vec<u8>, u64)>,
    /// Exports listed in `__ksymtab_strings`.
    ksymtab_strings: Vec<Vec<u8>>,
    /// Damage: symbols whose name offset is given (section index, offset).
    raw_names: Vec<(u16, u32)>,
    ident_version: u8,
    symtab_name: &'static str,
    machine: u16,
    kbuild: bool,
}

impl FakeModule {
    /// A module as kbuild makes one: GPL, a vermagic and its name.
    pub fn new(name: &str) -> FakeModule {
        let modinfo = [
            "license=GPL".to_string(),
            "vermagic=6.1.0-test SMP preempt mod_unload modversions ".to_string(),
            format!("name={name}"),
        ];
        FakeModule {
            name: name.to_string(),
            modinfo: modinfo.map(String::into_bytes).to_vec(),
            kbuild: true,
            ..FakeModule::bare()
        }
    }

    /// A module with nothing but what the builder's calls add.
    pub fn bare() -> FakeModule {
        FakeModule {
            name: String::new(),
            modinfo: Vec::new(),
            imports: Vec::new(),
            typed_imports: Vec::new(),
            versions: Vec::new(),
            crcs: Vec::new(),
            ksymtab_strings: Vec::new(),
            raw_names: Vec::new(),
            ident_version: 1,
            symtab_name: ".symtab",
            machine: 62,
            kbuild: false,
        }
    }

    /// A raw `.modinfo` record such as `alias=foo`.
    pub fn info(mut self, record: impl AsRef<[u8]>) -> Self {
        self.modinfo.push(record.as_ref().to_vec());
        self
    }

    /// An undefined symbol with its `__versions` entry.
    pub fn needs(self, sym: impl AsRef<[u8]>, crc: u64) -> Self {
        let sym = sym.as_ref();
        self.import(sym).version(sym, crc)
    }

    /// An undefined symbol without a `__versions` entry (modpost writes
    /// none for the names it knows the loader ignores).
    pub fn import(mut self, sym: impl AsRef<[u8]>) -> Self {
        self.imports.push((sym.as_ref().to_vec(), false));
        self
    }

    pub fn weak_import(mut self, sym: impl AsRef<[u8]>) -> Self {
        self.imports.push((sym.as_ref().to_vec(), true));
        self
    }

    /// An undefined symbol with `st_info` as given (e.g. `0x1d`: global,
    /// SPARC's STT_REGISTER).
    pub fn typed_import(mut self, sym: impl AsRef<[u8]>, info: u8) -> Self {
        self.typed_imports.push((sym.as_ref().to_vec(), info));
        self
    }

    /// A `__versions` entry (the CRC the module was built against).
    pub fn version(mut self, sym: impl AsRef<[u8]>, crc: u64) -> Self {
        self.versions.push((sym.as_ref().to_vec(), crc));
        self
    }

    /// An export with a CRC, as a `__crc_<name>` absolute symbol.
    pub fn export_crc(mut self, sym: impl AsRef<[u8]>, crc: u64) -> Self {
        self.crcs.push((sym.as_ref().to_vec(), crc));
        self
    }

    /// An export listed in `__ksymtab_strings` (kernels without modversions).
    pub fn export(mut self, sym: impl AsRef<[u8]>) -> Self {
        self.ksymtab_strings.push(sym.as_ref().to_vec());
        self
    }

    /// The header's `e_machine` (x86-64 by default).
    pub fn machine(mut self, machine: u16) -> Self {
        self.machine = machine;
        self
    }

    /// A symbol (defined in section `shndx`, or undefined with 0) whose
    /// name is at `offset` in `.strtab`, wherever that is.
    pub fn symbol_name_at(mut self, shndx: u16, offset: u32) -> Self {
        self.raw_names.push((shndx, offset));
        self
    }

    /// The header's EI_VERSION byte (1, EV_CURRENT, by default).
    pub fn ident_version(mut self, version: u8) -> Self {
        self.ident_version = version;
        self
    }

    /// The name of the symbol table section (`.symtab` by default; the
    /// section keeps type SHT_SYMTAB and its link to `.strtab`).
    pub fn symtab_name(mut self, name: &'static str) -> Self {
        self.symtab_name = name;
        self
    }

    /// Writes the file, creating its directory.
    pub fn write(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, self.build()).unwrap();
    }

    pub fn build(&self) -> Vec<u8> {
        let (symtab, strtab) = self.symbols();
        let nul_joined = |items: &[Vec<u8>]| -> Vec<u8> {
            items
                .iter()
                .flat_map(|r| r.iter().copied().chain([0]))
                .collect()
        };
        let progbits = |name, data| Section::new(name, SHT_PROGBITS, data).flags(SHF_ALLOC);
        let mut sections = vec![progbits(".modinfo", nul_joined(&self.modinfo))];
        if !self.ksymtab_strings.is_empty() {
            let strings = nul_joined(&self.ksymtab_strings);
            sections.push(progbits("__ksymtab_strings", strings));
        }
        if self.kbuild || !self.versions.is_empty() {
            let mut v = Vec::new();
            for (name, crc) in &self.versions {
                let mut rec = [0u8; 64];
                rec[..8].copy_from_slice(&crc.to_le_bytes());
                rec[8..8 + name.len()].copy_from_slice(name);
                v.extend_from_slice(&rec);
            }
            sections.push(progbits("__versions", v));
        }
        if self.kbuild {
            let mut this_module = vec![0u8; 24 + 56 + 8];
            this_module[24..24 + self.name.len()].copy_from_slice(self.name.as_bytes());
            let writable = SHF_ALLOC | SHF_WRITE;
            sections.push(progbits(".gnu.linkonce.this_module", this_module).flags(writable));
        }
        // Indexes count the null section: the string table follows. Its
        // sh_info says the null symbol is the only local one.
        let strtab_index = sections.len() as u32 + 2;
        let mut symtab = Section::new(self.symtab_name, SHT_SYMTAB, symtab);
        (symtab.link, symtab.info, symtab.entsize) = (strtab_index, 1, 24);
        sections.push(symtab);
        sections.push(Section::new(".strtab", SHT_STRTAB, strtab));
        let mut shstrtab = vec![0u8];
        let mut name_at = Vec::new();
        for name in sections.iter().map(|s| s.name).chain([".shstrtab"]) {
            name_at.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
        }
        sections.push(Section::new(".shstrtab", SHT_STRTAB, shstrtab));
        self.layout(&sections, &name_at)
    }

    /// `.symtab` and `.strtab`. kbuild's files list the undefined symbols
    /// first, the bare ones the CRCs.
    fn symbols(&self) -> (Vec<u8>, Vec<u8>) {
        // (name, or its offset given raw; st_info; st_shndx; st_value)
        type Sym = (Result<Vec<u8>, u32>, u8, u16, u64);
        let crcs = self.crcs.iter().map(|(name, crc)| -> Sym {
            let name = [&b"__crc_"[..], name].concat();
            (Ok(name), STB_GLOBAL, SHN_ABS, *crc)
        });
        let imports = self.imports.iter().map(|(name, weak)| -> Sym {
            let bind = if *weak { STB_WEAK } else { STB_GLOBAL };
            (Ok(name.clone()), bind, 0, 0)
        });
        let mut syms: Vec<Sym> = if self.kbuild {
            imports.chain(crcs).collect()
        } else {
            crcs.chain(imports).collect()
        };
        syms.extend(
            self.typed_imports
                .iter()
                .map(|(n, info)| (Ok(n.clone()), *info, 0, 0)),
        );
        syms.extend(
            self.raw_names
                .iter()
                .map(|&(shndx, at)| (Err(at), STB_GLOBAL, shndx, 0)),
        );
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        for (name, info, shndx, value) in syms {
            let at = match name {
                Ok(name) => {
                    let at = strtab.len() as u32;
                    strtab.extend_from_slice(&name);
                    strtab.push(0);
                    at
                }
                Err(at) => at,
            };
            symtab.extend_from_slice(&at.to_le_bytes());
            symtab.extend_from_slice(&[info, 0]);
            symtab.extend_from_slice(&shndx.to_le_bytes());
            symtab.extend_from_slice(&value.to_le_bytes());
            symtab.extend_from_slice(&0u64.to_le_bytes());
        }
        (symtab, strtab)
    }

    /// The file: header, section contents 8-byte aligned, section headers.
    fn layout(&self, sections: &[Section<'_>], name_at: &[u32]) -> Vec<u8> {
        // kbuild's files align every section, the null one included.
        let (align, null_align): (u64, u64) = if self.kbuild { (8, 8) } else { (1, 0) };
        let mut out = vec![0u8; 64];
        let mut headers = vec![0u8; 64];
        headers[48..56].copy_from_slice(&null_align.to_le_bytes());
        for (s, name) in sections.iter().zip(name_at) {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            let offset = out.len() as u64;
            out.extend_from_slice(&s.data);
            headers.extend_from_slice(&name.to_le_bytes());
            headers.extend_from_slice(&s.kind.to_le_bytes());
            headers.extend_from_slice(&s.flags.to_le_bytes());
            headers.extend_from_slice(&0u64.to_le_bytes());
            headers.extend_from_slice(&offset.to_le_bytes());
            headers.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
            headers.extend_from_slice(&s.link.to_le_bytes());
            headers.extend_from_slice(&s.info.to_le_bytes());
            headers.extend_from_slice(&align.to_le_bytes());
            headers.extend_from_slice(&s.entsize.to_le_bytes());
        }
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        out.extend_from_slice(&headers);
        let shnum = sections.len() as u16 + 1;
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(b"\x7fELF\x02\x01");
        h.push(self.ident_version);
        h.extend_from_slice(&[0; 9]);
        h.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
        h.extend_from_slice(&self.machine.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
        h.extend_from_slice(&0u64.to_le_bytes()); // entry
        h.extend_from_slice(&0u64.to_le_bytes()); // phoff
        h.extend_from_slice(&shoff.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // flags
        h.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        h.extend_from_slice(&0u16.to_le_bytes()); // phentsize
        h.extend_from_slice(&0u16.to_le_bytes()); // phnum
        h.extend_from_slice(&64u16.to_le_bytes()); // shentsize
        h.extend_from_slice(&shnum.to_le_bytes());
        h.extend_from_slice(&(shnum - 1).to_le_bytes()); // shstrndx: the last
        out[..64].copy_from_slice(&h);
        out
    }
}

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHN_ABS: u16 = 0xfff1;
const STB_GLOBAL: u8 = 0x10;
const STB_WEAK: u8 = 0x20;

/// One section before it is placed.
struct Section<'a> {
    name: &'a str,
    kind: u32,
    flags: u64,
    data: Vec<u8>,
    link: u32,
    info: u32,
    entsize: u64,
}

impl<'a> Section<'a> {
    fn new(name: &'a str, kind: u32, data: Vec<u8>) -> Section<'a> {
        Section {
            name,
            kind,
            flags: 0,
            data,
            link: 0,
            info: 0,
            entsize: 0,
        }
    }

    fn flags(self, flags: u64) -> Section<'a> {
        Section { flags, ..self }
    }
}
