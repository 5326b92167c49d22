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

mod build;
mod node;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

use std::path::PathBuf;

pub use build::{build, Record};
pub use reader::{Entry, Index, Value};
pub use writer::{BuildError, IndexBuilder, Layout};

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

/// Why an index file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: too short to be an index ({len} bytes)", path.display())]
    TooShort { path: PathBuf, len: usize },
    #[error("{}: not an index (magic {magic:#010x})", path.display())]
    BadMagic { path: PathBuf, magic: u32 },
    #[error("{}: unsupported index version {version:#010x}", path.display())]
    BadVersion { path: PathBuf, version: u32 },
    /// A key or value that `&str` cannot hold; use the `_raw` accessors.
    #[error("{}: key {:?} or its value is not UTF-8", path.display(), String::from_utf8_lossy(key))]
    NotUtf8 { path: PathBuf, key: Vec<u8> },
    #[error("{}: corrupt node at offset {offset:#x}: {problem}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u32,
        problem: Corruption,
    },
}

/// What is wrong with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("offset is past the end of the file")]
    OffsetPastEnd,
    #[error("node runs past the end of the file")]
    Truncated,
    #[error("string has no NUL terminator before the end of the file")]
    Unterminated,
    #[error("bad child range {first:#04x}..={last:#04x}")]
    BadChildRange { first: u8, last: u8 },
    #[error("node reached twice (a cycle or a shared subtree)")]
    Revisited,
}
