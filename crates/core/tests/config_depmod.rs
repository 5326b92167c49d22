//! depmod.d against the oracle: kmod's `depmod -n` runs live on small module
//! trees (empty `.ko` files are enough: depmod lists a module whose symbols
//! it cannot read) and the modules it keeps must be the ones our
//! `DepmodConfig::existing_wins` keeps when fed the same readdir order.
//! Config messages must match too (the tool logger's format).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::config_support::{run_kmod, show};
use modutils_core::config::depmod::{DepmodConfig, LoadOptions};
use modutils_core::config::Diagnostic;
use modutils_core::name::modname_from_path_bytes;
use modutils_core::Root;

const KVER: &str = "1.0";

struct Scenario {
    name: &'static str,
    /// Files under the module directory.
    modules: &'static [&'static str],
    /// Files under external directories `ext1`, `ext2`, ... (`$E` below).
    externals: &'static [&'static str],
    /// depmod.d files: (path relative to the scenario, contents); `$E`
    /// stands for the scenario's absolute directory.
    conf: &'static [(&'static str, &'static str)],
    /// The -C paths.
    config_paths: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "no-config",
        modules: &["kernel/a.ko", "updates/a.ko", "extra/a.ko", "extra/b.ko", "kernel/b.ko", "updates/sub/c.ko"],
        externals: &[],
        conf: &[],
        config_paths: &["conf"],
    },
    Scenario {
        name: "search-order",
        modules: &["kernel/a.ko", "extra/a.ko", "updates/a.ko", "weird/a.ko", "kernel/b.ko", "weird/b.ko", "extra/c.ko"],
        externals: &[],
        conf: &[("conf/search.conf", "search updates extra built-in\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "built-in-first",
        modules: &["kernel/a.ko", "updates/a.ko", "extra/b.ko", "kernel/b.ko"],
        externals: &[],
        conf: &[("conf/s.conf", "search built-in updates\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "same-entry-later-wins",
        modules: &["kernel/x/a.ko", "kernel/y/a.ko", "kernel/z/a.ko", "kern/b.ko", "kernel/b.ko", "kernelx/b.ko"],
        externals: &[],
        conf: &[("conf/s.conf", "search kernel\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "externals",
        modules: &["kernel/a.ko", "updates/b.ko", "kernel/c.ko", "kernel/d.ko"],
        externals: &["ext1/a.ko", "ext2/a.ko", "ext2/b.ko", "ext1/c.ko", "ext3/d.ko", "ext2/sub/e.ko"],
        conf: &[(
            "conf/e.conf",
            "search external updates built-in\nexternal 1.0 $E/ext1\nexternal * $E/ext2\nexternal ^2 $E/ext3\n",
        )],
        config_paths: &["conf"],
    },
    Scenario {
        name: "externals-without-keyword",
        modules: &["kernel/a.ko", "updates/b.ko"],
        externals: &["ext1/a.ko", "ext1/b.ko"],
        conf: &[("conf/e.conf", "search updates\nexternal * $E/ext1\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "overrides",
        modules: &[
            "kernel/a.ko",
            "extra/a.ko",
            "updates/a.ko",
            "updates/b.ko",
            "extra/b.ko",
            "extra/c.ko",
            "updates/c.ko",
            "kernel/mod-simple.ko",
            "extra/mod-simple.ko.xz",
            "updates/mod_simple.ko",
        ],
        externals: &[],
        conf: &[(
            "conf/o.conf",
            "search updates built-in\noverride a 1.* extra\noverride b * kernel\noverride b * extra\n\
             override c ^9 extra\noverride mod-simple * extra\n",
        )],
        config_paths: &["conf"],
    },
    // Readdir order decides which copy is met first; these put each rule on
    // both sides of that order (mirrored directory pairs).
    Scenario {
        name: "overrides-both-orders",
        modules: &[
            "p/m1.ko", "q/m1.ko", "p/m2.ko", "q/m2.ko", "p/m3.ko", "q/m3.ko", "r/m4.ko", "s/m4.ko", "r/m5.ko",
            "s/m5.ko", "p/m6.ko", "q/m6.ko",
        ],
        externals: &[],
        conf: &[("conf/o.conf", "search built-in\noverride m1 * p\noverride m2 * q\noverride m4 * r\noverride m5 * s\n\
             override m6 * p\noverride m6 * q\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "search-both-orders",
        modules: &[
            "p/a.ko", "q/a.ko", "r/b.ko", "s/b.ko", "t/c.ko", "u/c.ko", "v/d.ko", "w/d.ko", "p/x/e.ko", "p/y/e.ko",
            "z/f.ko", "kernel/f.ko",
        ],
        externals: &[],
        conf: &[("conf/s.conf", "search p r u w\nsearch built-in\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "exclude",
        modules: &["kernel/a.ko", "skipme/a.ko", "updates/skipme/b.ko", "kernel/b.ko", "build/c.ko", "source/c.ko", "kernel/c.ko", "d.ko.zst"],
        externals: &[],
        conf: &[("conf/x.conf", "search skipme updates\nexclude skipme\nexclude nothing-else\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "extensions",
        modules: &["kernel/a.ko", "updates/a.ko.xz", "extra/a.ko.zst", "kernel/b.ko.zst", "kernel/not-a-module.o", "kernel/.ko"],
        externals: &[],
        conf: &[("conf/x.conf", "search extra\n")],
        config_paths: &["conf"],
    },
    Scenario {
        name: "files-merge-and-messages",
        modules: &["kernel/a.ko", "updates/a.ko", "extra/a.ko", "one/b.ko", "two/b.ko"],
        externals: &[],
        conf: &[
            ("d1/50.conf", "search extra\n"),
            ("d2/50.conf", "search updates\n"),
            ("d2/10.conf", "search two\n  #indented\nbogus line\noverride x\nexternal 1.0\ninclude foo\n"),
            ("d2/99.conf", "search one\\\n updates\n"),
            ("d2/notes.txt", "search kernel\n"),
            ("d2/sub.conf/inner.conf", "search kernel\n"),
            ("d1/.hidden.conf", "search kernel\n"),
        ],
        config_paths: &["d1", "d2", "missing"],
    },
];

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b"").unwrap();
}

/// Module file names as this kmod build recognises them (Debian's kmod 30
/// has no zlib support, so `.ko.gz` is left out of the scenarios).
fn is_module(name: &[u8]) -> bool {
    [&b".ko"[..], b".ko.xz", b".ko.zst"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

/// depmod's scan: readdir order (std's read_dir is readdir), recursion,
/// exclusions, and our ranking for duplicates.
fn scan(cfg: &DepmodConfig, module_dir: &[u8], dir: &Path, found: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name();
        if cfg.is_excluded(name.as_bytes()) {
            continue;
        }
        let path = e.path();
        if path.is_dir() {
            scan(cfg, module_dir, &path, found);
            continue;
        }
        if !is_module(name.as_bytes()) {
            continue;
        }
        let p = path.as_os_str().as_bytes().to_vec();
        let modname = modname_from_path_bytes(&p);
        match found.get(&modname) {
            Some(existing) if cfg.existing_wins(module_dir, existing, &p) => {}
            _ => {
                found.insert(modname, p);
            }
        }
    }
}

fn run(s: &Scenario) -> Result<(), String> {
    let t = tempfile::tempdir().unwrap();
    let base = t.path().canonicalize().unwrap();
    let module_dir = base.join("lib/modules").join(KVER);
    for m in s.modules {
        touch(&module_dir.join(m));
    }
    for m in s.externals {
        touch(&base.join(m));
    }
    for (path, text) in s.conf {
        let p = base.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text.replace("$E", base.to_str().unwrap())).unwrap();
    }
    fs::create_dir_all(base.join("conf")).unwrap();
    let config_paths: Vec<PathBuf> = s.config_paths.iter().map(|p| base.join(p)).collect();

    let mut args: Vec<&OsStr> = vec![
        OsStr::new("-n"),
        OsStr::new("-vv"),
        OsStr::new("-b"),
        base.as_os_str(),
    ];
    for p in &config_paths {
        args.extend([OsStr::new("-C"), p.as_os_str()]);
    }
    args.push(OsStr::new(KVER));
    let kmod = run_kmod("depmod", &args);
    if !kmod.status.success() {
        return Err(format!("depmod failed: {}", show(&kmod.stderr)));
    }

    // modules.dep comes first on stdout, up to the first `#` header.
    let dep_lines = kmod
        .stdout
        .split(|&c| c == b'\n')
        .take_while(|l| !l.starts_with(b"#") && !l.is_empty());
    let mut theirs: Vec<Vec<u8>> = dep_lines
        .map(|l| l.strip_suffix(b":").unwrap_or(l).to_vec())
        .collect();
    theirs.sort();

    let root = Root::system();
    let opts = LoadOptions {
        root: &root,
        config_paths: Some(config_paths),
        kernel_version: KVER.as_bytes().to_vec(),
    };
    let mut diags: Vec<Diagnostic> = Vec::new();
    let cfg = DepmodConfig::load(&opts, &mut diags);
    let mut found = BTreeMap::new();
    let md = module_dir.as_os_str().as_bytes();
    scan(&cfg, md, &module_dir, &mut found);
    // External directories are scanned last-listed first.
    for ext in cfg.externals_in_scan_order() {
        scan(&cfg, md, Path::new(OsStr::from_bytes(ext)), &mut found);
    }
    let prefix = [md, b"/"].concat();
    let mut ours: Vec<Vec<u8>> = found
        .into_values()
        .map(|p| p.strip_prefix(&prefix[..]).map(<[u8]>::to_vec).unwrap_or(p))
        .collect();
    ours.sort();

    let mut problems = String::new();
    if ours != theirs {
        let list = |v: &[Vec<u8>]| v.iter().map(|l| show(l) + "\n").collect::<String>();
        problems += &format!(
            "kept modules differ\n--- kmod\n{}--- ours\n{}",
            list(&theirs),
            list(&ours)
        );
    }

    // Config messages are the lines naming a config path; their order must
    // match too.
    let mentions_config = |l: &[u8]| {
        opts.config_paths.iter().flatten().any(|p| {
            let p = p.as_os_str().as_bytes();
            l.windows(p.len()).any(|w| w == p)
        })
    };
    let kmod_lines: Vec<Vec<u8>> = kmod
        .stderr
        .split_inclusive(|&c| c == b'\n')
        .filter(|l| mentions_config(l) && !l.starts_with(b"depmod: DEBUG"))
        .map(<[u8]>::to_vec)
        .collect();
    let our_lines: Vec<Vec<u8>> = diags.iter().map(|d| d.tool_line("depmod")).collect();
    if kmod_lines != our_lines {
        let all = |v: &[Vec<u8>]| v.iter().map(|l| show(l)).collect::<String>();
        problems += &format!(
            "messages differ\n--- kmod\n{}--- ours\n{}",
            all(&kmod_lines),
            all(&our_lines)
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[test]
fn duplicate_ranking_and_messages_match_kmod() {
    let mut failures = Vec::new();
    for s in SCENARIOS {
        if let Err(e) = run(s) {
            failures.push(format!("== {}\n{e}", s.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ:\n{}",
        failures.len(),
        SCENARIOS.len(),
        failures.join("\n")
    );
}
