//! Small generated trees run through kmod's depmod (the oracle, Debian's
//! kmod 30) and ours on the same directory, compared byte for byte: text
//! outputs, index entries, stderr, stdout and exit status.
//!
//! Where kmod 30 and the target kmod 34.2 differ (docs/compat.md, "kmod 30
//! and 34.2": index node order, modules.weakdep, duplicate lines in
//! modules.order, `-m`), the expectation is derived from 34.2's rules and
//! says so.

use crate::depmod_common::lossy;
use crate::depmod_common::scenario::*;
use modutils_test_support::fake_module::FakeModule;

#[test]
fn dependencies_aliases_and_symbols() {
    let s = Scenario::new();
    stack(&s);
    compare(&s, &[], |_| {});
}

#[test]
fn modules_order_sorts_and_unlisted_keep_hash_order() {
    let s = Scenario::new();
    stack(&s);
    s.file(
        "lib/modules/1.0/modules.order",
        "kernel/top.ko\nkernel/nothere.ko\nkernel/sub/mid-dash.ko\nkernel/base.ko\n",
    );
    compare(&s, &[], |_| {});
}

#[test]
fn modules_order_duplicate_lines_first_wins() {
    // kmod 30 lets the last line win; kmod 34 the first, so
    // the expected order is written out here: top, mid-dash, base, then
    // the unlisted modules in hash order as kmod 30 prints them.
    let s = Scenario::new();
    stack(&s);
    s.file(
        "lib/modules/1.0/modules.order",
        "kernel/top.ko\nkernel/sub/mid-dash.ko\nkernel/base.ko\nkernel/top.ko\n",
    );
    let k = s.kmod(&[], &[]);
    let o = s.ours(None, |_| {});
    let dep = |r: &Run| lossy(r.file("modules.dep").unwrap());
    let (kd, od) = (dep(&k), dep(&o));
    let klines: Vec<&str> = kd.lines().collect();
    assert!(
        klines[2].starts_with("kernel/top.ko:"),
        "kmod 30 puts the last duplicate's rank: {kd}"
    );
    let olines: Vec<&str> = od.lines().collect();
    assert!(olines[0].starts_with("kernel/top.ko:"), "{od}");
    assert_eq!(&olines[1..3], &klines[..2]);
    assert_eq!(&olines[3..], &klines[3..]);
}

#[test]
fn modules_order_with_a_corrupted_last_line() {
    let s = Scenario::new();
    stack(&s);
    s.file(
        "lib/modules/1.0/modules.order",
        "kernel/top.ko\nkernel/base.ko",
    );
    compare(&s, &[], |_| {});
}

#[test]
fn compressed_modules_keep_their_names() {
    let s = Scenario::new();
    stack(&s);
    let dir = s.dir();
    for (name, cmd) in [("kernel/base.ko", "xz"), ("kernel/top.ko", "zstd -q --rm")] {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{cmd} {}", dir.join(name).display()))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    s.file(
        "lib/modules/1.0/modules.order",
        "kernel/top.ko\nkernel/base.ko\n",
    );
    compare(&s, &[], |_| {});
}

#[test]
fn builtin_files() {
    let s = Scenario::new();
    stack(&s);
    s.file("lib/modules/1.0/modules.builtin", "kernel/drivers/foo-bar.ko\n1bad line\n\nkernel/noext\nkernel/x/y.ko\n")
        .file(
            "lib/modules/1.0/modules.builtin.modinfo",
            b"foo_bar.alias=first\0foo_bar.license=GPL\0y.alias=pci:v-[0-9]*\0y.alias=bad[\0y.alias=same\0z-z.alias=same\0y.alias=same\0",
        );
    compare(&s, &[], |_| {});
}

#[test]
fn missing_builtin_files_give_empty_indexes() {
    let s = Scenario::new();
    stack(&s);
    compare(&s, &[], |_| {});
}

#[test]
fn odd_modinfo_records() {
    let s = Scenario::new();
    s.module(
        "kernel/m1.ko",
        FakeModule::bare()
            .info("alias")
            .info("alias=[ab")
            .info("alias=a]b")
            .info("alias=x[a-b]-y")
            .info("alias=devname:foo")
            .info("softdep")
            .info("alias=char-major-+10-0x20"),
    )
    .module(
        "kernel/m3.ko",
        FakeModule::bare()
            .info("alias=block-major-  7-4294967297xyz")
            .info("alias=devname:loop")
            .info("alias=char-major-1-2"),
    )
    .module(
        "kernel/m4.ko",
        FakeModule::bare()
            .info("alias=char-major--1-2")
            .info("alias=devname:neg"),
    )
    .module(
        "kernel/dup.ko",
        FakeModule::bare()
            .info("alias=same")
            .info("alias=same")
            .info("alias=dup-x"),
    );
    compare(&s, &["-w"], |o| o.warn = true);
}

