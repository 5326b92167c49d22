//! insmod through the fake kernel (`MODUTILS_SYSROOT` with
//! `MODUTILS_FAKE_KERNEL`): the module goes to the kernel first, whatever
//! the symbol tables say, and only a refusal is explained. The kernel's
//! answers are scripted in `fake-kernel.rules` (docs/modprobe.md); the
//! real kernels' answers are the VM suite's (tests/vm).

use std::process::Command;

use crate::util::ours;
use modutils_test_support::fake_module::FakeModule;
use modutils_test_support::fake_root::FakeRoot;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The fake kernel's log: `insert PATH OPTIONS` per call.
    calls: Vec<String>,
}

fn insmod(sys: &FakeRoot, args: &[&str]) -> Run {
    let log = sys.path("/fake-kernel.log");
    let out = Command::new(ours("insmod"))
        .args(args)
        .env("MODUTILS_SYSROOT", sys.root())
        .env("MODUTILS_FAKE_KERNEL", &log)
        .env_remove("KMOD_LOG")
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        calls: calls.lines().map(str::to_string).collect(),
    }
}

fn loaded(sys: &FakeRoot, name: &str) -> bool {
    sys.path(&format!("/sys/module/{name}/initstate")).exists()
}

/// The running kernel exports `_printk` and, from the loaded mod_a,
/// `mod_a_value`; modules.symbols knows mod_b's symbols. The kernel log
/// is a file the fake kernel appends its scripted lines to.
fn stacked_system() -> FakeRoot {
    let sys = FakeRoot::new();
    sys.write("/proc/modules", "mod_a 1 0 - Live 0x0\n");
    sys.sys_module("mod_a", 1, 0, &[]);
    sys.write(
        "/proc/kallsyms",
        "ffffffff81000000 T _printk\nffffffff82000000 r __ksymtab__printk\n\
         ffffffffc0000000 D mod_a_value\t[mod_a]\nffffffffc0000100 r __ksymtab_mod_a_value\t[mod_a]\n",
    );
    let m = sys.moddir();
    sys.write(
        &format!("{m}/build/Module.symvers"),
        "0x11111111\t_printk\tvmlinux\tEXPORT_SYMBOL\t\n",
    );
    sys.write(
        &format!("{m}/modules.symbols"),
        "alias symbol:mod_a_value mod_a\nalias symbol:mod_b_value mod_b\nalias symbol:mod_b_sum mod_b\n",
    );
    sys.write("/dev/kmsg", "");
    sys
}

fn mod_c() -> FakeModule {
    FakeModule::new("mod_c")
        .needs("_printk", 0x11111111)
        .needs("mod_a_value", 0xa)
        .needs("mod_b_value", 0xb)
        .needs("mod_b_sum", 0xc)
        .weak_import("optional_thing")
}

const C: &str = "/lib/modules/extra/mod_c.ko";

