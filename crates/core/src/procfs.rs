//! What `/proc` says about modules: the loaded-module list (`/proc/modules`),
//! the kernel's symbol table (`/proc/kallsyms`) and the module-loading knobs
//! under `/proc/sys/kernel`. Every path is a target path resolved through a
//! [`Root`], so tests can fake a system.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::Root;

/// The loaded-module list, one line per module.
pub const PROC_MODULES: &str = "/proc/modules";
/// The kernel's symbol table, loaded modules' symbols included.
pub const PROC_KALLSYMS: &str = "/proc/kallsyms";
/// `1` once module loading has been switched off for good, until reboot.
pub const MODULES_DISABLED: &str = "/proc/sys/kernel/modules_disabled";
/// Who sees real addresses in `/proc/kallsyms` and `/proc/modules`:
/// 0 everyone, 1 privileged readers only, 2 nobody (the rest read zeros).
pub const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";
/// The program the kernel runs to load a module it lacks.
pub const MODPROBE_PATH: &str = "/proc/sys/kernel/modprobe";

/// Why a `/proc` file could not be used. Paths are target paths.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("could not open {}: {source}", path.display())]
    Io {
        /// The `/proc` file, as a target path.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
    /// A line is not in the shape the kernel writes.
    #[error("{}:{line}: {reason}", path.display())]
    Format {
        /// The `/proc` file, as a target path.
        path: PathBuf,
        /// The line's number, counted from 1.
        line: usize,
        /// What is wrong with the line.
        reason: &'static str,
    },
}

impl Error {
    /// The errno a C tool would report.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => crate::diagnostics::errno_of(source),
            Error::Format { .. } => libc::EINVAL,
        }
    }

    fn io(path: &str, source: io::Error) -> Error {
        Error::Io {
            path: PathBuf::from(path),
            source,
        }
    }
}

/// A module's state column in `/proc/modules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleState {
    /// Initialised and running: the normal state.
    Live,
    /// Its init function is still running (`MODULE_STATE_COMING`).
    Loading,
    /// Being removed (`MODULE_STATE_GOING`).
    Unloading,
    /// A word a future kernel might print.
    Other(String),
}

impl ModuleState {
    fn parse(word: &str) -> ModuleState {
        match word {
            "Live" => ModuleState::Live,
            "Loading" => ModuleState::Loading,
            "Unloading" => ModuleState::Unloading,
            other => ModuleState::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ModuleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModuleState::Live => "Live",
            ModuleState::Loading => "Loading",
            ModuleState::Unloading => "Unloading",
            ModuleState::Other(s) => s,
        })
    }
}

/// One line of `/proc/modules`:
/// `name size refcnt users state address [(taints)]`, where users is
/// `a,b,` (each user followed by a comma, `[permanent],` last when the
/// module cannot be unloaded) or `-`; without `CONFIG_MODULE_UNLOAD` the
/// refcnt and users columns are both `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedModule {
    /// The module's name as the kernel knows it (underscores, no extension).
    pub name: String,
    /// Total size of the module's memory, in bytes.
    pub size: u64,
    /// `None` when the kernel cannot unload modules (the column is `-`).
    pub refcnt: Option<i64>,
    /// Modules that use this one (its "source list"), newest first.
    pub users: Vec<String>,
    /// Has an init function but no exit function: it can only be removed by force.
    pub permanent: bool,
    /// What the kernel reports the module to be doing.
    pub state: ModuleState,
    /// Base address of the core text; 0 when `kptr_restrict` hides it.
    pub address: u64,
    /// The taint letters without parentheses (`OE`), empty when untainted.
    pub taints: String,
}

