//! A context's indexes opened all at once (libkmod's
//! `kmod_load_resources`) and closed again, and the sections of a loaded
//! module read from /sys.

use modutils_core::context::{Context, IndexKind};
use modutils_core::index::{IndexBuilder, IndexError};
use modutils_core::sandbox::Sandbox;
use modutils_core::{sysfs, Root};

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Sandbox::new("6.1.0-test")
        .module("a", &[])
        .write(dir.path())
        .unwrap();
    let empty = IndexBuilder::new().to_bytes().unwrap();
    let moddir = dir.path().join("lib/modules/6.1.0-test");
    std::fs::write(moddir.join("modules.symbols.bin"), &empty).unwrap();
    dir
}

#[test]
fn loading_tolerates_only_a_missing_builtin_alias_index() {
    let dir = tree();
    let mut ctx = Context::new(Root::at(dir.path()), None);
    // Sandbox writes no modules.builtin.alias.bin: still fine.
    ctx.load_indexes().unwrap();
    assert!(ctx.index(IndexKind::Dep).is_some());
    assert_eq!(ctx.lookup(b"a").unwrap()[0].name, b"a");

    ctx.unload_indexes();
    let moddir = dir.path().join("lib/modules/6.1.0-test");
    std::fs::remove_file(moddir.join("modules.symbols.bin")).unwrap();
    let err = ctx.load_indexes().unwrap_err();
    assert!(
        matches!(&err, IndexError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );

    std::fs::write(moddir.join("modules.symbols.bin"), b"short").unwrap();
    assert!(matches!(
        ctx.load_indexes().unwrap_err(),
        IndexError::TooShort { .. }
    ));
}

#[test]
fn sections_come_with_their_addresses() {
    let dir = tree();
    let sections = dir.path().join("sys/module/a/sections");
    std::fs::create_dir_all(&sections).unwrap();
    std::fs::write(sections.join(".text"), "0xffffffffc0a01000\n").unwrap();
    let root = Root::at(dir.path());
    let got = sysfs::sections(&root, "a").unwrap();
    assert_eq!(got, vec![(b".text".to_vec(), 0xffff_ffff_c0a0_1000)]);
    assert!(sysfs::sections(&root, "b").is_err());
}
