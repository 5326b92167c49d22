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

/// One trie node. Its keys are the sorted entries `lo..` (how far they
/// reach is the children's business); its prefix is bytes `depth..end` of
/// the first of them, and the entries `lo..at` end there: its values.
/// Everything is 32-bit (the file's offsets are 28-bit) to keep the node
/// list small: it is made fresh for every index, and its pages are the
/// larger part of what writing an index costs.
#[derive(Clone, Copy)]
struct Node {
    lo: u32,
    at: u32,
    depth: u32,
    end: u32,
    /// The parent's id and the edge byte (the root's are unused).
    parent: u32,
    byte: u8,
}

impl Node {
    fn has_prefix(&self) -> bool {
        self.end > self.depth
    }

    fn has_values(&self) -> bool {
        self.at > self.lo
    }
}

/// Who each node's children are, ascending by byte: the (edge byte, id)
/// pairs of node `i`'s children are `edges[first[i]..first[i + 1]]`.
struct Children {
    first: Vec<u32>,
    edges: Vec<(u8, u32)>,
}

impl Children {
    /// Pre-order ids list each parent's children in ascending byte order,
    /// so one pass over them in id order fills every node's run in order.
    fn of(nodes: &[Node]) -> Children {
        let mut first = vec![0u32; nodes.len() + 1];
        for n in nodes.iter().skip(1) {
            first[n.parent as usize + 1] += 1;
        }
        for i in 1..first.len() {
            first[i] += first[i - 1];
        }
        let mut next = first.clone();
        let mut edges = vec![(0u8, 0u32); nodes.len().saturating_sub(1)];
        for (id, n) in nodes.iter().enumerate().skip(1) {
            let slot = &mut next[n.parent as usize];
            edges[*slot as usize] = (n.byte, id as u32);
            *slot += 1;
        }
        Children { first, edges }
    }

