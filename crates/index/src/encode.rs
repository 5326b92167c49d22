//! Writing an index file from its complete list of entries.
//!
//! Instead of inserting key by key into a mutable trie, the entries are
//! sorted once and the trie is read off the sorted list: the keys under a
//! node are a contiguous run, a node's prefix is the common prefix of the
//! run's first and last keys, and its children are the sub-runs by next
//! byte. The shape is the one kmod's incremental insertion produces, since
//! that shape depends only on the key set (a node splits at the first byte
//! where keys disagree, a new branch takes the whole rest of its key as
//! prefix). Values follow insertion order only in one way: ascending
//! priority, and among equal priorities the most recent insert first, since
//! kmod inserts before the first value of equal or higher priority.
//!
//! Everything is iterative, so deep tries cannot exhaust the stack.

use super::{
    BuildError, Layout, CHILD_LIMIT, FLAG_CHILDS, FLAG_PREFIX, FLAG_VALUES, HEADER_LEN, MAGIC,
    OFFSET_MASK, VERSION,
};

/// One index entry, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The key the entry is found under (a module name, alias pattern or symbol).
    pub key: &'a [u8],
    /// One value stored under the key (for example a module path or name).
    pub value: &'a [u8],
    /// Orders values under one key: lower first (depmod uses the module's load-order position).
    pub priority: u32,
}

struct Node {
    /// Index of a sorted entry whose key holds this node's prefix, and the
    /// prefix's range in that key.
    prefix: (usize, usize, usize),
    /// Range of sorted entries stored at this node.
    values: (usize, usize),
    /// (edge byte, node index), ascending.
    children: Vec<(u8, usize)>,
    /// Bytes this node takes, without its children.
    size: usize,
}

impl Node {
    fn flags(&self) -> u32 {
        let mut f = 0;
        if self.prefix.2 > self.prefix.1 {
            f |= FLAG_PREFIX;
        }
        if self.values.1 > self.values.0 {
            f |= FLAG_VALUES;
        }
        if !self.children.is_empty() {
            f |= FLAG_CHILDS;
        }
        f
    }
}

/// The index file for `records`, given in insertion order, with its nodes
/// in the given order. Keys and values must be 7-bit bytes other than NUL;
/// the first offending string, in insertion order and key before value,
/// is the error.
pub fn build(records: &[Record<'_>], layout: Layout) -> Result<Vec<u8>, BuildError> {
    for r in records {
        check_text(r.key)?;
        check_text(r.value)?;
    }
    // Sorted by key, then priority, then newest first. The comparisons
    // read their keys from this array, not through the records.
    let mut order: Vec<(&[u8], u32, usize)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key, r.priority, usize::MAX - i))
        .collect();
    order.sort_unstable();
    let sorted: Vec<&Record<'_>> = order
        .iter()
        .map(|&(_, _, i)| &records[usize::MAX - i])
        .collect();

    let mut nodes = Vec::new();
    make_nodes(&sorted, &mut nodes);
    let total = HEADER_LEN + nodes.iter().map(|n| n.size).sum::<usize>();
    if total > OFFSET_MASK as usize {
        return Err(BuildError::TooLarge { size: total });
    }
    // Node ids are in pre-order already; post-order is worked out.
    let sequence: Vec<usize> = match layout {
        Layout::PreOrder => (0..nodes.len()).collect(),
        Layout::PostOrder => post_order(&nodes),
    };
    let mut words = vec![0u32; nodes.len()];
    let mut offset = HEADER_LEN;
    for &id in &sequence {
        words[id] = offset as u32 | nodes[id].flags();
        offset += nodes[id].size;
    }

    let mut out = Vec::with_capacity(total);
    for word in [MAGIC, VERSION, words[0]] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    for &id in &sequence {
        write_node(&sorted, &nodes[id], &words, &mut out);
    }
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

