//! Why the kernel refused a module: the check the 1999 insmod made itself
//! before loading, made here only after the kernel has said no. Every
//! symbol the module needs must be exported by the running kernel or by a
//! loaded module, and where both sides carry symbol version CRCs they must
//! agree. The kernel checks the same, but only answers "Unknown symbol in
//! module" (or, for a CRC, "Invalid parameters"); this says which symbol,
//! and which module would provide it.
//!
//! The kernel decides: nothing here is a reason to refuse a module. The
//! export tables read below can be incomplete or stale, and the kernel's
//! loader has rules of its own; [`Report`] explains a refusal the kernel
//! has made (or, as a dry run, one it may make).
//!
//! Undefined symbols the kernel's loader never looks up are not needs
//! ([`loader_lookup`]): an unreferenced `_GLOBAL_OFFSET_TABLE_` on x86
//! (older GNU as and clang leave one), `.TOC.` on ppc64 (whose other
//! dot-names are looked up without the dot), and SPARC's register
//! declarations (already left out by [`Elf::imports`]).
//!
//! Sources, all through the [`Root`]:
//! * `/lib/modules/<release>/build/Module.symvers`, read first: an export of
//!   the kernel image, or of a module that is loaded, is there; if it
//!   vouches for every symbol, `/proc/kallsyms` is not read at all (the
//!   kernel takes longer to generate that file than insmod takes to run).
//! * `/proc/kallsyms`: `__ksymtab_<sym>` entries are the exports, of the
//!   kernel image or (with `[module]`) of a loaded module. Names are listed
//!   even when `kptr_restrict` hides addresses. Without any `__ksymtab_`
//!   entry (`CONFIG_KALLSYMS_ALL` off) the table is incomplete and missing
//!   symbols are only suspected ([`Report::certain`] is false).
//! * `Module.symvers` again for the CRCs of the kernel image and of in-tree
//!   modules.
//! * The file of a loaded out-of-tree module (from `modules.dep`), trusted
//!   only when its `srcversion` equals the loaded module's.
//! * `modules.symbols(.bin)`: which module exports a symbol that nothing
//!   loaded provides.
//!
//! The check needs the module's symbol table, so a compressed module is
//! decompressed for it even when the kernel could do that itself.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::elf::{machine, Elf};
use crate::index::Index;
use crate::module_file::ModuleFile;
use crate::{name, procfs, sysfs, Root};

/// Who exports a symbol in the running kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Exporter {
    /// The kernel image (vmlinux).
    Kernel,
    /// A loaded module.
    Module(String),
}

impl fmt::Display for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exporter::Kernel => f.write_str("the running kernel"),
            Exporter::Module(m) => f.write_str(m),
        }
    }
}

/// One reason the kernel would refuse the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nothing loaded exports `symbol`. `provider` is the module that
    /// would, according to `modules.symbols`.
    Missing {
        /// The symbol nothing loaded exports.
        symbol: String,
        /// The module that exports it according to `modules.symbols`, if any does.
        provider: Option<String>,
    },
    /// The module was built against another version of `symbol`.
    CrcMismatch {
        /// The symbol whose versions differ.
        symbol: String,
        /// Who exports it in the running kernel.
        exporter: Exporter,
        /// The CRC recorded in the module's `__versions`.
        module_crc: u32,
        /// The CRC of the export in the running kernel (its image or a loaded module).
        kernel_crc: u32,
    },
}

impl Problem {
    /// The symbol the problem is about.
    pub fn symbol(&self) -> &str {
        match self {
            Problem::Missing { symbol, .. } | Problem::CrcMismatch { symbol, .. } => symbol,
        }
    }
}

/// The result of checking one module against the running kernel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The module's name (from the image, else the file name).
    pub module: String,
    /// What would make the kernel refuse it, in the order found.
    pub problems: Vec<Problem>,
    /// The kernel's export table was complete, so a [`Problem::Missing`]
    /// is certain, not suspected.
    pub certain: bool,
}