    fn of_node(&self, id: usize) -> &[(u8, u32)] {
        &self.edges[self.first[id] as usize..self.first[id + 1] as usize]
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
    // Each entry takes at least a priority and a NUL: this many could not
    // fit, and fewer can be counted in 32 bits.
    if records.len() > OFFSET_MASK as usize / 5 {
        return Err(BuildError::TooLarge {
            size: HEADER_LEN + 5 * records.len(),
        });
    }
    let sorted = Sorted::new(records);
    let nodes = make_nodes(&sorted);
    let children = Children::of(&nodes);
    let sizes: Vec<usize> = (0..nodes.len())
        .map(|id| node_size(&sorted, &nodes, &children, id))
        .collect();
    let total = HEADER_LEN + sizes.iter().sum::<usize>();
    if total > OFFSET_MASK as usize {
        return Err(BuildError::TooLarge { size: total });
    }
    // Node ids are in pre-order already; post-order is worked out.
    let sequence: Vec<u32> = match layout {
        Layout::PreOrder => (0..nodes.len() as u32).collect(),
        Layout::PostOrder => post_order(&children, nodes.len()),
    };
    let mut words = vec![0u32; nodes.len()];
    let mut offset = HEADER_LEN;
    for &id in &sequence {
        let (id, n) = (id as usize, &nodes[id as usize]);
        let mut flags = 0;
        if n.has_prefix() {
            flags |= FLAG_PREFIX;
        }
        if n.has_values() {
            flags |= FLAG_VALUES;
        }
        if !children.of_node(id).is_empty() {
            flags |= FLAG_CHILDS;
        }
        words[id] = offset as u32 | flags;
        offset += sizes[id];
    }

    // Zeroed first: the absent children's words are then already written.
    let mut out = vec![0u8; total];
    let mut header = Writer {
        out: &mut out,
        at: 0,
    };
    for word in [MAGIC, VERSION, words.first().copied().unwrap_or(0)] {
        header.put(&word.to_be_bytes());
    }
    for &id in &sequence {
        let id = id as usize;
        let at = (words[id] & OFFSET_MASK) as usize;
        let mut node = Writer { out: &mut out, at };
        write_node(&sorted, &nodes, &children, &words, id, &mut node);
        debug_assert_eq!(node.at, at + sizes[id]);
    }
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

/// The entries sorted by key, then priority, then newest first, with how
/// many leading bytes each key shares with the one before it.
struct Sorted<'r, 'a> {
    records: &'r [Record<'a>],
    /// Indexes into `records`, in sorted order.
    order: Vec<u32>,
    /// The keys in sorted order: the trie is read off them, and going
    /// through `order` each time was a cache miss each.
    keys: Vec<&'a [u8]>,
    /// For each sorted key, the bytes it shares with the one before it (0
    /// for the first). The common prefix of any run of sorted keys is the
    /// least of these inside the run, so the trie's shape is read off this
    /// one contiguous array instead of going back to the keys at every level.
    shared: Vec<u32>,
}

impl<'r, 'a> Sorted<'r, 'a> {
    /// `records` must be fewer than 2^32.
    fn new(records: &'r [Record<'a>]) -> Sorted<'r, 'a> {
        // Sorted 16 key bytes at a time: each pass orders by one 16-byte
        // slice of the keys taken as a number (zero-padded, which orders
        // like the key itself, since keys hold no NUL), and only runs
        // that tie go on to the next slice. Keys that share a long start
        // (thousands of aliases begin "pci:v00008086d00") are then
        // compared as integers, never byte by byte from the start.
        let key = |i: u32| records[i as usize].key;
        let mut items: Vec<(u128, u32)> = (0..records.len() as u32)
            .map(|i| (head(key(i)), i))
            .collect();
        items.sort_unstable_by_key(|item| item.0);
        let mut ties: Vec<(usize, usize, usize)> = Vec::new();
        push_ties(&items, 0..records.len(), 0, &mut ties);
        while let Some((lo, hi, from)) = ties.pop() {
            let run = &mut items[lo..hi];
            // Equal heads: equal keys if the first ends within them.
            if key(run[0].1).len() < from + 16 {
                run.sort_unstable_by(|a, b| {
                    let (x, y) = (&records[a.1 as usize], &records[b.1 as usize]);
                    x.priority.cmp(&y.priority).then(b.1.cmp(&a.1))
                });
                continue;
            }
            let from = from + 16;
            for item in run.iter_mut() {
                item.0 = head(&key(item.1)[from..]);
            }
            run.sort_unstable_by_key(|item| item.0);
            push_ties(&items, lo..hi, from, &mut ties);
        }
        let order: Vec<u32> = items.into_iter().map(|item| item.1).collect();
        let keys: Vec<&[u8]> = order.iter().map(|&i| key(i)).collect();
        let mut shared = Vec::with_capacity(order.len());
        shared.push(0);
        for pair in keys.windows(2) {
            // Keys are shorter than the file's 28-bit offsets allow.
            shared.push(common_prefix(pair[0], pair[1], 0) as u32);
        }
        Sorted {
            records,
            order,
            keys,
            shared,
        }
    }

    fn key(&self, i: usize) -> &'a [u8] {
        self.keys[i]
    }

    fn record(&self, i: usize) -> &'r Record<'a> {
        &self.records[self.order[i] as usize]
    }
}

/// Adds to `ties` every run of two or more equal heads within `range` of
/// `items`, as (start, end, the key offset the heads were taken from).
fn push_ties(
    items: &[(u128, u32)],
    range: std::ops::Range<usize>,
    from: usize,
    ties: &mut Vec<(usize, usize, usize)>,
) {
    let mut start = range.start;
    for i in range.start + 1..=range.end {
        if i == range.end || items[i].0 != items[start].0 {
            if i - start > 1 {
                ties.push((start, i, from));
            }
            start = i;
        }
    }
}

