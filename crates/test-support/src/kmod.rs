//! kmod, the oracle.
//!
//! The oracle is the kmod installed by the distribution's package (Debian
//! 12's kmod 30, which `tests/setup.sh` installs), found in the system
//! directories and nowhere else: not through `PATH`, so that a shell
//! whose `PATH` starts with our own build never compares us with
//! ourselves. Every suite finds it this one way. A missing oracle is a
//! failure, never a skipped test.

use std::path::PathBuf;

const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// kmod's tool `name` (modprobe, depmod, modinfo, insmod, rmmod, lsmod,
/// kmod).
pub fn tool(name: &str) -> PathBuf {
    SYSTEM_DIRS
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "kmod's {name} is not installed, and the tests compare against it: \
                 run tests/run (it installs Debian's kmod), or apt-get install kmod"
            )
        })
}

/// Rewrites the library messages of kmod up to 33 (Debian's kmod 30 is
/// built with debug locations), `libkmod: ERROR ../libkmod/file.c:NNN fn: …`,
/// into kmod 34.2's `libkmod: ERROR: fn: …`, and leaves every other byte
/// alone (docs/compat.md, "kmod 30 and 34.2").
pub fn normalise_libkmod_prefix(stderr: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&c| c == b'\n') {
        match rewrite_line(line) {
            Some(new) => out.extend_from_slice(&new),
            None => out.extend_from_slice(line),
        }
    }
    out
}

fn rewrite_line(line: &[u8]) -> Option<Vec<u8>> {
    let rest = line.strip_prefix(b"libkmod: ")?;
    let (level, rest) = split_word(rest)?;
    if level.is_empty() || !level.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    // `<file>.c:<line> `
    let (loc, rest) = split_word(rest)?;
    let colon = loc.iter().rposition(|&c| c == b':')?;
    let (file, number) = (&loc[..colon], &loc[colon + 1..]);
    if !file.ends_with(b".c") || number.is_empty() || !number.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = b"libkmod: ".to_vec();
    out.extend_from_slice(level);
    out.extend_from_slice(b": ");
    out.extend_from_slice(rest);
    Some(out)
}

/// The bytes before the first space and those after it.
fn split_word(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = s.iter().position(|&c| c == b' ')?;
    Some((&s[..sp], &s[sp + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_debug_prefix_is_rewritten() {
        let kmod30 =
            b"libkmod: ERROR ../libkmod/libkmod-config.c:712 kmod_config_parse: f line 1: x\nother\n";
        assert_eq!(
            normalise_libkmod_prefix(kmod30),
            b"libkmod: ERROR: kmod_config_parse: f line 1: x\nother\n"
        );
        let kmod34 = b"libkmod: ERROR: kmod_config_parse: f line 1: x\n";
        assert_eq!(normalise_libkmod_prefix(kmod34), kmod34);
        let no_newline = b"libkmod: DEBUG ../libkmod/libkmod.c:1 kmod_new: ctx";
        assert_eq!(
            normalise_libkmod_prefix(no_newline),
            b"libkmod: DEBUG: kmod_new: ctx"
        );
        let not_a_location = b"libkmod: ERROR x.c:1a f: y\n";
        assert_eq!(normalise_libkmod_prefix(not_a_location), not_a_location);
    }
}
