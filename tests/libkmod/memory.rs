//! Our library under valgrind: the C programs' runs are free of memory
//! errors and of leaks (definitely or indirectly lost). Sampled where the
//! full runs would take valgrind an hour: every 40th module of the real
//! tree, every 400th compressed one, 7 of the 20 config scenarios; the
//! whole checklist.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{our_library_dir, program, spawn_fed};
use crate::modprobe_corpus::{base_for, names, scenarios};
use crate::util::{real_tree, text};

fn valgrind(prog: &str, args: &[&Path], input: &[u8], cwd: Option<&Path>) {
    let mut cmd = Command::new("valgrind");
    cmd.args(["-q", "--error-exitcode=99", "--leak-check=full"])
        .args([
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(program(prog))
        .args(args)
        .env("LD_LIBRARY_PATH", our_library_dir())
        .env_remove("KMOD_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = spawn_fed(cmd, input);
    let err = text(&out.stderr);
    assert!(
        out.status.code() != Some(99) && !err.contains("=="),
        "valgrind: {prog} {args:?}: status {:?}\n{err}",
        out.status
    );
    assert!(out.status.success(), "{prog} failed under valgrind: {err}");
}

#[test]
fn valgrind_is_clean_on_the_real_tree() {
    which_valgrind();
    let moddir = real_tree().moddir();
    let dep = std::fs::read_to_string(moddir.join("modules.dep")).unwrap();
    let mut input = String::new();
    for line in dep.lines().step_by(40) {
        let path = line.split(':').next().unwrap();
        let name = path
            .rsplit('/')
            .next()
            .unwrap()
            .split(".ko")
            .next()
            .unwrap();
        input += &format!("{name}\n");
    }
    for var in ["MODUTILS_TEST_TREE_XZ", "MODUTILS_TEST_TREE_ZST"] {
        let dir = PathBuf::from(std::env::var_os(var).expect("run tests/setup.sh"));
        for line in dep.lines().step_by(400) {
            let path = line.split(':').next().unwrap();
            let ext = if var.ends_with("XZ") { "xz" } else { "zst" };
            input += &format!("{}/{path}.{ext}\n", dir.display());
        }
    }
    valgrind("modules", &[&moddir], input.as_bytes(), None);
    valgrind("dump", &[&moddir], b"", None);
}

#[test]
fn valgrind_is_clean_on_the_checklist_and_corpus() {
    which_valgrind();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libkmod-check-valgrind");
    let _ = std::fs::remove_dir_all(&base);
    crate::modprobe_tree::build_moddir(
        &crate::modprobe_tree::fixtures().join("modprobe/tree"),
        &base.join("lib/modules/1.0"),
    );
    super::differential::make_bad_elves(&base.join("elf"));
    let fixtures =
        PathBuf::from(std::env::var_os("MODUTILS_FIXTURES").expect("run tests/setup.sh"));
    valgrind("check", &[&base, &fixtures], b"", None);
    // The scenarios with every kind of directive (under valgrind all 20
    // take half an hour on two cores).
    let chosen = [
        "every-directive",
        "bad-lines",
        "aliases",
        "blacklist",
        "install-remove",
        "options",
        "softdeps",
    ];
    for s in scenarios()
        .into_iter()
        .filter(|s| chosen.iter().any(|c| s.dir.ends_with(c)))
    {
        let tmp = tempfile::tempdir().unwrap();
        let modules = base_for(&s, tmp.path());
        let moddir = tmp.path().join("lib/modules/1.0");
        let input = names(&s, &modules).join("\n") + "\n";
        let mut args: Vec<&Path> = vec![&moddir];
        args.extend(s.configs.iter().map(PathBuf::as_path));
        valgrind("config", &args, input.as_bytes(), None);
        super::differential::unreadable_modules(&moddir.join("kernel"));
        let exec = PathBuf::from("--exec");
        args.insert(0, &exec);
        valgrind("config", &args, input.as_bytes(), None);
        valgrind("dump", &[&moddir], b"", None);
    }
}

fn which_valgrind() {
    let ok = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "valgrind is missing: tests/setup.sh installs it");
}
