//! depmod.d: where depmod looks for modules and which copy of a module wins.
//!
//! Directives: `search` (subdirectories of the module directory, plus the
//! keywords `built-in` and `external`), `override MODNAME KVER SUBDIR`,
//! `external KVER DIR` and `exclude NAME...`. KVER is `*` or a POSIX
//! extended regular expression searched (unanchored) in the kernel version,
//! as in kmod, which hands it to glibc's `regcomp`/`regexec`; here
//! [`super::kver`] parses it as glibc does and matches it with bounded time
//! and memory.
//!
//! [`DepmodConfig::existing_wins`] is kmod's duplicate-module ranking
//! (`depmod_module_is_higher_priority`), quirks included.

use std::path::{Path, PathBuf};

use super::files::{self, ConfList, Flavor};
use super::kver::KverPattern;
use super::lines::{lines, Line};
use super::msg;
use crate::diagnostics::{errno_of, strerror, Level, Sink};
use crate::name::modname_normalize;
use crate::Root;

/// The default config directories, highest precedence first (target paths;
/// `/usr/lib` is Debian's DISTCONFDIR).
pub const DEFAULT_DIRS: [&str; 5] = [
    "/etc/depmod.d",
    "/run/depmod.d",
    "/usr/local/lib/depmod.d",
    "/usr/lib/depmod.d",
    "/lib/depmod.d",
];

/// One `search` word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// A directory relative to the module directory.
    Path(Vec<u8>),
    /// `built-in`: the module directory itself (whatever no entry claims).
    BuiltIn,
    /// `external`: the `external` directories, at this rank.
    External,
}

/// `override MODNAME KVER SUBDIR` (only those whose KVER matched are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The module the override applies to, as written (dashes kept).
    pub modname: Vec<u8>,
    /// The directory, relative to the module directory, whose copy of the module wins.
    pub subdir: Vec<u8>,
}

impl Override {
    /// `SUBDIR/MODNAME`, compared with a module's relative path without its
    /// extension, spelled as on disk (a `-` is not normalised).
    pub fn key(&self) -> Vec<u8> {
        msg(&[&self.subdir, b"/", &self.modname])
    }
}

/// How to load depmod.d.
#[derive(Debug, Clone)]
pub struct LoadOptions<'a> {
    /// The root the configuration is read under.
    pub root: &'a Root,
    /// `-C` paths, replacing [`DEFAULT_DIRS`].
    pub config_paths: Option<Vec<PathBuf>>,
    /// The kernel version depmod works for, matched against KVER.
    pub kernel_version: Vec<u8>,
}

/// The configuration, every list in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepmodConfig {
    /// `search` words; just `updates` when there were none at all.
    pub searches: Vec<Search>,
    /// `override` lines whose KVER matched the kernel version.
    pub overrides: Vec<Override>,
    /// Absolute directories scanned after the module directory, in config
    /// order; depmod scans them last-listed first ([`Self::externals_in_scan_order`]).
    pub externals: Vec<Vec<u8>>,
    /// Directory entry names skipped anywhere in the scan.
    pub excludes: Vec<Vec<u8>>,
}

impl DepmodConfig {
    /// Reads the config files, reporting to `diags` in depmod's order (the
    /// tool logger prints them, [`Diagnostic::tool_line`](crate::diagnostics::Diagnostic::tool_line)).
    pub fn load(opts: &LoadOptions<'_>, diags: &mut dyn Sink) -> DepmodConfig {
        let mut list = ConfList::default();
        match &opts.config_paths {
            Some(paths) => {
                for p in paths {
                    list.add_path(opts.root, p, Flavor::Depmod, diags);
                }
            }
            None => {
                for p in DEFAULT_DIRS {
                    list.add_path(opts.root, Path::new(p), Flavor::Depmod, diags);
                }
            }
        }
        let mut cfg = DepmodConfig::default();
        for file in &list.files {
            let handle = match files::open_config(&file.host) {
                Ok(h) => h,
                Err(e) => {
                    let err = strerror(errno_of(&e));
                    diags.log_from(
                        "cfg_file_parse",
                        Level::Err,
                        &msg(&[b"file parse ", &file.display, b": ", err.as_bytes()]),
                    );
                    continue;
                }
            };
            let contents = files::read_config(handle);
            cfg.parse(&file.display, &contents.data, &opts.kernel_version, diags);
            if contents.truncated {
                diags.log_from(
                    "cfg_file_parse",
                    Level::Err,
                    &files::truncated_message(&file.display),
                );
            }
        }
        cfg.finish();
        cfg
    }

    /// Parses one file's contents; `file` is the name used in messages.
    /// Call [`Self::finish`] after the last file.
    pub fn parse(&mut self, file: &[u8], data: &[u8], kver: &[u8], diags: &mut dyn Sink) {
        for line in lines(data) {
            self.parse_line(file, &line, kver, diags);
        }
    }

    /// Applies the default search list when no `search` word was given.
    pub fn finish(&mut self) {
        if self.searches.is_empty() {
            self.searches.push(Search::Path(b"updates".to_vec()));
        }
    }

