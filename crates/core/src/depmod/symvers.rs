//! Symbols of the kernel image itself, from `Module.symvers` (`-E`) or
//! `System.map` (`-F`).

use std::path::Path;

use super::fgets::fgets_lines;
use super::report::{text, Reporter};
use crate::diagnostics::{errno_of, strerror, Level};
use crate::Root;

/// What `-E`/`-F` contribute: symbols owned by the kernel, with CRCs.
#[derive(Debug, Clone, Default)]
pub struct KernelSymbols {
    /// In load order; a later entry for the same name replaces an earlier one.
    pub(crate) symbols: Vec<(Vec<u8>, u64)>,
    /// `-e` in effect (it needs -E or -F).
    pub(crate) print_unknown: bool,
    /// CRCs are compared (-E).
    pub(crate) check_crcs: bool,
}

/// kmod reads Module.symvers with a 10240-byte line buffer.
const SYMVERS_LINE: usize = 10240;
const SYSTEM_MAP_LINE: usize = 4096;

/// Loads `Module.symvers`: lines `crc symbol vmlinux ...`; only symbols of
/// `vmlinux` count. Returns errno when the file cannot be read.
///
/// kmod's message about a bad CRC ends in `%m`, whatever errno happens to
/// hold: `errno` is that starting value (see [`stale_errno`]); an overflow
/// in a CRC sets it to ERANGE for the lines after, as strtoull does.
pub(crate) fn load_symvers(
    root: &Root,
    file: &Path,
    prefix: Option<u8>,
    mut errno: i32,
    rep: &mut dyn Reporter,
) -> Result<Vec<(Vec<u8>, u64)>, i32> {
    let data = std::fs::read(root.host(file)).map_err(|e| errno_of(&e))?;
    let shown = file.as_os_str().as_encoded_bytes();
    let mut out = Vec::new();
    for (n, line) in fgets_lines(&data, SYMVERS_LINE).enumerate() {
        let mut fields = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(ver), Some(sym), Some(place)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if place != b"vmlinux" {
            continue;
        }
        let (crc, consumed, overflow) =
            crate::cnum::strtoull(ver, 16).map_or((0, 0, false), |p| (p.value, p.used, p.overflow));
        if overflow {
            errno = libc::ERANGE;
        }
        if consumed != ver.len() {
            let err = strerror(errno);
            let msg = text!(
                shown,
                b":",
                (n + 1).to_string(),
                b" Invalid symbol version ",
                ver,
                b": ",
                err
            );
            rep.log(Level::Err, &msg);
            continue;
        }
        out.push((strip_prefix(sym, prefix).to_vec(), crc));
    }
    add_fake_symbols(&mut out);
    Ok(out)
}

/// errno as kmod's depmod leaves it before reading Module.symvers: setting
/// up its library context opens `modules.softdep` and `modules.weakdep` in
/// the module directory (kmod 30 only the former, verified), and a missing
/// one leaves ENOENT behind.
pub(crate) fn stale_errno(root: &Root, dirname: &[u8]) -> i32 {
    let missing = |name: &str| {
        let path = super::report::text!(dirname, b"/", name);
        std::fs::metadata(root.host_bytes(&path)).is_err()
    };
    if missing("modules.softdep") || missing("modules.weakdep") {
        libc::ENOENT
    } else {
        0
    }
}

/// Loads `System.map`: `address type name` lines; the names of
/// `__ksymtab_<sym>` entries are the exported symbols.
pub(crate) fn load_system_map(
    root: &Root,
    file: &Path,
    prefix: Option<u8>,
    rep: &mut dyn Reporter,
) -> Result<Vec<(Vec<u8>, u64)>, i32> {
    const KSYMTAB: &[u8] = b"__ksymtab_";
    let data = std::fs::read(root.host(file)).map_err(|e| errno_of(&e))?;
    let shown = file.as_os_str().as_encoded_bytes();
    let mut out = Vec::new();
    for (n, line) in fgets_lines(&data, SYSTEM_MAP_LINE).enumerate() {
        let third = line.iter().position(|&b| b == b' ').and_then(|a| {
            line[a + 1..]
                .iter()
                .position(|&b| b == b' ')
                .map(|b| a + 1 + b + 1)
        });
        let Some(third) = third else {
            // The line keeps its own newline, so kmod's message ends in a blank line.
            let msg = text!(shown, b":", (n + 1).to_string(), b": invalid line: ", line);
            rep.log(Level::Err, &msg);
            continue;
        };
        let name = strip_prefix(&line[third..], prefix);
        let Some(sym) = name.strip_prefix(KSYMTAB) else {
            continue;
        };
        let sym = sym.split(|&b| b == b'\n').next().unwrap_or(b"");
        out.push((sym.to_vec(), 0));
    }
    add_fake_symbols(&mut out);
    Ok(out)
}

/// Symbols the kernel's loader or some architectures provide without an
/// export; `TOC.` only if the map did not already have it.
fn add_fake_symbols(out: &mut Vec<(Vec<u8>, u64)>) {
    out.push((b"__this_module".to_vec(), 0));
    out.push((b"_GLOBAL_OFFSET_TABLE_".to_vec(), 0));
    if !out.iter().any(|(name, _)| name == b"TOC.") {
        out.push((b"TOC.".to_vec(), 0));
    }
}

/// `-P`: one leading prefix character is dropped.
pub(crate) fn strip_prefix(name: &[u8], prefix: Option<u8>) -> &[u8] {
    match (prefix, name.first()) {
        (Some(p), Some(&c)) if c == p => &name[1..],
        _ => name,
    }
}
