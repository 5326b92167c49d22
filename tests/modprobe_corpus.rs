//! modprobe against kmod's on configuration scenarios: the modprobe.d
//! corpus (`fixtures/modprobe.d-corpus/`, shared with the config tests)
//! and modprobe's own (`fixtures/modprobe/corpus/`), each over the test
//! tree of `fixtures/modprobe/tree/`. For each, `-c`, and `-D`, `-D -i`,
//! `-D -b`, `-R` over the tree's modules plus every name and alias the
//! scenario's files mention: stdout, stderr and exit status must be
//! kmod's (kmod 30's libkmod message prefix normalised to 34.2's).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::modprobe::kmod30_as_34;
use crate::modprobe_tree::{build_moddir, concrete, fixtures};
use crate::util::{oracle, ours, run, text};

pub(crate) struct Scenario {
    pub dir: PathBuf,
    /// `-C` paths (absolute).
    pub configs: Vec<PathBuf>,
}

pub(crate) fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    for corpus in ["modprobe.d-corpus", "modprobe/corpus"] {
        let mut dirs: Vec<PathBuf> = fs::read_dir(fixtures().join(corpus))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("args").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            let args = fs::read_to_string(dir.join("args")).unwrap();
            let configs = args
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| dir.join(l))
                .collect();
            out.push(Scenario { dir, configs });
        }
    }
    out
}

/// Every file under the scenario's config paths.
fn config_files(paths: &[PathBuf], out: &mut Vec<PathBuf>) {
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            config_files(&entries, out);
        } else if p.is_file() {
            out.push(p.clone());
        }
    }
}

/// The tree's modules, then every word of the scenario's configuration
/// after the first of its line that could be a module name or an alias
/// (paths and `$VARIABLES` left out), patterns made concrete.
pub(crate) fn names(s: &Scenario, tree_modules: &[String]) -> Vec<String> {
    let mut names: Vec<String> = tree_modules.to_vec();
    let mut files = Vec::new();
    config_files(&s.configs, &mut files);
    for f in files {
        let t = String::from_utf8_lossy(&fs::read(&f).unwrap()).into_owned();
        for line in t.lines() {
            for w in line.split_whitespace().skip(1) {
                // No options: `-r` among the words would turn a dry run
                // into a removal.
                let usable = !w.starts_with(['/', '-'])
                    && !w.starts_with("./")
                    && !w.contains(['$', '\0'])
                    && !w.contains('=')
                    && !w.ends_with(':');
                if usable && !names.iter().any(|n| n == w) {
                    names.push(w.to_string());
                    let c = concrete(w, "7");
                    if c != w {
                        names.push(c);
                    }
                }
            }
        }
    }
    names
}

fn compare(what: &str, args: &[OsString]) -> Option<String> {
    let (k, o) = (run(&oracle("modprobe"), args), run(&ours("modprobe"), args));
    let mut d = String::new();
    if k.stdout != o.stdout {
        d += &format!(
            "{what}: stdout differs\n--- kmod\n{}--- ours\n{}",
            text(&k.stdout),
            text(&o.stdout)
        );
    }
    let ke = kmod30_as_34(&k.stderr);
    if ke != text(&o.stderr) {
        d += &format!(
            "{what}: stderr differs\n--- kmod\n{ke}--- ours\n{}",
            text(&o.stderr)
        );
    }
    if k.status.code() != o.status.code() {
        d += &format!(
            "{what}: exit {:?} vs {:?}\n",
            k.status.code(),
            o.status.code()
        );
    }
    (!d.is_empty()).then_some(d)
}

/// The scenario's module directory: the test tree, with the scenario's
/// own `lib/modules/1.0` files (its `modules.softdep`) on top.
pub(crate) fn base_for(s: &Scenario, tmp: &Path) -> Vec<String> {
    let moddir = tmp.join("lib/modules/1.0");
    let modules = build_moddir(&fixtures().join("modprobe/tree"), &moddir);
    let own = s.dir.join("lib/modules/1.0");
    if own.is_dir() {
        for e in fs::read_dir(own).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), moddir.join(e.file_name())).unwrap();
        }
    }
    modules
}

