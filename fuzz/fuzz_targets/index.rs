//! The `.bin` index reader: exact lookup, kmod's wildcard lookup and the
//! dump, on arbitrary bytes.
//!
//! Input: one byte N, then N bytes of query key, then the index file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::index::Index;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 64).min(rest.len());
    let (key, file) = rest.split_at(n);
    let Ok(index) = Index::from_bytes(file.to_vec()) else {
        return;
    };
    let _ = index.lookup(key);
    let _ = index.lookup_wild(key);
    let _ = index.dump("alias ");
    let _ = index.entries();
    // Every key the dump finds must be found again by an exact lookup,
    // with its first value.
    let mut seen: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let walked = index.for_each_raw(|k, v, _| {
        if seen.len() < 32 && !seen.iter().any(|(sk, _)| sk == k) {
            seen.push((k.to_vec(), v.to_vec()));
        }
    });
    if walked.is_err() {
        return;
    }
    for (k, first) in &seen {
        let _ = index.lookup_wild(k);
        if k.contains(&0) {
            continue;
        }
        match index.lookup(k) {
            Ok(found) => assert_eq!(found, Some(first.as_slice()), "key {k:?}"),
            Err(_) => panic!("dump found key {k:?} that lookup cannot read"),
        }
    }
});
