//! `/sys/module` readers against a fake sysfs under a temporary root.

use modutils_core::module_file::Compression;
use modutils_core::sysfs::{self, InitState};
use modutils_core::Root;
use modutils_test_support::fake_root::FakeRoot;

#[test]
fn initstate_follows_kmod() {
    let sys = FakeRoot::new();
    let root = Root::at(sys.root());
    sys.sys_module("mod_a", 16384, 0, &[]);
    assert_eq!(
        sysfs::initstate(&root, "mod_a").unwrap(),
        Some(InitState::Live)
    );
    sys.write("/sys/module/mod_a/initstate", "coming\n");
    assert_eq!(
        sysfs::initstate(&root, "mod_a").unwrap(),
        Some(InitState::Coming)
    );
    sys.write("/sys/module/mod_a/initstate", "going\n");
    assert_eq!(
        sysfs::initstate(&root, "mod_a").unwrap(),
        Some(InitState::Going)
    );
    // A built-in with parameters: a directory without initstate.
    sys.mkdir("/sys/module/printk/parameters");
    assert_eq!(
        sysfs::initstate(&root, "printk").unwrap(),
        Some(InitState::Coming)
    );
    assert_eq!(sysfs::initstate(&root, "absent").unwrap(), None);
    sys.write("/sys/module/mod_a/initstate", "weird\n");
    let err = sysfs::initstate(&root, "mod_a").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown /sys/module/mod_a/initstate: 'weird\n'"
    );
    assert_eq!(err.errno(), libc::EINVAL);
}

#[test]
fn numbers_need_a_trailing_newline() {
    let sys = FakeRoot::new();
    let root = Root::at(sys.root());
    sys.sys_module("mod_a", 16384, 2, &[]);
    assert_eq!(sysfs::refcnt(&root, "mod_a").unwrap(), 2);
    assert_eq!(sysfs::coresize(&root, "mod_a").unwrap(), 16384);
    sys.write("/sys/module/mod_a/refcnt", "2");
    assert_eq!(
        sysfs::refcnt(&root, "mod_a").unwrap_err().errno(),
        libc::EINVAL
    );
    std::fs::remove_file(sys.path("/sys/module/mod_a/refcnt")).unwrap();
    let err = sysfs::refcnt(&root, "mod_a").unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.errno(), libc::ENOENT);
    assert_eq!(err.path(), std::path::Path::new("/sys/module/mod_a/refcnt"));
}

#[test]
fn holders_are_listed_in_directory_order() {
    let sys = FakeRoot::new();
    let root = Root::at(sys.root());
    sys.sys_module("mod_a", 16384, 2, &["mod_b", "mod_c", ".hidden"]);
    let mut expected: Vec<String> = std::fs::read_dir(sys.path("/sys/module/mod_a/holders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(sysfs::holders(&root, "mod_a").unwrap(), expected);
    expected.sort();
    assert_eq!(expected, [".hidden", "mod_b", "mod_c"]);
    let err = sysfs::holders(&root, "absent").unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not open '/sys/module/absent/holders': No such file or directory (os error 2)"
    );
}

#[test]
fn kernel_compression() {
    let sys = FakeRoot::new();
    let root = Root::at(sys.root());
    assert_eq!(sysfs::kernel_compression(&root).unwrap(), None);
    for (text, c) in [
        ("xz\n", Compression::Xz),
        ("zstd\n", Compression::Zstd),
        ("gzip\n", Compression::Gzip),
    ] {
        sys.write("/sys/module/compression", text);
        assert_eq!(sysfs::kernel_compression(&root).unwrap(), Some(c));
    }
    sys.write("/sys/module/compression", "lz4\n");
    assert!(matches!(
        sysfs::kernel_compression(&root),
        Err(sysfs::Error::Invalid { .. })
    ));
}

#[test]
fn parameters_and_srcversion() {
    let sys = FakeRoot::new();
    let root = Root::at(sys.root());
    sys.sys_module("mod_c", 16384, 0, &[]);
    sys.write("/sys/module/mod_c/parameters/param", "5\n");
    sys.write("/sys/module/mod_c/srcversion", "ABCDEF0123456789ABCDEF0\n");
    assert_eq!(sysfs::parameter(&root, "mod_c", "param").unwrap(), "5");
    assert_eq!(
        sysfs::srcversion(&root, "mod_c").as_deref(),
        Some("ABCDEF0123456789ABCDEF0")
    );
    assert_eq!(sysfs::srcversion(&root, "absent"), None);
    assert!(sysfs::module_dir_exists(&root, "mod_c"));
    assert!(!sysfs::module_dir_exists(&root, "absent"));
}
