//! Building an index the way depmod does, down to the byte.
//!
//! The trie's shape depends only on the set of keys (a node splits at the
//! first byte where keys disagree, a new branch takes the whole rest of its
//! key as prefix), so insertion order only matters for values: ascending
//! priority, and among equal priorities the most recent insert first, since
//! kmod inserts before the first value of equal or higher priority.
//! Insertion is linear in the key length; serialization is linear in the
//! output size, and iterative, so deep tries cannot exhaust the stack.

use std::collections::HashSet;

use super::{
    CHILD_LIMIT, FLAG_CHILDS, FLAG_PREFIX, FLAG_VALUES, HEADER_LEN, MAGIC, OFFSET_MASK, VERSION,
};

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
#[derive(Debug)]
pub struct IndexBuilder {
    /// Node 0 is the root, whose prefix is always empty.
    nodes: Vec<BuildNode>,
    /// Every (key, value) inserted so far, to report duplicates in O(1).
    seen: HashSet<KeyValue>,
    inserted: u64,
}

type KeyValue = (Box<[u8]>, Box<[u8]>);

#[derive(Debug, Default)]
struct BuildNode {
    prefix: Vec<u8>,
    /// Sorted by edge byte.
    children: Vec<(u8, usize)>,
    /// (priority, insertion sequence, value), ordered when written.
    values: Vec<(u32, u64, Box<[u8]>)>,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        IndexBuilder::new()
    }
}

impl IndexBuilder {
    pub fn new() -> IndexBuilder {
        IndexBuilder {
            nodes: vec![BuildNode::default()],
            seen: HashSet::new(),
            inserted: 0,
        }
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

        let mut node = 0;
        let mut i = 0;
        loop {
            let prefix = &self.nodes[node].prefix;
            let common = prefix
                .iter()
                .zip(&key[i..])
                .take_while(|(a, b)| a == b)
                .count();
            if common < prefix.len() {
                self.split(node, common);
            }
            i += common;
            let Some(&ch) = key.get(i) else {
                break;
            };
            let children = &self.nodes[node].children;
            match children.binary_search_by_key(&ch, |&(c, _)| c) {
                Ok(at) => {
                    node = children[at].1;
                    i += 1;
                }
                Err(at) => {
                    let leaf = self.nodes.len();
                    self.nodes.push(BuildNode {
                        prefix: key[i + 1..].to_vec(),
                        ..BuildNode::default()
                    });
                    self.nodes[node].children.insert(at, (ch, leaf));
                    node = leaf;
                    break;
                }
            }
        }
        self.nodes[node]
            .values
            .push((priority, self.inserted, value.into()));
        self.inserted += 1;
        Ok(duplicate)
    }

    /// Cuts `node`'s prefix after `at` bytes: the node keeps the head, and
    /// a new child, reached by the byte at `at`, takes the tail with all
    /// of the node's children and values.
    fn split(&mut self, node: usize, at: usize) {
        let old = std::mem::take(&mut self.nodes[node]);
        let tail = BuildNode {
            prefix: old.prefix[at + 1..].to_vec(),
            children: old.children,
            values: old.values,
        };
        let id = self.nodes.len();
        self.nodes.push(tail);
        let mut head = old.prefix;
        let edge = head[at];
        head.truncate(at);
        self.nodes[node] = BuildNode {
            prefix: head,
            children: vec![(edge, id)],
            values: Vec::new(),
        };
    }

    /// The index file, as kmod 34's depmod writes it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BuildError> {
        self.to_bytes_with(Layout::PreOrder)
    }

    /// The index file in the given node order.
    pub fn to_bytes_with(&self, layout: Layout) -> Result<Vec<u8>, BuildError> {
        let pre_order = self.pre_order();
        let sizes: Vec<usize> = self.nodes.iter().map(BuildNode::size).collect();
        let total: usize = sizes.iter().sum::<usize>() + HEADER_LEN;
        if total > OFFSET_MASK as usize {
            return Err(BuildError::TooLarge { size: total });
        }

        // Both layouts store nodes back to back; only the sequence differs.
        let sequence = match layout {
            Layout::PreOrder => pre_order,
            Layout::PostOrder => self.post_order(),
        };
        let mut words = vec![0u32; self.nodes.len()];
        let mut offset = HEADER_LEN;
        for &id in &sequence {
            words[id] = offset as u32 | self.nodes[id].flags();
            offset += sizes[id];
        }

        let mut out = Vec::with_capacity(total);
        for word in [MAGIC, VERSION, words[0]] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        for &id in &sequence {
            self.nodes[id].write(&words, &mut out);
        }
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }

    /// Node ids, each before its children, children by ascending byte.
    fn pre_order(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![0];
        while let Some(id) = stack.pop() {
            order.push(id);
            stack.extend(self.nodes[id].children.iter().rev().map(|&(_, c)| c));
        }
        order
    }

    /// Node ids, each after its children, children by ascending byte.
    fn post_order(&self) -> Vec<usize> {
        // Reversing a pre-order that takes children in descending order
        // gives the post-order with children in ascending order.
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![0];
        while let Some(id) = stack.pop() {
            order.push(id);
            stack.extend(self.nodes[id].children.iter().map(|&(_, c)| c));
        }
        order.reverse();
        order
    }
}

impl BuildNode {
    fn flags(&self) -> u32 {
        let mut flags = 0;
        if !self.prefix.is_empty() {
            flags |= FLAG_PREFIX;
        }
        if !self.children.is_empty() {
            flags |= FLAG_CHILDS;
        }
        if !self.values.is_empty() {
            flags |= FLAG_VALUES;
        }
        flags
    }

    fn child_range(&self) -> Option<(u8, u8)> {
        Some((self.children.first()?.0, self.children.last()?.0))
    }

    /// Bytes this node takes, without its children.
    fn size(&self) -> usize {
        let mut size = 0;
        if !self.prefix.is_empty() {
            size += self.prefix.len() + 1;
        }
        if let Some((first, last)) = self.child_range() {
            size += 2 + 4 * (usize::from(last - first) + 1);
        }
        if !self.values.is_empty() {
            size += 4 + self.values.iter().map(|v| 4 + v.2.len() + 1).sum::<usize>();
        }
        size
    }

    fn write(&self, words: &[u32], out: &mut Vec<u8>) {
        if !self.prefix.is_empty() {
            out.extend_from_slice(&self.prefix);
            out.push(0);
        }
        if let Some((first, last)) = self.child_range() {
            out.extend_from_slice(&[first, last]);
            let mut children = self.children.iter().peekable();
            for ch in first..=last {
                let word = match children.next_if(|&&(c, _)| c == ch) {
                    Some(&(_, id)) => words[id],
                    None => 0,
                };
                out.extend_from_slice(&word.to_be_bytes());
            }
        }
        if !self.values.is_empty() {
            let mut values: Vec<_> = self.values.iter().collect();
            values.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            out.extend_from_slice(&(values.len() as u32).to_be_bytes());
            for (priority, _, text) in values {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(text);
                out.push(0);
            }
        }
    }
}

fn check_text(text: &[u8]) -> Result<(), BuildError> {
    if let Some(&byte) = text.iter().find(|&&b| b >= CHILD_LIMIT) {
        return Err(BuildError::NonAscii {
            text: text.to_vec(),
            byte,
        });
    }
    if text.contains(&0) {
        return Err(BuildError::Nul {
            text: text.to_vec(),
        });
    }
    Ok(())
}
