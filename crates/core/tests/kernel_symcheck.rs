//! The pre-load symbol check against a fake running kernel: `/proc/kallsyms`,
//! `Module.symvers`, `modules.symbols` and `/sys/module` under a temporary root.

use modutils_core::index::IndexBuilder;
use modutils_core::module_file::ModuleFile;
use modutils_core::symcheck::{self, Exporter, Options, Problem};
use modutils_core::Root;
use modutils_test_support::fake_module::FakeModule;
use modutils_test_support::fake_root::FakeRoot;

const KALLSYMS: &str = "\
ffffffff81000000 T _printk
ffffffff82000000 r __ksymtab__printk
ffffffff81000100 T module_layout
ffffffff82000010 r __ksymtab_module_layout
ffffffff81000200 t static_helper
ffffffffc0a3d000 D mod_a_value\t[mod_a]
ffffffffc0a3d100 r __ksymtab_mod_a_value\t[mod_a]
ffffffffc0a3d200 T mod_a_twice\t[mod_a]
ffffffffc0a3d300 r __ksymtab_mod_a_twice\t[mod_a]
";

fn system() -> FakeRoot {
    let sys = FakeRoot::new();
    sys.write("/proc/kallsyms", KALLSYMS);
    let m = sys.moddir();
    sys.write(
        &format!("{m}/build/Module.symvers"),
        "0x11111111\t_printk\tvmlinux\tEXPORT_SYMBOL\t\n0x22222222\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n",
    );
    sys.write(
        &format!("{m}/modules.symbols"),
        "# Aliases for symbols, used by symbol_request().\nalias symbol:mod_a_value mod_a\nalias symbol:mod_b_value mod_b\nalias symbol:mod_b_sum mod_b\n",
    );
    sys
}

fn check(sys: &FakeRoot, module: &FakeModule, options: Options) -> symcheck::Report {
    let file = ModuleFile::from_bytes(format!("/x/{}.ko", module.name), module.build()).unwrap();
    symcheck::check(&Root::at(sys.root()), &sys.release, &file, options).unwrap()
}

