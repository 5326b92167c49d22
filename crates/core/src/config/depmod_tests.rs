//! Unit tests of depmod.d parsing and duplicate ranking. The comparison with
//! kmod's own depmod is in tests/config_depmod.rs.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::diagnostics::Diagnostic;

fn parsed(text: &str, kver: &str) -> (DepmodConfig, Vec<String>) {
    let mut c = DepmodConfig::default();
    let mut d = Vec::new();
    c.parse(b"d.conf", text.as_bytes(), kver.as_bytes(), &mut d);
    c.finish();
    (
        c,
        d.iter()
            .map(|d| String::from_utf8_lossy(&d.tool_line("depmod")).into_owned())
            .collect(),
    )
}

#[test]
fn directives() {
    let (c, d) = parsed(
        "search updates built-in\nsearch\nsearch extra external\n\
         override mod-a 1.* extra\noverride b ^2 extra\noverride c * weird\n\
         external 1.0 /e1\nexternal ^9 /e9\nexternal * /e2\n\
         exclude foo bar\n",
        "1.0",
    );
    assert_eq!(
        c.searches,
        [
            Search::Path(b"updates".to_vec()),
            Search::BuiltIn,
            Search::Path(b"extra".to_vec()),
            Search::External
        ]
    );
    assert_eq!(
        c.overrides.iter().map(Override::key).collect::<Vec<_>>(),
        [b"extra/mod-a".to_vec(), b"weird/c".to_vec()]
    );
    assert_eq!(c.externals, [b"/e1".to_vec(), b"/e2".to_vec()]);
    assert!(
        c.is_excluded(b"foo")
            && c.is_excluded(b"build")
            && c.is_excluded(b"..")
            && !c.is_excluded(b"kernel")
    );
    assert_eq!(
        d,
        [
            "depmod: INFO: d.conf:5: override kernel did not match ^2\n",
            "depmod: INFO: d.conf:8: external directory did not match ^9\n"
        ]
    );
}

#[test]
fn implicit_updates_only_without_any_search_word() {
    let (c, _) = parsed("search\n", "1");
    assert_eq!(c.searches, [Search::Path(b"updates".to_vec())]);
    let (c, _) = parsed("search built-in\n", "1");
    assert_eq!(c.searches, [Search::BuiltIn]);
}

#[test]
fn messages() {
    let (_, d) = parsed(
        "  #x\noverride\noverride a b\nexternal 1\ninclude x\nmake_map_files\nbogus line\n\\\n",
        "1",
    );
    assert_eq!(
        d,
        [
            "depmod: ERROR: d.conf:1: ignoring bad line starting with '#x'\n",
            "depmod: ERROR: d.conf:2: ignoring bad line starting with 'override'\n",
            "depmod: ERROR: d.conf:3: ignoring bad line starting with 'override'\n",
            "depmod: ERROR: d.conf:4: ignoring bad line starting with 'external'\n",
            "depmod: INFO: d.conf:5: command include not implemented yet\n",
            "depmod: INFO: d.conf:6: command make_map_files not implemented yet\n",
            "depmod: ERROR: d.conf:7: ignoring bad line starting with 'bogus'\n",
        ]
    );
}

#[test]
fn kernel_version_patterns() {
    assert!(kernel_matches(b"*", b"anything"));
    // Unanchored search.
    assert!(kernel_matches(b"1.*", b"2.1"));
    assert!(kernel_matches(b"^6\\.1[0-9]", b"6.18.44"));
    assert!(!kernel_matches(b"^6\\.1$", b"6.18"));
    assert!(kernel_matches(b"(5|6)\\.[[:digit:]]+", b"6.1"));
    // A pattern that does not compile matches nothing.
    assert!(!kernel_matches(b"(", b"("));
    assert!(!kernel_matches(b"a\0", b"a"));
}

const DIR: &[u8] = b"/lib/modules/1.0";

fn wins(c: &DepmodConfig, existing: &str, candidate: &str) -> bool {
    let abs = |p: &str| {
        if p.starts_with('/') {
            p.as_bytes().to_vec()
        } else {
            msg(&[DIR, b"/", p.as_bytes()])
        }
    };
    c.existing_wins(DIR, &abs(existing), &abs(candidate))
}

#[test]
fn ranking_default_search_is_updates() {
    let (c, _) = parsed("", "1.0");
    assert!(!wins(&c, "kernel/a.ko", "updates/a.ko"));
    assert!(wins(&c, "updates/a.ko", "kernel/a.ko"));
    // No rank on either side: the module found first stays, as in kmod
    // (so between kernel/ and extra/ the directory order decides).
    assert!(wins(&c, "kernel/a.ko", "extra/a.ko"));
    assert!(wins(&c, "extra/a.ko", "kernel/a.ko"));
}

