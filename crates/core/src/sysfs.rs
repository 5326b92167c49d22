//! What `/sys/module` says about a loaded module (`initstate`, `refcnt`,
//! `coresize`, `holders`, `srcversion`, parameters) and about the kernel's
//! module loader (`/sys/module/compression`). Paths are target paths
//! resolved through a [`Root`]; errors name the target path, as kmod's do.

use std::io;
use std::path::PathBuf;

use crate::module_file::Compression;
use crate::Root;

/// Where the kernel lists loaded modules, and built-in ones that have parameters.
pub const SYS_MODULE: &str = "/sys/module";
/// The compression the kernel itself can undo (`MODULE_DECOMPRESS`).
pub const SYS_MODULE_COMPRESSION: &str = "/sys/module/compression";

/// Why a sysfs attribute could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The attribute could not be opened or read.
    #[error("could not open '{}': {source}", path.display())]
    Io {
        /// The attribute, as a target path.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
    /// The file holds something other than what the kernel writes there.
    #[error("unknown {}: '{content}'", path.display())]
    Invalid {
        /// The attribute, as a target path.
        path: PathBuf,
        /// What it held (at most its first 31 bytes).
        content: String,
    },
}

impl Error {
    /// The errno a C tool would report (`EINVAL` for unexpected content).
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => crate::diagnostics::errno_of(source),
            Error::Invalid { .. } => libc::EINVAL,
        }
    }

    /// The attribute does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The target path the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Io { path, .. } | Error::Invalid { path, .. } => path,
        }
    }
}

/// `/sys/module/<name>/initstate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitState {
    /// Initialised and running.
    Live,
    /// Being loaded: its init function runs (also a module directory
    /// without `initstate`, as built-in modules with parameters have).
    Coming,
    /// Being removed.
    Going,
}

impl InitState {
    /// The word the kernel writes to `initstate`.
    pub fn as_str(self) -> &'static str {
        match self {
            InitState::Live => "live",
            InitState::Coming => "coming",
            InitState::Going => "going",
        }
    }
}

/// The target path of a module's sysfs directory, or of an attribute in
/// it. The name is bytes, as the kernel takes it.
pub fn module_path(name: impl AsRef<[u8]>, attribute: Option<&str>) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let name = name.as_ref();
    // Made in one allocation: libkmod asks for the init state of every
    // module of every probe. Names that are empty or start or end with
    // `/` take the path rules below.
    if let (Some(b), Some(e)) = (name.first(), name.last()) {
        if *b != b'/' && *e != b'/' {
            let extra = attribute.map_or(0, |a| a.len() + 1);
            let mut p = Vec::with_capacity(SYS_MODULE.len() + 1 + name.len() + extra);
            p.extend_from_slice(SYS_MODULE.as_bytes());
            p.push(b'/');
            p.extend_from_slice(name);
            if let Some(a) = attribute {
                p.push(b'/');
                p.extend_from_slice(a.as_bytes());
            }
            return PathBuf::from(std::ffi::OsString::from_vec(p));
        }
    }
    let name = std::ffi::OsStr::from_bytes(name);
    let mut p = PathBuf::from(SYS_MODULE).join(name);
    if let Some(a) = attribute {
        p.push(a);
    }
    p
}

/// Reads a small attribute as kmod does: at most 31 bytes.
fn read_small(root: &Root, path: &PathBuf) -> Result<String, Error> {
    let bytes = std::fs::read(root.host(path)).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let end = bytes.len().min(31);
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// `strtol` as kmod's `read_str_long` uses it: optional leading
/// whitespace and sign, digits, and then whitespace (a number that runs to
/// the end of the buffer is refused).
pub fn parse_long(text: &str) -> Option<i64> {
    let t = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || !digits[len..].starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v: i64 = digits[..len].parse().ok()?;
    Some(if neg { -v } else { v })
}

fn read_long(root: &Root, name: &str, attribute: &str) -> Result<i64, Error> {
    let path = module_path(name, Some(attribute));
    let text = read_small(root, &path)?;
    parse_long(&text).ok_or(Error::Invalid {
        path,
        content: text,
    })
}

/// Whether `/sys/module/<name>` exists (the module is loaded, or is a
/// built-in with parameters).
pub fn module_dir_exists(root: &Root, name: &str) -> bool {
    root.host(module_path(name, None)).is_dir()
}

/// The module's init state; `Ok(None)` when it is not loaded (no
/// directory). A directory without `initstate` counts as [`InitState::Coming`].
pub fn initstate(root: &Root, name: &str) -> Result<Option<InitState>, Error> {
    let path = module_path(name, Some("initstate"));
    match std::fs::read(root.host(&path)) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(31)]).into_owned();
            match text.as_str() {
                "live\n" => Ok(Some(InitState::Live)),
                "coming\n" => Ok(Some(InitState::Coming)),
                "going\n" => Ok(Some(InitState::Going)),
                _ => Err(Error::Invalid {
                    path,
                    content: text,
                }),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if module_dir_exists(root, name) {
                Ok(Some(InitState::Coming))
            } else {
                Ok(None)
            }
        }
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// The use count, `/sys/module/<name>/refcnt`. Missing on kernels without
/// `CONFIG_MODULE_UNLOAD` (see [`Error::is_not_found`]).
pub fn refcnt(root: &Root, name: &str) -> Result<i64, Error> {
    read_long(root, name, "refcnt")
}

