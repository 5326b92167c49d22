//! The multicall `kmod`: dispatch on argv[0] (as distributions install it,
//! with links named after each tool) and on the command word.

use std::process::Command;

use crate::util::{oracle, ours, real_tree, run, text};

#[test]
fn links_named_after_a_tool_run_that_tool() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modinfo");
    std::os::unix::fs::symlink(ours("kmod"), &link).unwrap();
    let module = &real_tree().modules()[0];
    let via_link = Command::new(&link).arg(module).output().unwrap();
    let direct = Command::new(ours("modinfo")).arg(module).output().unwrap();
    assert!(via_link.status.success());
    assert_eq!(via_link.stdout, direct.stdout);
    let as_command = Command::new(ours("kmod"))
        .arg("modinfo")
        .arg(module)
        .output()
        .unwrap();
    assert_eq!(as_command.stdout, direct.stdout);
}

#[test]
fn missing_and_unknown_commands_fail_like_kmod() {
    for args in [&[][..], &["bogus"], &["-x"], &["--frobnicate"]] {
        let (k, o) = (run(&oracle("kmod"), args), run(&ours("kmod"), args));
        assert_eq!(k.status.code(), o.status.code(), "kmod {args:?}");
        // The first stderr line is the diagnostic; the help that follows is our own text.
        let first = |b: &[u8]| text(b).lines().next().unwrap_or_default().to_string();
        assert_eq!(first(&k.stderr), first(&o.stderr), "kmod {args:?}");
    }
}

#[test]
fn version_has_kmods_shape() {
    let o = Command::new(ours("kmod"))
        .arg("--version")
        .output()
        .unwrap();
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("kmod version "));
    assert!(lines[1]
        .split(' ')
        .all(|f| f.starts_with('+') || f.starts_with('-')));
}

/// Under MODUTILS_SYSROOT the tools find the module directory of the fake
/// system's kernel, and show target paths.
#[test]
fn sysroot_relocates_the_module_directory() {
    let tree = real_tree();
    let root = tempfile::tempdir().unwrap();
    let moddir = root.path().join("lib/modules");
    std::fs::create_dir_all(&moddir).unwrap();
    std::os::unix::fs::symlink(tree.moddir(), moddir.join(&tree.release)).unwrap();
    std::fs::create_dir_all(root.path().join("proc/sys/kernel")).unwrap();
    std::fs::write(
        root.path().join("proc/sys/kernel/osrelease"),
        format!("{}\n", tree.release),
    )
    .unwrap();

    let ours = Command::new(ours("modinfo"))
        .args(["bttv", "ext4"])
        .env("MODUTILS_SYSROOT", root.path())
        .output()
        .unwrap();
    let kmod = Command::new(oracle("modinfo"))
        .args([
            "-b",
            tree.base.to_str().unwrap(),
            "-k",
            &tree.release,
            "bttv",
            "ext4",
        ])
        .output()
        .unwrap();
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let expected = text(&kmod.stdout).replace(tree.base.to_str().unwrap(), "");
    assert_eq!(text(&ours.stdout), expected);
    assert!(text(&ours.stdout).contains(&format!(
        "filename:       /lib/modules/{}/kernel/",
        tree.release
    )));
}
