//! Writes minimal relocatable ELF64 "modules" carrying exactly what depmod
//! reads: `.modinfo`, `__ksymtab_strings`, `__versions`, and a `.symtab`
//! with `__crc_*` and undefined symbols. Enough for kmod's depmod and ours.

use std::path::Path;

#[derive(Debug, Clone)]
pub struct Module {
    modinfo: Vec<Vec<u8>>,
    exports: Vec<Vec<u8>>,
    crcs: Vec<(Vec<u8>, u64)>,
    imports: Vec<(Vec<u8>, bool)>,
    /// Undefined symbols with a raw `st_info` (binding and type).
    typed_imports: Vec<(Vec<u8>, u8)>,
    versions: Vec<(Vec<u8>, u64)>,
    /// Damage: symbols whose name offset is given (section index, offset).
    raw_names: Vec<(u16, u32)>,
    ident_version: u8,
    symtab_name: &'static str,
    /// `e_machine` (x86-64 by default).
    machine: u16,
}

impl Default for Module {
    fn default() -> Module {
        Module {
            modinfo: Vec::new(),
            exports: Vec::new(),
            crcs: Vec::new(),
            imports: Vec::new(),
            typed_imports: Vec::new(),
            versions: Vec::new(),
            raw_names: Vec::new(),
            ident_version: 1,
            machine: 62,
            symtab_name: ".symtab",
        }
    }
}

impl Module {
    pub fn new() -> Module {
        Module::default()
    }

    /// A symbol (defined in section `shndx`, or undefined with 0) whose
    /// name is at `offset` in `.strtab`, wherever that is.
    pub fn symbol_name_at(mut self, shndx: u16, offset: u32) -> Module {
        self.raw_names.push((shndx, offset));
        self
    }

    /// The header's EI_VERSION byte (1, EV_CURRENT, by default).
    pub fn ident_version(mut self, version: u8) -> Module {
        self.ident_version = version;
        self
    }

    /// The name of the symbol table section (`.symtab` by default; the
    /// section keeps type SHT_SYMTAB and its link to `.strtab`).
    pub fn symtab_name(mut self, name: &'static str) -> Module {
        self.symtab_name = name;
        self
    }

    /// A raw `.modinfo` record such as `alias=foo`.
    pub fn info(mut self, record: impl AsRef<[u8]>) -> Module {
        self.modinfo.push(record.as_ref().to_vec());
        self
    }

    /// An export listed in `__ksymtab_strings` (kernels without modversions).
    pub fn export(mut self, name: impl AsRef<[u8]>) -> Module {
        self.exports.push(name.as_ref().to_vec());
        self
    }

    /// An export with a CRC, as a `__crc_<name>` absolute symbol.
    pub fn export_crc(mut self, name: impl AsRef<[u8]>, crc: u64) -> Module {
        self.crcs.push((name.as_ref().to_vec(), crc));
        self
    }

    pub fn import(mut self, name: impl AsRef<[u8]>) -> Module {
        self.imports.push((name.as_ref().to_vec(), false));
        self
    }

    pub fn weak_import(mut self, name: impl AsRef<[u8]>) -> Module {
        self.imports.push((name.as_ref().to_vec(), true));
        self
    }

    /// An undefined symbol with `st_info` as given (e.g. `0x1d`: global,
    /// SPARC's STT_REGISTER).
    pub fn typed_import(mut self, name: impl AsRef<[u8]>, info: u8) -> Module {
        self.typed_imports.push((name.as_ref().to_vec(), info));
        self
    }

    /// The header's `e_machine`.
    pub fn machine(mut self, machine: u16) -> Module {
        self.machine = machine;
        self
    }

    /// A `__versions` entry (the CRC the module was built against).
    pub fn version(mut self, name: impl AsRef<[u8]>, crc: u64) -> Module {
        self.versions.push((name.as_ref().to_vec(), crc));
        self
    }

