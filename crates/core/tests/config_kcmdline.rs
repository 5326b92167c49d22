//! The kernel command line against the oracle. kmod only reads the real
//! /proc/cmdline, so its outputs for each fixtures/modprobe.d-corpus/kcmdline/
//! case were recorded by regen.sh (kmod's modprobe under a private mount of
//! the case's `cmdline` over /proc/cmdline). Here our parser must reproduce
//! them byte for byte, up to the libkmod prefix of kmod <= 33 debug builds.
//! The live run on the machine's own /proc/cmdline is part of
//! config_modprobe.rs.

use std::fs;
use std::path::PathBuf;

use crate::config_support::{fixtures, normalise_libkmod_prefix, show};
use modutils_core::config::modprobe::{KernelCmdline, LoadOptions};
use modutils_core::config::ModprobeConfig;
use modutils_core::Root;

#[test]
fn recorded_cases_match() {
    let dir = fixtures().join("modprobe.d-corpus/kcmdline");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("kcmdline cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("cmdline").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "cases missing: {cases:?}");

    let root = Root::system();
    let mut failures = Vec::new();
    for case in &cases {
        let cmdline = fs::read(case.join("cmdline")).unwrap();
        let want_out = fs::read(case.join("expected.stdout")).expect("run regen.sh");
        let want_err = normalise_libkmod_prefix(&fs::read(case.join("expected.stderr")).unwrap());
        let opts = LoadOptions {
            root: &root,
            config_paths: Some(Vec::new()),
            module_dir: Some(case.join("lib/modules/1.0")),
            kernel_cmdline: KernelCmdline::Text(cmdline),
        };
        let loaded = ModprobeConfig::load(&opts);
        let out = loaded.config.show_config();
        let err: Vec<u8> = loaded
            .diagnostics
            .iter()
            .flat_map(|d| d.libkmod_line())
            .collect();
        if out != want_out || err != want_err {
            failures.push(format!(
                "== {}\n--- kmod\n{}{}--- ours\n{}{}",
                case.file_name().unwrap().to_string_lossy(),
                show(&want_out),
                show(&want_err),
                show(&out),
                show(&err)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
