//! Helpers shared by the core's integration tests.

pub mod cpu;

use std::path::{Path, PathBuf};

/// Every uncompressed module of the real kernel tree that tests/run
/// prepares (`MODUTILS_TEST_TREE=<root>/lib/modules/<version>`), sorted.
pub fn real_modules() -> Vec<PathBuf> {
    let dir = std::env::var_os("MODUTILS_TEST_TREE").unwrap_or_else(|| {
        panic!("MODUTILS_TEST_TREE is not set: run tests/run, which prepares a real kernel tree")
    });
    let mut out = Vec::new();
    walk(Path::new(&dir), &mut out);
    out.sort();
    assert!(
        out.len() > 1000,
        "too few modules under {}",
        dir.to_string_lossy()
    );
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "ko") {
            out.push(p);
        }
    }
}

/// Every string over `alphabet` of up to `max_len` bytes, shortest first
/// (the empty string included), for the exhaustive differential tests.
pub fn all_strings(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut layer = vec![Vec::new()];
    for _ in 0..max_len {
        layer = layer
            .iter()
            .flat_map(|prefix| {
                alphabet.iter().map(move |&c| {
                    let mut next = prefix.clone();
                    next.push(c);
                    next
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}
