//! Collecting an index's entries one at a time: [`IndexBuilder`] (which
//! says which entries are duplicates), with the node [`Layout`] and the
//! [`BuildError`] both ways of writing share. The bytes themselves are laid
//! out by `build.rs` ([`super::build`]), which [`IndexBuilder::to_bytes`]
//! calls and depmod calls directly with its complete entry lists.

use std::collections::HashSet;

use super::build::{build, check_text, Record};

/// Node order in the file. Readers accept both; only the bytes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// kmod 34 and later: each node before its children, root at offset 12.
    #[default]
    PreOrder,
    /// kmod 33 and earlier: children first, root last.
    PostOrder,
}

/// Why a string or a whole index cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The format only has room for 7-bit bytes. `byte` is the first
    /// offending byte of `text`, the whole key or value.
    #[error(
        "bad byte {byte:#04x} in index string {:?}: only 7-bit ASCII is supported",
        String::from_utf8_lossy(text)
    )]
    NonAscii { text: Vec<u8>, byte: u8 },
    /// NUL terminates strings in the file, so it cannot be inside one.
    #[error("NUL byte in index string {:?}", String::from_utf8_lossy(text))]
    Nul { text: Vec<u8> },
    /// Node offsets have 28 bits.
    #[error("index of {size} bytes exceeds the format's 256 MiB limit")]
    TooLarge { size: usize },
}

/// An index under construction.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    /// ((key, value), priority) in insertion order.
    entries: Vec<(KeyValue, u32)>,
    /// Every (key, value) inserted so far, to report duplicates in O(1).
    seen: HashSet<KeyValue>,
}

type KeyValue = (Box<[u8]>, Box<[u8]>);

impl IndexBuilder {
    pub fn new() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Adds `value` under `key`. Returns whether this exact value was
    /// already stored under this key; it is stored again all the same (depmod
    /// warns about such duplicates with `-w`).
    pub fn insert(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        priority: u32,
    ) -> Result<bool, BuildError> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_text(key)?;
        check_text(value)?;
        let duplicate = !self.seen.insert((key.into(), value.into()));
        self.entries.push(((key.into(), value.into()), priority));
        Ok(duplicate)
    }

    /// The index file, as kmod 34's depmod writes it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BuildError> {
        self.to_bytes_with(Layout::PreOrder)
    }

    /// The index file in the given node order.
    pub fn to_bytes_with(&self, layout: Layout) -> Result<Vec<u8>, BuildError> {
        let records: Vec<Record<'_>> = self
            .entries
            .iter()
            .map(|((key, value), priority)| Record {
                key,
                value,
                priority: *priority,
            })
            .collect();
        build(&records, layout)
    }
}