/// Parses one line of `/proc/modules` (without its newline).
pub fn parse_module_line(line: &str) -> Result<LoadedModule, &'static str> {
    let mut words = line.split_ascii_whitespace();
    let name = words.next().ok_or("empty line")?.to_string();
    let size = words
        .next()
        .ok_or("no size")?
        .parse()
        .map_err(|_| "size is not a number")?;
    let refcnt = match words.next().ok_or("no use count")? {
        "-" => None,
        n => Some(n.parse().map_err(|_| "use count is not a number")?),
    };
    let mut users = Vec::new();
    let mut permanent = false;
    match words.next().ok_or("no users column")? {
        "-" => {}
        list => {
            for user in list.split(',').filter(|u| !u.is_empty()) {
                if user == "[permanent]" {
                    permanent = true;
                } else {
                    users.push(user.to_string());
                }
            }
        }
    }
    let state = ModuleState::parse(words.next().ok_or("no state")?);
    let address = words.next().ok_or("no address")?;
    let address = address.strip_prefix("0x").unwrap_or(address);
    let address = u64::from_str_radix(address, 16).map_err(|_| "address is not hexadecimal")?;
    let taints = match words.next() {
        Some(t) => t
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .ok_or("taint flags are not in parentheses")?
            .to_string(),
        None => String::new(),
    };
    Ok(LoadedModule {
        name,
        size,
        refcnt,
        users,
        permanent,
        state,
        address,
        taints,
    })
}

/// Parses the whole of `/proc/modules`; `path` only names the file in errors.
pub fn parse_modules(text: &str, path: &Path) -> Result<Vec<LoadedModule>, Error> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_module_line(l).map_err(|reason| Error::Format {
                path: path.to_path_buf(),
                line: i + 1,
                reason,
            })
        })
        .collect()
}

/// Every loaded module, in `/proc/modules` order (newest first).
pub fn loaded_modules(root: &Root) -> Result<Vec<LoadedModule>, Error> {
    let text =
        std::fs::read_to_string(root.host(PROC_MODULES)).map_err(|e| Error::io(PROC_MODULES, e))?;
    parse_modules(&text, Path::new(PROC_MODULES))
}

/// The names of the loaded modules in `/proc/modules` order, reading only
/// the first word of each line, as lsmod does: it never fails on a line
/// format it does not know.
pub fn loaded_module_names(root: &Root) -> Result<Vec<String>, Error> {
    let file = File::open(root.host(PROC_MODULES)).map_err(|e| Error::io(PROC_MODULES, e))?;
    let mut names = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| Error::io(PROC_MODULES, e))?;
        let first = line
            .split(|b| *b == b' ' || *b == b'\t')
            .find(|w| !w.is_empty());
        if let Some(word) = first {
            names.push(String::from_utf8_lossy(word).into_owned());
        }
    }
    Ok(names)
}

/// Whether the running kernel can load modules at all, judged by
/// `/proc/modules`: `Some(false)` when `/proc` is mounted but has no
/// `modules` file (a kernel built without `CONFIG_MODULES`), `None` when
/// `/proc` itself is not there to tell.
pub fn module_support(root: &Root) -> Option<bool> {
    if root.host(PROC_MODULES).exists() {
        Some(true)
    } else if root.host("/proc/self").exists() || root.host("/proc/version").exists() {
        Some(false)
    } else {
        None
    }
}

/// `/proc/sys/kernel/modules_disabled` is 1: no module can be loaded or
/// removed until the next boot.
pub fn modules_disabled(root: &Root) -> bool {
    std::fs::read_to_string(root.host(MODULES_DISABLED))
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// One symbol of `/proc/kallsyms`: `address type name` and, for symbols
/// of a module, `\t[module]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// 0 when `kptr_restrict` (or a non-root reader) hides addresses.
    pub address: u64,
    /// `T` global text, `t` local text, `D`/`d` data, `R`/`r`, `B`/`b`, …
    pub kind: char,
    /// The symbol's name; with `CONFIG_KALLSYMS_ALL` each export also has an entry named
    /// `__ksymtab_` followed by it.
    pub name: String,
    /// The owning module; `None` for the kernel image itself.
    pub module: Option<String>,
}

