//! modules.devname: device nodes that load a module when opened, from a
//! module's `devname:` alias and its `char-major-M-N`/`block-major-M-N` one.

use super::model::Model;
use crate::depmod::report::{text, Deferred};
use crate::diagnostics::Level;

pub(super) fn devname(model: &Model<'_>, log: &mut Deferred) -> Vec<u8> {
    let mut out = Vec::new();
    for (m, p) in model.parsed.iter().enumerate() {
        let mut devname: Option<&[u8]> = None;
        let mut node: Option<(u8, u32, u32)> = None;
        for &v in &p.aliases {
            let value = p.str(v);
            if let Some(name) = value.strip_prefix(b"devname:") {
                devname = Some(name);
            } else if let Some(found) = node_of_alias(value) {
                node = Some(found);
            }
            if node.is_some() && devname.is_some() {
                break;
            }
        }
        let Some(dev) = devname else { continue };
        let Some((kind, maj, min)) = node else {
            let msg = text!(
                b"Module '",
                model.names[m],
                b"' has devname (",
                dev,
                b") but lacks major and minor information. Ignoring."
            );
            log.push(Level::Err, msg);
            continue;
        };
        if out.is_empty() {
            out.extend_from_slice(b"# Device nodes to trigger on-demand module loading.\n");
        }
        out.extend_from_slice(&text!(
            model.names[m],
            b" ",
            dev,
            b" ",
            [kind],
            format!("{maj}:{min}\n")
        ));
    }
    out
}

/// The device node a module alias names: `char-major-M-N` or
/// `block-major-M-N`, as (`c` or `b`, major, minor), read as kmod's
/// `sscanf` reads it.
pub fn node_of_alias(value: &[u8]) -> Option<(u8, u32, u32)> {
    if let Some((major, minor)) = scan_major_minor(value, b"char-major-") {
        Some((b'c', major, minor))
    } else {
        scan_major_minor(value, b"block-major-").map(|(major, minor)| (b'b', major, minor))
    }
}

/// `sscanf(value, "<lead>%u-%u", ...) == 2`, with glibc's `%u`: optional
/// leading whitespace and sign, and the value cut to 32 bits.
fn scan_major_minor(value: &[u8], lead: &[u8]) -> Option<(u32, u32)> {
    let rest = value.strip_prefix(lead)?;
    let (major, used) = scan_u32(rest)?;
    let rest = rest[used..].strip_prefix(b"-")?;
    let (minor, _) = scan_u32(rest)?;
    Some((major, minor))
}

fn scan_u32(s: &[u8]) -> Option<(u32, usize)> {
    let p = crate::cnum::strtoull(s, 10)?;
    Some((p.value as u32, p.used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_minor_like_sscanf() {
        assert_eq!(
            scan_major_minor(b"char-major-10-175", b"char-major-"),
            Some((10, 175))
        );
        assert_eq!(
            scan_major_minor(b"char-major-+10-0x20", b"char-major-"),
            Some((10, 0))
        );
        assert_eq!(
            scan_major_minor(b"block-major-  7-4294967297xyz", b"block-major-"),
            Some((7, 1))
        );
        assert_eq!(
            scan_major_minor(b"char-major--1-2", b"char-major-"),
            Some((u32::MAX, 2))
        );
        assert_eq!(scan_major_minor(b"char-major-10", b"char-major-"), None);
        assert_eq!(scan_major_minor(b"char-major-10-*", b"char-major-"), None);
    }
}
