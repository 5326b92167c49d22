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
use modutils_core::root::MODULE_DIRECTORY;
use modutils_core::{procfs, Root};

pub fn main(args: Vec<OsString>) -> i32 {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some((tool, words)) = words.split_first() else {
        eprintln!("usage: kmod __complete TOOL [WORD...]");
        return 1;
    };
    let root = Root::from_env();
    let names = match tool.as_str() {
        "rmmod" => loaded(&root),
        "modprobe" if words.iter().any(|w| is_remove(w)) => loaded(&root),
        "modprobe" => {
            let dir = module_dir(&root, words, ('d', "dirname"), ('S', "set-version"));
            text(Context::new(root, Some(dir)).module_names())
        }
        "modinfo" => {
            let dir = module_dir(&root, words, ('b', "basedir"), ('k', "set-version"));
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

/// `--remove`, or `-r` alone or in a group of modprobe's value-less flags.
fn is_remove(word: &str) -> bool {
    let group = |g: &str| g.chars().all(|c| "arRibfDcnsqvV".contains(c)) && g.contains('r');
    word == "--remove"
        || word
            .strip_prefix('-')
            .is_some_and(|g| !g.starts_with('-') && group(g))
}

fn loaded(root: &Root) -> Vec<String> {
    procfs::loaded_module_names(root).unwrap_or_default()
}

/// `<root option value>/lib/modules/<version option value or the running
/// kernel's release>`, reading the options as getopt would find them.
fn module_dir(root: &Root, words: &[String], base: (char, &str), ver: (char, &str)) -> PathBuf {
    let base = option_value(words, base).unwrap_or_default();
    let release = option_value(words, ver).unwrap_or_else(|| root.kernel_release());
    PathBuf::from(format!("{base}{MODULE_DIRECTORY}/{release}"))
}

/// The last value given to an option: `-xV`, `-x V`, `--long=V`, `--long V`.
fn option_value(words: &[String], (short, long): (char, &str)) -> Option<String> {
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let next = || words.get(i + 1).cloned();
        if w == "--" {
            break;
        }
        if let Some(rest) = w.strip_prefix("--") {
            if let Some(v) = rest.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            } else if rest == long {
                found = next();
                i += 1;
            }
        } else if let Some(rest) = w.strip_prefix('-').and_then(|r| r.strip_prefix(short)) {
            if rest.is_empty() {
                found = next();
                i += 1;
            } else {
                found = Some(rest.to_string());
            }
        }
        i += 1;
    }
    found
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

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_option_values_in_every_spelling() {
        let o = ('d', "dirname");
        assert_eq!(
            option_value(&w(&["-d", "/x", "m"]), o).as_deref(),
            Some("/x")
        );
        assert_eq!(option_value(&w(&["-d/x"]), o).as_deref(), Some("/x"));
        assert_eq!(
            option_value(&w(&["--dirname=/y"]), o).as_deref(),
            Some("/y")
        );
        assert_eq!(
            option_value(&w(&["--dirname", "/z"]), o).as_deref(),
            Some("/z")
        );
        assert_eq!(option_value(&w(&["--", "-d", "/x"]), o), None);
        assert_eq!(option_value(&w(&["-d"]), o), None);
    }

    #[test]
    fn remove_mode_is_seen_in_groups() {
        assert!(is_remove("-r"));
        assert!(is_remove("-vr"));
        assert!(is_remove("--remove"));
        assert!(!is_remove("--remove-holders"));
        assert!(!is_remove("-S"));
        assert!(!is_remove("-v"));
    }
}
