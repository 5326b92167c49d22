//! The loaded modules with their size, use count and holders, read as
//! kmod's lsmod reads them: names and order from `/proc/modules`, the rest
//! from `/sys/module/<name>`, the size from `/proc/modules` only when the
//! kernel has no `coresize` attribute. [`Modules::loaded`](crate::Modules::loaded)
//! and the `lsmod` tool both list what [`read`] returns.

use crate::config::strerror;
use crate::{name, procfs, sysfs, Root};

/// One loaded module. Values that could not be read are the errno kmod
/// would print in their place (negated, lsmod shows `-2`).
#[derive(Debug)]
pub struct Listing {
    /// The name as the kernel and the indexes spell it (`-` → `_`).
    pub name: String,
    /// `/sys/module/<name>/coresize`, else `/proc/modules`' size column.
    pub size: Result<i64, i32>,
    /// `/sys/module/<name>/refcnt` (`ENOENT` on kernels that cannot unload).
    pub use_count: Result<i64, i32>,
    /// The modules using this one, in the kernel's directory order.
    pub holders: Result<Vec<String>, sysfs::Error>,
    /// What libkmod would have logged while reading the size and the use
    /// count, in order, without the program's prefix.
    pub messages: Vec<String>,
}

/// The loaded modules' names as `/proc/modules` lists them, newest first.
pub fn names(root: &Root) -> Result<Vec<String>, procfs::Error> {
    procfs::loaded_module_names(root)
}

/// Reads what lsmod shows of the module `/proc/modules` calls `raw`.
pub fn read(root: &Root, raw: &str) -> Listing {
    let name = name::modname_normalize_str(raw);
    let mut messages = Vec::new();
    let size = size(root, &name, &mut messages);
    let use_count = use_count(root, &name, &mut messages);
    let holders = sysfs::holders(root, &name)
        .map(|h| h.iter().map(|h| name::modname_normalize_str(h)).collect());
    Listing {
        name,
        size,
        use_count,
        holders,
        messages,
    }
}

/// `coresize`, else the size column of `/proc/modules`; the errno when
/// the module has no sysfs directory. An unreadable `coresize` counts as 0.
fn size(root: &Root, name: &str, messages: &mut Vec<String>) -> Result<i64, i32> {
    let dir = sysfs::module_path(name, None);
    if let Err(e) = std::fs::metadata(root.host(&dir)) {
        return Err(e.raw_os_error().unwrap_or(libc::EIO));
    }
    match sysfs::coresize(root, name) {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() => size_from_proc_modules(root, name, messages),
        Err(_) => {
            messages.push(format!("failed to read coresize from {}", dir.display()));
            Ok(0)
        }
    }
}

/// kmod reads `/proc/modules` again for each module whose size it needs.
fn size_from_proc_modules(root: &Root, name: &str, messages: &mut Vec<String>) -> Result<i64, i32> {
    let text = match std::fs::read(root.host(procfs::PROC_MODULES)) {
        Ok(t) => t,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            messages.push(format!(
                "could not open {}: {}",
                procfs::PROC_MODULES,
                strerror(errno)
            ));
            return Err(errno);
        }
    };
    let text = String::from_utf8_lossy(&text);
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        if words.next() != Some(name) {
            continue;
        }
        let size = words.next().and_then(|w| w.parse::<i64>().ok());
        return match size.filter(|v| *v >= 0) {
            Some(v) => Ok(v),
            None => {
                messages.push(format!(
                    "invalid line format at {}:{}",
                    procfs::PROC_MODULES,
                    i + 1
                ));
                Err(libc::ENOENT)
            }
        };
    }
    Err(libc::ENOENT)
}

/// `refcnt`; an unreadable one is its errno, one that is not a number
/// `EINVAL`, logged.
fn use_count(root: &Root, name: &str, messages: &mut Vec<String>) -> Result<i64, i32> {
    match sysfs::refcnt(root, name) {
        Ok(v) => Ok(v),
        Err(sysfs::Error::Io { source, .. }) => Err(source.raw_os_error().unwrap_or(libc::EIO)),
        Err(e) => {
            messages.push(format!(
                "could not read integer from '{}': '{}'",
                e.path().display(),
                strerror(libc::EINVAL)
            ));
            Err(libc::EINVAL)
        }
    }
}