impl Report {
    /// The symbols nothing loaded exports.
    pub fn missing(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| matches!(p, Problem::Missing { .. }))
    }

    /// The symbols whose CRCs disagree with the running kernel's.
    pub fn mismatches(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| matches!(p, Problem::CrcMismatch { .. }))
    }

    /// One sentence per cause: missing symbols grouped by the module that
    /// provides them (`mod_c needs mod_b_value, exported by mod_b`), then
    /// one per CRC mismatch. Front-ends add their own advice.
    pub fn sentences(&self) -> Vec<Sentence> {
        let mut out: Vec<Sentence> = Vec::new();
        let mut by_provider: Vec<(Option<String>, Vec<String>)> = Vec::new();
        for p in self.missing() {
            if let Problem::Missing { symbol, provider } = p {
                match by_provider.iter_mut().find(|(pr, _)| pr == provider) {
                    Some((_, syms)) => syms.push(symbol.clone()),
                    None => by_provider.push((provider.clone(), vec![symbol.clone()])),
                }
            }
        }
        // Known providers first, in the order their symbols were needed.
        by_provider.sort_by_key(|(p, _)| p.is_none());
        for (provider, symbols) in by_provider {
            let list = symbols.join(", ");
            let text = match &provider {
                Some(p) => format!("{} needs {list}, exported by {p}", self.module),
                None if self.certain => format!(
                    "{} needs {list}, which neither the running kernel nor any module exports",
                    self.module
                ),
                None => format!(
                    "{} needs {list}, which the running kernel does not seem to export",
                    self.module
                ),
            };
            out.push(Sentence {
                cause: Cause::Missing,
                text,
                provider,
                symbols,
            });
        }
        for p in self.mismatches() {
            if let Problem::CrcMismatch {
                symbol,
                exporter,
                module_crc,
                kernel_crc,
            } = p
            {
                out.push(Sentence {
                    cause: Cause::CrcMismatch,
                    text: format!(
                        "{} was built against another version of {symbol} (CRC 0x{module_crc:08x}; {exporter} has 0x{kernel_crc:08x})",
                        self.module
                    ),
                    provider: None,
                    symbols: vec![symbol.clone()],
                });
            }
        }
        out
    }
}

/// What a [`Sentence`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Symbols no loaded code exports.
    Missing,
    /// Symbols built against another version of an export.
    CrcMismatch,
}

/// A sentence of a [`Report`] and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// Whether the sentence is about missing symbols or CRC mismatches.
    pub cause: Cause,
    /// The sentence itself, without a trailing full stop or advice.
    pub text: String,
    /// For missing symbols: the module that exports them, if known.
    pub provider: Option<String>,
    /// The symbols the sentence names, in the order the module needs them.
    pub symbols: Vec<String>,
}

/// Why the check could not run. The tools then let the kernel decide.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/proc/modules` or `/proc/kallsyms` could not be read.
    #[error(transparent)]
    Proc(#[from] procfs::Error),
    /// The module's symbol table could not be read.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The module file, as a host path.
        path: PathBuf,
        /// What the ELF reader found wrong.
        source: crate::elf::Error,
    },
}

/// What to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Skip the CRC comparison (`--force`, `--force-modversion`).
    pub ignore_crcs: bool,
}

/// Checks `module` against the kernel running under `root`, whose release
/// is `release` (for `modules.symbols` and `Module.symvers`).
pub fn check(
    root: &Root,
    release: &str,
    module: &ModuleFile,
    options: Options,
) -> Result<Report, Error> {
    let elf = module.elf().map_err(|e| match e {
        crate::module_file::Error::Elf { path, source } => Error::Elf { path, source },
        other => Error::Elf {
            path: other.path().to_path_buf(),
            source: crate::elf::Error::NotElf,
        },
    })?;
    let name = elf
        .this_module_name()
        .map(str::to_string)
        .unwrap_or_else(|| name::modname_from_path(module.path()));
    check_elf(root, release, &name, &elf, options)
}

