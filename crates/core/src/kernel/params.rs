//! Module parameters from the command line, joined into the one string the
//! kernel takes.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Joins module parameters given as separate arguments into the one
/// string the kernel takes, as kmod's tools do: each argument is preceded
/// by a space once the string is not empty (so empty arguments before the
/// first option vanish, later ones leave extra spaces), and
/// `key=value with spaces` is quoted as `key="value with spaces"` unless
/// the value already starts with a quote.
pub fn join_params(args: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.as_bytes();
        if !out.is_empty() {
            out.push(b' ');
        }
        match arg.iter().position(|&b| b == b'=') {
            Some(eq)
                if !matches!(arg.get(eq + 1), Some(b'"') | Some(b'\''))
                    && arg[eq + 1..].contains(&b' ') =>
            {
                out.extend_from_slice(&arg[..=eq]);
                out.push(b'"');
                out.extend_from_slice(&arg[eq + 1..]);
                out.push(b'"');
            }
            _ => out.extend_from_slice(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn params_are_joined_and_quoted_like_kmod() {
        assert_eq!(join_params(&os(&[])), b"");
        assert_eq!(join_params(&os(&["param=5"])), b"param=5");
        assert_eq!(join_params(&os(&["a=1", "b"])), b"a=1 b");
        assert_eq!(join_params(&os(&["name=two words"])), b"name=\"two words\"");
        assert_eq!(
            join_params(&os(&["name=\"quoted already\""])),
            b"name=\"quoted already\""
        );
        assert_eq!(join_params(&os(&["name='single q'"])), b"name='single q'");
        assert_eq!(join_params(&os(&["no equals here"])), b"no equals here");
        assert_eq!(join_params(&os(&["k=v=w x"])), b"k=\"v=w x\"");
        // kmod's separator depends on what is already there, not on the
        // argument's position (checked against kmod's modprobe -n -v).
        assert_eq!(join_params(&os(&["", "x=1"])), b"x=1");
        assert_eq!(join_params(&os(&["", ""])), b"");
        assert_eq!(join_params(&os(&["x=1", "", "y=2", ""])), b"x=1  y=2 ");
    }
}