#[test]
fn everything_exported_passes() {
    let sys = system();
    let m = FakeModule::new("mod_b")
        .needs("_printk", 0x11111111)
        .needs("mod_a_value", 0xaaaa)
        .weak_import("nowhere_weak");
    let r = check(&sys, &m, Options::default());
    assert_eq!(r.module, "mod_b");
    assert!(r.certain);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn missing_symbols_name_their_provider() {
    let sys = system();
    let m = FakeModule::new("mod_c")
        .needs("_printk", 0x11111111)
        .needs("mod_b_value", 1)
        .needs("mod_a_value", 2)
        .needs("mod_b_sum", 3)
        .needs("nowhere", 4);
    let r = check(&sys, &m, Options::default());
    assert!(r.certain);
    let text: Vec<String> = r.sentences().into_iter().map(|s| s.text).collect();
    assert_eq!(
        text,
        [
            "mod_c needs mod_b_value, mod_b_sum, exported by mod_b",
            "mod_c needs nowhere, which neither the running kernel nor any module exports",
        ]
    );
}

#[test]
fn a_symbol_present_but_not_exported_is_not_called_missing() {
    // The kernel would refuse, but only the kernel knows for sure: no false alarms.
    let sys = system();
    let m = FakeModule::new("x").needs("static_helper", 1);
    assert!(check(&sys, &m, Options::default()).problems.is_empty());
}

#[test]
fn names_the_kernels_loader_ignores_are_not_missing() {
    // x86: an unreferenced _GLOBAL_OFFSET_TABLE_ (older GNU as, clang).
    let sys = system();
    let got = FakeModule::new("mod_got")
        .needs("_printk", 0x11111111)
        .import("_GLOBAL_OFFSET_TABLE_");
    let r = check(&sys, &got, Options::default());
    assert!(r.problems.is_empty(), "{:?}", r.problems);

    // The same symbol is a need where the loader has no such rule.
    let r = check(&sys, &got.clone().machine(183), Options::default());
    assert_eq!(r.missing().count(), 1);
    assert_eq!(r.problems[0].symbol(), "_GLOBAL_OFFSET_TABLE_");

    // ppc64: .TOC. is the module's own; .foo is looked up as foo.
    let ppc = FakeModule::new("mod_ppc")
        .machine(21)
        .needs("_printk", 0x11111111)
        .import(".TOC.")
        .import(".mod_a_twice")
        .import(".mod_b_sum");
    let r = check(&sys, &ppc, Options::default());
    let missing: Vec<&str> = r.missing().map(|p| p.symbol()).collect();
    assert_eq!(missing, ["mod_b_sum"]);
}

#[test]
fn crc_mismatch_against_the_kernel_image() {
    let sys = system();
    let m = FakeModule::new("mod_a")
        .needs("_printk", 0xdeadbeef)
        .needs("module_layout", 0x22222222);
    let r = check(&sys, &m, Options::default());
    assert_eq!(
        r.problems,
        [Problem::CrcMismatch {
            symbol: "_printk".into(),
            exporter: Exporter::Kernel,
            module_crc: 0xdeadbeef,
            kernel_crc: 0x11111111,
        }]
    );
    assert!(check(&sys, &m, Options { ignore_crcs: true })
        .problems
        .is_empty());
}

#[test]
fn crc_of_a_loaded_module_comes_from_its_verified_file() {
    let sys = system();
    let m = sys.moddir();
    let mut mod_a = FakeModule::new("mod_a").export_crc("mod_a_value", 0xaaaa0001);
    mod_a
        .modinfo
        .push("srcversion=0123456789ABCDEF0123456".into());
    sys.write(&format!("{m}/extra/mod_a.ko"), mod_a.build());
    let mut dep = IndexBuilder::new();
    dep.insert("mod_a", "extra/mod_a.ko:", 0).unwrap();
    sys.write(&format!("{m}/modules.dep.bin"), dep.to_bytes().unwrap());
    sys.sys_module("mod_a", 16384, 0, &[]);
    let user = FakeModule::new("mod_b").needs("mod_a_value", 0xbad);

    // Without a srcversion to prove the file is the loaded module: no verdict.
    assert!(check(&sys, &user, Options::default()).problems.is_empty());

    sys.write("/sys/module/mod_a/srcversion", "0123456789ABCDEF0123456\n");
    let r = check(&sys, &user, Options::default());
    assert_eq!(
        r.problems,
        [Problem::CrcMismatch {
            symbol: "mod_a_value".into(),
            exporter: Exporter::Module("mod_a".into()),
            module_crc: 0xbad,
            kernel_crc: 0xaaaa0001,
        }]
    );
    let good = FakeModule::new("mod_b").needs("mod_a_value", 0xaaaa0001);
    assert!(check(&sys, &good, Options::default()).problems.is_empty());

    // Another build of mod_a is loaded: the file proves nothing.
    sys.write("/sys/module/mod_a/srcversion", "FFFFFFFFFFFFFFFFFFFFFFF\n");
    assert!(check(&sys, &user, Options::default()).problems.is_empty());
}

#[test]
fn an_incomplete_symbol_table_only_suspects() {
    // Without CONFIG_KALLSYMS_ALL there are no __ksymtab_ entries.
    let sys = system();
    sys.write("/proc/kallsyms", "ffffffff81000000 T _printk\n");
    let m = FakeModule::new("x")
        .needs("_printk", 0x11111111)
        .needs("jiffies", 1);
    let r = check(&sys, &m, Options::default());
    assert!(!r.certain);
    assert_eq!(
        r.sentences()[0].text,
        "x needs jiffies, which the running kernel does not seem to export"
    );
}

#[test]
fn module_symvers_spares_reading_kallsyms() {
    // Everything needed is exported by the kernel image or a loaded module
    // according to Module.symvers: /proc/kallsyms is not even opened.
    let sys = system();
    std::fs::remove_file(sys.path("/proc/kallsyms")).unwrap();
    let m = sys.moddir();
    sys.write(
        &format!("{m}/build/Module.symvers"),
        "0x11111111\t_printk\tvmlinux\tEXPORT_SYMBOL\t\n0x33333333\ti2c_bit_add_bus\tdrivers/i2c/algos/i2c-algo-bit\tEXPORT_SYMBOL\t\n",
    );
    sys.sys_module("i2c_algo_bit", 16384, 0, &[]);
    let ok = FakeModule::new("x")
        .needs("_printk", 0x11111111)
        .needs("i2c_bit_add_bus", 0x33333333);
    let r = check(&sys, &ok, Options::default());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.certain);
    let bad = FakeModule::new("x").needs("i2c_bit_add_bus", 0x44);
    assert!(matches!(
        check(&sys, &bad, Options::default()).problems[..],
        [Problem::CrcMismatch { .. }]
    ));

    // A symbol it cannot vouch for needs kallsyms, which is missing here.
    let other = FakeModule::new("x")
        .needs("_printk", 0x11111111)
        .needs("mod_b_value", 1);
    let file = ModuleFile::from_bytes("/x/x.ko", other.build()).unwrap();
    assert!(symcheck::check(
        &Root::at(sys.root()),
        &sys.release,
        &file,
        Options::default()
    )
    .is_err());
    // Nor can it when the module is not loaded.
    std::fs::remove_dir_all(sys.path("/sys/module/i2c_algo_bit")).unwrap();
    let file = ModuleFile::from_bytes("/x/x.ko", ok.build()).unwrap();
    assert!(symcheck::check(
        &Root::at(sys.root()),
        &sys.release,
        &file,
        Options::default()
    )
    .is_err());
}
