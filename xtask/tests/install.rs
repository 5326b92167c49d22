//! `cargo xtask install` into temporary roots: the layout, every tool run
//! by its usual name from there, man pages rendered by man(1), bash
//! completions loaded and completing module names.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modutils_core::sandbox::Sandbox;

const TOOLS: [&str; 6] = ["depmod", "insmod", "lsmod", "modinfo", "modprobe", "rmmod"];

/// The kmod binary cargo built beside xtask (same profile), else the
/// release one.
fn kmod_binary() -> PathBuf {
    let xtask = Path::new(env!("CARGO_BIN_EXE_xtask"));
    let beside = xtask.with_file_name("kmod");
    if beside.is_file() {
        return beside;
    }
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kmod");
    assert!(
        release.is_file(),
        "no kmod binary: build it first (cargo build --release -p modutils; tests/run does)"
    );
    release
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Installs into `prefix` (absolute), optionally staged under `destdir`.
fn install(prefix: &Path, destdir: Option<&Path>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("install")
        .arg("--prefix")
        .arg(prefix)
        .arg("--binary")
        .arg(kmod_binary());
    if let Some(d) = destdir {
        cmd.arg("--destdir").arg(d);
    }
    let out = cmd
        .env_remove("PREFIX")
        .env_remove("DESTDIR")
        .output()
        .unwrap();
    ok(&out, "xtask install");
}

/// A fake system: modules a (needs b) and b, an alias, b loaded.
fn sandbox() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Sandbox::new("6.1.0-test")
        .module("alpha", &["beta"])
        .module("beta", &[])
        .alias("pci:v00001234d*", "alpha")
        .loaded("beta", &[])
        .write(dir.path())
        .unwrap();
    dir
}

fn tool(prefix: &Path, dir: &str, name: &str, sysroot: &Path, args: &[&str]) -> Output {
    Command::new(prefix.join(dir).join(name))
        .args(args)
        .env("MODUTILS_SYSROOT", sysroot)
        .env_remove("MODPROBE_OPTIONS")
        .output()
        .unwrap()
}

