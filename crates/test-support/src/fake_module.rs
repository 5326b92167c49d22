//! A minimal x86-64 relocatable ELF that looks like a kernel module to the
//! readers: `.modinfo`, `__versions`, `.gnu.linkonce.this_module`, and a
//! symbol table with undefined symbols and `__crc_` exports. Shared by the
//! core's tests and the front-end tests (included by path).

#[derive(Default, Clone)]
pub struct FakeModule {
    pub name: String,
    /// Undefined symbols: (name, weak).
    pub needs: Vec<(String, bool)>,
    /// `__versions` entries.
    pub versions: Vec<(String, u32)>,
    /// Exported symbols with their CRCs (`__crc_<name>` absolute symbols).
    pub exports: Vec<(String, u32)>,
    /// `.modinfo` records, `key=value`.
    pub modinfo: Vec<String>,
    /// `e_machine`; x86-64 from [`FakeModule::new`].
    pub machine: u16,
}

impl FakeModule {
    pub fn new(name: &str) -> FakeModule {
        FakeModule {
            name: name.to_string(),
            modinfo: vec![
                "license=GPL".to_string(),
                "vermagic=6.1.0-test SMP preempt mod_unload modversions ".to_string(),
                format!("name={name}"),
            ],
            machine: 62,
            ..FakeModule::default()
        }
    }

    pub fn needs(mut self, sym: &str, crc: u32) -> Self {
        self.needs.push((sym.to_string(), false));
        self.versions.push((sym.to_string(), crc));
        self
    }

    /// An undefined symbol without a `__versions` entry (modpost writes
    /// none for the names it knows the loader ignores).
    pub fn undefined(mut self, sym: &str) -> Self {
        self.needs.push((sym.to_string(), false));
        self
    }

    pub fn machine(mut self, machine: u16) -> Self {
        self.machine = machine;
        self
    }

    pub fn needs_weak(mut self, sym: &str) -> Self {
        self.needs.push((sym.to_string(), true));
        self
    }

    pub fn exports(mut self, sym: &str, crc: u32) -> Self {
        self.exports.push((sym.to_string(), crc));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut modinfo = Vec::new();
        for r in &self.modinfo {
            modinfo.extend_from_slice(r.as_bytes());
            modinfo.push(0);
        }
        let mut versions = Vec::new();
        for (name, crc) in &self.versions {
            let mut rec = [0u8; 64];
            rec[..8].copy_from_slice(&u64::from(*crc).to_le_bytes());
            rec[8..8 + name.len()].copy_from_slice(name.as_bytes());
            versions.extend_from_slice(&rec);
        }
        let mut this_module = vec![0u8; 24 + 56 + 8];
        this_module[24..24 + self.name.len()].copy_from_slice(self.name.as_bytes());

        let mut strtab = vec![0u8];
        let add_str = |t: &mut Vec<u8>, s: &str| -> u32 {
            let at = t.len() as u32;
            t.extend_from_slice(s.as_bytes());
            t.push(0);
            at
        };
        let mut symtab = vec![0u8; 24];
        for (name, weak) in &self.needs {
            let n = add_str(&mut strtab, name);
            symtab.extend_from_slice(&sym(n, if *weak { 0x20 } else { 0x10 }, 0, 0));
        }
        for (name, crc) in &self.exports {
            let n = add_str(&mut strtab, &format!("__crc_{name}"));
            symtab.extend_from_slice(&sym(n, 0x10, 0xfff1, u64::from(*crc)));
        }

        let names = [
            "",
            ".modinfo",
            "__versions",
            ".gnu.linkonce.this_module",
            ".symtab",
            ".strtab",
            ".shstrtab",
        ];
        let mut shstrtab = Vec::new();
        let mut name_at = Vec::new();
        for n in names {
            name_at.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(n.as_bytes());
            shstrtab.push(0);
        }
        let datas: [&[u8]; 7] = [
            &[],
            &modinfo,
            &versions,
            &this_module,
            &symtab,
            &strtab,
            &shstrtab,
        ];

        let mut out = vec![0u8; 64];
        let mut offsets = Vec::new();
        for d in datas {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            offsets.push(out.len() as u64);
            out.extend_from_slice(d);
        }
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        // (type, flags, link, info, entsize)
        let shapes: [(u32, u64, u32, u32, u64); 7] = [
            (0, 0, 0, 0, 0),
            (1, 2, 0, 0, 0),
            (1, 2, 0, 0, 0),
            (1, 3, 0, 0, 0),
            (2, 0, 5, 1, 24),
            (3, 0, 0, 0, 0),
            (3, 0, 0, 0, 0),
        ];
        for (i, (ty, flags, link, info, entsize)) in shapes.iter().enumerate() {
            let mut sh = Vec::with_capacity(64);
            sh.extend_from_slice(&name_at[i].to_le_bytes());
            sh.extend_from_slice(&ty.to_le_bytes());
            sh.extend_from_slice(&flags.to_le_bytes());
            sh.extend_from_slice(&0u64.to_le_bytes());
            sh.extend_from_slice(&(if i == 0 { 0 } else { offsets[i] }).to_le_bytes());
            sh.extend_from_slice(&(datas[i].len() as u64).to_le_bytes());
            sh.extend_from_slice(&link.to_le_bytes());
            sh.extend_from_slice(&info.to_le_bytes());
            sh.extend_from_slice(&8u64.to_le_bytes());
            sh.extend_from_slice(&entsize.to_le_bytes());
            out.extend_from_slice(&sh);
        }
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
        h.extend_from_slice(&self.machine.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes()); // entry
        h.extend_from_slice(&0u64.to_le_bytes()); // phoff
        h.extend_from_slice(&shoff.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // flags
        h.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        h.extend_from_slice(&0u16.to_le_bytes()); // phentsize
        h.extend_from_slice(&0u16.to_le_bytes()); // phnum
        h.extend_from_slice(&64u16.to_le_bytes()); // shentsize
        h.extend_from_slice(&7u16.to_le_bytes()); // shnum
        h.extend_from_slice(&6u16.to_le_bytes()); // shstrndx
        out[..64].copy_from_slice(&h);
        out
    }
}

fn sym(name: u32, info: u8, shndx: u16, value: u64) -> [u8; 24] {
    let mut s = [0u8; 24];
    s[..4].copy_from_slice(&name.to_le_bytes());
    s[4] = info;
    s[6..8].copy_from_slice(&shndx.to_le_bytes());
    s[8..16].copy_from_slice(&value.to_le_bytes());
    s
}
