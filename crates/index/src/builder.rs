//! Collecting an index's entries one at a time: [`IndexBuilder`] says which
//! entries are duplicates as they come. The bytes are laid out by
//! `encode.rs` ([`super::build`]), which [`IndexBuilder::to_bytes`] calls
//! and depmod calls directly with its complete entry lists.

use std::collections::HashSet;

use super::encode::{build, check_text, Record};
use super::{BuildError, Layout};

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
    /// An empty index.
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
