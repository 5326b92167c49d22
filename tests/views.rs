//! The views kmod does not have: `--json` documents validate against
//! docs/schema and say what the plain output says; `--tree` and
//! `kmod graph` show the same dependencies; the default output is left
//! alone and the new options never abbreviate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{ours, real_tree, text};

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/schema/{name}.schema.json"))
}

/// Validates each document against the schema with Python's jsonschema
/// (tests/setup.sh installs it), and returns them parsed back as text
/// lines of `key=value` for the caller's own checks.
fn validate(schema_name: &str, docs: &[&[u8]]) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let p = dir.path().join(format!("{i}.json"));
        std::fs::write(&p, d).unwrap();
        files.push(p);
    }
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema)\n\
        for f in sys.argv[2:]:\n\
        \x20   errors = list(v.iter_errors(json.load(open(f))))\n\
        \x20   if errors:\n\
        \x20       print(f, errors[0].message, list(errors[0].absolute_path)); sys.exit(1)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(schema(schema_name))
        .args(&files)
        .output()
        .expect("python3 is needed to validate JSON (tests/setup.sh installs python3-jsonschema)");
    assert!(
        !text(&out.stderr).contains("No module named 'jsonschema'"),
        "Python's jsonschema is missing: run tests/setup.sh (it installs python3-jsonschema)"
    );
    assert!(
        out.status.success(),
        "{schema_name}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// One field of a JSON document, by a small path (`modules.0.name`),
/// through Python's json module so the test does not parse JSON itself.
fn query(doc: &[u8], expr: &str) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({expr}))"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(doc).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{expr}");
    text(&out.stdout).trim_end().to_string()
}

fn tree_args() -> Vec<String> {
    let t = real_tree();
    vec![
        "-d".into(),
        t.base.to_string_lossy().into_owned(),
        "-S".into(),
        t.release.clone(),
    ]
}

fn run_in(program: &Path, args: &[&str], sysroot: Option<&Path>) -> Output {
    let mut c = Command::new(program);
    c.args(args).env_remove("MODPROBE_OPTIONS");
    match sysroot {
        Some(r) => c.env("MODUTILS_SYSROOT", r),
        None => c.env_remove("MODUTILS_SYSROOT"),
    };
    c.output().unwrap()
}

/// A fake system with four loaded modules: `a` used by `b` and `c`, `b`
/// used by `c`, and `gone` listed in /proc/modules without /sys.
fn loaded_system() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("proc")).unwrap();
    std::fs::write(
        r.join("proc/modules"),
        "c 100 0 - Live 0x0\nb 200 1 c, Live 0x0\na 300 2 b,c, Live 0x0\ngone 50 0 - Live 0x0\n",
    )
    .unwrap();
    for (m, refcnt, holders) in [("a", 2, &["b", "c"][..]), ("b", 1, &["c"]), ("c", 0, &[])] {
        let d = r.join("sys/module").join(m);
        std::fs::create_dir_all(d.join("holders")).unwrap();
        std::fs::write(d.join("initstate"), "live\n").unwrap();
        std::fs::write(d.join("refcnt"), format!("{refcnt}\n")).unwrap();
        for h in holders {
            std::fs::create_dir_all(d.join("holders").join(h)).unwrap();
        }
    }
    std::fs::write(r.join("sys/module/a/coresize"), "4096\n").unwrap();
    dir
}

