//! Reading an index: exact lookup, kmod's wildcard lookup, and the dump
//! that `modprobe -c` prints.
//!
//! Every offset, length and terminator comes from the file and is checked.
//! Whole-subtree walks are iterative and refuse to enter a node twice, so a
//! file whose child pointers loop or share subtrees ends in an error rather
//! than in an endless or exponential walk; lookups along a key take at most
//! one step per key byte.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memmap2::{Mmap, MmapOptions};

use super::node::{be32, until_nul, Node};
use super::{Corruption, IndexError, HEADER_LEN, MAGIC, OFFSET_MASK, VERSION_MAJOR};
use modutils_fnmatch::fnmatch_terminated;
use rustc_hash::FxHashSet as FastSet;

/// An open index file.
pub struct Index {
    path: PathBuf,
    data: Data,
    root: u32,
    /// The file's modification time (µs) when it was opened.
    mtime_usec: Option<i64>,
}

enum Data {
    /// The open file, mapped on the first read. libkmod's
    /// `kmod_load_resources` opens all five indexes and most programs read
    /// two or three of them: an index never read costs no mapping, no page
    /// fault and no unmapping. The file stays open, so the index read later
    /// is the one opened, even if depmod has renamed a new one over it.
    File {
        file: File,
        len: usize,
        map: OnceLock<Option<Mmap>>,
    },
    Owned(Vec<u8>),
}

/// The header's root offset, once its magic and major version are
/// those of a module index.
fn check_header(path: &Path, bytes: &[u8]) -> Result<u32, IndexError> {
    let path = || path.to_path_buf();
    let (Some(magic), Some(version), Some(root)) = (be32(bytes, 0), be32(bytes, 4), be32(bytes, 8))
    else {
        let len = bytes.len();
        return Err(IndexError::TooShort { path: path(), len });
    };
    if magic != MAGIC {
        return Err(IndexError::BadMagic {
            path: path(),
            magic,
        });
    }
    if version >> 16 != VERSION_MAJOR {
        return Err(IndexError::BadVersion {
            path: path(),
            version,
        });
    }
    Ok(root)
}

/// One result of [`Index::lookup_wild`]. Values are bytes, as kmod
/// stores and returns them: a module path need not be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// Orders results: lower first (depmod uses the module's load-order position).
    pub priority: u32,
    /// The stored value, such as a module path or name.
    pub value: Vec<u8>,
}

/// One key/value pair of [`Index::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, such as a module name, alias pattern or symbol.
    pub key: String,
    /// One value stored under it.
    pub value: String,
    /// Orders values under one key: lower first.
    pub priority: u32,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("path", &self.path)
            .field("len", &self.len())
            .finish()
    }
}

