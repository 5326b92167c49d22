//! Hermetic tests on small hand-built indexes.

use super::*;
use modutils_fnmatch::fnmatch;

fn build(entries: &[(&str, &str, u32)]) -> IndexBuilder {
    let mut builder = IndexBuilder::new();
    for &(key, value, priority) in entries {
        builder.insert(key, value, priority).unwrap();
    }
    builder
}

fn open(builder: &IndexBuilder, layout: Layout) -> Index {
    Index::from_bytes(builder.to_bytes_with(layout).unwrap()).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A two-module modules.dep.bin, small enough to check by hand against the
/// bytes kmod 34.2's depmod writes for it.
fn two_modules() -> IndexBuilder {
    build(&[
        ("mod_b", "kernel/mod_b.ko: kernel/x/mod-a.ko", 0),
        ("mod_a", "kernel/x/mod-a.ko:", 1),
    ])
}

#[test]
fn pre_order_bytes_match_kmod_34() {
    let expected = [
        "b007f457",
        "00020001",
        "2000000c",
        // root: one child 'm' at 0x12, which has a prefix and children
        "6d6d",
        "a0000012",
        // "od_", children 'a'..='b', both leaves with values
        &hex(b"od_\0"),
        "6162",
        "40000020",
        "4000003b",
        "00000001",
        "00000001",
        &hex(b"kernel/x/mod-a.ko:\0"),
        "00000001",
        "00000000",
        &hex(b"kernel/mod_b.ko: kernel/x/mod-a.ko\0"),
    ]
    .concat();
    assert_eq!(hex(&two_modules().to_bytes().unwrap()), expected);
}

#[test]
fn post_order_places_nodes_as_kmod_30() {
    let bytes = two_modules().to_bytes_with(Layout::PostOrder).unwrap();
    assert_eq!(hex(&bytes[8..12]), "20000060");
    // 'a' leaf first, then 'b', then "od_" and the root last
    assert_eq!(&bytes[0x0c..0x10], &[0, 0, 0, 1]);
    assert_eq!(&bytes[0x52..0x56], b"od_\0");
    assert_eq!(hex(&bytes[0x56..0x60]), "61624000000c40000027");
    assert_eq!(hex(&bytes[0x60..]), "6d6da0000052");
}

#[test]
fn both_layouts_read_the_same() {
    let builder = two_modules();
    for layout in [Layout::PreOrder, Layout::PostOrder] {
        let index = open(&builder, layout);
        assert_eq!(
            index.lookup("mod_a").unwrap(),
            Some(&b"kernel/x/mod-a.ko:"[..])
        );
        assert_eq!(index.lookup("mod_").unwrap(), None);
        assert_eq!(index.lookup("mod_c").unwrap(), None);
        assert_eq!(index.lookup("mod_bb").unwrap(), None);
        assert_eq!(
            index.dump("alias ").unwrap(),
            b"alias mod_a kernel/x/mod-a.ko:\nalias mod_b kernel/mod_b.ko: kernel/x/mod-a.ko\n"
        );
    }
}

#[test]
fn empty_index_is_a_bare_header() {
    let bytes = IndexBuilder::new().to_bytes().unwrap();
    assert_eq!(hex(&bytes), "b007f457000200010000000c");
    let index = Index::from_bytes(bytes).unwrap();
    assert_eq!(index.entries().unwrap(), vec![]);
    assert_eq!(index.lookup("").unwrap(), None);
    assert_eq!(index.lookup_wild("x").unwrap(), vec![]);
}

#[test]
fn values_order_by_priority_then_newest_first() {
    let mut builder = IndexBuilder::new();
    assert!(!builder.insert("k", "a", 5).unwrap());
    assert!(!builder.insert("k", "b", 3).unwrap());
    assert!(!builder.insert("k", "c", 5).unwrap());
    assert!(!builder.insert("k", "d", 3).unwrap());
    assert!(builder.insert("k", "b", 3).unwrap(), "duplicate reported");
    assert!(
        !builder.insert("kk", "b", 3).unwrap(),
        "other key, no duplicate"
    );
    let index = open(&builder, Layout::PreOrder);
    let stored: Vec<_> = index
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.value, e.priority))
        .collect();
    let expect = |k: &str, v: &str, p| (k.to_owned(), v.to_owned(), p);
    assert_eq!(
        stored,
        vec![
            expect("k", "b", 3),
            expect("k", "d", 3),
            expect("k", "b", 3),
            expect("k", "c", 5),
            expect("k", "a", 5),
            expect("kk", "b", 3),
        ]
    );
    assert_eq!(index.lookup("k").unwrap(), Some(&b"b"[..]));
}

