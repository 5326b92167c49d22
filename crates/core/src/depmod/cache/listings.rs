//! The listings section: each module directory's entries as the last run
//! read them, with the directory's identity then. A directory whose
//! identity is unchanged has the same entries in the same order (adding,
//! removing or renaming an entry changes its ctime, which userspace cannot
//! set), so a run walks it without reading it: listing 900 directories
//! was a third of the system calls of a run with nothing to do. Each
//! module file in it is still looked at, since a file rewritten in place
//! leaves its directory as it was.
//!
//! ```text
//! listings count u32, then per directory: path (u16 length + bytes, the
//!          target path ending in `/`), identity (as in the entries
//!          section), entry count u32, then per entry: name (u8 length +
//!          bytes), d_type u8, d_ino u64
//! ```

use std::ffi::CStr;
use std::sync::Arc;

use super::format::{put_bytes16, put_stat, put_u32, Reader, STAT_LEN};
use super::{FileStat, FormatError};
use crate::depmod::hash::FastMap;

/// One directory's listing: its names (each NUL-terminated, back to back)
/// and each entry's place in them, type and inode, in readdir order
/// without `.` and `..`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Listing {
    pub stat: FileStat,
    names: Vec<u8>,
    entries: Vec<(u32, u8, u64)>,
}

/// One entry of a [`Listing`].
pub(crate) struct Listed<'a> {
    pub name: &'a CStr,
    pub kind: u8,
    pub ino: u64,
}

impl Listing {
    pub fn new(stat: FileStat) -> Listing {
        Listing {
            stat,
            ..Listing::default()
        }
    }

    /// Adds an entry; `false` (and nothing added) for a name that cannot
    /// be stored or is not a directory entry's.
    pub fn push(&mut self, name: &[u8], kind: u8, ino: u64) -> bool {
        if !is_entry_name(name) || self.names.len() > u32::MAX as usize - 256 {
            return false;
        }
        self.entries.push((self.names.len() as u32, kind, ino));
        self.names.extend_from_slice(name);
        self.names.push(0);
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<Listed<'_>> {
        let &(at, kind, ino) = self.entries.get(i)?;
        let name = CStr::from_bytes_until_nul(self.names.get(at as usize..)?).ok()?;
        Some(Listed { name, kind, ino })
    }
}

/// A name readdir can return: 1 to 255 bytes, no NUL or `/`, not `.` or
/// `..`. A stored name is opened relative to its directory, so anything
/// else is refused when read back.
fn is_entry_name(name: &[u8]) -> bool {
    (1..=255).contains(&name.len())
        && !name.contains(&0)
        && !name.contains(&b'/')
        && name != b"."
        && name != b".."
}

/// The directories' listings by target path.
pub(crate) type Listings = FastMap<Vec<u8>, Arc<Listing>>;

/// The section for `listings` (in path order, so that the same listings
/// always give the same bytes). Paths of 64 KiB or more are left out.
pub(crate) fn encode(listings: &[(Vec<u8>, Arc<Listing>)]) -> Vec<u8> {
    let mut order: Vec<&(Vec<u8>, Arc<Listing>)> = listings
        .iter()
        .filter(|(path, _)| path.len() <= usize::from(u16::MAX))
        .collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    order.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::new();
    put_u32(&mut out, order.len() as u32);
    for (path, listing) in order {
        put_bytes16(&mut out, path);
        put_stat(&mut out, &listing.stat);
        put_u32(&mut out, listing.len() as u32);
        for e in (0..listing.len()).filter_map(|i| listing.get(i)) {
            let name = e.name.to_bytes();
            out.push(name.len() as u8);
            out.extend_from_slice(name);
            out.push(e.kind);
            out.extend_from_slice(&e.ino.to_le_bytes());
        }
    }
    out
}

/// Decodes the section (an empty one holds no listings).
pub(crate) fn decode(bytes: &[u8]) -> Result<Listings, FormatError> {
    let mut out = Listings::default();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut r = Reader::new(bytes);
    let count = r.count(2 + STAT_LEN + 4)?;
    out.reserve(count);
    for _ in 0..count {
        let len = r.u16()?;
        let path = r.take(usize::from(len))?.to_vec();
        let mut listing = Listing::new(r.stat()?);
        let entries = r.count(1 + 1 + 8)?;
        listing.entries.reserve(entries);
        for _ in 0..entries {
            let len = r.u8()?;
            let name = r.take(usize::from(len))?;
            let kind = r.u8()?;
            if !listing.push(name, kind, r.u64()?) {
                return Err(FormatError::Malformed("directory entry"));
            }
        }
        if path.is_empty() || out.insert(path, Arc::new(listing)).is_some() {
            return Err(FormatError::Malformed("directory path"));
        }
    }
    r.end("listings")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(names: &[&str]) -> Arc<Listing> {
        let mut l = Listing::new(FileStat {
            dev: 1,
            ino: 2,
            size: 4096,
            mtime: (3, 4),
            ctime: (5, 6),
        });
        for (i, n) in names.iter().enumerate() {
            assert!(l.push(n.as_bytes(), 4 + i as u8, 100 + i as u64));
        }
        Arc::new(l)
    }

    #[test]
    fn listings_read_back_as_written() {
        let written = vec![
            (
                b"/lib/modules/r/kernel/b/".to_vec(),
                listing(&["x.ko", "sub"]),
            ),
            (b"/lib/modules/r/kernel/a/".to_vec(), listing(&[])),
        ];
        let bytes = encode(&written);
        let read = decode(&bytes).unwrap();
        assert_eq!(read.len(), 2);
        for (path, l) in &written {
            assert_eq!(read[path], *l);
        }
        let b = &read[&b"/lib/modules/r/kernel/b/"[..]];
        let e = b.get(1).unwrap();
        assert_eq!((e.name.to_bytes(), e.kind, e.ino), (&b"sub"[..], 5, 101));
        assert!(b.get(2).is_none());
        // Path order: the same listings give the same bytes.
        let swapped: Vec<_> = written.iter().rev().cloned().collect();
        assert_eq!(encode(&swapped), bytes);
    }

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        let mut l = Listing::default();
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0b", &[b'a'; 256][..]] {
            assert!(!l.push(bad, 8, 1), "{bad:?} taken");
        }
        assert_eq!(l.len(), 0);
        // Written by hand, as a hostile file would hold them.
        for bad in [&b".."[..], b"../x", b"a\0"] {
            let mut bytes = Vec::new();
            put_u32(&mut bytes, 1);
            put_bytes16(&mut bytes, b"/d/");
            put_stat(&mut bytes, &FileStat::default());
            put_u32(&mut bytes, 1);
            bytes.push(bad.len() as u8);
            bytes.extend_from_slice(bad);
            bytes.push(4);
            bytes.extend_from_slice(&7u64.to_le_bytes());
            assert_eq!(
                decode(&bytes),
                Err(FormatError::Malformed("directory entry")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn short_repeated_or_overlong_sections_are_refused() {
        let bytes = encode(&[(b"/d/".to_vec(), listing(&["m.ko"]))]);
        for cut in 1..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut twice = Vec::new();
        put_u32(&mut twice, 2);
        twice.extend_from_slice(&bytes[4..]);
        twice.extend_from_slice(&bytes[4..]);
        assert_eq!(
            decode(&twice),
            Err(FormatError::Malformed("directory path"))
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(FormatError::Malformed("listings")));
        assert!(decode(&[]).unwrap().is_empty());
    }
}