#[test]
fn ranking_follows_search_order_with_built_in() {
    let (c, _) = parsed("search updates extra built-in\n", "1.0");
    assert!(!wins(&c, "kernel/a.ko", "extra/a.ko"));
    assert!(!wins(&c, "extra/a.ko", "updates/a.ko"));
    assert!(wins(&c, "updates/a.ko", "extra/a.ko"));
    // built-in ranks the unlisted directories.
    let (c, _) = parsed("search built-in extra\n", "1.0");
    assert!(wins(&c, "kernel/a.ko", "extra/a.ko"));
    assert!(!wins(&c, "extra/a.ko", "kernel/a.ko"));
}

#[test]
fn ranking_quirk_same_search_entry_later_wins() {
    let (c, _) = parsed("search kernel\n", "1.0");
    assert!(!wins(&c, "kernel/x/a.ko", "kernel/y/a.ko"));
    assert!(!wins(&c, "kernel/y/a.ko", "kernel/x/a.ko"));
    // The prefix must be followed by '/'.
    assert!(wins(&c, "kernel2/a.ko", "kernelx/a.ko"));
}

#[test]
fn ranking_externals() {
    let (c, _) = parsed(
        "search external built-in\nexternal * /e1\nexternal * /e2\n",
        "1.0",
    );
    // Ranks, last word first: built-in 0, /e2 1, /e1 2.
    assert!(!wins(&c, "kernel/a.ko", "/e1/a.ko"));
    assert!(!wins(&c, "kernel/a.ko", "/e2/a.ko"));
    assert!(wins(&c, "/e1/a.ko", "/e2/a.ko"));
    assert!(!wins(&c, "/e2/a.ko", "/e1/a.ko"));
    assert!(wins(&c, "/e1/a.ko", "/e1x/a.ko"));
    // Without an `external` word, externals get the built-in rank.
    let (c, _) = parsed("search updates\nexternal * /e1\n", "1.0");
    assert!(wins(&c, "kernel/a.ko", "/e1/a.ko"));
    assert!(!wins(&c, "/e1/a.ko", "updates/a.ko"));
}

#[test]
fn ranking_overrides() {
    let (c, _) = parsed("search updates\noverride a * extra\n", "1.0");
    assert!(!wins(&c, "updates/a.ko", "extra/a.ko"));
    assert!(wins(&c, "extra/a.ko", "updates/a.ko"));
    // The key is the on-disk spelling up to the first '.'.
    let (c, _) = parsed("override mod-simple * extra\n", "1.0");
    assert!(!wins(&c, "updates/mod-simple.ko", "extra/mod-simple.ko.xz"));
    assert!(!wins(&c, "extra/mod_simple.ko", "updates/mod_simple.ko"));
    // The last override line is tried first.
    let (c, _) = parsed("override a * extra\noverride a * updates\n", "1.0");
    assert!(!wins(&c, "extra/a.ko", "updates/a.ko"));
    assert!(wins(&c, "updates/a.ko", "extra/a.ko"));
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn loading_default_dirs_under_a_root() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "/etc/depmod.d/a.conf", "search etc\n");
    write(r, "/lib/depmod.d/a.conf", "search lib\n");
    write(r, "/usr/lib/depmod.d/b.conf", "search usrlib\n");
    write(r, "/run/depmod.d/notes.txt", "search txt\n");
    fs::create_dir_all(r.join("run/depmod.d/sub.conf")).unwrap();
    let root = Root::at(r);
    let opts = LoadOptions {
        root: &root,
        config_paths: None,
        kernel_version: b"1.0".to_vec(),
    };
    let mut d: Vec<Diagnostic> = Vec::new();
    let c = DepmodConfig::load(&opts, &mut d);
    assert_eq!(
        c.searches,
        [
            Search::Path(b"etc".to_vec()),
            Search::Path(b"usrlib".to_vec())
        ]
    );
    let d: Vec<String> = d
        .iter()
        .map(|d| String::from_utf8_lossy(&d.tool_line("depmod")).into_owned())
        .collect();
    let mut sorted = d.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "depmod: ERROR: Directories inside directories are not supported: /run/depmod.d/sub.conf\n",
            "depmod: INFO: All cfg files need .conf: /run/depmod.d/notes.txt\n",
        ]
    );

    let opts = LoadOptions {
        root: &root,
        config_paths: Some(vec![PathBuf::from("/lib/depmod.d/a.conf")]),
        kernel_version: b"1.0".to_vec(),
    };
    assert_eq!(
        DepmodConfig::load(&opts, &mut Vec::<Diagnostic>::new()).searches,
        [Search::Path(b"lib".to_vec())]
    );
}