#[test]
fn rejects_what_the_format_cannot_hold() {
    let mut builder = IndexBuilder::new();
    assert_eq!(
        builder.insert("pci:\u{e9}", "m", 0),
        Err(BuildError::NonAscii {
            text: "pci:\u{e9}".into(),
            byte: 0xc3
        })
    );
    assert!(matches!(
        builder.insert("k", b"v\xff".as_slice(), 0),
        Err(BuildError::NonAscii { byte: 0xff, .. })
    ));
    assert!(matches!(
        builder.insert("a\0b", "m", 0),
        Err(BuildError::Nul { .. })
    ));
    assert_eq!(builder.to_bytes().unwrap().len(), 12, "nothing was added");
}

#[test]
fn wildcard_search_visits_in_kmod_order() {
    // All priority 7: the order is the reverse of kmod's discovery order:
    // at each depth the '*' subtree, then '?', then '[' (each children
    // first, then the node), then the literal path.
    let index = open(
        &build(&[
            ("ab", "exact", 7),
            ("a*", "star", 7),
            ("a*b", "star-b", 7),
            ("a?", "question", 7),
            ("a[b]", "bracket", 7),
            ("*", "top-star", 7),
            ("a[!x]*", "bracket-star", 7),
            ("zz*", "unrelated", 7),
        ]),
        Layout::PreOrder,
    );
    let values: Vec<Vec<u8>> = index
        .lookup_wild("ab")
        .unwrap()
        .into_iter()
        .map(|v| v.value)
        .collect();
    let discovery = [
        "top-star",
        "star-b",
        "star",
        "question",
        "bracket-star",
        "bracket",
        "exact",
    ];
    let expected: Vec<&[u8]> = discovery.iter().rev().map(|d| d.as_bytes()).collect();
    assert_eq!(values, expected);
}

#[test]
fn wildcard_results_sort_by_priority() {
    let index = open(
        &build(&[
            ("usb:v*", "generic", 9),
            ("usb:v1234*", "specific", 2),
            ("usb:v12??", "mid", 5),
        ]),
        Layout::PostOrder,
    );
    let found = index.lookup_wild("usb:v1234").unwrap();
    let got: Vec<(u32, &[u8])> = found
        .iter()
        .map(|v| (v.priority, v.value.as_slice()))
        .collect();
    assert_eq!(
        got,
        vec![(2, &b"specific"[..]), (5, b"mid"), (9, b"generic")]
    );
    assert_eq!(index.lookup_wild("usb:x").unwrap(), vec![]);
}

#[test]
fn query_with_wildcard_chars_can_repeat() {
    // kmod finds "a*" once through the '*' edge as a pattern and once more
    // by walking that edge literally; `modprobe -R 'acpi*:PNP0C0A:*'`
    // prints `battery` twice on a real tree.
    let index = open(&build(&[("a*", "m", 1), ("ab", "n", 2)]), Layout::PreOrder);
    let found: Vec<Vec<u8>> = index
        .lookup_wild("a*")
        .unwrap()
        .into_iter()
        .map(|v| v.value)
        .collect();
    assert_eq!(found, vec![b"m", b"m"]);
}

