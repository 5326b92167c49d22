//! Options and configuration on generated trees, against kmod's depmod:
//! -n, -v, -e with -E/-F, -P, -A, explicit module files, -o, -m (the last
//! two derived where kmod 30 lacks them; docs/compat.md, "kmod 30 and
//! 34.2"), depmod.d search, override,
//! external and exclude, and duplicate module names.

use crate::depmod_common::scenario::*;
use crate::depmod_common::{assert_same_text, lossy};
use modutils_test_support::fake_module::FakeModule;

#[test]
fn dry_run_prints_text_outputs_only() {
    let s = Scenario::new();
    stack(&s);
    s.file("lib/modules/1.0/modules.builtin", "kernel/foo.ko\n");
    let k = s.kmod(&["-n"], &[]);
    let o = s.ours(None, |o| o.dry_run = true);
    assert!(k.files.is_empty() && o.files.is_empty());
    assert_same_text("stderr", &o.out.stderr, &k.out.stderr);
    let want = crate::depmod_common::scenario::with_weakdep_section(&k.out.stdout, b"");
    assert_same_text("stdout", &o.out.stdout, &want);
}

#[test]
fn verbose_prints_each_new_dependency() {
    let s = Scenario::new();
    stack(&s);
    compare(&s, &["-v"], |o| o.verbose = true);
}

#[test]
fn symbol_versions_with_symvers() {
    let s = Scenario::new();
    s.module(
        "kernel/a.ko",
        FakeModule::bare()
            .export_crc("a_fn", 0x1111)
            .import("k_fn")
            .version("k_fn", 0x42)
            .version("module_layout", 7),
    )
    .module(
        "kernel/b.ko",
        FakeModule::bare()
            .import("a_fn")
            .version("a_fn", 0x2222)
            .import("k_other")
            .version("k_other", 9)
            .weak_import("k_weak"),
    )
    .module(
        "kernel/c.ko",
        FakeModule::bare()
            .import(".a_fn")
            .import("__this_module")
            .import("missing_fn"),
    );
    s.file(
        "Module.symvers",
        "0x00000042\tk_fn\tvmlinux\tEXPORT_SYMBOL\t\n0x8\tk_other\tvmlinux\tEXPORT_SYMBOL_GPL\t\n0xzz\tbad_crc\tvmlinux\tEXPORT_SYMBOL\t\n0x5\tin_module\tdrivers/x\tEXPORT_SYMBOL\t\nshort line\n0x1\t__this_module\tvmlinux\tEXPORT_SYMBOL\n",
    );
    let symvers = format!("{}/Module.symvers", s.base_str());
    let k = s.kmod(&["-e", "-E", &symvers], &[]);
    let o = s.ours(None, |o| {
        o.errsyms = true;
        o.symvers = Some(symvers.clone().into());
    });
    assert_same(&o, &k, b"");
}

#[test]
fn unknown_symbols_with_system_map() {
    let s = Scenario::new();
    s.module(
        "kernel/a.ko",
        FakeModule::bare()
            .export("a_fn")
            .import("k_fn")
            .import("k_gone"),
    )
    .module(
        "kernel/b.ko",
        FakeModule::bare()
            .import("a_fn")
            .import("_k_pref")
            .weak_import("k_weak"),
    );
    s.file(
        "System.map",
        "ffff0000 R __ksymtab_k_fn\nbadline\nffff0001 T k_gone\nffff0002 R ___ksymtab_k_pref\n",
    );
    let map = format!("{}/System.map", s.base_str());
    let k = s.kmod(&["-e", "-F", &map], &[]);
    let o = s.ours(None, |o| {
        o.errsyms = true;
        o.system_map = Some(map.clone().into());
    });
    assert_same(&o, &k, b"");
}

#[test]
fn errsyms_without_symbol_files_warns() {
    let s = Scenario::new();
    stack(&s);
    compare(&s, &["-e"], |o| o.errsyms = true);
}

#[test]
fn symbol_prefix() {
    let s = Scenario::new();
    s.module(
        "kernel/a.ko",
        FakeModule::bare().export("_a_fn").export("b_fn"),
    )
    .module(
        "kernel/b.ko",
        FakeModule::bare()
            .import("_a_fn")
            .import("__b_fn")
            .import("b_fn"),
    );
    compare(&s, &["-P", "_"], |o| o.symbol_prefix = Some(b'_'));
}

#[test]
fn missing_symbol_files_are_fatal() {
    let s = Scenario::new();
    stack(&s);
    let gone = format!("{}/nonexistent", s.base_str());
    compare(&s, &["-E", &gone], |o| {
        o.symvers = Some(gone.clone().into())
    });
    compare(&s, &["-F", &gone], |o| {
        o.system_map = Some(gone.clone().into())
    });
}