/// [`check`] for an already parsed image called `name`.
pub fn check_elf(
    root: &Root,
    release: &str,
    name: &str,
    elf: &Elf<'_>,
    options: Options,
) -> Result<Report, Error> {
    let path = PathBuf::from(procfs::PROC_KALLSYMS);
    let imports = elf.imports().map_err(|source| Error::Elf {
        path: path.clone(),
        source,
    })?;
    let has_versions = elf.modversions().is_ok();
    // Symbol names are bytes; the kernel's lists are compared as text.
    let names: Vec<std::borrow::Cow<'_, str>> = imports
        .iter()
        .map(|i| String::from_utf8_lossy(i.name))
        .collect();
    let needed: Vec<(&str, u64)> = imports
        .iter()
        .zip(&names)
        .filter(|(i, _)| !i.weak)
        .filter_map(|(i, name)| Some((loader_lookup(elf.machine(), name)?, i.crc)))
        .collect();
    let needed_names: HashSet<&str> = needed.iter().map(|(n, _)| *n).collect();

    // Cheap first: Module.symvers of the running release says who exports
    // what; an export of the kernel image, or of a module that is loaded, is
    // there. Only what it cannot vouch for sends us to /proc/kallsyms, whose
    // generation alone costs the kernel far more than the rest of insmod.
    let sources = CrcSources::new(root, release, needed_names.clone());
    let mut exported: HashMap<String, Exporter> = HashMap::new();
    for (sym, _) in &needed {
        match sources.symvers().get(*sym) {
            Some((_, owner)) if owner.is_empty() => {
                exported.insert(sym.to_string(), Exporter::Kernel);
            }
            Some((_, owner)) if matches!(sysfs::initstate(root, owner), Ok(Some(_))) => {
                exported.insert(sym.to_string(), Exporter::Module(owner.clone()));
            }
            _ => {}
        }
    }
    let mut present: HashSet<String> = HashSet::new();
    let mut complete = true;
    if needed.iter().any(|(n, _)| !exported.contains_key(*n)) {
        complete = false;
        scan_kallsyms(
            root,
            &needed_names,
            &mut exported,
            &mut present,
            &mut complete,
        )?;
    }

    let mut report = Report {
        module: name.to_string(),
        problems: Vec::new(),
        certain: complete,
    };
    let missing: Vec<&str> = needed
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !exported.contains_key(*n) && !present.contains(*n))
        .collect();
    if !missing.is_empty() {
        let providers = providers(root, release, &missing);
        for sym in &missing {
            report.problems.push(Problem::Missing {
                symbol: sym.to_string(),
                provider: providers.get(*sym).cloned(),
            });
        }
    }

    if !options.ignore_crcs && has_versions {
        let wanted: Vec<(&str, &Exporter)> = needed
            .iter()
            .filter_map(|(n, _)| exported.get(*n).map(|e| (*n, e)))
            .collect();
        if !wanted.is_empty() {
            let crcs = &sources;
            for (sym, module_crc) in &needed {
                let Some(exporter) = exported.get(*sym) else {
                    continue;
                };
                if let Some(kernel_crc) = crcs.crc(sym, exporter) {
                    let module_crc = *module_crc as u32;
                    if module_crc != kernel_crc {
                        report.problems.push(Problem::CrcMismatch {
                            symbol: sym.to_string(),
                            exporter: exporter.clone(),
                            module_crc,
                            kernel_crc,
                        });
                    }
                }
            }
        }
    }
    Ok(report)
}

/// The name the kernel's loader looks up for an undefined symbol `name` of
/// a module built for `machine` (`e_machine`), or `None` when it looks up
/// nothing, so that nothing needs to export it:
/// * x86 (`kernel/module/main.c`, `ignore_undef_symbol`): GNU as before
///   2.37 and clang leave an unreferenced `_GLOBAL_OFFSET_TABLE_`;
/// * ppc64 (`arch/powerpc/kernel/module_64.c`): `.TOC.` is the module's
///   own table of contents, and an ELFv1 function entry `.foo` is `foo`.
pub fn loader_lookup(machine: u16, name: &str) -> Option<&str> {
    match machine {
        machine::I386 | machine::X86_64 if name == "_GLOBAL_OFFSET_TABLE_" => None,
        machine::PPC64 => match name.strip_prefix('.') {
            Some("TOC.") => None,
            Some(plain) => Some(plain),
            None => Some(name),
        },
        _ => Some(name),
    }
}