#[test]
fn corpus_scenarios_match_kmod() {
    let all = scenarios();
    assert!(all.len() >= 20, "only {} scenarios", all.len());
    let mut failures = Vec::new();
    let mut runs = 0;
    for s in &all {
        let tmp = tempfile::tempdir().unwrap();
        let modules = base_for(s, tmp.path());
        let mut common: Vec<OsString> =
            vec!["-d".into(), tmp.path().into(), "-S".into(), "1.0".into()];
        for c in &s.configs {
            common.extend(["-C".into(), c.clone().into_os_string()]);
        }
        let names = names(s, &modules);
        let modes: [&[&str]; 5] = [
            &["-c"],
            &["-a", "-D"],
            &["-a", "-D", "-i"],
            &["-a", "-D", "-b"],
            &["-a", "-R"],
        ];
        for mode in modes {
            let mut args = common.clone();
            args.extend(mode.iter().map(OsString::from));
            if mode != ["-c"] {
                args.extend(names.iter().map(OsString::from));
            }
            runs += 1;
            let label = format!("{} {}", s.dir.display(), mode.join(" "));
            if let Some(d) = compare(&label, &args) {
                failures.push(d);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{} scenarios, {runs} runs identical to kmod", all.len());
}

/// Module parameters on the command line: quoting and placement.
#[test]
fn command_line_parameters_match_kmod() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Scenario {
        dir: fixtures().join("modprobe/corpus/options"),
        configs: vec![fixtures().join("modprobe/corpus/options/etc/modprobe.d")],
    };
    base_for(&s, tmp.path());
    let cases: &[&[&str]] = &[
        &[
            "e1000e",
            "a=1",
            "b=two words",
            "c='quoted already'",
            "plain",
        ],
        &["my-nic", "x=\"q\"", "e="],
        &["ptp", ""],
        // Empty arguments add no separator of their own before the first
        // option; after it each one adds a space.
        &["ptp", "", "x=1"],
        &["mod_c", "", "", "p=1", "", "", "q=2", ""],
        &["pps_core", "", ""],
        &["mod_c", "p=1"],
        &["crypto-crc32c", "z=9"],
    ];
    compare_cases(tmp.path(), &s.configs[0], &["-D"], cases);
}

/// An install command gets the options as `$CMDLINE_OPTS`, joined as they
/// are for loading. kmod really runs the command here (it echoes, and the
/// module is a text stand-in nothing could load), so both run for real.
#[test]
fn install_command_options_match_kmod() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Scenario {
        dir: fixtures().join("modprobe/corpus/options"),
        configs: vec![tmp.path().join("install.conf")],
    };
    base_for(&s, tmp.path());
    fs::write(
        &s.configs[0],
        "options x from_conf=1\ninstall x echo \"[$CMDLINE_OPTS]\"\ninstall q echo \"[$CMDLINE_OPTS]\"\n",
    )
    .unwrap();
    let cases: &[&[&str]] = &[
        &["q", "", "a=1"],
        &["q", "", ""],
        &["q", "a=1", "", "b=two words", ""],
        &["x", "", "a=1"],
        &["x", ""],
    ];
    compare_cases(tmp.path(), &s.configs[0], &[], cases);
}

/// Each case as modprobe arguments after `-d BASE -S 1.0 -C CONF` and
/// `extra`, ours against kmod's.
fn compare_cases(base: &Path, conf: &Path, extra: &[&str], cases: &[&[&str]]) {
    for case in cases {
        let mut args: Vec<OsString> = vec![
            "-d".into(),
            base.into(),
            "-S".into(),
            "1.0".into(),
            "-C".into(),
            conf.into(),
        ];
        args.extend(extra.iter().chain(case.iter()).map(OsString::from));
        if let Some(d) = compare(&format!("{case:?}"), &args) {
            panic!("{d}");
        }
    }
}
