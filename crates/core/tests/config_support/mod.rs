//! Shared by the config oracle tests: finding kmod's tools and removing the
//! one difference in their messages that kmod 30 (the oracle a Debian-based
//! CI installs) is known to have from kmod 34.2.

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

/// kmod's `name` tool (modprobe, depmod). The suite relies on kmod being
/// installed: a missing oracle is a failure, never a skip.
pub fn kmod_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "kmod's `{name}` is not installed, but these tests compare against it: \
         install kmod (e.g. `apt-get install -y kmod`)"
    );
}

/// Runs a kmod tool with an environment that cannot change its behaviour.
pub fn run_kmod(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(kmod_tool(name))
        .args(args)
        .env_remove("MODPROBE_OPTIONS")
        .env_remove("KMOD_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

/// kmod <= 33 debug builds (Debian's kmod 30) print libkmod messages as
/// `libkmod: ERROR ../libkmod/libkmod-config.c:712 kmod_config_parse: ...`;
/// kmod 34.2 prints `libkmod: ERROR: kmod_config_parse: ...`. This rewrites
/// the former into the latter and leaves every other byte alone.
pub fn normalise_libkmod_prefix(stderr: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&c| c == b'\n') {
        out.extend_from_slice(&rewrite_line(line).unwrap_or_else(|| line.to_vec()));
    }
    out
}

fn rewrite_line(line: &[u8]) -> Option<Vec<u8>> {
    let rest = line.strip_prefix(b"libkmod: ")?;
    let sp = rest.iter().position(|&c| c == b' ')?;
    let (level, rest) = (&rest[..sp], &rest[sp + 1..]);
    if level.is_empty() || !level.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    // `<file>:<line> `
    let sp = rest.iter().position(|&c| c == b' ')?;
    let (loc, rest) = (&rest[..sp], &rest[sp + 1..]);
    let colon = loc.iter().rposition(|&c| c == b':')?;
    if !loc[..colon].ends_with(b".c") || !loc[colon + 1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = b"libkmod: ".to_vec();
    out.extend_from_slice(level);
    out.extend_from_slice(b": ");
    out.extend_from_slice(rest);
    Some(out)
}

/// Shows bytes readably in assertion messages.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn prefix_normalisation_touches_only_the_debug_prefix() {
    let kmod30 =
        b"libkmod: ERROR ../libkmod/libkmod-config.c:712 kmod_config_parse: f line 1: x\nother\n";
    assert_eq!(
        normalise_libkmod_prefix(kmod30),
        b"libkmod: ERROR: kmod_config_parse: f line 1: x\nother\n"
    );
    let kmod34 = b"libkmod: ERROR: kmod_config_parse: f line 1: x\n";
    assert_eq!(normalise_libkmod_prefix(kmod34), kmod34);
}
