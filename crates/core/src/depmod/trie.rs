//! Writing a `.bin` index from a complete list of entries.
//!
//! depmod knows every entry before it writes, so instead of inserting key by
//! key into a mutable trie, the entries are sorted once and the trie is read
//! off the sorted list: the keys under a node are a contiguous run, a node's
//! prefix is the common prefix of the run's first and last keys, and its
//! children are the sub-runs by next byte. The shape is the one kmod's
//! incremental insertion produces, since that shape depends only on the key
//! set. Nodes are written in kmod 34's pre-order layout.

const MAGIC: u32 = 0xB007_F457;
const VERSION: u32 = 0x0002_0001;
const HEADER_LEN: usize = 12;
const FLAG_PREFIX: u32 = 0x8000_0000;
const FLAG_VALUES: u32 = 0x4000_0000;
const FLAG_CHILDS: u32 = 0x2000_0000;
/// Node offsets have 28 bits.
const OFFSET_LIMIT: usize = 0x1000_0000;

/// One index entry, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub priority: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrieError {
    /// A key or value byte outside 7-bit ASCII (the whole string, the byte).
    BadChar(Vec<u8>, u8),
    TooLarge,
}

struct Node {
    /// Index of an entry whose key holds this node's prefix, and its range.
    prefix: (usize, usize, usize),
    /// Range of sorted entries stored at this node.
    values: (usize, usize),
    /// (edge byte, node index), ascending.
    children: Vec<(u8, usize)>,
    size: usize,
    total: usize,
}

/// Builds the index file for `entries`, given in insertion order: values
/// are ordered by ascending priority, and equal priorities newest first.
pub(crate) fn build(entries: &[Entry<'_>]) -> Result<Vec<u8>, TrieError> {
    for e in entries {
        for s in [e.key, e.value] {
            if let Some(&b) = s.iter().find(|&&b| b >= 0x80) {
                return Err(TrieError::BadChar(s.to_vec(), b));
            }
        }
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&entries[a], &entries[b]);
        x.key
            .cmp(y.key)
            .then(x.priority.cmp(&y.priority))
            .then(b.cmp(&a))
    });
    let sorted: Vec<&Entry<'_>> = order.iter().map(|&i| &entries[i]).collect();

    let mut nodes = Vec::new();
    make_nodes(&sorted, &mut nodes);
    compute_totals(&sorted, &mut nodes);
    let total = HEADER_LEN + nodes[0].total;
    if total >= OFFSET_LIMIT {
        return Err(TrieError::TooLarge);
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(HEADER_LEN as u32 | flags(&nodes[0])).to_be_bytes());
    write_nodes(&sorted, &nodes, &mut out);
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// A node still to make: (lo, hi, depth, parent and edge byte).
type Pending = (usize, usize, usize, Option<(usize, u8)>);

/// Builds the nodes from the sorted entries, root first. A node covers
/// sorted[lo..hi], whose keys agree before `depth`. Work is kept on an
/// explicit stack (keys can be long enough to make recursion unsafe), and
/// siblings are pushed in reverse, so each parent receives its children in
/// ascending byte order and every child gets a larger index than its parent.
fn make_nodes(sorted: &[&Entry<'_>], nodes: &mut Vec<Node>) {
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
            total: 0,
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
}

fn compute_totals(sorted: &[&Entry<'_>], nodes: &mut [Node]) {
    // Pre-order indexes: every child has a larger index than its parent, so
    // a reverse sweep sees children first.
    for id in (0..nodes.len()).rev() {
        let n = &nodes[id];
        let (_, start, end) = n.prefix;
        let mut size = if end > start { end - start + 1 } else { 0 };
        if let (Some(first), Some(last)) = (n.children.first(), n.children.last()) {
            size += 2 + 4 * (usize::from(last.0 - first.0) + 1);
        }
        size += value_bytes(sorted, n);
        let children_total: usize = n.children.iter().map(|&(_, c)| nodes[c].total).sum();
        let n = &mut nodes[id];
        n.size = size;
        n.total = size + children_total;
    }
}

fn flags(n: &Node) -> u32 {
    let mut f = 0;
    if n.prefix.2 > n.prefix.1 {
        f |= FLAG_PREFIX;
    }
    if n.values.1 > n.values.0 {
        f |= FLAG_VALUES;
    }
    if !n.children.is_empty() {
        f |= FLAG_CHILDS;
    }
    f
}

fn value_bytes(sorted: &[&Entry<'_>], n: &Node) -> usize {
    let (lo, hi) = n.values;
    if hi == lo {
        return 0;
    }
    4 + sorted[lo..hi]
        .iter()
        .map(|e| 4 + e.value.len() + 1)
        .sum::<usize>()
}

/// Writes the nodes in pre-order: each node, then its children's subtrees
/// in ascending byte order.
fn write_nodes(sorted: &[&Entry<'_>], nodes: &[Node], out: &mut Vec<u8>) {
    let mut stack = vec![0usize];
    while let Some(id) = stack.pop() {
        let n = &nodes[id];
        let offset = out.len();
        let (entry, start, end) = n.prefix;
        if end > start {
            out.extend_from_slice(&sorted[entry].key[start..end]);
            out.push(0);
        }
        if let (Some(first), Some(last)) = (n.children.first(), n.children.last()) {
            out.push(first.0);
            out.push(last.0);
            let mut child_at = offset + n.size;
            let mut kids = n.children.iter().peekable();
            for byte in first.0..=last.0 {
                match kids.peek() {
                    Some(&&(b, child)) if b == byte => {
                        kids.next();
                        out.extend_from_slice(
                            &(child_at as u32 | flags(&nodes[child])).to_be_bytes(),
                        );
                        child_at += nodes[child].total;
                    }
                    _ => out.extend_from_slice(&0u32.to_be_bytes()),
                }
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
        stack.extend(n.children.iter().rev().map(|&(_, c)| c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e<'a>(key: &'a str, value: &'a str, priority: u32) -> Entry<'a> {
        Entry {
            key: key.as_bytes(),
            value: value.as_bytes(),
            priority,
        }
    }

    #[test]
    fn matches_kmod_34_example() {
        // The two-module example of the behaviour reference (§4.5).
        let bytes = build(&[
            e("mod_b", "kernel/mod_b.ko: kernel/x/mod-a.ko", 0),
            e("mod_a", "kernel/x/mod-a.ko:", 1),
        ])
        .unwrap();
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
    }

    #[test]
    fn empty_index_is_a_bare_header() {
        let bytes = build(&[]).unwrap();
        assert_eq!(bytes, [0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1, 0, 0, 0, 12]);
    }

    #[test]
    fn equal_priorities_are_newest_first() {
        let bytes = build(&[e("k", "first", 0), e("k", "second", 0), e("k", "low", 1)]).unwrap();
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
                let entries: Vec<Entry<'_>> = keys
                    .iter()
                    .map(|k| Entry {
                        key: k,
                        value: b"v",
                        priority: 0,
                    })
                    .collect();
                build(&entries).map(|b| b.len())
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(size.unwrap() > 4_000);
    }

    #[test]
    fn rejects_eight_bit_bytes() {
        assert_eq!(
            build(&[e("ok", "caf\u{e9}", 0)]),
            Err(TrieError::BadChar("caf\u{e9}".into(), 0xc3))
        );
    }
}
