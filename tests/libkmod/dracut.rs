//! A real program on the host: Debian's dracut-install (dracut-core,
//! unpacked by fetch-programs.sh) resolves sets of modules of the real
//! tree with their dependencies and softdeps, by name, subdirectory,
//! path and through its path, name and symbol filters, into a temporary
//! root; with our library it installs the same files, says the same and
//! exits the same as with kmod's.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use super::{abi::programs_dir, our_library_dir, stderr_as_34, Lib};
use crate::util::{real_tree, text};

/// Every file under `root`: relative path to its size, or a link's target.
fn listing(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_symlink() {
                out.insert(rel, format!("-> {}", fs::read_link(&p).unwrap().display()));
            } else if meta.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, format!("{} bytes", meta.len()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn dracut_install(lib: Lib, dest: &Path, args: &[OsString]) -> Output {
    let exe = programs_dir().join("dracut-core/usr/lib/dracut/dracut-install");
    let mut cmd = Command::new(exe);
    cmd.arg("-D")
        .arg(dest)
        .arg("--kerneldir")
        .arg(real_tree().moddir())
        // No firmware: what it would copy is not the library's business.
        .args(["--firmwaredirs", "/nonexistent"])
        .args(args)
        .env_remove("LD_PRELOAD")
        .env_remove("KMOD_LOG");
    match lib {
        Lib::Kmod => cmd.env_remove("LD_LIBRARY_PATH"),
        Lib::Ours => cmd.env("LD_LIBRARY_PATH", our_library_dir()),
    };
    cmd.output().unwrap()
}

#[test]
fn dracut_install_installs_the_same_modules_with_ours() {
    let tree = real_tree().moddir();
    let ext4 = tree.join("kernel/fs/ext4/ext4.ko");
    let cases: Vec<Vec<OsString>> = vec![
        // Names with deep dependency chains and softdeps.
        args(&[
            "-m",
            "bttv",
            "e1000e",
            "ext4",
            "btrfs",
            "nvme",
            "snd-hda-intel",
            "xfs",
        ]),
        // A kernel subdirectory.
        args(&["-m", "=drivers/hid"]),
        // Symbol filter: dracut reads dependency symbols through
        // kmod_module_symbol_get_symbol.
        args(&["-s", "drm_gem|drm_crtc", "-m", "=drivers/gpu"]),
        args(&["-S", "usb_", "-m", "=drivers/net/ethernet/intel"]),
        // Name and path filters.
        args(&["-N", "^snd-(hda|usb)", "-m", "=sound/pci"]),
        args(&["-p", "usb", "-P", "serial", "-m", "=drivers/usb"]),
        // A path, file-name suffixes, a missing optional module.
        vec![
            "-m".into(),
            ext4.into_os_string(),
            "bttv.ko.xz".into(),
            "vfat.ko".into(),
        ],
        args(&["-o", "-m", "modutils_no_such_module", "bttv"]),
        // Missing and not optional: failure.
        args(&["-m", "modutils_no_such_module"]),
        // Host-only: the loaded modules (new_from_loaded).
        args(&["-H", "-m", "=fs"]),
        args(&["-v", "-m", "=crypto"]),
    ];
    let mut files = 0;
    for case in &cases {
        let (kd, od) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let k = dracut_install(Lib::Kmod, kd.path(), case);
        let o = dracut_install(Lib::Ours, od.path(), case);
        let what = format!("dracut-install {case:?}");
        let (kl, ol) = (listing(kd.path()), listing(od.path()));
        assert_eq!(kl, ol, "{what}: installed files differ");
        // Paths in its messages name the destination directory.
        let norm = |s: String, d: &Path| s.replace(&d.display().to_string(), "DEST");
        assert_eq!(
            norm(stderr_as_34(&k.stderr), kd.path()),
            norm(text(&o.stderr), od.path()),
            "{what}: stderr"
        );
        assert_eq!(
            norm(text(&k.stdout), kd.path()),
            norm(text(&o.stdout), od.path()),
            "{what}: stdout"
        );
        assert_eq!(k.status.code(), o.status.code(), "{what}: exit status");
        files += kl.len();
    }
    assert!(
        files > 500,
        "only {files} files installed in all: the cases test little"
    );
    eprintln!(
        "dracut-install: {} cases, {files} files, identical",
        cases.len()
    );
}

fn args(a: &[&str]) -> Vec<OsString> {
    a.iter().map(OsString::from).collect()
}
