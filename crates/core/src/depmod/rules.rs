//! The depmod.d rules that steer the scan (`search`, `override`, `external`,
//! `exclude`) and kmod's rule for choosing between two files that provide
//! the same module name.

/// One token of a `search` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// `built-in`: the rank of paths no other entry matches.
    BuiltIn,
    /// `external`: the rank of the `external` directories.
    External,
    /// A directory relative to the module directory, e.g. `updates`.
    Dir(Vec<u8>),
}

/// `override MODNAME KVER SUBDIR` whose KVER matched the kernel version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The module's name as spelled in its file name (dashes are not normalised).
    pub modname: Vec<u8>,
    /// Directory relative to the module directory.
    pub subdir: Vec<u8>,
}

/// The parsed depmod.d configuration, every list in configuration order.
/// Version-conditional directives (`override`, `external`) must already be
/// filtered by kernel version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub search: Vec<Search>,
    pub overrides: Vec<Override>,
    /// Absolute directories, scanned after the module directory.
    pub externals: Vec<Vec<u8>>,
    /// Directory (and file) names skipped anywhere in the scan.
    pub excludes: Vec<Vec<u8>>,
}

/// What the priority rule looks at for one candidate file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    /// The path up to and including the module-name-long part of the file
    /// name: `<dir>/<stem>` (the extension cut off).
    pub stem_path: &'a [u8],
    /// The same relative to the module directory, when the path starts with
    /// it (a plain prefix test, as in kmod).
    pub stem_rel: Option<&'a [u8]>,
}

impl Rules {
    /// Whether `new` replaces `old` for the same module name.
    ///
    /// kmod keeps its lists newest-first, so every list is walked from the
    /// last configured entry. Ranks grow along the walk: an entry listed
    /// earlier ranks higher. Within one entry the new path is tested first,
    /// and the old one only if the new one did not match: when both sit
    /// under the same entry only the new one gets that rank, so the file
    /// scanned later wins.
    pub(crate) fn new_wins(&self, new: Candidate<'_>, old: Candidate<'_>) -> bool {
        for ov in self.overrides.iter().rev() {
            let matches = |rel: Option<&[u8]>| {
                rel.is_some_and(|r| {
                    r.len() == ov.subdir.len() + 1 + ov.modname.len()
                        && r.starts_with(&ov.subdir)
                        && r[ov.subdir.len()] == b'/'
                        && r.ends_with(&ov.modname)
                })
            };
            if matches(new.stem_rel) {
                return true;
            }
            if matches(old.stem_rel) {
                return false;
            }
        }

        let (mut builtin, mut new_rank, mut old_rank) = (-1i64, -1i64, -1i64);
        let mut i = 0i64;
        // With no `search` line at all kmod acts as if `search updates` were
        // configured (so `built-in` has no rank).
        let implicit = [Search::Dir(b"updates".to_vec())];
        let search = if self.search.is_empty() {
            &implicit[..]
        } else {
            &self.search[..]
        };
        for entry in search.iter().rev() {
            match entry {
                Search::BuiltIn => builtin = i,
                Search::External => {
                    for ext in self.externals.iter().rev() {
                        if new.stem_path.starts_with(ext) {
                            new_rank = i;
                        } else if old.stem_path.starts_with(ext) {
                            old_rank = i;
                        }
                        i += 1;
                    }
                }
                Search::Dir(dir) => {
                    let under = |rel: Option<&[u8]>| {
                        rel.is_some_and(|r| {
                            r.len() > dir.len() && r[dir.len()] == b'/' && r.starts_with(dir)
                        })
                    };
                    if under(new.stem_rel) {
                        new_rank = i;
                    } else if under(old.stem_rel) {
                        old_rank = i;
                    }
                }
            }
            i += 1;
        }
        if new_rank < 0 {
            new_rank = builtin;
        }
        if old_rank < 0 {
            old_rank = builtin;
        }
        new_rank > old_rank
    }

    /// Whether the scan skips a directory entry of this name.
    pub(crate) fn excluded(&self, name: &[u8]) -> bool {
        name == b"build" || name == b"source" || self.excludes.iter().any(|e| e == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(rel: &'static str) -> Candidate<'static> {
        Candidate {
            stem_path: rel.as_bytes(),
            stem_rel: Some(rel.as_bytes()),
        }
    }

    #[test]
    fn implicit_updates_beats_everything_else() {
        let r = Rules::default();
        assert!(r.new_wins(cand("updates/foo"), cand("kernel/foo")));
        assert!(!r.new_wins(cand("kernel/foo"), cand("updates/foo")));
        // Ties keep the first one found.
        assert!(!r.new_wins(cand("extra/foo"), cand("kernel/foo")));
    }

    #[test]
    fn earlier_search_entries_rank_higher() {
        let r = Rules {
            search: vec![
                Search::Dir(b"kernel".to_vec()),
                Search::Dir(b"extra".to_vec()),
            ],
            ..Rules::default()
        };
        assert!(r.new_wins(cand("kernel/foo"), cand("extra/foo")));
        assert!(!r.new_wins(cand("extra/foo"), cand("kernel/foo")));
        // Same entry: the newer file wins.
        assert!(r.new_wins(cand("kernel/a/foo"), cand("kernel/b/foo")));
    }

    #[test]
    fn last_override_is_consulted_first() {
        let ov = |d: &str| Override {
            modname: b"foo".to_vec(),
            subdir: d.as_bytes().to_vec(),
        };
        let r = Rules {
            overrides: vec![ov("extra"), ov("updates")],
            ..Rules::default()
        };
        assert!(r.new_wins(cand("updates/foo"), cand("extra/foo")));
        assert!(!r.new_wins(cand("extra/foo"), cand("updates/foo")));
    }
}