#[test]
fn installed_tools_run_by_their_usual_names() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    install(&prefix, None);

    // Debian's layout: kmod in bin, links in sbin (and lsmod in bin).
    let kmod = prefix.join("bin/kmod");
    assert!(kmod.metadata().unwrap().mode() & 0o111 != 0);
    for t in TOOLS {
        let link = prefix.join("sbin").join(t);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("../bin/kmod"),
            "{t}"
        );
    }
    assert_eq!(
        std::fs::read_link(prefix.join("bin/lsmod")).unwrap(),
        Path::new("kmod")
    );
    for page in [
        "kmod", "insmod", "rmmod", "lsmod", "modprobe", "depmod", "modinfo",
    ] {
        assert!(
            prefix.join(format!("share/man/man8/{page}.8")).is_file(),
            "{page}.8"
        );
        assert!(prefix
            .join(format!("share/bash-completion/completions/{page}"))
            .is_file());
        assert!(prefix
            .join(format!("share/zsh/vendor-completions/_{page}"))
            .is_file());
        assert!(prefix
            .join(format!("share/fish/vendor_completions.d/{page}.fish"))
            .is_file());
    }

    let sys = sandbox();
    let root = sys.path();
    for t in TOOLS {
        let out = tool(&prefix, "sbin", t, root, &["-V"]);
        ok(&out, t);
        assert!(text(&out.stdout).starts_with("kmod version 34.2\n"), "{t}");
    }
    let out = tool(&prefix, "sbin", "lsmod", root, &[]);
    ok(&out, "lsmod");
    let want = format!(
        "Module                  Size  Used by\n{:<19} {:>8}  0\n",
        "beta", 16384
    );
    assert_eq!(text(&out.stdout), want);
    assert_eq!(tool(&prefix, "bin", "lsmod", root, &[]).stdout, out.stdout);

    let out = tool(
        &prefix,
        "sbin",
        "modprobe",
        root,
        &["-D", "pci:v00001234d00005678"],
    );
    ok(&out, "modprobe -D");
    let dir = "/lib/modules/6.1.0-test/kernel";
    assert_eq!(
        text(&out.stdout),
        format!("insmod {dir}/beta.ko \ninsmod {dir}/alpha.ko \n")
    );

    // The sandbox's modules are text stand-ins: modinfo can name the file.
    let out = tool(&prefix, "sbin", "modinfo", root, &["-n", "alpha"]);
    ok(&out, "modinfo");
    assert_eq!(text(&out.stdout), format!("{dir}/alpha.ko\n"));

    // Messages carry the name the tool was called by.
    let out = tool(&prefix, "sbin", "rmmod", root, &["nothere"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "rmmod: ERROR: Module nothere is not currently loaded\n"
    );
    let out = tool(&prefix, "sbin", "insmod", root, &["/nothere.ko"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(
        "insmod: ERROR: could not load module /nothere.ko: No such file or directory"
    ));
    let out = tool(&prefix, "sbin", "depmod", root, &["-h"]);
    ok(&out, "depmod -h");
    assert!(text(&out.stdout).starts_with("Usage:\n\tdepmod "));
    let out = tool(&prefix, "bin", "kmod", root, &["list"]);
    ok(&out, "kmod list");
    let out = tool(&prefix, "bin", "kmod", root, &["static-nodes"]);
    ok(&out, "kmod static-nodes");
}

#[test]
fn destdir_stages_a_tree_that_works_where_it_is() {
    let stage = tempfile::tempdir().unwrap();
    install(Path::new("/usr"), Some(stage.path()));
    let staged = stage.path().join("usr");
    let sys = sandbox();
    let out = tool(&staged, "sbin", "modprobe", sys.path(), &["-R", "alpha"]);
    ok(&out, "staged modprobe");
    assert_eq!(text(&out.stdout), "alpha\n");
    // The completions name the installed path, not the staging one.
    let bash =
        std::fs::read_to_string(staged.join("share/bash-completion/completions/modprobe")).unwrap();
    assert!(bash.contains("'/usr/bin/kmod' __complete modprobe"));
    assert!(!bash.contains(&stage.path().to_string_lossy().into_owned()));
}

#[test]
fn man_pages_render_with_man() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    install(&prefix, None);
    for page in [
        "kmod", "insmod", "rmmod", "lsmod", "modprobe", "depmod", "modinfo",
    ] {
        let file = prefix.join(format!("share/man/man8/{page}.8"));
        let out = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .expect("man(1) is needed: install man-db and groff-base (tests/setup.sh does)");
        ok(&out, &format!("man -l {page}.8"));
        let shown = text(&out.stdout);
        assert_eq!(text(&out.stderr), "", "{page}.8: warnings from man/groff");
        for section in ["NAME", "SYNOPSIS", "OPTIONS", "ENVIRONMENT", "SEE ALSO"] {
            assert!(
                shown.contains(section),
                "{page}.8 has no {section}:\n{shown}"
            );
        }
        assert!(shown.contains(&format!("{page} - ")), "{page}.8:\n{shown}");
    }
    let modprobe = std::fs::read_to_string(prefix.join("share/man/man8/modprobe.8")).unwrap();
    assert!(
        modprobe.contains("show\\-depends"),
        "options come from the table"
    );
    let kmod = std::fs::read_to_string(prefix.join("share/man/man8/kmod.8")).unwrap();
    assert!(
        kmod.contains("__complete"),
        "kmod.8 documents the completion helper"
    );
}

#[test]
fn bash_completions_load_and_complete_module_names() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    install(&prefix, None);
    let sys = sandbox();
    let dir = prefix.join("share/bash-completion/completions");
    for t in [
        "kmod", "insmod", "rmmod", "lsmod", "modprobe", "depmod", "modinfo",
    ] {
        let script = format!("source '{}' && complete -p {t}", dir.join(t).display());
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        ok(&out, &format!("bash: complete -p {t}"));
        assert!(
            text(&out.stdout).contains(&format!(" {t}\n")),
            "{t}: {}",
            text(&out.stdout)
        );
    }
    // COMP_WORDS as bash sets them when TAB is pressed after the words.
    let complete = |tool: &str, words: &str| {
        let script = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _modutils_{tool} {tool} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            dir.join(tool).display()
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("MODUTILS_SYSROOT", sys.path())
            .output()
            .unwrap();
        ok(&out, &script);
        text(&out.stdout)
    };
    assert_eq!(complete("modprobe", "modprobe al"), "alpha\n");
    assert_eq!(complete("modprobe", "modprobe ''"), "alpha\nbeta\n");
    assert_eq!(
        complete("modprobe", "modprobe -r ''"),
        "beta\n",
        "-r: loaded modules"
    );
    assert_eq!(complete("rmmod", "rmmod b"), "beta\n");
    assert_eq!(complete("modinfo", "modinfo -k 6.1.0-test a"), "alpha\n");
    assert_eq!(
        complete("modinfo", "modinfo -k 9.9 a"),
        "\n",
        "another kernel has no modules"
    );
    assert!(complete("modprobe", "modprobe --show-d").contains("--show-depends"));
}