/// How many leading bytes `a` and `b` share, given that they share `from`.
fn common_prefix(a: &[u8], b: &[u8], from: usize) -> usize {
    let len = a.len().min(b.len());
    let mut n = from;
    while n + 8 <= len {
        let x = u64::from_le_bytes(a[n..n + 8].try_into().unwrap_or_default());
        let y = u64::from_le_bytes(b[n..n + 8].try_into().unwrap_or_default());
        if x != y {
            return n + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..len]
        .iter()
        .zip(&b[n..len])
        .take_while(|(x, y)| x == y)
        .count()
}

/// A key's first 16 bytes as a big-endian number, zero-padded.
fn head(key: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    let n = key.len().min(16);
    bytes[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(bytes)
}

/// A node still to make: (lo, hi, depth, parent, edge byte).
type Pending = (usize, usize, usize, u32, u8);

/// Builds the nodes from the sorted entries, root first. A node covers
/// sorted entries lo..hi, whose keys agree before `depth`. Work is kept
/// on an explicit stack (keys can be long enough to make recursion
/// unsafe), and siblings are pushed in reverse, so node ids come out in
/// pre-order with each parent's children in ascending byte order.
fn make_nodes(sorted: &Sorted<'_, '_>) -> Vec<Node> {
    let count = sorted.order.len();
    // A compacted trie has at most two nodes per key, and the root.
    let mut nodes: Vec<Node> = Vec::with_capacity(2 * count + 1);
    let mut work: Vec<Pending> = vec![(0, count, 0, 0, 0)];
    while let Some((lo, hi, depth, parent, byte)) = work.pop() {
        let id = nodes.len();
        let end = if id == 0 || lo == hi {
            depth // the root's prefix is always empty
        } else if hi - lo == 1 {
            sorted.key(lo).len()
        } else {
            sorted.shared[lo + 1..hi].iter().copied().min().unwrap_or(0) as usize
        };
        // Keys that end here sort before the longer ones.
        let mut at = lo;
        while at < hi && sorted.key(at).len() == end {
            at += 1;
        }
        nodes.push(Node {
            lo: lo as u32,
            at: at as u32,
            depth: depth as u32,
            end: end as u32,
            parent,
            byte,
        });
        let first_child = work.len();
        while at < hi {
            // The next child starts where a key first differs at `end`.
            let next = sorted.shared[at + 1..hi]
                .iter()
                .position(|&l| l as usize == end)
                .map_or(hi, |i| at + 1 + i);
            work.push((at, next, end + 1, id as u32, sorted.key(at)[end]));
            at = next;
        }
        work[first_child..].reverse();
    }
    nodes
}

/// The bytes a node takes, without its children.
fn node_size(sorted: &Sorted<'_, '_>, nodes: &[Node], children: &Children, id: usize) -> usize {
    let n = &nodes[id];
    let mut size = if n.has_prefix() {
        (n.end - n.depth) as usize + 1
    } else {
        0
    };
    let kids = children.of_node(id);
    if let (Some(first), Some(last)) = (kids.first(), kids.last()) {
        size += 2 + 4 * (usize::from(last.0 - first.0) + 1);
    }
    if n.has_values() {
        size += 4
            + (n.lo..n.at)
                .map(|i| 4 + sorted.record(i as usize).value.len() + 1)
                .sum::<usize>();
    }
    size
}

/// Node ids, each after its children, children by ascending byte.
fn post_order(children: &Children, count: usize) -> Vec<u32> {
    // Reversing a pre-order that takes children in descending order gives
    // the post-order with children in ascending order.
    let mut order = Vec::with_capacity(count);
    let mut stack = vec![0u32];
    while let Some(id) = stack.pop() {
        order.push(id);
        stack.extend(children.of_node(id as usize).iter().map(|&(_, c)| c));
    }
    order.reverse();
    order
}

/// Bytes written in place into an index whose size is known.
struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // Every node's size was counted from the same entries, so the
        // bytes always fit; if they did not, the file is short, not torn.
        if let Some(to) = self.out.get_mut(self.at..self.at + bytes.len()) {
            to.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

/// A node's bytes: prefix, child table, values.
fn write_node(
    sorted: &Sorted<'_, '_>,
    nodes: &[Node],
    children: &Children,
    words: &[u32],
    id: usize,
    out: &mut Writer<'_>,
) {
    let n = &nodes[id];
    if n.has_prefix() {
        out.put(&sorted.key(n.lo as usize)[n.depth as usize..n.end as usize]);
        out.put(&[0]);
    }
    let kids = children.of_node(id);
    if let (Some(first), Some(last)) = (kids.first(), kids.last()) {
        out.put(&[first.0, last.0]);
        let table = out.at;
        for &(byte, child) in kids {
            out.at = table + 4 * usize::from(byte - first.0);
            out.put(&words[child as usize].to_be_bytes());
        }
        out.at = table + 4 * (usize::from(last.0 - first.0) + 1);
    }
    if n.has_values() {
        out.put(&(n.at - n.lo).to_be_bytes());
        for i in n.lo..n.at {
            let e = sorted.record(i as usize);
            out.put(&e.priority.to_be_bytes());
            out.put(e.value);
            out.put(&[0]);
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