    pub fn write(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, self.bytes()).unwrap();
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        let mut sym =
            |name: Result<&[u8], u32>, info: u8, shndx: u16, value: u64, strtab: &mut Vec<u8>| {
                let at = match name {
                    Ok(name) => {
                        let at = strtab.len() as u32;
                        strtab.extend_from_slice(name);
                        strtab.push(0);
                        at
                    }
                    Err(at) => at,
                };
                symtab.extend_from_slice(&at.to_le_bytes());
                symtab.push(info);
                symtab.push(0);
                symtab.extend_from_slice(&shndx.to_le_bytes());
                symtab.extend_from_slice(&value.to_le_bytes());
                symtab.extend_from_slice(&0u64.to_le_bytes());
            };
        for (name, crc) in &self.crcs {
            let name = [&b"__crc_"[..], name].concat();
            sym(Ok(&name), 0x10, 0xfff1, *crc, &mut strtab);
        }
        for (name, weak) in &self.imports {
            sym(Ok(name), if *weak { 0x20 } else { 0x10 }, 0, 0, &mut strtab);
        }
        for (name, info) in &self.typed_imports {
            sym(Ok(name), *info, 0, 0, &mut strtab);
        }
        for &(shndx, at) in &self.raw_names {
            sym(Err(at), 0x10, shndx, 0, &mut strtab);
        }

        let mut sections: Vec<(&str, u32, Vec<u8>, u32, u64)> = Vec::new();
        let modinfo: Vec<u8> = self
            .modinfo
            .iter()
            .flat_map(|r| r.iter().copied().chain([0]))
            .collect();
        sections.push((".modinfo", 1, modinfo, 0, 0));
        if !self.exports.is_empty() {
            let strings = self
                .exports
                .iter()
                .flat_map(|e| e.iter().copied().chain([0]))
                .collect();
            sections.push(("__ksymtab_strings", 1, strings, 0, 0));
        }
        if !self.versions.is_empty() {
            let mut v = Vec::new();
            for (name, crc) in &self.versions {
                let mut rec = [0u8; 64];
                rec[..8].copy_from_slice(&crc.to_le_bytes());
                rec[8..8 + name.len()].copy_from_slice(name);
                v.extend_from_slice(&rec);
            }
            sections.push(("__versions", 1, v, 0, 0));
        }
        let strtab_index = sections.len() as u32 + 2;
        sections.push((self.symtab_name, 2, symtab, strtab_index, 24));
        sections.push((".strtab", 3, strtab, 0, 0));
        let mut shstrtab = vec![0u8];
        let mut name_at = Vec::new();
        for (name, ..) in &sections {
            name_at.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
        }
        name_at.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(b".shstrtab\0");
        sections.push((".shstrtab", 3, shstrtab, 0, 0));

        let mut out = vec![0u8; 64];
        let mut headers = vec![0u8; 64];
        for (i, (_, kind, data, link, entsize)) in sections.iter().enumerate() {
            while out.len() % 8 != 0 {
                out.push(0);
            }
            let offset = out.len() as u64;
            out.extend_from_slice(data);
            let mut h = Vec::with_capacity(64);
            h.extend_from_slice(&name_at[i].to_le_bytes());
            h.extend_from_slice(&kind.to_le_bytes());
            h.extend_from_slice(&(if *kind == 1 { 2u64 } else { 0 }).to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes());
            h.extend_from_slice(&offset.to_le_bytes());
            h.extend_from_slice(&(data.len() as u64).to_le_bytes());
            h.extend_from_slice(&link.to_le_bytes());
            h.extend_from_slice(&(if *kind == 2 { 1u32 } else { 0 }).to_le_bytes());
            h.extend_from_slice(&1u64.to_le_bytes());
            h.extend_from_slice(&entsize.to_le_bytes());
            headers.extend_from_slice(&h);
        }
        while out.len() % 8 != 0 {
            out.push(0);
        }
        let shoff = out.len() as u64;
        out.extend_from_slice(&headers);
        let shnum = sections.len() as u16 + 1;
        let mut eh = Vec::with_capacity(64);
        eh.extend_from_slice(b"\x7fELF\x02\x01");
        eh.push(self.ident_version);
        eh.extend_from_slice(&[0; 9]);
        eh.extend_from_slice(&1u16.to_le_bytes());
        eh.extend_from_slice(&self.machine.to_le_bytes());
        eh.extend_from_slice(&1u32.to_le_bytes());
        eh.extend_from_slice(&0u64.to_le_bytes());
        eh.extend_from_slice(&0u64.to_le_bytes());
        eh.extend_from_slice(&shoff.to_le_bytes());
        eh.extend_from_slice(&0u32.to_le_bytes());
        eh.extend_from_slice(&64u16.to_le_bytes());
        eh.extend_from_slice(&0u16.to_le_bytes());
        eh.extend_from_slice(&0u16.to_le_bytes());
        eh.extend_from_slice(&64u16.to_le_bytes());
        eh.extend_from_slice(&shnum.to_le_bytes());
        eh.extend_from_slice(&(shnum - 1).to_le_bytes());
        out[..64].copy_from_slice(&eh);
        out
    }
}
