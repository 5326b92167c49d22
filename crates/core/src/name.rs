//! Module names and aliases in kmod's normal form.
//!
//! The kernel knows a module by the name it was built with, where `-` and `_`
//! are the same character; kmod settles on `_`. Aliases are glob patterns, so
//! a `-` inside a bracket expression (`[0-9]`) is a range and must survive.
//!
//! Names are bytes: kmod never assumes an encoding, and neither do we.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// kmod's PATH_MAX: normalised names are cut to `PATH_MAX - 1` bytes.
pub const PATH_MAX: usize = 4096;

/// Why a name or alias cannot be normalised: its bracket expressions do not balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A `]` with no `[` before it.
    #[error("unmatched ']'")]
    StrayBracket,
    /// A `[` that is never closed.
    #[error("unterminated '['")]
    UnterminatedBracket,
}

/// The module a command-line argument names, as rmmod reads it: an
/// existing file's module name ([`modname_from_path`]), else the argument
/// as a name, normalised.
pub fn module_of_argument(root: &crate::Root, arg: &Path) -> String {
    if std::fs::metadata(root.host(arg)).is_ok() {
        modname_from_path(arg)
    } else {
        modname_normalize_str(&arg.as_os_str().to_string_lossy())
    }
}

/// [`modname_normalize`] of text: `-` becomes `_`, and it ends at the
/// first `.`.
pub fn modname_normalize_str(name: &str) -> String {
    String::from_utf8_lossy(&modname_normalize(name.as_bytes())).into_owned()
}

/// The module name of a file name or path: the basename up to its first `.`,
/// with `-` turned into `_`. Bytes that are not UTF-8 are replaced.
pub fn modname_from_path(path: impl AsRef<Path>) -> String {
    let name = modname_from_path_bytes(path.as_ref().as_os_str().as_bytes());
    String::from_utf8_lossy(&name).into_owned()
}

/// [`modname_from_path`] on raw bytes. An empty basename (a path ending in
/// `/`) gives an empty name, which kmod treats as "no module".
pub fn modname_from_path_bytes(path: &[u8]) -> Vec<u8> {
    let base = match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    };
    modname_normalize(base)
}

/// A name up to its first `.` (or NUL), `-` turned into `_`, at most
/// `PATH_MAX - 1` bytes, as kmod's `modname_normalize`.
pub fn modname_normalize(name: &[u8]) -> Vec<u8> {
    name.iter()
        .take(PATH_MAX - 1)
        .take_while(|&&c| c != b'.' && c != 0)
        .map(|&c| if c == b'-' { b'_' } else { c })
        .collect()
}

/// The config files' normalisation (kmod's `underscores`): `-` becomes `_`,
/// except inside `[...]`. A stray `]` or an unclosed `[` is an error, which
/// makes the whole config line invalid.
pub fn underscores(s: &[u8]) -> Result<Vec<u8>, NameError> {
    let mut out = s.to_vec();
    underscores_in_place(&mut out)?;
    Ok(out)
}

