//! `kmod static-nodes` against kmod's, on the real tree's modules.devname
//! plus malformed lines. kmod reads `/lib/modules/$(uname -r)`, so it runs
//! in a private mount namespace with a temporary directory bound there;
//! ours reads the same files through MODUTILS_SYSROOT.

use std::path::Path;
use std::process::Command;

use crate::util::{ours, real_tree, text};

fn release() -> String {
    let out = Command::new("uname").arg("-r").output().expect("uname");
    text(&out.stdout).trim().to_string()
}

/// A fake root holding `lib/modules/<release>/modules.devname` with `content`.
fn fake_root(content: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rel = release();
    let moddir = dir.path().join("lib/modules").join(&rel);
    std::fs::create_dir_all(&moddir).unwrap();
    std::fs::write(moddir.join("modules.devname"), content).unwrap();
    std::fs::create_dir_all(dir.path().join("proc/sys/kernel")).unwrap();
    std::fs::write(
        dir.path().join("proc/sys/kernel/osrelease"),
        format!("{rel}\n"),
    )
    .unwrap();
    dir
}

fn kmod_static_nodes(root: &Path, args: &[&str]) -> std::process::Output {
    let script = format!(
        "mkdir -p /lib/modules && mount --bind {} /lib/modules && exec /usr/bin/kmod static-nodes \"$@\"",
        root.join("lib/modules").display()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .args(args)
        .output()
        .expect("unshare (util-linux) is needed; the suite runs as root");
    assert!(
        !text(&out.stderr).contains("mount:") && !text(&out.stderr).contains("unshare:"),
        "could not set up the namespace for kmod: {}",
        text(&out.stderr)
    );
    out
}

fn ours_static_nodes(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(ours("kmod"))
        .arg("static-nodes")
        .args(args)
        .env("MODUTILS_SYSROOT", root)
        .output()
        .unwrap()
}

#[test]
fn every_format_matches_kmod() {
    let mut content = std::fs::read(real_tree().moddir().join("modules.devname")).unwrap();
    content.extend_from_slice(
        b"mod_x sub/dir/node b7:3\nbroken line\nmod_y node x1:2\n#comment\nm d c1:2 trailing\n",
    );
    content.extend_from_slice(&[b'z'; 5000]);
    content.extend_from_slice(b" d c1:1\n");
    // C's whitespace includes vertical tab and form feed; numbers past 32
    // and 64 bits, and signed ones, convert as sscanf's %u does.
    content.extend_from_slice(
        b"mod_v\x0bvt\x0cc10:\x0b11\nmod_u\x0bu\x0bn1:2\nmod_w big c4294967297:-1\nmod_o huge b99999999999999999999:-99999999999999999999\nmod_q q c1:\x0b2\nmod_r r c\x0b3:4\nmod_s s\x0bc5:6\n",
    );
    let root = fake_root(&content);
    for args in [
        &[][..],
        &["-f", "human"],
        &["-f", "tmpfiles"],
        &["--format=devname"],
        &["-f", "bogus"],
        &["-h"],
        &["--bad"],
    ] {
        let (k, o) = (
            kmod_static_nodes(root.path(), args),
            ours_static_nodes(root.path(), args),
        );
        assert_eq!(
            !text(&k.stdout).is_empty(),
            !text(&o.stdout).is_empty(),
            "static-nodes {args:?}: stdout presence"
        );
        // Help texts are our own words; everything else is byte for byte.
        if !args.contains(&"-h") && !args.contains(&"bogus") {
            assert_eq!(
                text(&k.stdout),
                text(&o.stdout),
                "static-nodes {args:?}: stdout"
            );
            assert_eq!(
                text(&k.stderr),
                text(&o.stderr),
                "static-nodes {args:?}: stderr"
            );
        }
        assert_eq!(
            k.status.code(),
            o.status.code(),
            "static-nodes {args:?}: exit status"
        );
    }
}

#[test]
fn output_file_and_missing_index_match_kmod() {
    let root = fake_root(b"fuse fuse c10:229\n");
    let out_k = root.path().join("k/sub/static.conf");
    let out_o = root.path().join("o/sub/static.conf");
    let k = kmod_static_nodes(
        root.path(),
        &["-f", "tmpfiles", "-o", out_k.to_str().unwrap()],
    );
    // Ours resolves -o inside the root; give it the path relative to the root.
    let o = ours_static_nodes(root.path(), &["-f", "tmpfiles", "-o", "/o/sub/static.conf"]);
    assert_eq!((k.status.code(), o.status.code()), (Some(0), Some(0)));
    assert_eq!(std::fs::read(out_k).unwrap(), std::fs::read(out_o).unwrap());

    std::fs::remove_file(
        root.path()
            .join("lib/modules")
            .join(release())
            .join("modules.devname"),
    )
    .unwrap();
    let (k, o) = (
        kmod_static_nodes(root.path(), &[]),
        ours_static_nodes(root.path(), &[]),
    );
    assert_eq!(text(&k.stderr), text(&o.stderr));
    assert_eq!((k.status.code(), o.status.code()), (Some(0), Some(0)));
}
