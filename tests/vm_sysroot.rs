//! insmod, rmmod and lsmod against a simulated system (`MODUTILS_SYSROOT`):
//! the output formats, messages and exit codes that can be checked without
//! a kernel. None of these cases reaches a system call that changes the
//! host's kernel. The proof on real kernels is the VM suite (tests/vm).

use std::process::{Command, Output};

use modutils_core::index::IndexBuilder;
use modutils_test_support::fake_module::FakeModule;
use modutils_test_support::fake_root::FakeRoot;

fn tool(name: &str, sys: &FakeRoot, args: &[&str]) -> Output {
    let exe = match name {
        "insmod" => env!("CARGO_BIN_EXE_insmod"),
        "rmmod" => env!("CARGO_BIN_EXE_rmmod"),
        "lsmod" => env!("CARGO_BIN_EXE_lsmod"),
        "kmod" => env!("CARGO_BIN_EXE_kmod"),
        other => panic!("{other}"),
    };
    Command::new(exe)
        .args(args)
        .env("MODUTILS_SYSROOT", sys.root())
        .env_remove("KMOD_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn holders_in_dir_order(sys: &FakeRoot, name: &str) -> String {
    std::fs::read_dir(sys.path(&format!("/sys/module/{name}/holders")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn lsmod_prints_kmods_format() {
    let sys = FakeRoot::new();
    sys.write(
        "/proc/modules",
        "mod_c 16384 0 - Live 0x0 (OE)\n\
         mod_b 20480 1 mod_c, Live 0x0 (OE)\n\
         mod_a 12288 2 mod_c,mod_b, Live 0x0 (OE)\n\
         a_module_with_a_long_name 1234567 0 - Live 0x0\n\
         oldkernel 8192 0 - Live 0x0\n\
         gone 4096 0 - Unloading 0x0\n",
    );
    sys.sys_module("mod_c", 16384, 0, &[]);
    sys.sys_module("mod_b", 20480, 1, &["mod_c"]);
    sys.sys_module("mod_a", 12288, 2, &["mod_c", "mod_b"]);
    sys.sys_module("a_module_with_a_long_name", 1234567, 0, &[]);
    // A kernel before 3.3: no coresize, the size comes from /proc/modules.
    sys.sys_module("oldkernel", 1, 0, &[]);
    std::fs::remove_file(sys.path("/sys/module/oldkernel/coresize")).unwrap();
    // Removed between the two reads: no sysfs directory at all.
    let out = tool("lsmod", &sys, &[]);
    assert_eq!(out.status.code(), Some(0));
    let holders = holders_in_dir_order(&sys, "mod_a");
    assert_eq!(
        text(&out.stdout),
        format!(
            "Module                  Size  Used by\n\
             mod_c                  16384  0\n\
             mod_b                  20480  1 mod_c\n\
             mod_a                  12288  2 {holders}\n\
             a_module_with_a_long_name  1234567  0\n\
             oldkernel               8192  0\n\
             gone                      -2  -2\n"
        )
    );
    assert_eq!(
        text(&out.stderr),
        "lsmod: ERROR: could not open '/sys/module/gone/holders': No such file or directory (os error 2)\n"
    );
    // kmod list is lsmod.
    let list = tool("kmod", &sys, &["list"]);
    assert_eq!(list.stdout, out.stdout);
}

#[test]
fn lsmod_errors() {
    let sys = FakeRoot::new();
    let out = tool("lsmod", &sys, &[]);
    assert_eq!(text(&out.stdout), "Module                  Size  Used by\n");
    let out = tool("lsmod", &sys, &["extra"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "lsmod: ERROR: too many arguments provided.\n"
    );
    assert!(out.stdout.is_empty());

    let none = FakeRoot::without_modules();
    let out = tool("lsmod", &none, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "lsmod: ERROR: could not open /proc/modules: No such file or directory\n\
         lsmod: ERROR: the running kernel has no module support (it was built without CONFIG_MODULES)\n"
    );
}

#[test]
fn rmmod_refuses_what_it_must_not_remove() {
    let sys = FakeRoot::new();
    sys.write(
        "/proc/modules",
        "mod_b 1 1 mod_c, Live 0x0\nmod_a 1 2 mod_c,mod_b, Live 0x0\n",
    );
    sys.sys_module("mod_a", 1, 2, &["mod_b", "mod_c"]);
    sys.sys_module("mod_b", 1, 1, &[]);
    sys.sys_module("nounload", 1, 0, &[]);
    std::fs::remove_file(sys.path("/sys/module/nounload/refcnt")).unwrap();
    let mut builtin = IndexBuilder::new();
    builtin.insert("ext4", "", 0).unwrap();
    builtin.insert("mod_builtin", "", 0).unwrap();
    sys.write(
        &format!("{}/modules.builtin.bin", sys.moddir()),
        builtin.to_bytes().unwrap(),
    );

    let holders = holders_in_dir_order(&sys, "mod_a").replace(',', " ");
    let cases: &[(&[&str], String)] = &[
        (&[], "rmmod: ERROR: missing module name.\n".into()),
        (&["absent"], "rmmod: ERROR: Module absent is not currently loaded\n".into()),
        (&["mod_a"], format!("rmmod: ERROR: Module mod_a is in use by: {holders}\n")),
        (&["mod_b"], "rmmod: ERROR: Module mod_b is in use\n".into()),
        (&["ext4"], "rmmod: ERROR: Module ext4 is builtin.\n".into()),
        (&["mod-builtin"], "rmmod: ERROR: Module mod_builtin is builtin.\n".into()),
        (&["nounload"], "rmmod: ERROR: Module unloading is not supported\n".into()),
        (
            &["absent", "mod_b"],
            "rmmod: ERROR: Module absent is not currently loaded\nrmmod: ERROR: Module mod_b is in use\n".into(),
        ),
        (
            &["-a", "mod_a"],
            "rmmod: ERROR: -a/--all sweeps the modules the kernel loaded: give no module names with it.\n".into(),
        ),
        (&["-n", "mod_a"], "rmmod: ERROR: -n/--dry-run goes with -a/--all only.\n".into()),
        (&["--now", "mod_a"], "rmmod: ERROR: --now goes with -a/--all only.\n".into()),
        (&["-a", "-f"], "rmmod: ERROR: -a/--all cannot be combined with -f/--force.\n".into()),
    ];
    for (args, stderr) in cases {
        let out = tool("rmmod", &sys, args);
        assert_eq!(text(&out.stderr), *stderr, "rmmod {args:?}");
        assert_eq!(out.status.code(), Some(1), "rmmod {args:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn rmmod_all_leaves_modules_nobody_recorded() {
    // Unused, but not loaded at the kernel's request: a sweep never looks
    // at them (and makes no system call).
    let sys = FakeRoot::new();
    sys.write(
        "/proc/modules",
        "mod_a 1 0 - Live 0x0\ncdrom 1 0 - Live 0x0\n",
    );
    sys.sys_module("mod_a", 1, 0, &[]);
    sys.sys_module("cdrom", 1, 0, &[]);
    for args in [&["-a"][..], &["--all", "--now", "-v"], &["-a", "-n"]] {
        let out = tool("rmmod", &sys, args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty());
        assert!(out.stderr.is_empty());
    }
    assert!(sys.path("/sys/module/mod_a/initstate").exists());

    // Nothing was recorded on a kernel without modules either.
    let none = FakeRoot::without_modules();
    let out = tool("rmmod", &none, &["--all"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    let out = tool("rmmod", &none, &["mod_a", "mod_b"]);
    assert_eq!(
        text(&out.stderr),
        "rmmod: ERROR: Module mod_a is not currently loaded\n\
         rmmod: ERROR: the running kernel has no module support (it was built without CONFIG_MODULES)\n\
         rmmod: ERROR: Module mod_b is not currently loaded\n"
    );
}

#[test]
fn insmod_argument_errors() {
    let sys = FakeRoot::new();
    let cases: &[(&[&str], &str)] = &[
        (&[], "insmod: ERROR: missing filename.\n"),
        (
            &["-"],
            "insmod: ERROR: this tool does not support loading from stdin!\n",
        ),
        (
            &["/nonexistent.ko"],
            "insmod: ERROR: could not load module /nonexistent.ko: No such file or directory\n",
        ),
    ];
    for (args, stderr) in cases {
        let out = tool("insmod", &sys, args);
        assert_eq!(text(&out.stderr), *stderr, "insmod {args:?}");
        assert_eq!(out.status.code(), Some(1));
    }
}

#[test]
fn insmod_without_module_support_says_so_and_does_nothing() {
    let sys = FakeRoot::without_modules();
    sys.write("/mod_a.ko", FakeModule::new("mod_a").build());
    let out = tool("insmod", &sys, &["/mod_a.ko"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "insmod: ERROR: could not insert module /mod_a.ko: Function not implemented\n\
         insmod: ERROR: the running kernel has no module support (it was built without CONFIG_MODULES)\n"
    );
}

#[test]
fn insmod_takes_relative_paths_from_the_working_directory() {
    // No module support: insmod stops after finding the file, before any
    // system call. A path resolved under the root would not be found.
    let sys = FakeRoot::without_modules();
    sys.write("/work/mod_a.ko", FakeModule::new("mod_a").build());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("mod_a.ko"),
        FakeModule::new("mod_a").build(),
    )
    .unwrap();
    for (cwd, arg) in [
        (sys.path("/work"), "./mod_a.ko"),
        (sys.path("/"), "work/mod_a.ko"),
        (outside.path().to_path_buf(), "mod_a.ko"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_insmod"))
            .arg(arg)
            .current_dir(&cwd)
            .env("MODUTILS_SYSROOT", sys.root())
            .env_remove("KMOD_LOG")
            .output()
            .unwrap();
        assert_eq!(
            text(&out.stderr),
            format!(
                "insmod: ERROR: could not insert module {arg}: Function not implemented\n\
                 insmod: ERROR: the running kernel has no module support (it was built without CONFIG_MODULES)\n"
            ),
            "{arg} in {cwd:?}"
        );
    }
}