#[test]
fn wildcard_inside_a_prefix() {
    // A single key: the root's child 'p' carries the whole rest, wildcards
    // included, so matching starts inside a prefix.
    let index = open(&build(&[("pci:v*d0001*", "m", 1)]), Layout::PreOrder);
    assert_eq!(index.lookup_wild("pci:v8086d0001x").unwrap().len(), 1);
    assert_eq!(index.lookup_wild("pci:v8086d0002x").unwrap().len(), 0);
    assert_eq!(index.lookup_wild("pci:").unwrap().len(), 0);
    // Exact search treats the pattern as plain bytes.
    assert_eq!(index.lookup("pci:v*d0001*").unwrap(), Some(&b"m"[..]));
}

/// kmod's wildcard search, stated directly: literal bytes up to the key's
/// first `*`, `?` or `[` must equal the query's, and the rest is fnmatch'ed;
/// a key without wildcards must equal the query.
fn model_matches(pattern: &[u8], query: &[u8]) -> bool {
    match pattern.iter().position(|c| b"*?[".contains(c)) {
        None => pattern == query,
        Some(w) => {
            query.len() >= w && pattern[..w] == query[..w] && fnmatch(&pattern[w..], &query[w..])
        }
    }
}

/// The order in which kmod discovers matching keys: by first-wildcard
/// position, then the subtree walk from there, which takes a key's longer
/// extensions before the key itself and siblings in byte order.
fn model_discovery_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let wild = |k: &[u8]| {
        k.iter()
            .position(|c| b"*?[".contains(c))
            .unwrap_or(usize::MAX)
    };
    let (wa, wb) = (wild(a), wild(b));
    wa.cmp(&wb).then_with(|| {
        if wa == usize::MAX {
            return std::cmp::Ordering::Equal;
        }
        let (ta, tb) = (&a[wa..], &b[wb..]);
        if ta.len() != tb.len() && (ta.starts_with(tb) || tb.starts_with(ta)) {
            tb.len().cmp(&ta.len())
        } else {
            ta.cmp(tb)
        }
    })
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn text(&mut self, alphabet: &[u8], max_len: usize) -> String {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

#[test]
fn wildcard_search_agrees_with_model() {
    let mut rng = Rng(42);
    for round in 0..200 {
        let mut builder = IndexBuilder::new();
        for _ in 0..rng.below(40) {
            let key = rng.text(b"ab*?[]!-", 6);
            let value = rng.text(b"xyz", 3);
            let priority = rng.below(4) as u32;
            builder.insert(&key, &value, priority).unwrap();
        }
        let layout = if round % 2 == 0 {
            Layout::PreOrder
        } else {
            Layout::PostOrder
        };
        let index = open(&builder, layout);
        let entries = index.entries().unwrap();
        for _ in 0..30 {
            // Queries with '*', '?' or '[' can reach a key twice (see
            // `query_with_wildcard_chars_can_repeat`); the model leaves them out.
            let query = rng.text(b"ab]-!", 6);
            let mut matches: Vec<(usize, &Entry)> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| model_matches(e.key.as_bytes(), query.as_bytes()))
                .collect();
            // Discovery order (stored order within a key), then kmod's sort.
            matches.sort_by(|(ia, a), (ib, b)| {
                model_discovery_cmp(a.key.as_bytes(), b.key.as_bytes()).then(ia.cmp(ib))
            });
            let mut expected: Vec<(usize, Value)> = matches
                .into_iter()
                .enumerate()
                .map(|(seq, (_, e))| {
                    let value = Value {
                        priority: e.priority,
                        value: e.value.clone().into_bytes(),
                    };
                    (seq, value)
                })
                .collect();
            expected.sort_by(|(sa, a), (sb, b)| a.priority.cmp(&b.priority).then(sb.cmp(sa)));
            let expected: Vec<Value> = expected.into_iter().map(|(_, v)| v).collect();
            assert_eq!(
                index.lookup_wild(&query).unwrap(),
                expected,
                "query {query:?} in {entries:#?}"
            );
        }
    }
}

