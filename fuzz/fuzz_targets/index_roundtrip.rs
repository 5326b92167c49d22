//! Differential: the index writer against the reader. Arbitrary
//! key/value/priority sets are written in both node layouts and read back;
//! the dump, every exact lookup and (where the trie's semantics reduce to
//! plain fnmatch) every wildcard lookup must agree with a simple model.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use modutils_core::fnmatch::fnmatch;
use modutils_core::index::{Index, IndexBuilder, Layout};

#[derive(Arbitrary, Debug)]
struct Input {
    entries: Vec<(Vec<u8>, Vec<u8>, u8)>,
    queries: Vec<Vec<u8>>,
}

/// (key, priority, insertion sequence, value) for every accepted insert.
type Model = Vec<(Vec<u8>, u32, usize, Vec<u8>)>;

fn expected_order(model: &Model) -> Model {
    let mut m = model.clone();
    // Keys in byte order; per key ascending priority, later inserts first.
    m.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(b.2.cmp(&a.2)));
    m
}

fuzz_target!(|input: Input| {
    let mut builder = IndexBuilder::new();
    let mut model: Model = Vec::new();
    for (key, value, priority) in input.entries.iter().take(200) {
        let valid = |s: &[u8]| s.iter().all(|&b| b != 0 && b < 128);
        let priority = u32::from(*priority);
        match builder.insert(key, value, priority) {
            Ok(_) => {
                assert!(valid(key) && valid(value));
                model.push((key.clone(), priority, model.len(), value.clone()));
            }
            Err(_) => assert!(!valid(key) || !valid(value)),
        }
    }
    let order = expected_order(&model);
    let mut dumps = Vec::new();
    for layout in [Layout::PreOrder, Layout::PostOrder] {
        let bytes = builder.to_bytes_with(layout).expect("small index");
        let index = Index::from_bytes(bytes).expect("own index opens");
        let mut got = Vec::new();
        index
            .for_each_raw(|k, v, p| got.push((k.to_vec(), p, v.to_vec())))
            .expect("own index walks");
        let want: Vec<_> = order
            .iter()
            .map(|(k, p, _, v)| (k.clone(), *p, v.clone()))
            .collect();
        assert_eq!(got, want, "{layout:?} dump");
        dumps.push(index.dump("alias ").unwrap());

        for (key, _, _, _) in &model {
            let first = order.iter().find(|e| &e.0 == key).map(|e| e.3.as_slice());
            let found = index.lookup(key).unwrap();
            assert_eq!(found, first, "lookup {key:?}");
        }
        let plain_keys = model.iter().all(|e| !e.0.contains(&b'\\'));
        for q in input.queries.iter().take(8) {
            let got = index.lookup_wild(q);
            let special = q.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | 0));
            if !plain_keys || special {
                continue;
            }
            let mut got: Vec<(u32, Vec<u8>)> = got
                .expect("own index wild lookup")
                .into_iter()
                .map(|v| (v.priority, v.value))
                .collect();
            assert!(
                got.windows(2).all(|w| w[0].0 <= w[1].0),
                "wild results sorted"
            );
            let mut want: Vec<(u32, Vec<u8>)> = model
                .iter()
                .filter(|e| fnmatch(&e.0, q))
                .map(|e| (e.1, e.3.clone()))
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "wild {q:?}");
        }
    }
    assert_eq!(dumps[0], dumps[1], "layouts dump alike");
});
