//! kmod's binary index files (`modules.dep.bin`, `modules.alias.bin`,
//! `modules.symbols.bin`, `modules.builtin.bin`, `modules.builtin.alias.bin`).
//!
//! An index maps string keys to lists of string values, each value carrying
//! a priority (depmod uses the module's position in its load order). On disk
//! it is a radix trie. All integers are big-endian u32:
//!
//! ```text
//! header:  magic 0xB007F457 | version 0x00020001 | root node word
//! node word: flags in the high nibble, file offset in the low 28 bits
//!            (offset 0 = no node)
//! node:    [PREFIX] bytes + NUL       more key bytes on the way to this node
//!          [CHILDS] first, last: u8   then one node word per byte
//!                                     first..=last (0 where absent)
//!          [VALUES] count, then count × (priority, bytes + NUL)
//! ```
//!
//! Reading ([`Index`]) is layout-independent. Writing ([`build`] from a
//! complete entry list, as depmod does, or [`IndexBuilder`] one entry at a
//! time) reproduces kmod's bytes exactly: pre-order as kmod 34 writes, or
//! the post-order of kmod ≤ 33 on request ([`Layout`]).

#![warn(missing_docs)]

mod builder;
mod encode;
mod node;
mod reader;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use builder::IndexBuilder;
pub use encode::{build, Record};
pub use reader::{Entry, Index, Value};

/// The first word of every index file.
pub const MAGIC: u32 = 0xB007_F457;
/// Major 2, minor 1. Readers only insist on the major number.
const VERSION: u32 = 0x0002_0001;
/// The format's major version (the high half of the second word).
pub const VERSION_MAJOR: u32 = 2;
const HEADER_LEN: usize = 12;

const FLAG_PREFIX: u32 = 0x8000_0000;
const FLAG_VALUES: u32 = 0x4000_0000;
const FLAG_CHILDS: u32 = 0x2000_0000;
const OFFSET_MASK: u32 = 0x0FFF_FFFF;

/// Child tables are indexed by byte, and only 7-bit bytes have a slot.
const CHILD_LIMIT: u8 = 128;

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
    NonAscii {
        /// The offending string, key or value.
        text: Vec<u8>,
        /// Its first byte above 0x7f.
        byte: u8,
    },
    /// NUL terminates strings in the file, so it cannot be inside one.
    #[error("NUL byte in index string {:?}", String::from_utf8_lossy(text))]
    Nul {
        /// The string with the NUL in it.
        text: Vec<u8>,
    },
    /// Node offsets have 28 bits.
    #[error("index of {size} bytes exceeds the format's 256 MiB limit")]
    TooLarge {
        /// The size the file would have, in bytes.
        size: usize,
    },
}

/// Why an index file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file could not be opened, measured or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The index file, as a host path.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before the 12-byte header does.
    #[error("{}: too short to be an index ({len} bytes)", path.display())]
    TooShort {
        /// The index file, as a host path.
        path: PathBuf,
        /// Its size in bytes.
        len: usize,
    },
    /// The first word is not the index magic, so this is some other file.
    #[error("{}: not an index (magic {magic:#010x})", path.display())]
    BadMagic {
        /// The index file, as a host path.
        path: PathBuf,
        /// The first word as found.
        magic: u32,
    },
    /// The major version is not one this reader knows.
    #[error("{}: unsupported index version {version:#010x}", path.display())]
    BadVersion {
        /// The index file, as a host path.
        path: PathBuf,
        /// The second header word as found.
        version: u32,
    },
    /// A key or value that `&str` cannot hold; use the `_raw` accessors.
    #[error("{}: key {:?} or its value is not UTF-8", path.display(), String::from_utf8_lossy(key))]
    NotUtf8 {
        /// The index file, as a host path.
        path: PathBuf,
        /// The key being read (its value may be the culprit).
        key: Vec<u8>,
    },
    /// A node cannot be decoded; the file is damaged or was not written whole.
    #[error("{}: corrupt node at offset {offset:#x}: {problem}", path.display())]
    Corrupt {
        /// The index file, as a host path.
        path: PathBuf,
        /// Where the bad node starts in the file.
        offset: u32,
        /// What is wrong with it.
        problem: Corruption,
    },
}

/// What is wrong with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// A node word points beyond the end of the file.
    #[error("offset is past the end of the file")]
    OffsetPastEnd,
    /// A node's fixed-size parts run past the end of the file.
    #[error("node runs past the end of the file")]
    Truncated,
    /// A prefix or value string has no terminating NUL.
    #[error("string has no NUL terminator before the end of the file")]
    Unterminated,
    /// The child table's range is reversed or reaches past 7-bit bytes.
    #[error("bad child range {first:#04x}..={last:#04x}")]
    BadChildRange {
        /// The byte of the first child slot.
        first: u8,
        /// The byte of the last child slot.
        last: u8,
    },
    /// Two node words point at the same node, which a tree never does; following them could loop
    /// forever.
    #[error("node reached twice (a cycle or a shared subtree)")]
    Revisited,
}