/// [`underscores`] in place. On error the bytes before the problem are
/// already converted, which shows in kmod's message about a bad kernel
/// command line option (`'a_b[c'` for `a-b[c.x=1`).
pub fn underscores_in_place(s: &mut [u8]) -> Result<(), NameError> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'-' => s[i] = b'_',
            b']' => return Err(NameError::StrayBracket),
            b'[' => match s[i..].iter().position(|&c| c == b']') {
                Some(n) => i += n,
                None => return Err(NameError::UnterminatedBracket),
            },
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The lookup normalisation (kmod's `alias_normalize`): like [`underscores`],
/// but input past `PATH_MAX - 1` bytes is cut off, and a NUL ends the name.
/// A bracket expression crossing that limit is an error: kmod 34.2 would
/// overrun its buffer there; later releases reject it.
pub fn alias_normalize(alias: &[u8]) -> Result<Vec<u8>, NameError> {
    let mut out = Vec::new();
    alias_normalize_into(alias, &mut out)?;
    Ok(out)
}

/// [`alias_normalize`], appending to `out`; on an error, what was
/// appended is left.
pub fn alias_normalize_into(alias: &[u8], out: &mut Vec<u8>) -> Result<(), NameError> {
    // depmod normalizes tens of thousands of aliases: the scans are
    // memchr's, and most aliases, with nothing to change, are copied whole.
    let end = memchr::memchr(0, alias).unwrap_or(alias.len());
    let alias = &alias[..end.min(PATH_MAX - 1)];
    if memchr::memchr3(b'-', b'[', b']', alias).is_none() {
        out.extend_from_slice(alias);
        return Ok(());
    }
    out.reserve(alias.len());
    let mut i = 0;
    while i < alias.len() {
        match alias[i] {
            b'-' => out.push(b'_'),
            b']' => return Err(NameError::StrayBracket),
            b'[' => {
                let n = alias[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .ok_or(NameError::UnterminatedBracket)?;
                out.extend_from_slice(&alias[i..=i + n]);
                i += n;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modname_from_paths() {
        assert_eq!(
            modname_from_path("/lib/modules/x/kernel/snd-hda.ko.zst"),
            "snd_hda"
        );
        assert_eq!(modname_from_path("mod-simple.ko"), "mod_simple");
        assert_eq!(modname_from_path("noext"), "noext");
        assert_eq!(modname_from_path("dir/"), "");
        assert_eq!(modname_from_path(".hidden.ko"), "");
        assert_eq!(modname_from_path_bytes(b"a\xffb-c.ko"), b"a\xffb_c");
    }

    #[test]
    fn modname_is_cut_at_path_max() {
        let long = vec![b'a'; 5000];
        assert_eq!(modname_normalize(&long).len(), PATH_MAX - 1);
    }

    #[test]
    fn underscores_keeps_bracket_ranges() {
        assert_eq!(underscores(b"snd-hda").unwrap(), b"snd_hda");
        assert_eq!(underscores(b"f-[0-9]-x").unwrap(), b"f_[0-9]_x");
        assert_eq!(
            underscores(b"pci:v[0-9a-f]*-x").unwrap(),
            b"pci:v[0-9a-f]*_x"
        );
        // A `[` inside a bracket expression is just a character.
        assert_eq!(underscores(b"a[[-]-b").unwrap(), b"a[[-]_b");
        assert_eq!(underscores(b"").unwrap(), b"");
    }

    #[test]
    fn underscores_rejects_unbalanced_brackets() {
        assert_eq!(underscores(b"a]b"), Err(NameError::StrayBracket));
        assert_eq!(underscores(b"a[b"), Err(NameError::UnterminatedBracket));
        assert_eq!(underscores(b"a[b]c]"), Err(NameError::StrayBracket));
        assert_eq!(
            underscores(b"ivrs_acpihid[14:00"),
            Err(NameError::UnterminatedBracket)
        );
        let mut partial = b"a-b[c-d".to_vec();
        assert!(underscores_in_place(&mut partial).is_err());
        assert_eq!(partial, b"a_b[c-d");
    }

    #[test]
    fn alias_normalize_matches_underscores_on_short_input() {
        for s in [&b"a-b"[..], b"x[-]-y", b"a]", b"a[", b"[]]", b"-"] {
            assert_eq!(alias_normalize(s), underscores(s), "{:?}", s);
        }
    }

    #[test]
    fn alias_normalize_limits() {
        assert_eq!(alias_normalize(b"a-b\0c-d").unwrap(), b"a_b");
        let long = vec![b'-'; 5000];
        assert_eq!(alias_normalize(&long).unwrap(), vec![b'_'; PATH_MAX - 1]);
        let mut crossing = vec![b'a'; PATH_MAX - 3];
        crossing.extend_from_slice(b"[ab]");
        assert_eq!(
            alias_normalize(&crossing),
            Err(NameError::UnterminatedBracket)
        );
    }
}