#[test]
fn loads_through_the_fake_kernel() {
    let sys = stacked_system();
    let mut b = FakeModule::new("mod_b").needs("mod_a_value", 0xa);
    b.modinfo.push("depends=mod_a".into());
    sys.write("/lib/modules/extra/mod_b.ko", b.build());
    let run = insmod(
        &sys,
        &["/lib/modules/extra/mod_b.ko", "x=1", "name=two words"],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    assert_eq!(
        run.calls,
        ["insert /lib/modules/extra/mod_b.ko x=1 name=\"two words\""]
    );
    assert!(loaded(&sys, "mod_b"));
    assert!(sys.path("/sys/module/mod_a/holders/mod_b").is_dir());

    // Already there: kmod's line, nothing more.
    let run = insmod(&sys, &["-vvvv", "/lib/modules/extra/mod_b.ko"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "insmod: INFO: Failed to insert module '/lib/modules/extra/mod_b.ko': File exists\n\
         insmod: ERROR: could not insert module /lib/modules/extra/mod_b.ko: File exists\n"
    );
}

#[test]
fn the_kernel_is_asked_whatever_the_symbol_tables_say() {
    // mod_b's symbols are exported by nothing loaded, by the tables read
    // here; the kernel takes the module all the same, so insmod does too.
    let sys = stacked_system();
    sys.write(C, mod_c().build());
    let run = insmod(&sys, &["-vvvv", C]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.calls, [format!("insert {C} ")]);
    assert_eq!(
        run.stderr,
        format!("insmod: DEBUG: inserted {C} (the fake kernel)\n")
    );
    assert!(loaded(&sys, "mod_c"));
}

#[test]
fn an_unreferenced_global_offset_table_is_no_reason_to_refuse() {
    // Older GNU as and clang leave an undefined _GLOBAL_OFFSET_TABLE_ that
    // no relocation uses; Linux's loader ignores it on x86.
    let sys = stacked_system();
    let got = FakeModule::new("mod_got")
        .needs("_printk", 0x11111111)
        .import("_GLOBAL_OFFSET_TABLE_");
    sys.write("/lib/modules/extra/mod_got.ko", got.build());
    let run = insmod(&sys, &["/lib/modules/extra/mod_got.ko"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert!(loaded(&sys, "mod_got"));
    let check = insmod(&sys, &["--check", "/lib/modules/extra/mod_got.ko"]);
    assert_eq!((check.code, check.stdout.as_str()), (Some(0), ""));
}

#[test]
fn a_refusal_for_unknown_symbols_is_explained() {
    let sys = stacked_system();
    sys.write(C, mod_c().build());
    sys.write(
        "/fake-kernel.rules",
        "insert mod_c 2\n\
         log mod_c mod_c: Unknown symbol mod_b_value (err -2)\n\
         log mod_c mod_c: Unknown symbol mod_b_sum (err -2)\n\
         log mod_c mod_c: Unknown symbol not_in_the_check (err -2)\n",
    );
    let run = insmod(&sys, &[C]);
    assert_eq!(run.code, Some(1));
    // Asked first, explained after; the kernel's lines about the symbols
    // explained are left out, the others kept.
    assert_eq!(run.calls, [format!("insert {C} ")]);
    assert_eq!(
        run.stderr,
        format!(
            "insmod: ERROR: could not insert module {C}: Unknown symbol in module\n\
             insmod: ERROR: mod_c needs mod_b_value, mod_b_sum, exported by mod_b: load it first or use modprobe mod_c\n\
             insmod: ERROR: kernel: mod_c: Unknown symbol not_in_the_check (err -2)\n"
        )
    );
    assert!(!loaded(&sys, "mod_c"));
}

#[test]
fn a_refusal_for_a_symbol_version_is_explained() {
    let sys = stacked_system();
    let bad = FakeModule::new("mod_x").needs("_printk", 0xdeadbeef);
    sys.write("/mod_x.ko", bad.build());
    sys.write(
        "/fake-kernel.rules",
        "insert mod_x 22\nlog mod_x mod_x: disagrees about version of symbol _printk\n",
    );
    let run = insmod(&sys, &["/mod_x.ko"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "insmod: ERROR: could not insert module /mod_x.ko: Invalid parameters\n\
         insmod: ERROR: mod_x was built against another version of _printk (CRC 0xdeadbeef; the running kernel has 0x11111111): rebuild it for this kernel, or force it with insmod -f\n\
         insmod: ERROR: kernel: mod_x: disagrees about version of symbol _printk\n"
    );
    // With -f the CRCs are not the kernel's concern, nor ours.
    let run = insmod(&sys, &["-f", "/mod_x.ko"]);
    assert_eq!(
        run.calls,
        ["insert --force-modversion --force-vermagic /mod_x.ko "]
    );
    assert_eq!(
        run.stderr,
        "insmod: ERROR: could not insert module /mod_x.ko: Invalid parameters\n\
         insmod: ERROR: kernel: mod_x: disagrees about version of symbol _printk\n"
    );
}

#[test]
fn other_refusals_are_not_blamed_on_symbols() {
    // A failing init function (ENODEV) with a symbol missing by our tables:
    // the kernel's reason stands alone.
    let sys = stacked_system();
    sys.write(C, mod_c().build());
    sys.write(
        "/fake-kernel.rules",
        "insert mod_c 19\nlog mod_c mod_c: refusing to load\n",
    );
    let run = insmod(&sys, &[C]);
    assert_eq!(
        run.stderr,
        format!(
            "insmod: ERROR: could not insert module {C}: No such device\n\
             insmod: ERROR: kernel: mod_c: refusing to load\n"
        )
    );
}

#[test]
fn check_shows_the_diagnosis_and_loads_nothing() {
    let sys = stacked_system();
    sys.write(C, mod_c().build());
    let run = insmod(&sys, &["--check", C]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stdout,
        "mod_c needs mod_b_value, mod_b_sum, exported by mod_b: load it first or use modprobe mod_c\n"
    );
    assert_eq!(run.stderr, "");
    assert!(run.calls.is_empty());
    assert!(!loaded(&sys, "mod_c"));

    let bad = FakeModule::new("mod_x").needs("_printk", 0xdeadbeef);
    sys.write("/mod_x.ko", bad.build());
    let run = insmod(&sys, &["--check", "/mod_x.ko"]);
    assert_eq!(run.code, Some(1));
    assert!(run
        .stdout
        .starts_with("mod_x was built against another version of _printk"));
    let run = insmod(&sys, &["--check", "-f", "/mod_x.ko"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), ""));

    // Only in full: kmod's insmod has no option of that name.
    let run = insmod(&sys, &["--chec", C]);
    assert_eq!(run.code, Some(1));
    // (glibc's getopt names argv[0] as given.)
    assert!(
        run.stderr
            .ends_with("insmod: unrecognized option '--chec'\n"),
        "{}",
        run.stderr
    );
    assert!(run.calls.is_empty());
}