    fn parse_line(&mut self, file: &[u8], line: &Line, kver: &[u8], diags: &mut dyn Sink) {
        if line.is_blank_or_comment() {
            return;
        }
        let mut t = line.tokens();
        let Some(cmd) = t.word() else { return };
        let at = || msg(&[file, b":", line.number.to_string().as_bytes(), b": "]);
        let info = |diags: &mut dyn Sink, text: &[u8]| {
            diags.log_from("cfg_file_parse", Level::Info, &msg(&[&at(), text]));
        };
        let ok = match cmd {
            b"search" => {
                while let Some(w) = t.word() {
                    self.searches.push(match w {
                        b"built-in" => Search::BuiltIn,
                        b"external" => Search::External,
                        _ => Search::Path(w.to_vec()),
                    });
                }
                true
            }
            b"override" => match (t.word(), t.word(), t.word()) {
                (Some(modname), Some(version), Some(subdir)) => {
                    if kernel_matches(version, kver) {
                        self.overrides.push(Override {
                            modname: modname.to_vec(),
                            subdir: subdir.to_vec(),
                        });
                    } else {
                        info(diags, &msg(&[b"override kernel did not match ", version]));
                    }
                    true
                }
                _ => false,
            },
            b"external" => match (t.word(), t.word()) {
                (Some(version), Some(dir)) => {
                    if kernel_matches(version, kver) {
                        self.externals.push(dir.to_vec());
                    } else {
                        info(
                            diags,
                            &msg(&[b"external directory did not match ", version]),
                        );
                    }
                    true
                }
                _ => false,
            },
            b"exclude" => {
                while let Some(w) = t.word() {
                    self.excludes.push(w.to_vec());
                }
                true
            }
            b"include" | b"make_map_files" => {
                info(diags, &msg(&[b"command ", cmd, b" not implemented yet"]));
                true
            }
            _ => false,
        };
        if !ok {
            diags.log_from(
                "cfg_file_parse",
                Level::Err,
                &msg(&[&at(), b"ignoring bad line starting with '", cmd, b"'"]),
            );
        }
    }

    /// The external directories in the order depmod scans them (kmod keeps
    /// them in a list it prepends to, so the last one written comes first).
    pub fn externals_in_scan_order(&self) -> impl Iterator<Item = &[u8]> {
        self.externals.iter().rev().map(Vec::as_slice)
    }

    /// Whether a directory entry named `name` is skipped by the scan: `.`,
    /// `..`, `build`, `source` and every `exclude` word. kmod checks this
    /// for every entry, files included.
    pub fn is_excluded(&self, name: &[u8]) -> bool {
        matches!(name, b"." | b".." | b"build" | b"source")
            || self.excludes.iter().any(|e| e == name)
    }

    /// Whether the module already found at `existing` stays when `candidate`
    /// has the same module name; both are full paths as depmod builds them
    /// (`module_dir` + `/` + relative path, or under an external directory).
    ///
    /// 1. Overrides, last written first: the candidate's path matching wins
    ///    for it, else the existing one's.
    /// 2. Otherwise ranks from the search list read backwards (the last word
    ///    ranks 0); `external` takes one rank per external directory, and
    ///    unranked paths get the `built-in` rank (or -1). The candidate
    ///    replaces only with a strictly higher rank, so ties keep the module
    ///    found first. When both paths fall under the same search word only
    ///    the candidate gets its rank (kmod tests it first), so the later
    ///    file wins.
    pub fn existing_wins(&self, module_dir: &[u8], existing: &[u8], candidate: &[u8]) -> bool {
        let (new_len, old_len) = (stem_len(candidate), stem_len(existing));
        let rel_new = relative(module_dir, candidate, new_len);
        let rel_old = relative(module_dir, existing, old_len);

        for ov in self.overrides.iter().rev() {
            let key = ov.key();
            if rel_new == Some(key.as_slice()) {
                return false;
            }
            if rel_old == Some(key.as_slice()) {
                return true;
            }
        }

        let under = |rel: Option<&[u8]>, dir: &[u8]| {
            rel.is_some_and(|r| r.len() > dir.len() && r[dir.len()] == b'/' && r.starts_with(dir))
        };
        let (mut builtin, mut old_prio, mut new_prio) = (-1i64, -1i64, -1i64);
        let mut i = 0i64;
        for se in self.searches.iter().rev() {
            match se {
                Search::BuiltIn => builtin = i,
                Search::External => {
                    for ext in self.externals.iter().rev() {
                        if under(Some(&candidate[..new_len]), ext) {
                            new_prio = i;
                        }
                        if under(Some(&existing[..old_len]), ext) {
                            old_prio = i;
                        }
                        i += 1;
                    }
                }
                Search::Path(dir) => {
                    if under(rel_new, dir) {
                        new_prio = i;
                    } else if under(rel_old, dir) {
                        old_prio = i;
                    }
                }
            }
            i += 1;
        }
        if new_prio < 0 {
            new_prio = builtin;
        }
        if old_prio < 0 {
            old_prio = builtin;
        }
        new_prio <= old_prio
    }
}

/// Length of `path` up to the end of its module name: the directory part
/// with its `/`, then the normalised name's length (which equals the on-disk
/// length up to the first `.`).
fn stem_len(path: &[u8]) -> usize {
    let base = path.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    base + modname_normalize(&path[base..]).len()
}

/// The part of `path[..len]` after `module_dir` and one more byte (kmod
/// checks the prefix but not that the next byte is a `/`).
fn relative<'p>(module_dir: &[u8], path: &'p [u8], len: usize) -> Option<&'p [u8]> {
    if !path.starts_with(module_dir) {
        return None;
    }
    let start = module_dir.len() + 1;
    (len >= start).then(|| &path[start..len])
}

/// KVER matching, as kmod's: `*` matches every version; anything else is a
/// POSIX extended regular expression searched (unanchored) in the version,
/// with glibc's syntax and answers (see [`super::kver`], which matches it
/// without glibc so no pattern can take unbounded time or memory). A pattern
/// that does not compile matches nothing.
pub fn kernel_matches(pattern: &[u8], kver: &[u8]) -> bool {
    pattern == b"*" || KverPattern::new(pattern).is_ok_and(|p| p.is_match(kver))
}

#[cfg(test)]
#[path = "depmod_tests.rs"]
mod tests;