#[test]
fn unreadable_and_corrupt_files_are_reported_and_kept() {
    let s = Scenario::new();
    stack(&s);
    for (name, bytes) in [
        ("kernel/t3.ko", &b"abc"[..]),
        ("kernel/t5.ko", b"abcde"),
        ("kernel/n10.ko", b"abcdefghij"),
        ("kernel/e6.ko", b"\x7fELF\x02\x01"),
        ("kernel/e16.ko", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"),
        ("kernel/e17.ko", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\0"),
        ("kernel/x1.ko.xz", b"\xfd7zXZ\x00garbagegarbage"),
        ("kernel/z1.ko.zst", b"\x28\xb5\x2f\xfd\x00garbagegarbage"),
        ("kernel/empty.ko", b""),
    ] {
        s.file(&format!("lib/modules/1.0/{name}"), bytes);
    }
    // A valid ELF whose __versions has a bad size still gives its aliases.
    let mut odd = FakeModule::bare()
        .info("alias=odd")
        .import("base_fn")
        .version("base_fn", 1)
        .build();
    let at = odd.windows(8).position(|w| w == b"base_fn\0").unwrap();
    odd[at] = b'B';
    std::fs::write(s.dir().join("kernel/odd.ko"), odd).unwrap();
    compare(&s, &[], |_| {});
}

#[test]
fn files_that_are_not_regular_or_lead_nowhere() {
    let s = Scenario::new();
    stack(&s);
    let dir = s.dir();
    std::fs::create_dir_all(dir.join("kernel/sub/deeper")).unwrap();
    std::os::unix::fs::symlink("nowhere", dir.join("kernel/broken.txt")).unwrap();
    std::os::unix::fs::symlink("nowhere", dir.join("kernel/sub/deeper/broken2.ko")).unwrap();
    std::os::unix::fs::symlink("../base.ko", dir.join("kernel/sub/link.ko")).unwrap();
    std::os::unix::fs::symlink("sub", dir.join("kernel/sublink")).unwrap();
    nix::unistd::mkfifo(
        &dir.join("kernel/fifo.ko"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("kernel/dir.ko")).unwrap();
    FakeModule::bare()
        .info("alias=indir")
        .write(dir.join("kernel/dir.ko/indir.ko"));
    for skipped in ["build", "source"] {
        FakeModule::bare()
            .info("alias=skipped")
            .write(dir.join(format!("{skipped}/inside.ko")));
    }
    compare(&s, &[], |_| {});
}

#[test]
fn weak_dependencies() {
    // kmod 30 knows no weakdep: its other outputs must match, and
    // modules.weakdep lists `weakdep <module> <value>`, as kmod 34 writes it.
    let s = Scenario::new();
    s.module(
        "kernel/a.ko",
        FakeModule::bare()
            .info("weakdep=b c")
            .info("softdep=post: d"),
    )
    .module("kernel/b.ko", FakeModule::bare().info("weakdep=x"));
    let k = s.kmod(&[], &[]);
    let o = s.ours(None, |_| {});
    let a_first = lossy(k.file("modules.dep").unwrap()).starts_with("kernel/a.ko");
    let want: &[u8] = if a_first {
        b"weakdep a b c\nweakdep b x\n"
    } else {
        b"weakdep b x\nweakdep a b c\n"
    };
    assert_same(&o, &k, want);
}

#[test]
fn non_ascii_index_string_is_fatal() {
    // kmod 30 (signed char) writes a broken modules.alias.bin here; kmod
    // 34.2 stops with FATAL. Files before the alias index are
    // already in place; the alias index and later ones are not.
    let s = Scenario::new();
    stack(&s);
    s.module(
        "kernel/latin.ko",
        FakeModule::bare()
            .info("alias=caf\u{e9}")
            .info("alias=fine"),
    );
    let o = s.ours(None, |_| {});
    assert!(!o.out.ok);
    let err = o.out.stderr;
    let want = b"depmod: FATAL: Module index: bad character '\xc3'=0xc3 - only 7-bit ASCII is supported:\ncaf\xc3\xa9\n";
    assert!(err.ends_with(want), "{}", lossy(&err));
    let names: Vec<&str> = o.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["modules.dep", "modules.dep.bin", "modules.alias"]);
    let leftovers: Vec<_> = std::fs::read_dir(s.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("modules."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