#[test]
fn round_trip_random_indexes() {
    let mut rng = Rng(7);
    for _ in 0..100 {
        let mut builder = IndexBuilder::new();
        let mut inserted = Vec::new();
        for seq in 0..rng.below(60) {
            let key = rng.text(b"abc_:*", 8);
            let value = rng.text(b"mno/.", 5);
            let priority = rng.below(3) as u32;
            builder.insert(&key, &value, priority).unwrap();
            inserted.push((key, priority, std::cmp::Reverse(seq), value));
        }
        // Expected dump: keys in byte order, values by priority, newest first.
        inserted.sort();
        let expected: Vec<Entry> = inserted
            .into_iter()
            .map(|(key, priority, _, value)| Entry {
                key,
                value,
                priority,
            })
            .collect();
        for layout in [Layout::PreOrder, Layout::PostOrder] {
            let index = open(&builder, layout);
            assert_eq!(index.entries().unwrap(), expected);
            for entry in &expected {
                let first = expected.iter().find(|e| e.key == entry.key).unwrap();
                assert_eq!(
                    index.lookup(&entry.key).unwrap(),
                    Some(first.value.as_bytes())
                );
            }
        }
    }
}

fn corrupt_problem(bytes: Vec<u8>) -> Corruption {
    let index = Index::from_bytes(bytes).unwrap();
    match index.entries() {
        Err(IndexError::Corrupt { problem, .. }) => problem,
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// Header plus a root word, then `body` at offset 12.
fn raw_index(root_word: u32, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0xB007_F457, 0x0002_0001, root_word] {
        bytes.extend_from_slice(&u32::to_be_bytes(word));
    }
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn header_errors() {
    assert!(matches!(
        Index::from_bytes(vec![0xb0, 0x07]),
        Err(IndexError::TooShort { len: 2, .. })
    ));
    let mut bad_magic = raw_index(0, &[]);
    bad_magic[3] = 0x57 ^ 0xff;
    assert!(matches!(
        Index::from_bytes(bad_magic),
        Err(IndexError::BadMagic { .. })
    ));
    let mut bad_version = raw_index(0, &[]);
    bad_version[5] = 3;
    assert!(matches!(
        Index::from_bytes(bad_version),
        Err(IndexError::BadVersion {
            version: 0x0003_0001,
            ..
        })
    ));
    let mut minor = raw_index(0, &[]);
    minor[7] = 9;
    assert!(
        Index::from_bytes(minor).is_ok(),
        "only the major version counts"
    );
    let err = Index::open("/nonexistent/modules.alias.bin").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/modules.alias.bin: "),
        "{err}"
    );
}

#[test]
fn node_errors() {
    let prefix = 0x8000_0000;
    let childs = 0x2000_0000;
    let values = 0x4000_0000;
    assert_eq!(
        corrupt_problem(raw_index(prefix | 100, b"ab\0")),
        Corruption::OffsetPastEnd
    );
    assert_eq!(
        corrupt_problem(raw_index(prefix | 12, b"ab")),
        Corruption::Unterminated
    );
    assert_eq!(
        corrupt_problem(raw_index(childs | 12, b"b")),
        Corruption::Truncated
    );
    assert_eq!(
        corrupt_problem(raw_index(childs | 12, b"ba\0\0\0\0\0\0\0\0")),
        Corruption::BadChildRange {
            first: b'b',
            last: b'a'
        }
    );
    assert_eq!(
        corrupt_problem(raw_index(
            childs | 12,
            &[0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]
        )),
        Corruption::BadChildRange {
            first: 0x7f,
            last: 0x80
        }
    );
    assert_eq!(
        corrupt_problem(raw_index(childs | 12, b"aa\0\0")),
        Corruption::Truncated
    );
    assert_eq!(
        corrupt_problem(raw_index(values | 12, b"\0\0")),
        Corruption::Truncated
    );
    // A huge count runs into the end of the file.
    assert_eq!(
        corrupt_problem(raw_index(values | 12, b"\xff\xff\xff\xff\0\0\0\x01v\0")),
        Corruption::Truncated
    );
    assert_eq!(
        corrupt_problem(raw_index(values | 12, b"\0\0\0\x01\0\0\0\x01v")),
        Corruption::Unterminated
    );
}

/// Debian's kmod 30 depmod (x86-64) accepted a module with the alias
/// `pci:v\xe9x*` and wrote these bytes; `modprobe -c` then prints the
/// key raw.
const KMOD30_NON_ASCII_ALIAS: &[u8] = b"\xb0\x07\xf4\x57\0\x02\0\x01\x20\0\0\x21\
ci:v\xe9x*\0\0\0\0\x01\0\0\0\0umod\0pp\xc0\0\0\x0c";

#[test]
fn non_utf8_keys_dump_raw() {
    let index = Index::from_bytes(KMOD30_NON_ASCII_ALIAS.to_vec()).unwrap();
    assert_eq!(index.dump("alias ").unwrap(), b"alias pci:v\xe9x* umod\n");
    let mut raw = Vec::new();
    index
        .for_each_raw(|k, v, p| raw.push((k.to_vec(), v.to_vec(), p)))
        .unwrap();
    assert_eq!(raw, vec![(b"pci:v\xe9x*".to_vec(), b"umod".to_vec(), 0)]);
    assert!(matches!(index.entries(), Err(IndexError::NotUtf8 { .. })));
    let found = index.lookup_wild(b"pci:v\xe9x1".as_slice()).unwrap();
    assert_eq!(
        found,
        vec![Value {
            priority: 0,
            value: b"umod".to_vec()
        }]
    );
    assert_eq!(index.lookup_wild("pci:vex1").unwrap(), vec![]);
    // Values are bytes, as kmod returns them (a module path need not be
    // UTF-8).
    let odd_value = raw_index(0x4000_000c, b"\0\0\0\x01\0\0\0\x01\xff\0");
    let index = Index::from_bytes(odd_value).unwrap();
    assert_eq!(index.lookup("").unwrap(), Some(&b"\xff"[..]));
    assert_eq!(index.dump("").unwrap(), b" \xff\n");
}

#[test]
fn loops_and_shared_subtrees_are_errors() {
    // Root at 12: children 'a'..'b'; 'a' points back at the root.
    let root = 0x2000_000c_u32;
    let mut body = b"ab".to_vec();
    body.extend_from_slice(&root.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes());
    let looping = raw_index(root, &body);
    assert_eq!(corrupt_problem(looping.clone()), Corruption::Revisited);
    let index = Index::from_bytes(looping).unwrap();
    assert!(
        index.lookup_wild("a*").is_ok(),
        "the literal walk is bounded by the key"
    );
    assert_eq!(index.lookup("aaaaaaaaaaaa").unwrap(), None);

    // Both 'a' and 'b' point to the same inner node at 22, which has a
    // '*' child leaf at 28.
    let inner = 0x2000_0016_u32;
    let mut body = b"ab".to_vec();
    body.extend_from_slice(&inner.to_be_bytes());
    body.extend_from_slice(&inner.to_be_bytes());
    body.extend_from_slice(b"**");
    body.extend_from_slice(&0x4000_001c_u32.to_be_bytes());
    body.extend_from_slice(b"\0\0\0\x01\0\0\0\x05m\0");
    let shared = raw_index(root, &body);
    assert_eq!(corrupt_problem(shared.clone()), Corruption::Revisited);
    let index = Index::from_bytes(shared).unwrap();
    assert_eq!(index.lookup_wild("a").unwrap().len(), 1);
}

#[test]
fn mutated_files_never_panic() {
    let mut builder = IndexBuilder::new();
    for (i, key) in [
        "pci:v*d*",
        "usb:v1234p*",
        "acpi*:PNP0C0A:*",
        "mod_a",
        "mod_b",
        "of:N*T*C*",
    ]
    .iter()
    .enumerate()
    {
        builder.insert(key, format!("m{i}"), i as u32).unwrap();
    }
    let mut rng = Rng(99);
    for layout in [Layout::PreOrder, Layout::PostOrder] {
        let good = builder.to_bytes_with(layout).unwrap();
        for _ in 0..3000 {
            let mut bytes = good.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            if rng.below(8) == 0 {
                bytes.truncate(rng.below(bytes.len()));
            }
            let Ok(index) = Index::from_bytes(bytes) else {
                continue;
            };
            let _ = index.entries();
            let _ = index.lookup("mod_a");
            let _ = index.lookup_wild("pci:v00008086d00001502");
            let _ = index.lookup_wild("usb:v1234p5678");
        }
    }
}

/// kmod's way of building an index, as a model: keys inserted one at a
/// time into a mutable trie (a node splits at the first differing byte, a
/// new branch takes the rest of its key as prefix; a value goes before the
/// first one of equal or higher priority), then written recursively.
mod incremental_model {
    use super::super::Layout;

    #[derive(Default)]
    struct Node {
        prefix: Vec<u8>,
        children: std::collections::BTreeMap<u8, Node>,
        values: Vec<(u32, Vec<u8>)>,
    }

    impl Node {
        fn insert(&mut self, key: &[u8], value: &[u8], priority: u32) {
            let common = self
                .prefix
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count();
            if common < self.prefix.len() {
                let tail = Node {
                    prefix: self.prefix[common + 1..].to_vec(),
                    children: std::mem::take(&mut self.children),
                    values: std::mem::take(&mut self.values),
                };
                self.children.insert(self.prefix[common], tail);
                self.prefix.truncate(common);
            }
            let rest = &key[common..];
            match rest.split_first() {
                None => {
                    let at = self
                        .values
                        .iter()
                        .position(|(p, _)| *p >= priority)
                        .unwrap_or(self.values.len());
                    self.values.insert(at, (priority, value.to_vec()));
                }
                Some((&c, tail)) => match self.children.get_mut(&c) {
                    Some(child) => child.insert(tail, value, priority),
                    None => {
                        let mut leaf = Node {
                            prefix: tail.to_vec(),
                            ..Node::default()
                        };
                        leaf.values.push((priority, value.to_vec()));
                        self.children.insert(c, leaf);
                    }
                },
            }
        }

        fn flags(&self) -> u32 {
            (if self.prefix.is_empty() {
                0
            } else {
                0x8000_0000
            }) | (if self.values.is_empty() {
                0
            } else {
                0x4000_0000
            }) | (if self.children.is_empty() {
                0
            } else {
                0x2000_0000
            })
        }

        fn own_bytes(&self, child_words: &[(u8, u32)]) -> Vec<u8> {
            let mut out = Vec::new();
            if !self.prefix.is_empty() {
                out.extend_from_slice(&self.prefix);
                out.push(0);
            }
            if let (Some(first), Some(last)) = (child_words.first(), child_words.last()) {
                out.extend_from_slice(&[first.0, last.0]);
                for c in first.0..=last.0 {
                    let word = child_words.iter().find(|w| w.0 == c).map_or(0, |w| w.1);
                    out.extend_from_slice(&word.to_be_bytes());
                }
            }
            if !self.values.is_empty() {
                out.extend_from_slice(&(self.values.len() as u32).to_be_bytes());
                for (p, v) in &self.values {
                    out.extend_from_slice(&p.to_be_bytes());
                    out.extend_from_slice(v);
                    out.push(0);
                }
            }
            out
        }

        fn size(&self) -> usize {
            let words: Vec<(u8, u32)> = self.children.keys().map(|&c| (c, 0)).collect();
            self.own_bytes(&words).len()
        }

        fn total(&self) -> usize {
            self.size() + self.children.values().map(Node::total).sum::<usize>()
        }

        /// Writes the subtree at `out.len()`; returns this node's word.
        fn write(&self, layout: Layout, out: &mut Vec<u8>) -> u32 {
            match layout {
                Layout::PreOrder => {
                    let at = out.len();
                    let mut next = at + self.size();
                    let mut words = Vec::new();
                    for (&c, child) in &self.children {
                        words.push((c, next as u32 | child.flags()));
                        next += child.total();
                    }
                    out.extend_from_slice(&self.own_bytes(&words));
                    for child in self.children.values() {
                        child.write(layout, out);
                    }
                    at as u32 | self.flags()
                }
                Layout::PostOrder => {
                    let words: Vec<(u8, u32)> = self
                        .children
                        .iter()
                        .map(|(&c, child)| (c, child.write(layout, out)))
                        .collect();
                    let at = out.len();
                    out.extend_from_slice(&self.own_bytes(&words));
                    at as u32 | self.flags()
                }
            }
        }
    }

    pub fn bytes(entries: &[(String, String, u32)], layout: Layout) -> Vec<u8> {
        let mut root = Node::default();
        for (k, v, p) in entries {
            root.insert(k.as_bytes(), v.as_bytes(), *p);
        }
        let mut out = vec![0u8; 12];
        let word = root.write(layout, &mut out);
        out[..4].copy_from_slice(&0xB007_F457u32.to_be_bytes());
        out[4..8].copy_from_slice(&0x0002_0001u32.to_be_bytes());
        out[8..12].copy_from_slice(&word.to_be_bytes());
        out
    }
}

#[test]
fn batch_build_matches_incremental_model() {
    let mut rng = Rng(2024);
    for round in 0..300 {
        let mut entries = Vec::new();
        // Small alphabets and short keys make shared prefixes, keys that
        // are prefixes of others, splits and repeated keys common. Every
        // third round the keys start with one of a few long stems, of
        // lengths around 16 and 32: the sort compares keys 16 bytes at a
        // time, so ties and splits right at those lengths matter.
        let stems: Vec<String> = (0..3)
            .map(|_| "s".repeat(12 + rng.below(24)) + &rng.text(b"ab", 4))
            .collect();
        for _ in 0..rng.below(if round % 10 == 0 { 400 } else { 50 }) {
            let stem = match round % 3 {
                0 => stems[rng.below(stems.len())].as_str(),
                _ => "",
            };
            let key = stem.to_owned() + &rng.text(b"ab_:", 7);
            let value = rng.text(b"xy", 3);
            entries.push((key, value, rng.below(3) as u32));
        }
        let records: Vec<Record<'_>> = entries
            .iter()
            .map(|(k, v, p)| Record {
                key: k.as_bytes(),
                value: v.as_bytes(),
                priority: *p,
            })
            .collect();
        for layout in [Layout::PreOrder, Layout::PostOrder] {
            let ours = super::build(&records, layout).unwrap();
            let model = incremental_model::bytes(&entries, layout);
            assert!(ours == model, "round {round}, {layout:?}: {entries:?}");
        }
    }
}

/// The wildcard walk skips subtrees that cannot match; a stem with an open
/// bracket or a trailing escape means something else once the bytes below
/// complete it, so such subtrees must still be searched.
#[test]
fn pruned_wildcard_walk_keeps_patterns_completed_below() {
    let keys = [
        "a*[xy", "a*[xy]z", "a*\\*z", "a*\\", "a*q*z", "a*qz", "a?z", "b[!c]*d",
    ];
    let entries: Vec<(&str, &str, u32)> = keys.iter().map(|k| (*k, *k, 0)).collect();
    let builder = build(&entries);
    for layout in [Layout::PreOrder, Layout::PostOrder] {
        let index = open(&builder, layout);
        for query in ["abxz", "ab*z", "a[xy", "aqqz", "abz", "a\\", "bed", "bcd"] {
            let mut got: Vec<Vec<u8>> = index
                .lookup_wild(query)
                .unwrap()
                .into_iter()
                .map(|v| v.value)
                .collect();
            got.sort();
            let mut want: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| fnmatch(k.as_bytes(), query.as_bytes()))
                .map(|k| k.as_bytes().to_vec())
                .collect();
            want.sort();
            assert_eq!(got, want, "query {query:?}");
        }
    }
}
