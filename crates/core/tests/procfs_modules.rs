//! `/proc` readers against a fake `/proc` under a temporary root.

use modutils_core::procfs::{self, ModuleState};
use modutils_core::Root;
use modutils_test_support::fake_root::FakeRoot;

const MODULES: &str = "\
mod_c 16384 0 - Live 0xffffffffc0a48000 (OE)
mod_b 16384 1 mod_c, Live 0xffffffffc0a42000 (OE)
mod_a 16384 2 mod_c,mod_b, Live 0xffffffffc0a3d000 (OE)
mod_noexit 12288 0 [permanent], Live 0x0000000000000000 (OE)
isofs 61440 0 - Loading 0xffffffffc0100000
";

#[test]
fn reads_every_column() {
    let sys = FakeRoot::new();
    sys.write("/proc/modules", MODULES);
    let root = Root::at(sys.root());
    let mods = procfs::loaded_modules(&root).unwrap();
    assert_eq!(mods.len(), 5);
    assert_eq!(mods[2].name, "mod_a");
    assert_eq!(mods[2].users, ["mod_c", "mod_b"]);
    assert_eq!(mods[2].refcnt, Some(2));
    assert!(mods[3].permanent);
    assert_eq!(mods[4].state, ModuleState::Loading);
    assert_eq!(mods[4].taints, "");
    assert_eq!(
        procfs::loaded_module_names(&root).unwrap(),
        ["mod_c", "mod_b", "mod_a", "mod_noexit", "isofs"]
    );
    assert_eq!(procfs::module_support(&root), Some(true));
    assert!(!procfs::modules_disabled(&root));
}

#[test]
fn names_survive_lines_the_parser_rejects() {
    let sys = FakeRoot::new();
    sys.write(
        "/proc/modules",
        "mod_a 1 0 - Live 0x0\nodd\tline here\n\nmod_b garbage\n",
    );
    let root = Root::at(sys.root());
    assert_eq!(
        procfs::loaded_module_names(&root).unwrap(),
        ["mod_a", "odd", "mod_b"]
    );
    let err = procfs::loaded_modules(&root).unwrap_err();
    assert_eq!(err.to_string(), "/proc/modules:2: size is not a number");
}

#[test]
fn no_module_support_is_told_apart_from_no_proc() {
    let sys = FakeRoot::without_modules();
    let root = Root::at(sys.root());
    assert_eq!(procfs::module_support(&root), Some(false));
    let err = procfs::loaded_module_names(&root).unwrap_err();
    assert_eq!(err.errno(), libc::ENOENT);
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(procfs::module_support(&Root::at(empty.path())), None);
}

#[test]
fn kallsyms_with_hidden_addresses() {
    let sys = FakeRoot::new();
    sys.write(
        "/proc/kallsyms",
        "0000000000000000 T _printk\n0000000000000000 r __ksymtab__printk\n0000000000000000 T mod_a_twice\t[mod_a]\n",
    );
    sys.write("/proc/sys/kernel/kptr_restrict", "1\n");
    let root = Root::at(sys.root());
    let syms = procfs::kernel_symbols(&root).unwrap();
    assert_eq!(syms.len(), 3);
    assert!(procfs::addresses_hidden(&syms));
    assert_eq!(syms[2].module.as_deref(), Some("mod_a"));
    assert_eq!(procfs::kptr_restrict(&root), Some(1));
}
