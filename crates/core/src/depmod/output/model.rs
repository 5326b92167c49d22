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