/// Reads `/proc/kallsyms` for the exports (`__ksymtab_<sym>`) and plain
/// presence of the needed symbols. `complete` is set when the table lists
/// exports at all (`CONFIG_KALLSYMS_ALL`).
fn scan_kallsyms(
    root: &Root,
    needed_names: &HashSet<&str>,
    exported: &mut HashMap<String, Exporter>,
    present: &mut HashSet<String>,
    complete: &mut bool,
) -> Result<(), Error> {
    // Most of the 150,000 names are passed over on their length alone.
    let mut lengths = [false; 256];
    for n in needed_names {
        lengths[n.len().min(255)] = true;
    }
    let wanted = |name: &[u8]| -> Option<&str> {
        if !lengths[name.len().min(255)] {
            return None;
        }
        needed_names.get(std::str::from_utf8(name).ok()?).copied()
    };
    procfs::scan_kernel_symbol_names(root, |sym, owner| {
        if let Some(s) = sym.strip_prefix(b"__ksymtab_") {
            *complete = true;
            if let Some(s) = wanted(s) {
                let exporter = match owner {
                    Some(m) => Exporter::Module(String::from_utf8_lossy(m).into_owned()),
                    None => Exporter::Kernel,
                };
                exported.entry(s.to_string()).or_insert(exporter);
            }
        } else if let Some(s) = wanted(sym) {
            present.insert(s.to_string());
        }
    })?;
    Ok(())
}

/// Which module exports each of `symbols`, from `modules.symbols`
/// (`alias symbol:<sym> <module>` lines). First entry wins.
pub fn providers(root: &Root, release: &str, symbols: &[&str]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let moddir = crate::root::module_dir("", release);
    // depmod's index first (what modprobe reads), else its text twin.
    if let Ok(index) = Index::open(root.host(moddir.join("modules.symbols.bin"))) {
        for sym in symbols {
            if let Ok(Some(module)) = index.lookup(format!("symbol:{sym}")) {
                // Names the explanation shows; a module name is never
                // looked up again from here.
                out.insert(
                    sym.to_string(),
                    String::from_utf8_lossy(module).into_owned(),
                );
            }
        }
        return out;
    }
    let wanted: HashSet<&str> = symbols.iter().copied().collect();
    let Ok(file) = std::fs::File::open(root.host(moddir.join("modules.symbols"))) else {
        return out;
    };
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        let mut words = line.split_ascii_whitespace();
        if words.next() != Some("alias") {
            continue;
        }
        let (Some(alias), Some(module)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(sym) = alias.strip_prefix("symbol:") else {
            continue;
        };
        if wanted.contains(sym) && !out.contains_key(sym) {
            out.insert(sym.to_string(), module.to_string());
        }
    }
    out
}

/// Parses `Module.symvers` lines: `0xCRC\tsymbol\tmodule\texport[\tnamespace]`.
pub fn parse_symvers_line(line: &str) -> Option<(u32, &str, &str)> {
    let mut f = line.split('\t');
    let crc = f.next()?;
    let crc = u32::from_str_radix(crc.strip_prefix("0x").unwrap_or(crc), 16).ok()?;
    let sym = f.next()?;
    let module = f.next()?;
    Some((crc, sym, module))
}

/// Where exporters' CRCs come from; read lazily, once.
struct CrcSources<'r> {
    root: &'r Root,
    release: &'r str,
    /// Only these symbols' lines of `Module.symvers` are parsed.
    names: HashSet<&'r str>,
    symvers: std::cell::OnceCell<HashMap<String, (u32, String)>>,
}

impl<'r> CrcSources<'r> {
    fn new(root: &'r Root, release: &'r str, names: HashSet<&'r str>) -> Self {
        CrcSources {
            root,
            release,
            names,
            symvers: std::cell::OnceCell::new(),
        }
    }

    fn symvers(&self) -> &HashMap<String, (u32, String)> {
        self.symvers.get_or_init(|| {
            let mut map = HashMap::new();
            let dir = crate::root::module_dir("", self.release);
            let path = self.root.host(dir.join("build/Module.symvers"));
            let Ok(bytes) = std::fs::read(path) else {
                return map;
            };
            for line in bytes.split(|&b| b == b'\n') {
                let mut fields = line.splitn(3, |&b| b == b'\t');
                let (Some(_), Some(sym)) = (fields.next(), fields.next()) else {
                    continue;
                };
                match std::str::from_utf8(sym) {
                    Ok(sym) if self.names.contains(sym) => {}
                    _ => continue,
                }
                let Ok(line) = std::str::from_utf8(line) else {
                    continue;
                };
                if let Some((crc, sym, module)) = parse_symvers_line(line) {
                    let owner = if module == "vmlinux" {
                        String::new()
                    } else {
                        name::modname_from_path(Path::new(module))
                    };
                    map.entry(sym.to_string()).or_insert((crc, owner));
                }
            }
            map
        })
    }