#[test]
fn lsmod_json_and_tree_show_the_plain_lists_data() {
    let sys = loaded_system();
    let lsmod = ours("lsmod");
    let plain = run_in(&lsmod, &[], Some(sys.path()));
    assert_eq!(
        text(&plain.stdout),
        "Module                  Size  Used by\n\
         c                        100  0\n\
         b                        200  1 c\n\
         a                       4096  2 b,c\n\
         gone                      -2  -2\n"
    );
    let json = run_in(&lsmod, &["--json"], Some(sys.path()));
    assert!(json.status.success());
    validate("lsmod", &[&json.stdout]);
    let names = query(&json.stdout, "[m['name'] for m in d['modules']]");
    assert_eq!(names, r#"["c", "b", "a", "gone"]"#);
    assert_eq!(
        query(&json.stdout, "d['modules'][2]"),
        r#"{"name": "a", "size": 4096, "use_count": 2, "holders": ["b", "c"]}"#
    );
    assert_eq!(
        query(&json.stdout, "d['modules'][3]"),
        r#"{"name": "gone", "size": null, "use_count": null, "holders": []}"#
    );

    let tree = run_in(&lsmod, &["--tree"], Some(sys.path()));
    assert!(tree.status.success());
    assert_eq!(text(&tree.stdout), "c\n├─ b\n│  └─ a\n└─ a\ngone\n");

    let both = run_in(&lsmod, &["--tree", "--json"], Some(sys.path()));
    assert_eq!(both.status.code(), Some(1));
    assert_eq!(
        text(&both.stderr),
        "lsmod: ERROR: --tree and --json cannot be combined.\n"
    );
}

#[test]
fn new_options_must_be_spelled_out() {
    let sys = loaded_system();
    for (tool, arg) in [
        ("lsmod", "--tre"),
        ("lsmod", "--j"),
        ("modinfo", "--jso"),
        ("modprobe", "--tr"),
    ] {
        let out = run_in(&ours(tool), &[arg, "x"], Some(sys.path()));
        assert_eq!(out.status.code(), Some(1), "{tool} {arg}");
        assert_eq!(
            text(&out.stderr),
            format!("{}: unrecognized option '{arg}'\n", ours(tool).display()),
            "{tool} {arg}"
        );
    }
}

#[test]
fn modinfo_json_validates_and_matches_the_text() {
    let t = real_tree();
    let base = t.base.to_string_lossy().into_owned();
    let builtin = std::fs::read_to_string(t.moddir().join("modules.builtin")).unwrap();
    let builtin = builtin.lines().next().unwrap();
    let builtin = builtin
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ko")
        .replace('-', "_");
    let modinfo = ours("modinfo");
    let common = ["-b", base.as_str(), "-k", t.release.as_str()];

    // A broad sample: every 10th module file, plus names, an alias and a built-in.
    let mut sample: Vec<String> = t
        .modules()
        .iter()
        .step_by(10)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    sample.extend(
        [
            "bttv",
            "snd-hda-intel",
            "pci:v0000109Ed0000036Esv*sd*bc*sc*i*",
            &builtin,
        ]
        .map(String::from),
    );
    let args: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--json"])
        .chain(sample.iter().map(String::as_str))
        .collect();
    let out = run_in(&modinfo, &args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut docs = vec![out.stdout.clone()];

    let count = query(&out.stdout, "len(d['modules'])");
    assert!(
        count.parse::<usize>().unwrap() >= sample.len(),
        "{count} modules for {} arguments",
        sample.len()
    );
    let b = query(
        &out.stdout,
        &format!("[m for m in d['modules'] if m['name'] == '{builtin}'][0]['filename']"),
    );
    assert_eq!(b, "null", "{builtin} is built in");

    // The same values as the text output, field by field, for bttv.
    let one = |extra: &[&str]| {
        let args: Vec<&str> = common.iter().chain(extra).copied().collect();
        run_in(&modinfo, &args, None)
    };
    let json = one(&["--json", "bttv"]).stdout;
    let plain = text(&one(&["bttv"]).stdout);
    let aliases = plain.lines().filter(|l| l.starts_with("alias:")).count();
    let json_aliases = query(
        &json,
        "len([f for f in d['modules'][0]['fields'] if f['key'] == 'alias'])",
    );
    assert_eq!(json_aliases, aliases.to_string());
    let params = plain.lines().filter(|l| l.starts_with("parm:")).count();
    assert_eq!(
        query(&json, "len(d['modules'][0]['parameters'])"),
        params.to_string()
    );
    let license = text(&one(&["-F", "license", "bttv"]).stdout);
    assert_eq!(
        query(
            &json,
            "[f['value'] for f in d['modules'][0]['fields'] if f['key'] == 'license']"
        ),
        format!("[\"{}\"]", license.trim_end())
    );
    let sig = query(
        &json,
        "[f['value'] for f in d['modules'][0]['fields'] if f['key'] == 'signature'][0]",
    );
    assert!(
        !sig.contains("\\n") && sig.contains(':'),
        "signature without line breaks: {sig}"
    );

    // -F keeps one key; -p only parameters.
    let f = one(&["--json", "-F", "alias", "bttv"]).stdout;
    assert_eq!(
        query(
            &f,
            "sorted(set(x['key'] for x in d['modules'][0]['fields']))"
        ),
        r#"["alias"]"#
    );
    assert_eq!(query(&f, "d['modules'][0]['parameters']"), "[]");
    let p = one(&["--json", "-p", "bttv"]).stdout;
    assert_eq!(query(&p, "d['modules'][0]['fields']"), "[]");
    assert_eq!(
        query(&p, "len(d['modules'][0]['parameters'])"),
        params.to_string()
    );
    docs.extend([json, f, p]);

    // Not found: the usual error, the document without it, exit 1.
    let missing = one(&["--json", "bttv", "no_such_module"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        text(&missing.stderr),
        "modinfo: ERROR: Module no_such_module not found.\n"
    );
    assert_eq!(
        query(&missing.stdout, "[m['name'] for m in d['modules']]"),
        r#"["bttv"]"#
    );
    docs.push(missing.stdout);

    let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
    validate("modinfo", &refs);
}

/// The lines plain `-D` prints, rebuilt from the JSON actions.
fn lines_from_json(doc: &[u8]) -> String {
    let expr = "''.join(\
        ('insmod %s %s\\n' % (a['path'], a['options'])) if a['action'] == 'insmod' else \
        ('install %s %s\\n' % (a['command'], a['options'])) if a['action'] == 'install' else \
        ('builtin %s\\n' % a['module']) for l in d['loads'] for a in l['actions'])";
    let s = query(doc, expr);
    // json.dumps of a string: unquote it.
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json,sys; sys.stdout.write(json.loads(sys.stdin.read()))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    text(&child.wait_with_output().unwrap().stdout)
}

#[test]
fn modprobe_show_depends_json_is_the_plain_output() {
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        conf.path(),
        "install snd /bin/true\noptions bttv radio=1\nsoftdep videodev pre: tveeprom\n\
         blacklist e1000\nalias my-board bttv\n",
    )
    .unwrap();
    let conf = conf.path().to_string_lossy().into_owned();
    let modprobe = ours("modprobe");
    let mut docs = Vec::new();
    let cases: [&[&str]; 6] = [
        &["bttv"],
        &["snd-hda-intel"],
        &["my-board", "card=3"],
        &["-a", "bttv", "isofs", "sha256_generic"],
        &["pci:v00008086d0000100Esv*sd*bc*sc*i*"],
        &["-b", "e1000"],
    ];
    for case in cases {
        let args = |json: bool| -> Vec<String> {
            let mut v = tree_args();
            v.extend(["-C".into(), conf.clone(), "-D".into()]);
            if json {
                v.push("--json".into());
            }
            v.extend(case.iter().map(|s| s.to_string()));
            v
        };
        let plain = Command::new(&modprobe).args(args(false)).output().unwrap();
        let json = Command::new(&modprobe).args(args(true)).output().unwrap();
        assert_eq!(plain.status.code(), json.status.code(), "{case:?}");
        assert_eq!(plain.stderr, json.stderr, "{case:?}");
        assert_eq!(
            lines_from_json(&json.stdout),
            text(&plain.stdout),
            "{case:?}"
        );
        docs.push(json.stdout);
    }
    // The alias names e1000 and the blacklist applies to it.
    assert_eq!(
        query(
            &docs[4],
            "[(l['module'], l['blacklisted'], l['actions']) for l in d['loads']]"
        ),
        r#"[["e1000", true, []]]"#
    );
    assert_eq!(
        query(&docs[2], "d['loads'][0]['argument']"),
        r#""my-board""#
    );
    assert!(query(&docs[1], "[a['action'] for a in d['loads'][0]['actions']]").contains("install"));
    let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
    validate("modprobe-show-depends", &refs);

    // Only with -D, and not with --tree.
    for extra in [
        &["--json", "bttv"][..],
        &["-D", "--json", "--tree", "bttv"],
        &["-r", "--json", "bttv"],
    ] {
        let mut args = tree_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = Command::new(&modprobe).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            text(&out.stderr).starts_with("modprobe: ERROR: --tree and --json "),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn modprobe_show_depends_tree() {
    let mut args = tree_args();
    args.extend(["-D", "--tree", "bttv"].map(String::from));
    let out = Command::new(ours("modprobe")).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = "bttv\n\
                ├─ tveeprom\n\
                ├─ videobuf_dma_sg\n\
                │  └─ videobuf_core\n\
                ├─ tea575x\n\
                │  └─ videodev\n\
                │     └─ mc\n\
                ├─ rc_core\n\
                └─ i2c_algo_bit\n";
    assert_eq!(text(&out.stdout), want);

    // Every module the plain -D loads is in the tree, and nothing else.
    let mut plain_args = tree_args();
    plain_args.extend(["-D", "bttv"].map(String::from));
    let plain = Command::new(ours("modprobe"))
        .args(&plain_args)
        .output()
        .unwrap();
    let mut loaded: Vec<String> = text(&plain.stdout)
        .lines()
        .map(|l| {
            let file = l.split(' ').nth(1).unwrap().rsplit('/').next().unwrap();
            file.split(".ko").next().unwrap().replace('-', "_")
        })
        .collect();
    let mut in_tree: Vec<String> = want
        .lines()
        .map(|l| l.trim_start_matches(['├', '└', '─', '│', ' ']).to_string())
        .collect();
    loaded.sort();
    in_tree.sort();
    assert_eq!(loaded, in_tree);

    // Soft dependencies are marked, built-in modules too.
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        conf.path(),
        "softdep isofs pre: loop post: sha256_generic\n",
    )
    .unwrap();
    let mut args = tree_args();
    args.extend(
        [
            "-C",
            &conf.path().to_string_lossy(),
            "-D",
            "--tree",
            "isofs",
        ]
        .map(String::from),
    );
    let out = Command::new(ours("modprobe")).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("isofs\n"), "{shown}");
    assert!(shown.contains("loop (softdep pre)"), "{shown}");
    assert!(
        shown.contains("sha256_generic (builtin) (softdep post)"),
        "{shown}"
    );
}

#[test]
fn kmod_graph_is_the_reduced_dependency_graph() {
    let t = real_tree();
    let base = t.base.to_string_lossy().into_owned();
    let out = Command::new(ours("kmod"))
        .args(["graph", "-b", &base, "-k", &t.release, "bttv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(
        dot.starts_with("digraph modules {\n") && dot.ends_with("}\n"),
        "{dot}"
    );
    let edges: Vec<&str> = dot.lines().filter(|l| l.contains(" -> ")).collect();
    assert!(edges.contains(&"\t\"bttv\" -> \"tea575x\";"), "{dot}");
    assert!(edges.contains(&"\t\"tea575x\" -> \"videodev\";"), "{dot}");
    assert!(
        !edges.contains(&"\t\"bttv\" -> \"videodev\";"),
        "indirect edge kept: {dot}"
    );
    assert_eq!(edges.len(), 8, "{dot}");

    // The whole tree: one node per module of modules.dep.
    let all = Command::new(ours("kmod"))
        .args(["graph", "-b", &base, "-k", &t.release])
        .output()
        .unwrap();
    assert!(all.status.success());
    let nodes = text(&all.stdout)
        .lines()
        .filter(|l| l.ends_with("\";") && !l.contains("->"))
        .count();
    assert_eq!(nodes, t.modules().len());

    let missing = Command::new(ours("kmod"))
        .args(["graph", "-b", &base, "-k", &t.release, "no_such"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        text(&missing.stderr),
        "kmod: ERROR: Module no_such not found.\n"
    );
}