pub(super) fn check_text(text: &[u8]) -> Result<(), BuildError> {
    // One pass that the compiler can vectorize first: every key and value
    // of a run goes through here. NUL and bytes from 0x80 are the ones
    // that wrap to 0x7f or more when one is taken away.
    if text.iter().fold(0u8, |m, &b| m.max(b.wrapping_sub(1))) < 0x7f {
        return Ok(());
    }
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

/// A node still to make: (lo, hi, depth, parent and edge byte).
type Pending = (usize, usize, usize, Option<(usize, u8)>);

/// Builds the nodes from the sorted entries, root first. A node covers
/// sorted[lo..hi], whose keys agree before `depth`. Work is kept on an
/// explicit stack (keys can be long enough to make recursion unsafe), and
/// siblings are pushed in reverse, so each parent receives its children in
/// ascending byte order and node ids come out in pre-order.
fn make_nodes(sorted: &[&Record<'_>], nodes: &mut Vec<Node>) {
    let mut work: Vec<Pending> = vec![(0, sorted.len(), 0, None)];
    while let Some((lo, hi, depth, parent)) = work.pop() {
        let common = if parent.is_none() || lo == hi {
            0 // the root's prefix is always empty
        } else {
            let (first, last) = (&sorted[lo].key[depth..], &sorted[hi - 1].key[depth..]);
            first.iter().zip(last).take_while(|(a, b)| a == b).count()
        };
        let end = depth + common;
        let mut at = lo;
        while at < hi && sorted[at].key.len() == end {
            at += 1;
        }
        let id = nodes.len();
        nodes.push(Node {
            prefix: (lo, depth, end),
            values: (lo, at),
            children: Vec::new(),
            size: 0,
        });
        if let Some((p, byte)) = parent {
            nodes[p].children.push((byte, id));
        }
        let first_child = work.len();
        while at < hi {
            let byte = sorted[at].key[end];
            let mut next = at + 1;
            while next < hi && sorted[next].key[end] == byte {
                next += 1;
            }
            work.push((at, next, end + 1, Some((id, byte))));
            at = next;
        }
        work[first_child..].reverse();
    }
    for n in nodes.iter_mut() {
        let (_, start, end) = n.prefix;
        let mut size = if end > start { end - start + 1 } else { 0 };
        if let (Some(first), Some(last)) = (n.children.first(), n.children.last()) {
            size += 2 + 4 * (usize::from(last.0 - first.0) + 1);
        }
        let (lo, hi) = n.values;
        if hi > lo {
            size += 4 + sorted[lo..hi]
                .iter()
                .map(|e| 4 + e.value.len() + 1)
                .sum::<usize>();
        }
        n.size = size;
    }
}

/// Node ids, each after its children, children by ascending byte.
fn post_order(nodes: &[Node]) -> Vec<usize> {
    // Reversing a pre-order that takes children in descending order gives
    // the post-order with children in ascending order.
    let mut order = Vec::with_capacity(nodes.len());
    let mut stack = vec![0];
    while let Some(id) = stack.pop() {
        order.push(id);
        stack.extend(nodes[id].children.iter().map(|&(_, c)| c));
    }
    order.reverse();
    order
}

/// A node's bytes: prefix, child table, values.
fn write_node(sorted: &[&Record<'_>], n: &Node, words: &[u32], out: &mut Vec<u8>) {
    let (entry, start, end) = n.prefix;
    if end > start {
        out.extend_from_slice(&sorted[entry].key[start..end]);
        out.push(0);
    }
    if let (Some(first), Some(last)) = (n.children.first(), n.children.last()) {
        out.push(first.0);
        out.push(last.0);
        let mut kids = n.children.iter().peekable();
        for byte in first.0..=last.0 {
            let word = match kids.next_if(|&&(b, _)| b == byte) {
                Some(&(_, child)) => words[child],
                None => 0,
            };
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
    let (lo, hi) = n.values;
    if hi > lo {
        out.extend_from_slice(&((hi - lo) as u32).to_be_bytes());
        for e in &sorted[lo..hi] {
            out.extend_from_slice(&e.priority.to_be_bytes());
            out.extend_from_slice(e.value);
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e<'a>(key: &'a str, value: &'a str, priority: u32) -> Record<'a> {
        Record {
            key: key.as_bytes(),
            value: value.as_bytes(),
            priority,
        }
    }

    #[test]
    fn matches_kmod_34_example() {
        // Two modules, with the bytes kmod 34.2's depmod writes for them.
        let records = [
            e("mod_b", "kernel/mod_b.ko: kernel/x/mod-a.ko", 0),
            e("mod_a", "kernel/x/mod-a.ko:", 1),
        ];
        let bytes = build(&records, Layout::PreOrder).unwrap();
        let mut want = Vec::new();
        for w in [0xb007f457u32, 0x00020001, 0x2000000c] {
            want.extend_from_slice(&w.to_be_bytes());
        }
        want.extend_from_slice(&[0x6d, 0x6d]);
        want.extend_from_slice(&0xa0000012u32.to_be_bytes());
        want.extend_from_slice(b"od_\0");
        want.extend_from_slice(&[0x61, 0x62]);
        want.extend_from_slice(&0x40000020u32.to_be_bytes());
        want.extend_from_slice(&0x4000003bu32.to_be_bytes());
        want.extend_from_slice(&1u32.to_be_bytes());
        want.extend_from_slice(&1u32.to_be_bytes());
        want.extend_from_slice(b"kernel/x/mod-a.ko:\0");
        want.extend_from_slice(&1u32.to_be_bytes());
        want.extend_from_slice(&0u32.to_be_bytes());
        want.extend_from_slice(b"kernel/mod_b.ko: kernel/x/mod-a.ko\0");
        assert_eq!(bytes, want);
        // kmod 30's post-order of the same: leaves first, root last.
        let post = build(&records, Layout::PostOrder).unwrap();
        assert_eq!(&post[8..12], &0x2000_0060u32.to_be_bytes());
        assert_eq!(post.len(), want.len());
    }

    #[test]
    fn empty_index_is_a_bare_header() {
        for layout in [Layout::PreOrder, Layout::PostOrder] {
            let bytes = build(&[], layout).unwrap();
            assert_eq!(bytes, [0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1, 0, 0, 0, 12]);
        }
    }

    #[test]
    fn equal_priorities_are_newest_first() {
        let records = [e("k", "first", 0), e("k", "second", 0), e("k", "low", 1)];
        let bytes = build(&records, Layout::PreOrder).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let (s, f, l) = (
            text.find("second").unwrap(),
            text.find("first").unwrap(),
            text.find("low").unwrap(),
        );
        assert!(s < f && f < l);
    }

    #[test]
    fn deep_tries_need_no_deep_stack() {
        // Every key a prefix of the next: one node per key, all nested.
        let size = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let keys: Vec<Vec<u8>> = (1..4_000).map(|n| vec![b'a'; n]).collect();
                let records: Vec<Record<'_>> = keys
                    .iter()
                    .map(|k| Record {
                        key: k,
                        value: b"v",
                        priority: 0,
                    })
                    .collect();
                let pre = build(&records, Layout::PreOrder).map(|b| b.len());
                let post = build(&records, Layout::PostOrder).map(|b| b.len());
                (pre, post)
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(*size.0.as_ref().unwrap() > 4_000);
        assert_eq!(size.0, size.1);
    }

    #[test]
    fn rejects_eight_bit_bytes_and_nul() {
        assert_eq!(
            build(&[e("ok", "caf\u{e9}", 0)], Layout::PreOrder),
            Err(BuildError::NonAscii {
                text: "caf\u{e9}".into(),
                byte: 0xc3
            })
        );
        // The first bad string in insertion order, key before value.
        assert_eq!(
            build(&[e("a\u{e9}", "\u{e8}", 0)], Layout::PreOrder),
            Err(BuildError::NonAscii {
                text: "a\u{e9}".into(),
                byte: 0xc3
            })
        );
        assert_eq!(
            build(&[e("k", "a\0b", 0)], Layout::PreOrder),
            Err(BuildError::Nul {
                text: b"a\0b".to_vec()
            })
        );
    }
}
