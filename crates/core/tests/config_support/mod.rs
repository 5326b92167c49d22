//! Shared by the config oracle tests: the fixtures, and running kmod's
//! tools (found, and their messages normalised, by modutils-test-support).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .canonicalize()
        .expect("fixtures dir")
}

pub use modutils_test_support::kmod::{normalise_libkmod_prefix, tool as kmod_tool};

/// Runs a kmod tool with an environment that cannot change its behaviour.
pub fn run_kmod(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(kmod_tool(name))
        .args(args)
        .env_remove("MODPROBE_OPTIONS")
        .env_remove("KMOD_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

/// Shows bytes readably in assertion messages.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