impl KernelSymbol {
    /// Upper-case types are global symbols.
    pub fn is_global(&self) -> bool {
        self.kind.is_ascii_uppercase()
    }
}

/// The parts of one kallsyms line, borrowed: (address, type, name, module).
pub fn split_kallsyms_line(line: &str) -> Option<(u64, char, &str, Option<&str>)> {
    let line = line.trim_end_matches('\n');
    let (main, module) = match line.split_once('\t') {
        Some((main, rest)) => {
            let m = rest
                .trim()
                .strip_prefix('[')
                .and_then(|m| m.strip_suffix(']'));
            (main, m)
        }
        None => (line, None),
    };
    let mut words = main.split(' ').filter(|w| !w.is_empty());
    let address = u64::from_str_radix(words.next()?, 16).ok()?;
    let mut kind = words.next()?.chars();
    let kind_char = kind.next()?;
    if kind.next().is_some() {
        return None;
    }
    let name = words.next()?;
    if words.next().is_some() {
        return None;
    }
    Some((address, kind_char, name, module))
}

/// Parses one line of `/proc/kallsyms`; `None` for a line it cannot read.
pub fn parse_kallsyms_line(line: &str) -> Option<KernelSymbol> {
    let (address, kind, name, module) = split_kallsyms_line(line)?;
    Some(KernelSymbol {
        address,
        kind,
        name: name.to_string(),
        module: module.map(str::to_string),
    })
}

/// Reads `/proc/kallsyms` line by line, calling `visit` with each symbol's
/// parts (address, type, name, module). The table is large (150,000 lines
/// on a distribution kernel), so callers that want a few names should
/// filter here rather than collect.
pub fn for_each_kernel_symbol(
    root: &Root,
    mut visit: impl FnMut(u64, char, &str, Option<&str>),
) -> Result<(), Error> {
    let file = File::open(root.host(PROC_KALLSYMS)).map_err(|e| Error::io(PROC_KALLSYMS, e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(PROC_KALLSYMS, e))?;
        if n == 0 {
            return Ok(());
        }
        if let Ok(text) = std::str::from_utf8(&line) {
            if let Some((address, kind, name, module)) = split_kallsyms_line(text) {
                visit(address, kind, name, module);
            }
        }
    }
}

/// The fast path through `/proc/kallsyms` for callers that only look at
/// names: `visit(name, module)` for every symbol, as bytes, without
/// parsing addresses or checking UTF-8. The file is read in one go.
pub fn scan_kernel_symbol_names(
    root: &Root,
    mut visit: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<(), Error> {
    let mut file = File::open(root.host(PROC_KALLSYMS)).map_err(|e| Error::io(PROC_KALLSYMS, e))?;
    let mut buf = Vec::with_capacity(8 << 20);
    io::Read::read_to_end(&mut file, &mut buf).map_err(|e| Error::io(PROC_KALLSYMS, e))?;
    // kallsyms is ASCII; validating it once lets the searches below use
    // the standard library's word-at-a-time byte search.
    let text = match std::str::from_utf8(&buf) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(&buf),
    };
    for line in text.split('\n') {
        // "<address> <type> <name>[\t[<module>]]"
        let Some(sp) = line.find(' ') else { continue };
        let Some(rest) = line.get(sp + 3..) else {
            continue;
        };
        if line.as_bytes()[sp + 2] != b' ' {
            continue;
        }
        match rest.find('\t') {
            None => visit(rest.as_bytes(), None),
            Some(tab) => {
                let module = rest[tab + 1..]
                    .strip_prefix('[')
                    .and_then(|m| m.strip_suffix(']'));
                visit(&rest.as_bytes()[..tab], module.map(str::as_bytes));
            }
        }
    }
    Ok(())
}

