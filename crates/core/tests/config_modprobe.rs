//! modprobe.d against the oracle: for every scenario under
//! fixtures/modprobe.d-corpus/, kmod's `modprobe -c -C ...` runs live and
//! its stdout and stderr must equal our `show_config()` and diagnostics,
//! byte for byte.
//!
//! Each scenario directory holds an `args` file (the -C paths, relative to
//! the scenario, one per line) and its config trees; `lib/modules/1.0` is its
//! module directory (kmod: `-d <scenario> -S 1.0`). Both sides read the real
//! /proc/cmdline. The only difference allowed is the libkmod message prefix
//! of kmod <= 33 debug builds (docs/compat.md, "kmod 30 and 34.2");
//! scenarios avoid what kmod 30
//! parses differently (weakdep, *.alias files, a backslash at end of file).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use crate::config_support::{fixtures, normalise_libkmod_prefix, run_kmod, show};
use modutils_core::config::modprobe::{KernelCmdline, LoadOptions};
use modutils_core::config::ModprobeConfig;
use modutils_core::Root;

/// Runs both sides on `dir` with the -C paths `paths` and compares.
fn compare(dir: &Path, paths: &[PathBuf]) -> Result<(), String> {
    let mut args: Vec<&OsStr> = vec![OsStr::new("-c"), OsStr::new("-d"), dir.as_os_str()];
    args.extend([OsStr::new("-S"), OsStr::new("1.0")]);
    for p in paths {
        args.extend([OsStr::new("-C"), p.as_os_str()]);
    }
    let kmod = run_kmod("modprobe", &args);
    if !kmod.status.success() {
        return Err(format!("kmod failed: {}", show(&kmod.stderr)));
    }

    let root = Root::system();
    let opts = LoadOptions {
        root: &root,
        config_paths: Some(paths.to_vec()),
        module_dir: Some(dir.join("lib/modules/1.0")),
        kernel_cmdline: KernelCmdline::Proc,
    };
    let loaded = ModprobeConfig::load(&opts);
    let ours_out = loaded.config.show_config();
    let ours_err: Vec<u8> = loaded
        .diagnostics
        .iter()
        .flat_map(|d| d.libkmod_line())
        .collect();

    let theirs_err = normalise_libkmod_prefix(&kmod.stderr);
    let mut problems = String::new();
    if ours_out != kmod.stdout {
        problems += &format!(
            "stdout differs\n--- kmod\n{}--- ours\n{}",
            show(&kmod.stdout),
            show(&ours_out)
        );
    }
    if ours_err != theirs_err {
        problems += &format!(
            "stderr differs\n--- kmod\n{}--- ours\n{}",
            show(&theirs_err),
            show(&ours_err)
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn scenario_paths(dir: &Path) -> Vec<PathBuf> {
    let args = fs::read_to_string(dir.join("args")).expect("scenario args file");
    args.lines()
        .filter(|l| !l.is_empty())
        .map(|l| dir.join(l))
        .collect()
}

#[test]
fn corpus_matches_kmod() {
    let corpus = fixtures().join("modprobe.d-corpus");
    let mut scenarios: Vec<PathBuf> = fs::read_dir(&corpus)
        .expect("corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("args").is_file())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 14, "corpus incomplete: {scenarios:?}");

    let mut failures = Vec::new();
    for dir in &scenarios {
        if let Err(e) = compare(dir, &scenario_paths(dir)) {
            failures.push(format!(
                "== {}\n{e}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
    eprintln!("{} modprobe.d scenarios match kmod", scenarios.len());
}

/// Scenarios too large to commit, written on the fly.
#[test]
fn generated_hostile_files_match_kmod() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let conf = dir.join("conf");
    fs::create_dir_all(&conf).unwrap();
    // A 1 MiB options line, and a 10,000-line continued line.
    fs::write(
        conf.join("long.conf"),
        format!("options big {}\nbogus\n", "v".repeat(1 << 20)),
    )
    .unwrap();
    let mut cont = String::from("options cont");
    for i in 0..10_000 {
        cont += &format!(" p{i}=1 \\\n");
    }
    cont += "end=1\nbogus after continuation\n";
    fs::write(conf.join("cont.conf"), cont).unwrap();
    // Many small files, exercising the sorted merge.
    for i in 0..500 {
        fs::write(
            conf.join(format!("many-{:03}.conf", (i * 7919) % 500)),
            format!("alias a{i} m{i}\n"),
        )
        .unwrap();
    }
    compare(dir, &[conf]).unwrap_or_else(|e| panic!("{e}"));
}

/// Not a scenario directory of its own: the module directory that kmod is
/// given may be missing altogether.
#[test]
fn missing_module_directory_matches_kmod() {
    let t = tempfile::tempdir().unwrap();
    let conf = t.path().join("c.conf");
    fs::write(&conf, "softdep x pre: y\n").unwrap();
    compare(&t.path().join("nowhere"), &[conf]).unwrap_or_else(|e| panic!("{e}"));
}
