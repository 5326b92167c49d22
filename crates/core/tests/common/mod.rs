//! Helpers shared by the core's integration tests.

pub mod fake_module;
pub mod fake_system;
pub mod rng;

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
