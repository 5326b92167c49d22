//! What every output is made from ([`Model`]), and how a failure to write
//! an index becomes depmod's FATAL message ([`Fatal`]).

use crate::depmod::parse::Parsed;
use crate::depmod::report::text;
use crate::index::{self, BuildError, Layout, Record};

/// Everything the outputs are made from, in module-array order.
pub(crate) struct Model<'a> {
    pub names: Vec<&'a [u8]>,
    /// The path written for a module: relative to the module directory, or
    /// absolute for modules found elsewhere.
    pub shown: Vec<&'a [u8]>,
    pub parsed: &'a [Parsed],
    pub closures: Vec<Vec<u32>>,
    /// Symbols owned by modules, in symbol-table order.
    pub symbols: Vec<(&'a [u8], u32)>,
    /// Contents of modules.builtin and modules.builtin.modinfo, or errno.
    pub builtin: Result<Vec<u8>, i32>,
    pub builtin_modinfo: Result<Vec<u8>, i32>,
    pub dirname: &'a [u8],
    pub warn_duplicates: bool,
}

/// Strings made one after another into one buffer: an index's keys or
/// values come by the tens of thousands, and one allocation each was
/// milliseconds of a run.
#[derive(Default)]
pub(super) struct Packed {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Packed {
    /// Room for `count` strings of `bytes` in all, made once: the buffers
    /// of a large index grown by doubling are copied and fresh pages
    /// touched over and over.
    pub fn with_capacity(count: usize, bytes: usize) -> Packed {
        Packed {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(count),
        }
    }

    /// Adds the string `make` appends to the buffer it is given.
    pub fn push_with(&mut self, make: impl FnOnce(&mut Vec<u8>)) {
        make(&mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    /// [`Packed::push_with`] for a `make` that can fail: on an error, what
    /// it appended is taken back and nothing is added.
    pub fn try_push_with<E>(
        &mut self,
        make: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.bytes.len();
        match make(&mut self.bytes) {
            Ok(()) => {
                self.ends.push(self.bytes.len());
                Ok(())
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    /// The strings, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start..end])
    }

    /// The string added last.
    pub fn last(&self) -> &[u8] {
        let n = self.ends.len();
        let start = if n > 1 { self.ends[n - 2] } else { 0 };
        &self.bytes[start..self.ends.last().copied().unwrap_or(0)]
    }
}

/// A FATAL message that stops depmod (a byte outside 7-bit ASCII).
#[derive(Debug)]
pub(crate) struct Fatal(pub Vec<u8>);

/// The index file for `entries`, or the FATAL message kmod stops with.
pub(super) fn index(entries: &[Record<'_>]) -> Result<Vec<u8>, Fatal> {
    index::build(entries, Layout::PreOrder).map_err(|e| match e {
        BuildError::NonAscii { text, byte } => bad_char(&text, byte),
        // Never happens: depmod's strings all come NUL-terminated.
        BuildError::Nul { text } => Fatal(text!(b"Module index: NUL byte in ", text)),
        BuildError::TooLarge { .. } => {
            Fatal(b"Module index: too large for the index format".to_vec())
        }
    })
}

fn bad_char(s: &[u8], b: u8) -> Fatal {
    Fatal(text!(
        b"Module index: bad character '",
        [b],
        format!("'=0x{b:x} - only 7-bit ASCII is supported:\n"),
        s
    ))
}

/// kmod checks each key and value as it inserts them, so warnings about
/// later entries never appear after a bad one; indexes whose generation
/// reports as it goes check early the same way.
pub(super) fn check_ascii(key: &[u8], value: &[u8]) -> Result<(), Fatal> {
    for s in [key, value] {
        if s.is_ascii() {
            continue;
        }
        if let Some(&b) = s.iter().find(|&&b| b >= 0x80) {
            return Err(bad_char(s, b));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Packed;

    #[test]
    fn packed_strings_come_back_as_added_and_a_failed_one_leaves_nothing() {
        let mut p = Packed::default();
        p.push_with(|b| b.extend_from_slice(b"ab"));
        assert_eq!(p.last(), b"ab");
        let failed = p.try_push_with(|b| {
            b.extend_from_slice(b"half");
            Err(())
        });
        assert!(failed.is_err());
        p.push_with(|_| {});
        p.push_with(|b| b.extend_from_slice(b"cde"));
        assert_eq!(p.last(), b"cde");
        let all: Vec<&[u8]> = p.iter().collect();
        assert_eq!(all, [&b"ab"[..], b"", b"cde"]);
    }
}