/// Every symbol of `/proc/kallsyms`.
pub fn kernel_symbols(root: &Root) -> Result<Vec<KernelSymbol>, Error> {
    let mut out = Vec::new();
    for_each_kernel_symbol(root, |address, kind, name, module| {
        out.push(KernelSymbol {
            address,
            kind,
            name: name.to_string(),
            module: module.map(str::to_string),
        })
    })?;
    Ok(out)
}

/// True when every address is zero: the reader is not allowed to see them
/// (`kptr_restrict`), though names and types are still listed.
pub fn addresses_hidden(symbols: &[KernelSymbol]) -> bool {
    !symbols.is_empty() && symbols.iter().all(|s| s.address == 0)
}

/// `/proc/sys/kernel/kptr_restrict` (0, 1 or 2), if readable.
pub fn kptr_restrict(root: &Root) -> Option<u8> {
    std::fs::read_to_string(root.host(KPTR_RESTRICT))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape_of_a_modules_line() {
        let m =
            parse_module_line("mod_a 16384 2 mod_c,mod_b, Live 0xffffffffc0a3a000 (OE)").unwrap();
        assert_eq!(m.name, "mod_a");
        assert_eq!(m.size, 16384);
        assert_eq!(m.refcnt, Some(2));
        assert_eq!(m.users, ["mod_c", "mod_b"]);
        assert!(!m.permanent);
        assert_eq!(m.state, ModuleState::Live);
        assert_eq!(m.address, 0xffffffffc0a3a000);
        assert_eq!(m.taints, "OE");

        let m = parse_module_line("mod_noexit 12288 0 [permanent], Live 0x0000000000000000 (OE)")
            .unwrap();
        assert!(m.permanent);
        assert!(m.users.is_empty());
        assert_eq!(m.address, 0);

        let m = parse_module_line("isofs 61440 1 - Loading 0xffffffffc0100000").unwrap();
        assert_eq!(m.state, ModuleState::Loading);
        assert_eq!(m.taints, "");

        let m = parse_module_line("x 1 - - Unloading 0x0").unwrap();
        assert_eq!(m.refcnt, None);
        assert_eq!(m.state, ModuleState::Unloading);

        let m = parse_module_line("x 1 0 - Frozen 0x0 (P)").unwrap();
        assert_eq!(m.state, ModuleState::Other("Frozen".into()));
        assert_eq!(m.state.to_string(), "Frozen");
    }

    #[test]
    fn rejects_broken_modules_lines() {
        for bad in [
            "",
            "x",
            "x y 0 - Live 0x0",
            "x 1 z - Live 0x0",
            "x 1 0 - Live",
            "x 1 0 - Live 0xzz",
            "x 1 0 - Live 0x0 OE",
        ] {
            assert!(parse_module_line(bad).is_err(), "{bad:?}");
        }
        let err =
            parse_modules("a 1 0 - Live 0x0\nbroken\n", Path::new("/proc/modules")).unwrap_err();
        assert_eq!(err.to_string(), "/proc/modules:2: no size");
    }

    #[test]
    fn parses_kallsyms_lines() {
        let s = parse_kallsyms_line("ffffffffc0a3a010 T mod_a_twice\t[mod_a]").unwrap();
        assert_eq!(s.address, 0xffffffffc0a3a010);
        assert_eq!(s.kind, 'T');
        assert!(s.is_global());
        assert_eq!(s.name, "mod_a_twice");
        assert_eq!(s.module.as_deref(), Some("mod_a"));

        let s = parse_kallsyms_line("0000000000000000 r __ksymtab_printk\n").unwrap();
        assert_eq!(s.address, 0);
        assert_eq!(s.module, None);
        assert!(!s.is_global());

        assert_eq!(parse_kallsyms_line("garbage"), None);
        assert_eq!(parse_kallsyms_line("0000 TT x"), None);
        assert_eq!(parse_kallsyms_line("0000 T x y"), None);
        assert!(addresses_hidden(&[s]));
        assert!(!addresses_hidden(&[]));
    }
}