    /// The CRC the running kernel holds for `sym`, when a trustworthy
    /// source knows it.
    fn crc(&self, sym: &str, exporter: &Exporter) -> Option<u32> {
        let owner = match exporter {
            Exporter::Kernel => "",
            Exporter::Module(m) => m.as_str(),
        };
        if let Some((crc, o)) = self.symvers().get(sym) {
            if o == owner {
                return Some(*crc);
            }
        }
        match exporter {
            Exporter::Kernel => None,
            Exporter::Module(m) => self.crc_from_loaded_file(sym, m),
        }
    }

    /// The CRC in the file of loaded module `module`, found through
    /// `modules.dep`, if the file is provably the one loaded (same
    /// `srcversion`).
    fn crc_from_loaded_file(&self, sym: &str, module: &str) -> Option<u32> {
        let loaded = sysfs::srcversion(self.root, module)?;
        let moddir = crate::root::module_dir("", self.release);
        let context = Context::new(self.root.clone(), Some(moddir));
        let file_path = context.lookup_name(module).ok()??.path?;
        let file = ModuleFile::open(self.root.host(file_path)).ok()?;
        let elf = file.elf().ok()?;
        let srcversion = elf
            .modinfo()
            .ok()?
            .into_iter()
            .find_map(|r| r.strip_prefix(b"srcversion="))?;
        if srcversion != loaded.as_bytes() {
            return None;
        }
        let export = elf
            .exports()
            .ok()?
            .into_iter()
            .find(|e| e.name == sym.as_bytes())?;
        Some(export.crc as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symvers_lines() {
        assert_eq!(
            parse_symvers_line("0x4c9d28b0\tphys_base\tvmlinux\tEXPORT_SYMBOL\t"),
            Some((0x4c9d28b0, "phys_base", "vmlinux"))
        );
        assert_eq!(parse_symvers_line("junk"), None);
    }

    #[test]
    fn sentences_group_by_provider() {
        let report = Report {
            module: "mod_c".into(),
            certain: true,
            problems: vec![
                Problem::Missing {
                    symbol: "nowhere".into(),
                    provider: None,
                },
                Problem::Missing {
                    symbol: "mod_b_value".into(),
                    provider: Some("mod_b".into()),
                },
                Problem::Missing {
                    symbol: "mod_a_value".into(),
                    provider: Some("mod_a".into()),
                },
                Problem::Missing {
                    symbol: "mod_b_sum".into(),
                    provider: Some("mod_b".into()),
                },
                Problem::CrcMismatch {
                    symbol: "_printk".into(),
                    exporter: Exporter::Kernel,
                    module_crc: 0xdeadbeef,
                    kernel_crc: 0x12,
                },
            ],
        };
        let s: Vec<String> = report.sentences().into_iter().map(|s| s.text).collect();
        assert_eq!(
            s,
            [
                "mod_c needs mod_b_value, mod_b_sum, exported by mod_b",
                "mod_c needs mod_a_value, exported by mod_a",
                "mod_c needs nowhere, which neither the running kernel nor any module exports",
                "mod_c was built against another version of _printk (CRC 0xdeadbeef; the running kernel has 0x00000012)",
            ]
        );
        let uncertain = Report {
            certain: false,
            problems: report.problems[..1].to_vec(),
            ..report
        };
        assert_eq!(
            uncertain.sentences()[0].text,
            "mod_c needs nowhere, which the running kernel does not seem to export"
        );
    }

    #[test]
    fn names_the_loader_never_looks_up() {
        let got = "_GLOBAL_OFFSET_TABLE_";
        assert_eq!(loader_lookup(machine::X86_64, got), None);
        assert_eq!(loader_lookup(machine::I386, got), None);
        // Only x86's loader ignores it.
        assert_eq!(loader_lookup(183, got), Some(got));
        assert_eq!(loader_lookup(machine::PPC64, ".TOC."), None);
        assert_eq!(loader_lookup(machine::PPC64, ".memcpy"), Some("memcpy"));
        assert_eq!(loader_lookup(machine::PPC64, "memcpy"), Some("memcpy"));
        assert_eq!(loader_lookup(machine::X86_64, ".TOC."), Some(".TOC."));
        assert_eq!(loader_lookup(machine::X86_64, "_printk"), Some("_printk"));
    }
}