/// The libkmod.so cargo built for this test (a dev-dependency), else the
/// release one.
fn library() -> PathBuf {
    let xtask = Path::new(env!("CARGO_BIN_EXE_xtask"));
    let profile = xtask.parent().expect("target/<profile>");
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
    [profile.join("deps"), profile.to_path_buf(), release]
        .iter()
        .map(|d| d.join("libkmod.so"))
        .find(|p| p.is_file())
        .expect("no libkmod.so: cargo build --release -p modutils-libkmod")
}

fn install_with_library(prefix: &Path, libdir: Option<&Path>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("install")
        .arg("--prefix")
        .arg(prefix)
        .arg("--binary")
        .arg(kmod_binary())
        .arg("--library")
        .arg(library());
    if let Some(l) = libdir {
        cmd.arg("--libdir").arg(l);
    }
    let out = cmd
        .env_remove("PREFIX")
        .env_remove("DESTDIR")
        .output()
        .unwrap();
    ok(&out, "xtask install --library");
}

#[test]
fn library_installs_with_its_links_header_and_pkgconfig() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    let libdir = prefix.join("lib/some-arch");
    install_with_library(&prefix, Some(&libdir));

    assert!(libdir.join("libkmod.so.2.5.1").is_file());
    let link = |name: &str| std::fs::read_link(libdir.join(name)).unwrap();
    assert_eq!(link("libkmod.so.2"), Path::new("libkmod.so.2.5.1"));
    assert_eq!(link("libkmod.so"), Path::new("libkmod.so.2"));
    assert!(prefix.join("include/libkmod.h").is_file());
    let pc = std::fs::read_to_string(libdir.join("pkgconfig/libkmod.pc")).unwrap();
    assert!(
        pc.contains(&format!("libdir={}\n", libdir.display())),
        "{pc}"
    );
    assert!(
        pc.contains(&format!("includedir={}/include\n", prefix.display())),
        "{pc}"
    );
    assert!(pc.contains("Libs: -L${libdir} -lkmod\n"), "{pc}");

    // A program built against the installed files finds a module with it.
    let src = tmp.path().join("prog.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <libkmod.h>\n\
         int main(void) {\n\
           struct kmod_ctx *ctx = kmod_new(NULL, NULL);\n\
           struct kmod_list *l = NULL;\n\
           struct kmod_module *m;\n\
           if (kmod_module_new_from_lookup(ctx, \"pci:v00001234d00000001\", &l) < 0 || !l) return 1;\n\
           m = kmod_module_get_module(l);\n\
           printf(\"%s\\n\", kmod_module_get_name(m));\n\
           kmod_module_unref(m);\n\
           kmod_module_unref_list(l);\n\
           kmod_unref(ctx);\n\
           return 0;\n\
         }\n",
    )
    .unwrap();
    let prog = tmp.path().join("prog");
    let cc = Command::new("cc")
        .arg("-o")
        .arg(&prog)
        .arg(&src)
        .arg(format!("-I{}/include", prefix.display()))
        .arg(format!("-L{}", libdir.display()))
        .arg("-lkmod")
        .output()
        .unwrap();
    ok(&cc, "cc against the installed library");
    let sys = sandbox();
    let run = Command::new(&prog)
        .env("LD_LIBRARY_PATH", &libdir)
        .env("MODUTILS_SYSROOT", sys.path())
        .output()
        .unwrap();
    ok(&run, "program using the installed library");
    assert_eq!(text(&run.stdout), "alpha\n");
}

#[test]
fn library_goes_to_the_multiarch_directory_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    install_with_library(&prefix, None);
    let multiarch = Command::new("cc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| text(&o.stdout).trim().to_string())
        .filter(|m| !m.is_empty() && Path::new("/usr/lib").join(m).is_dir());
    let libdir = match multiarch {
        Some(m) => prefix.join("lib").join(m),
        None => prefix.join("lib"),
    };
    assert!(
        libdir.join("libkmod.so.2").exists(),
        "{} has no libkmod.so.2",
        libdir.display()
    );
}