impl Index {
    /// Opens the index at `path` (a host path) and checks its header; the
    /// rest is mapped into memory when first read.
    pub fn open(path: impl AsRef<Path>) -> Result<Index, IndexError> {
        let path = path.as_ref();
        let io = |source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let len = meta.len();
        if len < HEADER_LEN as u64 {
            return Err(IndexError::TooShort {
                path: path.to_path_buf(),
                len: len as usize,
            });
        }
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, 0).map_err(io)?;
        let root = check_header(path, &header)?;
        use std::os::unix::fs::MetadataExt;
        Ok(Index {
            path: path.to_path_buf(),
            data: Data::File {
                file,
                len: len as usize,
                map: OnceLock::new(),
            },
            root,
            mtime_usec: Some(meta.mtime() * 1_000_000 + meta.mtime_nsec() / 1000),
        })
    }

    /// An index held in memory (tests, fuzzing, freshly built indexes).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Index, IndexError> {
        Index::from_bytes_named("<memory>", bytes)
    }

    /// Like [`Index::from_bytes`], with the name errors should mention.
    pub fn from_bytes_named(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Index, IndexError> {
        let path = path.into();
        let root = check_header(&path, &bytes)?;
        Ok(Index {
            path,
            data: Data::Owned(bytes),
            root,
            mtime_usec: None,
        })
    }

    /// The modification time of the file, in microseconds, as it was when
    /// the index was opened (None for an index made in memory): what tells
    /// a reader that depmod has replaced the file since.
    pub fn mtime_usec(&self) -> Option<i64> {
        self.mtime_usec
    }

    /// The file this index was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn len(&self) -> usize {
        match &self.data {
            Data::File { len, .. } => *len,
            Data::Owned(vec) => vec.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.data {
            // SAFETY: the map is read-only and private. Like kmod we accept
            // that a file rewritten in place under us may show inconsistent
            // bytes; every read is bounds-checked, so that gives errors or
            // odd results, never out-of-bounds access. depmod replaces
            // indexes by rename, which leaves the open file untouched. A
            // mapping that fails (no memory) reads as an empty index.
            Data::File { file, len, map } => map
                .get_or_init(|| unsafe { MmapOptions::new().len(*len).map(file) }.ok())
                .as_deref()
                .unwrap_or(&[]),
            Data::Owned(vec) => vec,
        }
    }

    /// Exact search: the first value stored under `key` (the lowest
    /// priority number), as kmod's `index_mm_search`. A NUL ends the key.
    pub fn lookup(&self, key: impl AsRef<[u8]>) -> Result<Option<&[u8]>, IndexError> {
        let key = until_nul(key.as_ref());
        let mut word = self.root;
        let mut i = 0;
        // Each round consumes at least the child byte: at most key.len()+1.
        loop {
            let Some(node) = self.node(word)? else {
                return Ok(None);
            };
            if !key[i..].starts_with(node.prefix) {
                return Ok(None);
            }
            i += node.prefix.len();
            let Some(&ch) = key.get(i) else {
                return match self.values(&node).next() {
                    Some(first) => Ok(Some(first?.1)),
                    None => Ok(None),
                };
            };
            word = node.child_word(ch);
            i += 1;
        }
    }

    /// kmod's wildcard search (`index_mm_searchwild`): the stored keys are
    /// fnmatch patterns and every one matching `key` contributes all its
    /// values. Results are sorted by priority; among equal priorities the
    /// value found later comes first, as kmod's sorted insert leaves them.
    pub fn lookup_wild(&self, key: impl AsRef<[u8]>) -> Result<Vec<Value>, IndexError> {
        let key = until_nul(key.as_ref());
        let mut found = Found::default();
        let mut word = self.root;
        let mut i = 0;
        while let Some(node) = self.node(word)? {
            for (j, &c) in node.prefix.iter().enumerate() {
                if matches!(c, b'*' | b'?' | b'[') {
                    // The pattern starts here; what follows it matches the
                    // rest of the key.
                    let mut pattern = node.prefix[j..].to_vec();
                    self.match_below(node, &mut pattern, &key[i + j..], &mut found)?;
                    return Ok(found.into_sorted());
                }
                if key.get(i + j) != Some(&c) {
                    return Ok(found.into_sorted());
                }
            }
            i += node.prefix.len();
            // Wildcard edges are explored before the literal path, in this
            // order, which decides the order of equal-priority results.
            for wild in [b'*', b'?', b'['] {
                if let Some(child) = self.node(node.child_word(wild))? {
                    let mut pattern = vec![wild];
                    pattern.extend_from_slice(child.prefix);
                    self.match_below(child, &mut pattern, &key[i..], &mut found)?;
                }
            }
            let Some(&ch) = key.get(i) else {
                found.add_all(self, &node)?;
                break;
            };
            word = node.child_word(ch);
            i += 1;
        }
        Ok(found.into_sorted())
    }

    /// Walks the subtree at `top` (whose pattern so far is in `pattern`,
    /// its prefix included) children first, and adds the values of every
    /// node whose whole pattern matches `rest`.
    ///
    /// A query holding `*`, `?` or `[` itself also follows those edges
    /// literally and can walk a subtree again, finding its values twice as
    /// kmod does; so each walk has its own visited set. There are at most
    /// three walks per key byte, each visiting a node at most once.
    ///
    /// A subtree is skipped when no pattern in it can match: when its
    /// pattern so far followed by `*` does not match `rest` (only decided
    /// for patterns of plain bytes, `*` and `?`, where a longer pattern
    /// matching implies that one matching; an open bracket or escape
    /// could change meaning with the bytes still to come).
    fn match_below<'a>(
        &'a self,
        top: Node<'a>,
        pattern: &mut Vec<u8>,
        rest: &[u8],
        found: &mut Found,
    ) -> Result<(), IndexError> {
        let mut open = Vec::new();
        self.walk(top, pattern, |event, node, pattern| match event {
            Walk::Enter => {
                if !node.has_children() || pattern.iter().any(|&c| matches!(c, b'[' | b'\\')) {
                    return Ok(true);
                }
                open.clear();
                open.extend_from_slice(pattern);
                open.push(b'*');
                Ok(fnmatch_terminated(&open, rest))
            }
            Walk::Leave => {
                if node.value_count > 0 && fnmatch_terminated(pattern, rest) {
                    found.add_all(self, node)?;
                }
                Ok(true)
            }
        })
    }

    /// Calls `f` with every key, value and priority as raw bytes, in the
    /// order of kmod's `index_mm_dump`: keys in byte order, each key's
    /// values as stored.
    pub fn for_each_raw(&self, mut f: impl FnMut(&[u8], &[u8], u32)) -> Result<(), IndexError> {
        self.visit_values(|key, value, priority| {
            f(key, value, priority);
            Ok(())
        })
    }

    /// Like [`Index::for_each_raw`], for indexes of UTF-8 text, which is
    /// all depmod writes (kmod itself passes other bytes through; see
    /// [`Index::dump`]).
    pub fn for_each(&self, mut f: impl FnMut(&str, &str, u32)) -> Result<(), IndexError> {
        self.visit_values(|key, value, priority| {
            match (std::str::from_utf8(key), std::str::from_utf8(value)) {
                (Ok(key), Ok(value)) => {
                    f(key, value, priority);
                    Ok(())
                }
                _ => Err(IndexError::NotUtf8 {
                    path: self.path.clone(),
                    key: key.to_vec(),
                }),
            }
        })
    }

    fn visit_values(
        &self,
        mut f: impl FnMut(&[u8], &[u8], u32) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let Some(root) = self.node(self.root)? else {
            return Ok(());
        };
        let mut key = root.prefix.to_vec();
        self.walk(root, &mut key, |event, node, key| {
            if let Walk::Enter = event {
                for value in self.values(node) {
                    let (priority, value) = value?;
                    f(key, value, priority)?;
                }
            }
            Ok(true)
        })
    }

    /// Every entry, in dump order.
    pub fn entries(&self) -> Result<Vec<Entry>, IndexError> {
        let mut entries = Vec::new();
        self.for_each(|key, value, priority| {
            entries.push(Entry {
                key: key.to_owned(),
                value: value.to_owned(),
                priority,
            })
        })?;
        Ok(entries)
    }

    /// The dump as `modprobe -c` prints it, byte for byte:
    /// `<prefix><key> <value>\n` per value; kmod passes `"alias "`.
    pub fn dump(&self, prefix: &str) -> Result<Vec<u8>, IndexError> {
        let mut out = Vec::new();
        self.for_each_raw(|key, value, _| {
            for part in [prefix.as_bytes(), key, b" ", value, b"\n"] {
                out.extend_from_slice(part);
            }
        })?;
        Ok(out)
    }

    /// Depth-first walk from `top`, whose key bytes are already in `buf`.
    /// `f` sees each node on entering (before its children) and on leaving
    /// (after them), with `buf` holding the node's full key. When `f`
    /// answers false on entering, the node's subtree is skipped: no
    /// children and no leaving.
    fn walk<'a>(
        &'a self,
        top: Node<'a>,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(Walk, &Node<'a>, &[u8]) -> Result<bool, IndexError>,
    ) -> Result<(), IndexError> {
        struct Frame<'a> {
            node: Node<'a>,
            /// `buf` length before this node's edge byte and prefix.
            restore: usize,
            next_child: u16,
        }
        let mut visited = FastSet::default();
        self.mark_visited(&top, &mut visited)?;
        if !f(Walk::Enter, &top, buf)? {
            return Ok(());
        }
        // The caller owns what `buf` held before `top`.
        let restore = buf.len();
        let next_child = u16::from(top.first);
        let mut stack = vec![Frame {
            node: top,
            restore,
            next_child,
        }];
        while let Some(frame) = stack.last_mut() {
            let mut next = None;
            while frame.next_child <= u16::from(frame.node.last) {
                let ch = frame.next_child as u8;
                frame.next_child += 1;
                if let Some(child) = self.node(frame.node.child_word(ch))? {
                    next = Some((ch, child));
                    break;
                }
            }
            match next {
                Some((ch, child)) => {
                    self.mark_visited(&child, &mut visited)?;
                    let restore = buf.len();
                    buf.push(ch);
                    buf.extend_from_slice(child.prefix);
                    if !f(Walk::Enter, &child, buf)? {
                        buf.truncate(restore);
                        continue;
                    }
                    let next_child = u16::from(child.first);
                    stack.push(Frame {
                        node: child,
                        restore,
                        next_child,
                    });
                }
                None => {
                    let Some(done) = stack.pop() else { break };
                    f(Walk::Leave, &done.node, buf)?;
                    buf.truncate(done.restore);
                }
            }
        }
        Ok(())
    }

    /// Only nodes with children can lead a walk back somewhere.
    fn mark_visited(&self, node: &Node, visited: &mut FastSet<u32>) -> Result<(), IndexError> {
        if node.has_children() && !visited.insert(node.offset) {
            return Err(self.corrupt(node.offset, Corruption::Revisited));
        }
        Ok(())
    }

    fn corrupt(&self, offset: u32, problem: Corruption) -> IndexError {
        IndexError::Corrupt {
            path: self.path.clone(),
            offset,
            problem,
        }
    }

    /// The node a node word points to; None for "no node".
    fn node(&self, word: u32) -> Result<Option<Node<'_>>, IndexError> {
        Node::parse(self.bytes(), word).map_err(|problem| self.corrupt(word & OFFSET_MASK, problem))
    }

    /// A node's values, with errors naming this file.
    fn values<'a>(
        &'a self,
        node: &Node<'a>,
    ) -> impl Iterator<Item = Result<(u32, &'a [u8]), IndexError>> + 'a {
        let offset = node.offset;
        node.values()
            .map(move |value| value.map_err(|problem| self.corrupt(offset, problem)))
    }
}

enum Walk {
    Enter,
    Leave,
}

/// Wildcard results in discovery order, sorted at the end.
#[derive(Default)]
struct Found {
    values: Vec<(u32, usize, Vec<u8>)>,
}

impl Found {
    fn add_all(&mut self, index: &Index, node: &Node) -> Result<(), IndexError> {
        for value in index.values(node) {
            let (priority, value) = value?;
            let seq = self.values.len();
            self.values.push((priority, seq, value.to_vec()));
        }
        Ok(())
    }

    /// kmod inserts each value before the first one of equal or higher
    /// priority: ascending priority, later discoveries first among equals.
    fn into_sorted(mut self) -> Vec<Value> {
        self.values
            .sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        self.values
            .into_iter()
            .map(|(priority, _, value)| Value { priority, value })
            .collect()
    }
}
