//! Module-name and alias normalisation as depmod applies them.
//!
//! TODO(merge): `crate::name` (being written in parallel) provides the same
//! rules; switch to it once it lands.

/// kmod's name buffers hold PATH_MAX bytes including the terminator.
const PATH_MAX: usize = 4096;

/// A module name from a file name: up to the first `.`, with `-` → `_`.
pub(crate) fn modname_from_file_name(file_name: &[u8]) -> Vec<u8> {
    file_name
        .iter()
        .take(PATH_MAX - 1)
        .take_while(|&&b| b != b'.' && b != 0)
        .map(|&b| if b == b'-' { b'_' } else { b })
        .collect()
}

/// A module name from a path: the last component's module name.
pub(crate) fn modname_from_path(path: &[u8]) -> Vec<u8> {
    let start = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    modname_from_file_name(&path[start..])
}

/// An alias as index key: `-` → `_` outside `[...]`. `None` for an
/// unmatched bracket. Longer aliases are cut where kmod's buffer ends.
pub(crate) fn alias_normalize(alias: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(alias.len());
    let mut i = 0;
    while i < PATH_MAX - 1 {
        let Some(&c) = alias.get(i) else { break };
        match c {
            b'-' => out.push(b'_'),
            b']' => return None,
            b'[' => {
                // Copied verbatim up to the closing bracket.
                while i < alias.len() && alias[i] != b']' {
                    out.push(alias[i]);
                    i += 1;
                }
                if i >= alias.len() {
                    return None;
                }
                out.push(b']');
            }
            0 => break,
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(modname_from_file_name(b"snd-hda.ko.xz"), b"snd_hda");
        assert_eq!(modname_from_file_name(b".hidden.ko"), b"");
        assert_eq!(modname_from_path(b"/a/b-c/d-e.ko"), b"d_e");
    }

    #[test]
    fn aliases() {
        assert_eq!(alias_normalize(b"pci:v-[a-b]-x").unwrap(), b"pci:v_[a-b]_x");
        assert_eq!(alias_normalize(b"[ab"), None);
        assert_eq!(alias_normalize(b"a]b"), None);
        assert_eq!(alias_normalize(b"").unwrap(), b"");
    }
}
