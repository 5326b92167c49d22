//! `kmod __complete TOOL [WORD...]`: the module names a shell completion
//! offers after `TOOL WORD...`, one per line. The installed bash, zsh and
//! fish completions call it (see docs/install.md); it is not listed by
//! `kmod help` because people have no use for it.
//!
//! * `rmmod`, and `modprobe` with `-r`/`--remove`: the loaded modules
//!   (`/proc/modules`).
//! * `modprobe`, `modinfo`: every module of the module directory
//!   (modules.dep.bin), and for modinfo the built-in ones too. The words
//!   already typed choose the directory as the tool would: modprobe's
//!   `-d DIR`/`-S VERSION`, modinfo's `-b DIR`/`-k VERSION`, in any of
//!   getopt's spellings.
//! * any other tool: nothing (insmod takes a file, which the shell
//!   completes itself).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use modutils_core::context::Context;
use modutils_core::{loaded, Root};

use crate::cli;

pub fn main(args: Vec<OsString>) -> i32 {
    let Some((tool, words)) = args.get(1..).and_then(<[OsString]>::split_first) else {
        eprintln!("usage: kmod __complete TOOL [WORD...]");
        return 1;
    };
    let root = Root::from_env();
    let names = match tool.to_str() {
        Some("rmmod") => loaded(&root),
        Some("modprobe") => {
            let given = cli::given(&(crate::modprobe::TOOL.options)(), words);
            if given.iter().any(|(name, _)| *name == "remove") {
                loaded(&root)
            } else {
                let dir = module_dir(&root, &given, "dirname", "set-version");
                text(Context::new(root, Some(dir)).module_names())
            }
        }
        Some("modinfo") => {
            let given = cli::given(&(crate::modinfo::TOOL.options)(), words);
            let dir = module_dir(&root, &given, "basedir", "set-version");
            let ctx = Context::new(root, Some(dir));
            let mut names = ctx.module_names();
            names.extend(ctx.builtin_names());
            names.sort();
            names.dedup();
            text(names)
        }
        _ => Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    for n in names {
        if writeln!(out, "{n}").is_err() {
            return 1;
        }
    }
    0
}

fn loaded(root: &Root) -> Vec<String> {
    loaded::names(root).unwrap_or_default()
}

type Given = [(&'static str, Option<OsString>)];

/// The module directory the tool would use with the options given: the
/// last value of each option wins, as in the tool.
fn module_dir(root: &Root, given: &Given, base: &str, release: &str) -> PathBuf {
    let last = |option: &str| {
        let values = given.iter().filter(|(name, _)| *name == option);
        values.rev().find_map(|(_, v)| v.as_deref())
    };
    root.module_dir(last(base), last(release))
}

/// Completion candidates are shell words; a name that is not UTF-8 could
/// not be typed back anyway, so it is left out.
fn text(names: Vec<Vec<u8>>) -> Vec<String> {
    names
        .into_iter()
        .filter_map(|n| String::from_utf8(n).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(table: &str, words: &[&str]) -> Vec<(&'static str, Option<OsString>)> {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        match table {
            "modprobe" => cli::given(crate::modprobe::options(), &words),
            _ => cli::given(crate::modinfo::options(), &words),
        }
    }

    fn dirname(words: &[&str]) -> Option<OsString> {
        let given = given("modprobe", words);
        let last = given.iter().rfind(|(name, _)| *name == "dirname");
        last.and_then(|(_, v)| v.clone())
    }

    #[test]
    fn finds_option_values_in_every_spelling() {
        assert_eq!(dirname(&["-d", "/x", "m"]), Some("/x".into()));
        assert_eq!(dirname(&["-d/x"]), Some("/x".into()));
        assert_eq!(dirname(&["--dirname=/y"]), Some("/y".into()));
        assert_eq!(dirname(&["--dirname", "/z"]), Some("/z".into()));
        assert_eq!(dirname(&["--", "-d", "/x"]), None);
        assert_eq!(dirname(&["-d"]), None);
    }

    #[test]
    fn remove_mode_is_seen_in_groups() {
        let is_remove = |w: &str| given("modprobe", &[w]).iter().any(|(n, _)| *n == "remove");
        assert!(is_remove("-r"));
        assert!(is_remove("-vr"));
        assert!(is_remove("--remove"));
        assert!(!is_remove("--remove-holders"));
        assert!(!is_remove("-S"));
        assert!(!is_remove("-v"));
    }

    #[test]
    fn the_last_value_chooses_the_directory() {
        let root = Root::at("/nonexistent");
        let given = given("modinfo", &["-b", "/a", "-k", "1", "--basedir=/b", "m"]);
        let dir = module_dir(&root, &given, "basedir", "set-version");
        assert_eq!(dir, PathBuf::from("/b/lib/modules/1"));
    }
}