/// The size of the module's core memory, `/sys/module/<name>/coresize`.
pub fn coresize(root: &Root, name: &str) -> Result<i64, Error> {
    read_long(root, name, "coresize")
}

/// The modules that use this one, in the kernel's directory order (not
/// sorted: lsmod prints them in this order).
pub fn holders(root: &Root, name: &str) -> Result<Vec<String>, Error> {
    let path = module_path(name, Some("holders"));
    let dir = std::fs::read_dir(root.host(&path)).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        out.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

/// Where the kernel put the module's sections
/// (`/sys/module/<name>/sections/<section>` holds the address in hex), in
/// directory order. Any unreadable entry fails the whole list, as in
/// libkmod; a value that is not hex reads as far as it is (`strtoul`).
pub fn sections(root: &Root, name: &str) -> Result<Vec<(Vec<u8>, u64)>, Error> {
    use std::os::unix::ffi::OsStrExt;
    let path = module_path(name, Some("sections"));
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| Error::Io { path, source }
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.host(&path)).map_err(io(&path))? {
        let entry = entry.map_err(io(&path))?;
        let file = path.join(entry.file_name());
        let text = std::fs::read(root.host(&file)).map_err(io(&file))?;
        out.push((
            entry.file_name().as_bytes().to_vec(),
            parse_hex_prefix(&text),
        ));
    }
    Ok(out)
}

/// `strtoul(text, NULL, 16)`: leading blanks, an optional `0x`, then as
/// many hex digits as there are (saturating, as strtoul does).
fn parse_hex_prefix(text: &[u8]) -> u64 {
    let mut s = text;
    while let [c, rest @ ..] = s {
        if !c.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    if (s.starts_with(b"0x") || s.starts_with(b"0X")) && s.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        s = &s[2..];
    }
    let mut value: u64 = 0;
    for &c in s {
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        value = value.saturating_mul(16).saturating_add(u64::from(d));
    }
    value
}

/// The loaded module's `srcversion`, when it has one.
pub fn srcversion(root: &Root, name: &str) -> Option<String> {
    let path = module_path(name, Some("srcversion"));
    let text = std::fs::read_to_string(root.host(path)).ok()?;
    Some(text.trim_end().to_string()).filter(|s| !s.is_empty())
}

/// A module parameter's current value (`/sys/module/<m>/parameters/<p>`),
/// without its trailing newline.
pub fn parameter(root: &Root, name: &str, param: &str) -> Result<String, Error> {
    let path = module_path(name, Some("parameters")).join(param);
    let text =
        std::fs::read_to_string(root.host(&path)).map_err(|source| Error::Io { path, source })?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// The compression the kernel can undo itself (`/sys/module/compression`):
/// `Ok(None)` when the file is absent (no in-kernel decompression), an
/// [`Error::Invalid`] for a name this library does not know.
pub fn kernel_compression(root: &Root) -> Result<Option<Compression>, Error> {
    let path = PathBuf::from(SYS_MODULE_COMPRESSION);
    let text = match std::fs::read(root.host(&path)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes[..bytes.len().min(15)]).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { path, source }),
    };
    match text.as_str() {
        "zstd\n" => Ok(Some(Compression::Zstd)),
        "xz\n" => Ok(Some(Compression::Xz)),
        "gzip\n" => Ok(Some(Compression::Gzip)),
        _ => Err(Error::Invalid {
            path,
            content: text,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_long_needs_trailing_whitespace() {
        assert_eq!(parse_long("16384\n"), Some(16384));
        assert_eq!(parse_long("  -2 \n"), Some(-2));
        assert_eq!(parse_long("+7\t"), Some(7));
        assert_eq!(parse_long("16384"), None);
        assert_eq!(parse_long("12a\n"), None);
        assert_eq!(parse_long("\n"), None);
        assert_eq!(parse_long("-\n"), None);
    }

    #[test]
    fn module_paths_are_target_paths() {
        assert_eq!(
            module_path("mod_a", Some("holders")),
            PathBuf::from("/sys/module/mod_a/holders")
        );
        assert_eq!(
            module_path("mod_a", None),
            PathBuf::from("/sys/module/mod_a")
        );
    }
}