#[test]
fn missing_module_directory_is_fatal() {
    let s = Scenario::new();
    std::fs::remove_dir_all(s.dir()).unwrap();
    let k = s.kmod(&[], &[]);
    let o = s.ours(None, |_| {});
    assert_same(&o, &k, b"");
}

#[test]
fn explicit_module_files() {
    let s = Scenario::new();
    stack(&s);
    let dir = s.dir();
    let (top, mid, base) = (
        dir.join("kernel/top.ko"),
        dir.join("kernel/sub/mid-dash.ko"),
        dir.join("kernel/base.ko"),
    );
    let files: Vec<String> = [&top, &mid, &base]
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let k = s.kmod(&[], &refs);
    let o = s.ours(None, |o| {
        o.files = vec![top.clone(), mid.clone(), base.clone()]
    });
    assert_same(&o, &k, b"");
    // A relative path is refused.
    let k = s.kmod(&[], &["kernel/top.ko"]);
    let o = s.ours(None, |o| o.files = vec!["kernel/top.ko".into()]);
    assert_same(&o, &k, b"");
}

#[test]
fn explicit_files_with_the_same_module_name() {
    let s = Scenario::new();
    stack(&s);
    FakeModule::bare()
        .export("base_fn")
        .write(s.dir().join("other/base.ko"));
    let dir = s.dir();
    let (a, b) = (dir.join("kernel/base.ko"), dir.join("other/base.ko"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    for pair in [[a_s, b_s], [a_s, a_s]] {
        let mut k = s.kmod(&[], &pair);
        // kmod 30 is a debug build: its library messages carry the source
        // position, which 34.2's tool logger leaves out.
        let text = lossy(&k.out.stderr);
        let cleaned: String = text
            .lines()
            .map(|l| match l.find("kmod_module_new_from_path() ") {
                Some(at) => format!(
                    "depmod: ERROR: {}\n",
                    &l[at + "kmod_module_new_from_path() ".len()..]
                ),
                None => format!("{l}\n"),
            })
            .collect();
        k.out.stderr = cleaned.into_bytes();
        let o = s.ours(None, |o| o.files = pair.iter().map(Into::into).collect());
        assert_same(&o, &k, b"");
    }
}

#[test]
fn output_directory() {
    // kmod 30 predates -o (added in 31): the files must be those of a plain
    // run, in <outdir>/lib/modules/<version>, created as needed.
    let s = Scenario::new();
    stack(&s);
    let out = s.base().join("out");
    let outdir = out.join("lib/modules").join(VERSION);
    let o = s.ours_in(None, |o| o.out_dir = Some(out.clone()), &outdir);
    assert!(!s.dir().join("modules.dep").exists());
    let k = s.kmod(&[], &[]);
    assert_same(&o, &k, b"");
}

#[test]
fn module_directory_option() {
    // kmod 30 ignores -m (the old --map); 34 takes it as the module
    // directory under the base (`--moduledir`), so this one is checked against a
    // default run of the same tree moved to the default place.
    let s = Scenario::new();
    stack(&s);
    let moved = s.base().join("usr/lib/modules");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(s.dir(), moved.join(VERSION)).unwrap();
    let mut o = s.ours_in(
        None,
        |o| o.module_dir = Some("/usr/lib/modules".into()),
        &moved.join(VERSION),
    );
    std::fs::rename(moved.join(VERSION), s.dir()).unwrap();
    o.out.stderr =
        crate::depmod_common::replace_bytes(&o.out.stderr, b"/usr/lib/modules/", b"/lib/modules/");
    let k = s.kmod(&[], &[]);
    assert_same(&o, &k, b"");
}

#[test]
fn quick_mode() {
    let s = Scenario::new();
    stack(&s);
    // No modules.dep yet: reported, then everything is generated.
    let k = s.kmod(&["-A"], &[]);
    let o = s.ours(None, |o| o.quick = true);
    assert_same(&o, &k, b"");
    // Up to date: nothing is written.
    s.file("lib/modules/1.0/modules.dep", "old\n");
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(s.dir().join("modules.dep"))
        .unwrap()
        .set_modified(future)
        .unwrap();
    let k = s.kmod(&["-A"], &[]);
    s.file("lib/modules/1.0/modules.dep", "old\n");
    std::fs::File::options()
        .write(true)
        .open(s.dir().join("modules.dep"))
        .unwrap()
        .set_modified(future)
        .unwrap();
    let o = s.ours(None, |o| o.quick = true);
    assert_eq!(k.files, [("modules.dep".to_string(), b"old\n".to_vec())]);
    assert_eq!(o.files, k.files);
    assert_eq!(
        (o.out.ok, &o.out.stderr, &o.out.stdout),
        (k.out.ok, &k.out.stderr, &k.out.stdout)
    );
    // A newer module: regenerated.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for run in 0..2 {
        s.file("lib/modules/1.0/modules.dep", "old\n");
        std::fs::File::options()
            .write(true)
            .open(s.dir().join("modules.dep"))
            .unwrap()
            .set_modified(past)
            .unwrap();
        let r = if run == 0 {
            s.kmod(&["-A"], &[])
        } else {
            s.ours(None, |o| o.quick = true)
        };
        assert!(
            r.file("modules.dep").is_some_and(|d| d != b"old\n"),
            "run {run}"
        );
    }
    // -A -n does nothing at all.
    let k = s.kmod(&["-A", "-n"], &[]);
    let o = s.ours(None, |o| (o.quick, o.dry_run) = (true, true));
    assert_same(&o, &k, b"");
}

#[test]
fn depmod_d_search_override_external_exclude() {
    let s = Scenario::new();
    for d in ["kernel", "extra", "updates", "weird"] {
        s.module(
            &format!("{d}/foo.ko"),
            FakeModule::bare().info(format!("alias=foo-from-{d}")),
        );
        s.module(
            &format!("{d}/bar-x.ko"),
            FakeModule::bare().info(format!("alias=bar-from-{d}")),
        );
    }
    s.module(
        "kernel/skipme/inside.ko",
        FakeModule::bare().info("alias=excluded"),
    );
    s.module("ext1/baz.ko", FakeModule::bare().info("alias=baz1"));
    s.module("ext2/baz.ko", FakeModule::bare().info("alias=baz2"));
    s.module("ext1/only1.ko", FakeModule::bare().info("alias=only1"));
    let dir = s.dir();
    let _ = std::fs::rename(dir.join("ext1"), s.base().join("ext1"));
    let _ = std::fs::rename(dir.join("ext2"), s.base().join("ext2"));
    let configs = [
        "",
        "search kernel extra updates\n",
        "search updates extra kernel\n",
        "search extra\nsearch built-in\n",
        "override foo * extra\noverride foo * updates\n",
        "override foo * updates\noverride foo * extra\noverride bar-x 1.* weird\noverride bar_x * kernel\n",
        "override foo 2.* extra\n",
        "external * @BASE@/ext1\nexternal * @BASE@/ext2\n",
        "external * @BASE@/ext2\nexternal * @BASE@/ext1\n",
        "search external\nexternal * @BASE@/ext1\nexternal * @BASE@/ext2\n",
        "search weird external built-in\nexternal * @BASE@/ext2\nexternal * @BASE@/ext1\n",
        "external * @BASE@/nonexistent\nexternal 9.9 @BASE@/ext1\n",
        "exclude skipme weird\n",
        "bogus line\nsearch\n",
    ];
    for (i, conf) in configs.iter().enumerate() {
        s.file("conf/a.conf", conf);
        let c = format!("{}/conf", s.base_str());
        let k = s.kmod(&["-C", &c], &[]);
        let o = s.ours(Some(&["conf"]), |_| {});
        eprintln!("config {i}: {conf:?}");
        assert_same(&o, &k, b"");
    }
}

#[test]
fn duplicates_without_config_keep_the_first_found() {
    let s = Scenario::new();
    for d in ["kernel/a", "kernel/b", "extra", "updates/x", "zz"] {
        s.module(
            &format!("{d}/dup.ko"),
            FakeModule::bare().info(format!("alias=dup-{}", d.replace('/', "-"))),
        );
    }
    s.module("kernel/a/other.ko", FakeModule::bare().info("alias=other"));
    s.module(
        "kernel/b/other.ko.xz",
        FakeModule::bare().info("alias=other-xz"),
    );
    compare(&s, &[], |_| {});
}

#[test]
fn base_directory_spelled_with_a_trailing_slash() {
    let s = Scenario::new();
    stack(&s);
    let base = format!("{}/", s.base_str());
    let mut k = s.kmod(&[], &[]);
    k.out = crate::depmod_common::kmod(&["-b", &base, VERSION]);
    k.files = s.take_outputs(&s.dir());
    let o = s.ours(None, |o| o.base_dir = Some(base.clone().into()));
    assert!(lossy(&o.out.stderr).contains("//lib/modules/1.0"));
    assert_same(&o, &k, b"");
}
