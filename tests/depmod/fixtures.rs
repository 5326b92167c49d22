//! Scenario trees made of the real fixture modules (fixtures/modules/*.c
//! built against Debian's 6.1 headers, MODUTILS_FIXTURES). kmod's depmod and
//! ours run in turn on the same tree (so that both read the same directory
//! order), each run's outputs moved away before the next; then compared:
//! exit status, stdout, stderr, every file, and what kmod's modprobe makes
//! of each set of indexes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::util::text;

/// Every fixture module without a dependency cycle.
const ALL: [&str; 13] = [
    "mod_a",
    "mod_b",
    "mod_c",
    "mod_softdep",
    "mod_weakdep",
    "mod_devname",
    "mod_devname_blk",
    "mod_param",
    "mod_fail_init",
    "mod_noexit",
    "mod_alias",
    "mod-dash",
    "mod_got",
];

/// A scratch `<base>/lib/modules/<release>`.
pub struct Tree {
    tmp: tempfile::TempDir,
    pub release: String,
}

/// One run: what the tool printed, the output files it left (moved out of
/// the output directory) and any other new file there.
#[derive(Debug)]
pub struct Run {
    pub out: Out,
    pub files: BTreeMap<String, Vec<u8>>,
    pub leftovers: Vec<String>,
}

impl Tree {
    pub fn new() -> Tree {
        // The fixtures live in $CACHE/build/<release>/modules.
        let fixtures = fixture_dir();
        let release = fixtures
            .parent()
            .and_then(Path::file_name)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let t = Tree {
            tmp: tempfile::tempdir().unwrap(),
            release,
        };
        std::fs::create_dir_all(t.dir()).unwrap();
        t
    }

    pub fn base(&self) -> &Path {
        self.tmp.path()
    }

    pub fn b(&self) -> &str {
        self.base().to_str().unwrap()
    }

    /// `<base>/lib/modules/<release>`.
    pub fn dir(&self) -> PathBuf {
        self.base().join("lib/modules").join(&self.release)
    }

    /// Copies fixture module `name` into `sub` (a directory relative to
    /// the module directory, or absolute).
    pub fn module(&self, sub: &str, name: &str) -> &Tree {
        let dir = self.dir().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        let file = format!("{name}.ko");
        std::fs::copy(fixture_dir().join(&file), dir.join(&file)).unwrap();
        self
    }

    pub fn modules(&self, sub: &str, names: &[&str]) -> &Tree {
        for n in names {
            self.module(sub, n);
        }
        self
    }

    /// Writes a file relative to the base; `@BASE@` in it becomes the base.
    pub fn file(&self, rel: &str, contents: &str) -> &Tree {
        let path = self.base().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents.replace("@BASE@", self.b())).unwrap();
        self
    }

    /// A path under the base, as a string.
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.b())
    }

    /// Runs `tool` with `pre`, then `-b <base> <release>`, then `post`; the
    /// outputs are taken from `outdir` (default: the module directory).
    pub fn run_in(&self, tool: &Path, pre: &[&str], post: &[&str], outdir: &Path) -> Run {
        let before = if outdir.exists() {
            other_files(outdir, &[])
        } else {
            Vec::new()
        };
        let mut args: Vec<&str> = pre.to_vec();
        args.extend(["-b", self.b(), &self.release]);
        args.extend_from_slice(post);
        let out = exec(tool, &args);
        let files = if outdir.exists() {
            take_outputs(outdir)
        } else {
            BTreeMap::new()
        };
        let leftovers = if outdir.exists() {
            let known: Vec<&str> = before.iter().map(String::as_str).collect();
            other_files(outdir, &known)
        } else {
            Vec::new()
        };
        Run {
            out,
            files,
            leftovers,
        }
    }

    pub fn run(&self, tool: &Path, pre: &[&str], post: &[&str]) -> Run {
        self.run_in(tool, pre, post, &self.dir())
    }

    /// kmod's modprobe over one set of outputs put into the module
    /// directory: `-c`, and `-D` for every module of its modules.dep plus
    /// `names`. Base paths read `@BASE@`.
    pub fn modprobe_view(&self, files: &BTreeMap<String, Vec<u8>>, names: &[&str]) -> String {
        let dir = self.dir();
        put_outputs(&dir, files);
        let config = self.base().join("empty-modprobe.d");
        std::fs::create_dir_all(&config).unwrap();
        let mut view = modprobe_dump(self.base(), &self.release, &config);
        let mut all: Vec<String> = dep_names(files.get("modules.dep").map_or(&[][..], |v| v));
        all.extend(names.iter().map(|s| s.to_string()));
        for name in &all {
            view.extend_from_slice(format!("=== modprobe -D {name}\n").as_bytes());
            view.extend(modprobe_query(
                self.base(),
                &self.release,
                &config,
                "-D",
                name,
            ));
        }
        take_outputs(&dir);
        text(&view)
    }
}

/// kmod's and our runs agree: exit status, streams, files (modules.weakdep
/// against `weakdep`, derived), no leftovers; and when files were written,
/// kmod's modprobe reads both sets the same way (`names`: extra `-D`
/// queries). Returns the tally of compare_files.
#[track_caller]
pub fn assert_same(
    t: &Tree,
    ours: &Run,
    kmod: &Run,
    weakdep: &[u8],
    names: &[&str],
) -> BTreeMap<String, usize> {
    let (o, k) = (&ours.out, &kmod.out);
    assert_eq!(
        o.code,
        k.code,
        "exit status\n--- kmod\n{}\n--- ours\n{}",
        k.show(),
        o.show()
    );
    assert!(
        o.stderr == k.stderr,
        "stderr differs at {}",
        first_difference(&o.stderr, &k.stderr)
    );
    assert!(
        o.stdout == k.stdout,
        "stdout differs at {}",
        first_difference(&o.stdout, &k.stdout)
    );
    let (problems, tally) = compare_files(&ours.files, &kmod.files, weakdep);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(ours.leftovers.is_empty(), "we left {:?}", ours.leftovers);
    assert!(kmod.leftovers.is_empty(), "kmod left {:?}", kmod.leftovers);
    if !kmod.files.is_empty() {
        let (kv, ov) = (
            t.modprobe_view(&kmod.files, names),
            t.modprobe_view(&ours.files, names),
        );
        assert!(
            kv == ov,
            "kmod's modprobe reads our indexes differently: {}",
            first_difference(ov.as_bytes(), kv.as_bytes())
        );
    }
    tally
}

/// kmod then ours with the same arguments; asserts they agree.
#[track_caller]
fn compare(t: &Tree, pre: &[&str], weakdep: &[u8]) -> (Run, Run) {
    let k = t.run(&kmod_depmod(), pre, &[]);
    let o = t.run(&our_depmod(), pre, &[]);
    assert_same(t, &o, &k, weakdep, &[]);
    (k, o)
}

fn dep(run: &Run) -> String {
    text(&run.files["modules.dep"])
}

/// `modules.order` listing `names` (in `sub`) in that order.
fn order(t: &Tree, sub: &str, names: &[&str]) {
    let lines: String = names.iter().map(|n| format!("{sub}/{n}.ko\n")).collect();
    t.file(&format!("lib/modules/{}/modules.order", t.release), &lines);
}

/// What modules.weakdep must hold for the modules of `run`'s modules.dep
/// (as kmod 34 writes it: `weakdep <module> <value>` for each `weakdep=` record, modules in
/// array order, records in .modinfo order as kmod's modinfo lists them).
fn derived_weakdep(t: &Tree, run: &Run) -> Vec<u8> {
    let mut out = String::new();
    for line in dep(run).lines() {
        let path = line.split(':').next().unwrap();
        let file = if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            t.dir().join(path)
        };
        let info = exec(
            &crate::util::oracle("modinfo"),
            &["-F".as_ref(), "weakdep".as_ref(), file.as_os_str()],
        );
        let name = path
            .rsplit('/')
            .next()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .replace('-', "_");
        for value in text(&info.stdout).lines() {
            out.push_str(&format!("weakdep {name} {value}\n"));
        }
    }
    out.into_bytes()
}

#[test]
fn article_stack() {
    let t = Tree::new();
    t.modules("extra", &["mod_a", "mod_b", "mod_c"]);
    let (k, _) = compare(&t, &[], b"");
    let d = dep(&k);
    assert!(
        d.contains("extra/mod_c.ko: extra/mod_b.ko extra/mod_a.ko\n"),
        "{d}"
    );
    assert!(d.contains("extra/mod_b.ko: extra/mod_a.ko\n"), "{d}");
    // With a modules.order, and verbose (`needs "<sym>"` lines on stdout).
    order(&t, "extra", &["mod_c", "mod_a", "mod_b"]);
    compare(&t, &[], b"");
    let (k, _) = compare(&t, &["-v"], b"");
    assert!(text(&k.out.stdout).contains("needs \"mod_a_value\""));
}

#[test]
fn soft_dependencies() {
    let t = Tree::new();
    t.modules("kernel", &["mod_softdep", "mod_a", "mod_b"]);
    let (k, _) = compare(&t, &[], b"");
    assert_eq!(
        text(&k.files["modules.softdep"]),
        "# Soft dependencies extracted from modules themselves.\nsoftdep mod_softdep pre: mod_a post: mod_b\n"
    );
}

#[test]
fn device_names_char_and_block() {
    let t = Tree::new();
    t.modules("kernel/drivers", &["mod_devname", "mod_devname_blk"]);
    let (k, _) = compare(&t, &[], b"");
    let devname = text(&k.files["modules.devname"]);
    assert!(
        devname.contains("mod_devname mod-devname c250:7\n"),
        "{devname}"
    );
    assert!(
        devname.contains("mod_devname_blk mod-devname/blk b252:3\n"),
        "{devname}"
    );
    // Without any devname module the file is empty, as in kmod.
    let t = Tree::new();
    t.module("kernel", "mod_a");
    let (k, _) = compare(&t, &[], b"");
    assert!(k.files["modules.devname"].is_empty());
}

#[test]
fn aliases() {
    let t = Tree::new();
    t.modules("kernel", &["mod_alias", "mod_devname"]);
    let (k, _) = compare(&t, &[], b"");
    let alias = text(&k.files["modules.alias"]);
    for a in [
        "mod-alias-[0-9]",
        "mod-alias-?x",
        "fs-modutilsfs",
        "pci:v0000DEADd0000BEEFsv*sd*bc*sc*i*",
    ] {
        assert!(alias.contains(&format!("alias {a} mod_alias\n")), "{alias}");
    }
    // What modprobe resolves through modules.alias.bin, ours and kmod's.
    let config = t.base().join("empty-modprobe.d");
    std::fs::create_dir_all(&config).unwrap();
    let o = t.run(&our_depmod(), &[], &[]);
    for files in [&k.files, &o.files] {
        put_outputs(&t.dir(), files);
        for (alias, want) in [
            ("mod-alias-7", "mod_alias"),
            ("mod-alias-zx", "mod_alias"),
            ("fs-modutilsfs", "mod_alias"),
            // Both the wildcard alias and the device table's match.
            (
                "pci:v0000DEADd0000BEEFsv00000000sd00000000bc00sc00i00",
                "mod_alias\nmod_alias",
            ),
            ("char-major-250-7", "mod_devname"),
        ] {
            let r = modprobe_query(t.base(), &t.release, &config, "-R", alias);
            assert_eq!(
                text(&r),
                format!("exit Some(0)\n{want}\n--- stderr\n"),
                "{alias}"
            );
        }
        take_outputs(&t.dir());
    }
}

#[test]
fn weak_dependencies_derived_for_kmod_30() {
    // kmod 30 has no weakdep: its other outputs must match, and our
    // modules.weakdep is derived from kmod 34's format.
    let t = Tree::new();
    t.modules("kernel", &["mod_weakdep", "mod_a", "mod_b", "mod_c"]);
    let k = t.run(&kmod_depmod(), &[], &[]);
    let o = t.run(&our_depmod(), &[], &[]);
    let want = derived_weakdep(&t, &k);
    assert_eq!(
        text(&want),
        "weakdep mod_weakdep mod_c\nweakdep mod_weakdep mod_a\n",
        "the fixture's .modinfo lists mod_c then mod_a"
    );
    assert_same(&t, &o, &k, &want, &[]);
    // -n: kmod 34 prints modules.weakdep after modules.softdep.
    let k = t.run(&kmod_depmod(), &["-n"], &[]);
    let o = t.run(&our_depmod(), &["-n"], &[]);
    assert!(k.files.is_empty() && o.files.is_empty());
    let marker = b"# Aliases for symbols, used by symbol_request().\n";
    let at = k
        .out
        .stdout
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    let stdout = [
        &k.out.stdout[..at],
        WEAKDEP_HEADER,
        &want,
        &k.out.stdout[at..],
    ]
    .concat();
    assert!(
        o.out.stdout == stdout,
        "-n: {}",
        first_difference(&o.out.stdout, &stdout)
    );
    assert_eq!(text(&o.out.stderr), text(&k.out.stderr));
}

#[test]
fn dashed_file_name() {
    let t = Tree::new();
    t.modules("kernel/sub", &["mod-dash", "mod_param"]);
    let (k, o) = compare(&t, &[], b"");
    assert!(dep(&k).contains("kernel/sub/mod-dash.ko:\n"));
    // Looked up by either spelling, through our modules.dep.bin.
    for name in ["mod-dash", "mod_dash"] {
        let v = t.modprobe_view(&o.files, &[name]);
        assert!(v.contains("insmod @BASE@/lib/modules/"), "{v}");
        assert!(v.contains("/kernel/sub/mod-dash.ko \n"), "{v}");
    }
}

#[test]
fn every_fixture_with_order_and_builtin_files() {
    let t = Tree::new();
    t.modules("kernel/drivers", &ALL[..6])
        .modules("extra", &ALL[6..]);
    // Listed in part, and with built-in modules of their own.
    t.file(
        &format!("lib/modules/{}/modules.order", t.release),
        "extra/mod_alias.ko\nkernel/drivers/mod_c.ko\nkernel/drivers/mod_a.ko\nextra/nothere.ko\n",
    );
    t.file(
        &format!("lib/modules/{}/modules.builtin", t.release),
        "kernel/fs/builtin-fs.ko\nkernel/drivers/other.ko\n",
    );
    std::fs::write(
        t.dir().join("modules.builtin.modinfo"),
        b"builtin_fs.alias=fs-builtinfs\0builtin_fs.license=GPL\0other.alias=pci:v0000BEEFd*sv*sd*bc*sc*i*\0",
    )
    .unwrap();
    let k = t.run(&kmod_depmod(), &[], &[]);
    let o = t.run(&our_depmod(), &[], &[]);
    let want = derived_weakdep(&t, &k);
    let tally = assert_same(&t, &o, &k, &want, &["builtin-fs", "fs-builtinfs", "other"]);
    eprintln!("depmod fixtures, all modules: {tally:?}");
}

#[test]
fn dependency_cycles_write_nothing() {
    // A finished set of outputs is in place before each run: neither tool
    // may touch it.
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_b"]);
    let old = t.run(&our_depmod(), &[], &[]).files;
    for (label, mods) in [
        ("2-cycle", &["mod_loop_a", "mod_loop_b"][..]),
        (
            "3-cycle",
            &["mod_loop3_a", "mod_loop3_b", "mod_loop3_c"][..],
        ),
        (
            "both cycles among others",
            &[
                "mod_loop_a",
                "mod_loop_b",
                "mod_loop3_a",
                "mod_loop3_b",
                "mod_loop3_c",
                "mod_c",
                "mod_alias",
            ][..],
        ),
    ] {
        let t = Tree::new();
        t.modules("kernel", &["mod_a", "mod_b"])
            .modules("extra", mods);
        let mut runs = Vec::new();
        for tool in [kmod_depmod(), our_depmod()] {
            put_outputs(&t.dir(), &old);
            let r = t.run(&tool, &[], &[]);
            assert_eq!(
                r.files,
                old,
                "{label}: {} changed the outputs",
                tool.display()
            );
            runs.push(r);
        }
        let (k, o) = (&runs[0], &runs[1]);
        assert_eq!(k.out.code, Some(1), "{label}: {}", k.out.show());
        assert_eq!(o.out.code, Some(1), "{label}: {}", o.out.show());
        assert_eq!(text(&o.out.stderr), text(&k.out.stderr), "{label}");
        assert_eq!(text(&o.out.stdout), text(&k.out.stdout), "{label}");
        assert!(
            k.leftovers.is_empty() && o.leftovers.is_empty(),
            "{label}: {:?} {:?}",
            k.leftovers,
            o.leftovers
        );
        assert!(text(&k.out.stderr).contains("modules in dependency cycles!"));
        eprintln!(
            "depmod {label}: {}",
            text(&o.out.stderr).trim_end().replace('\n', " | ")
        );
    }
}

/// The same module under several directories: which copy wins follows
/// `search`, live against kmod for each configuration.
#[test]
fn depmod_d_search() {
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_b", "mod_c"])
        .modules("extra", &["mod_a", "mod_b"])
        .modules("updates", &["mod_a"])
        .modules("updates/sub", &["mod_b"])
        .modules("weird", &["mod_a", "mod_c"]);
    let configs = [
        "",
        "search extra built-in\n",
        "search built-in extra\n",
        "search updates\nsearch extra\n",
        "search extra updates built-in\n",
        "search weird extra\nsearch built-in updates\n",
        "search built-in\n",
    ];
    for (i, conf) in configs.iter().enumerate() {
        let c = format!("conf{i}/search.conf");
        t.file(&c, conf);
        let (k, _) = compare(&t, &["-C", &t.path(&format!("conf{i}"))], b"");
        eprintln!("depmod.d {:?}: {}", conf, dep(&k).replace('\n', " | "));
    }
}

#[test]
fn depmod_d_override() {
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_b", "mod-dash"])
        .modules("updates", &["mod_a", "mod_b", "mod-dash"]);
    for (i, conf) in [
        "override mod_a * kernel\n",
        "override mod_a 6.* kernel\noverride mod_b 6\\.1 kernel\n",
        "override mod_a 5\\.99 kernel\n",
        "override mod-dash * kernel\n",
        "override mod_dash * kernel\n",
        "search built-in updates\noverride mod_b * updates\n",
    ]
    .iter()
    .enumerate()
    {
        let c = t.path(&format!("ov{i}.conf"));
        t.file(&format!("ov{i}.conf"), conf);
        compare(&t, &["-C", &c], b"");
        // -v shows the "override kernel did not match" note.
        compare(&t, &["-v", "-C", &c], b"");
    }
}

#[test]
fn depmod_d_external() {
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_c"]);
    let ext = t.base().join("ext");
    for (dir, names) in [
        ("ext/one", &["mod_b", "mod_a"][..]),
        ("ext/two", &["mod_b", "mod_alias"][..]),
    ] {
        std::fs::create_dir_all(t.base().join(dir)).unwrap();
        for n in names {
            std::fs::copy(
                fixture_dir().join(format!("{n}.ko")),
                t.base().join(dir).join(format!("{n}.ko")),
            )
            .unwrap();
        }
    }
    let one = ext.join("one").to_str().unwrap().to_string();
    let two = ext.join("two").to_str().unwrap().to_string();
    for (i, conf) in [
        format!("external * {one}\nsearch external built-in\n"),
        format!("external * {one}\nsearch built-in external\n"),
        format!("external * {one}\nexternal * {two}\nsearch external built-in\n"),
        format!("external * {two}\nexternal * {one}\nsearch external\n"),
        format!("external 5\\.99 {two}\nexternal * {one}\n"),
        "external * /nonexistent/dir\nsearch external built-in\n".to_string(),
    ]
    .iter()
    .enumerate()
    {
        t.file(&format!("ext{i}.conf"), conf);
        let (k, _) = compare(&t, &["-C", &t.path(&format!("ext{i}.conf"))], b"");
        eprintln!("depmod.d external {i}: {}", dep(&k).replace('\n', " | "));
    }
}

#[test]
fn depmod_d_exclude_and_bad_lines() {
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_b"])
        .modules("kernel/skipme", &["mod_param"])
        .modules("extra/skipme/deeper", &["mod_alias"])
        .modules("extra", &["mod_softdep"]);
    for (i, conf) in [
        "exclude skipme\n",
        "exclude skipme extra\n",
        "exclude deeper\n# a comment\n\n",
        "search built-in\nbogus directive\noverride mod_a\ninclude /etc/whatever\nmake_map_files\nexclude\nsearch\n",
    ]
    .iter()
    .enumerate()
    {
        t.file(&format!("ex{i}/x.conf"), conf);
        let c = t.path(&format!("ex{i}"));
        compare(&t, &["-C", &c], b"");
        compare(&t, &["-v", "-C", &c], b"");
    }
    // Directory rules: only .conf files, sorted by name, the first
    // directory's file wins over a same-named one in a later directory.
    t.file("d1/b.conf", "exclude skipme\n")
        .file("d1/a.conf.disabled", "exclude extra\n")
        .file("d2/b.conf", "exclude kernel\n")
        .file("d2/a.conf", "search extra built-in\n");
    compare(&t, &["-C", &t.path("d1"), "-C", &t.path("d2")], b"");
    compare(&t, &["-v", "-C", &t.path("d1"), "-C", &t.path("d2")], b"");
    compare(&t, &["-C", &t.path("d2/b.conf"), "-C", &t.path("d1")], b"");
}

/// `-A`: nothing to do when modules.dep is at least as new as every
/// module, compared in whole seconds (kmod 34.2); otherwise (or with
/// modules.dep missing, which is reported) a full run. `-A -n` does nothing.
#[test]
fn quick_mode() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_b", "mod_c"]);
    let set_mtime = |p: &Path, when: SystemTime| {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(when).unwrap();
    };
    let long_ago = SystemTime::now() - Duration::from_secs(100_000);
    for m in ["mod_a", "mod_c"] {
        set_mtime(&t.dir().join(format!("kernel/{m}.ko")), long_ago);
    }
    // No modules.dep: an error, then the full run.
    let (k, o) = compare(&t, &["-A"], b"");
    assert!(
        text(&k.out.stderr).contains("could not fstatat"),
        "{}",
        k.out.show()
    );
    // The files put back before each run carry a mark that a rewrite drops.
    let mut old = o.files.clone();
    old.get_mut("modules.dep")
        .unwrap()
        .extend_from_slice(b"# stale\n");
    let second = UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let ms = Duration::from_millis;
    for (label, dep_time, module_time, rewrites) in [
        ("modules.dep newer", second + ms(100_000), second, false),
        ("same time", second, second, false),
        (
            "module newer within the same second",
            second + ms(100),
            second + ms(900),
            false,
        ),
        (
            "module a second newer",
            second + ms(900),
            second + ms(1_100),
            true,
        ),
        ("module much newer", second - ms(100_000), second, true),
    ] {
        let mut runs = Vec::new();
        for tool in [kmod_depmod(), our_depmod()] {
            put_outputs(&t.dir(), &old);
            set_mtime(&t.dir().join("modules.dep"), dep_time);
            set_mtime(&t.dir().join("kernel/mod_b.ko"), module_time);
            runs.push(t.run(&tool, &["-A"], &[]));
        }
        let (k, o) = (&runs[0], &runs[1]);
        let rewrote = |r: &Run| r.files["modules.dep"] != old["modules.dep"];
        assert_eq!(rewrote(k), rewrites, "{label}: kmod");
        assert_eq!(rewrote(o), rewrites, "{label}: ours");
        assert_eq!((k.out.code, o.out.code), (Some(0), Some(0)), "{label}");
        assert_eq!(text(&o.out.stderr), text(&k.out.stderr), "{label}");
        assert_eq!(text(&o.out.stdout), text(&k.out.stdout), "{label}");
        if rewrites {
            let mut kfiles = k.files.clone();
            kfiles.remove("modules.weakdep"); // put back, not kmod's
            let (problems, _) = compare_files(&o.files, &kfiles, b"");
            assert!(problems.is_empty(), "{label}: {}", problems.join("\n"));
        } else {
            assert_eq!(o.files, old, "{label}: we changed files");
        }
    }
    // -A -n: nothing at all.
    let k = t.run(&kmod_depmod(), &["-A", "-n"], &[]);
    let o = t.run(&our_depmod(), &["-A", "-n"], &[]);
    assert_same(&t, &o, &k, b"", &[]);
    assert!(o.out.stdout.is_empty() && o.files.is_empty());
}

/// `-o DIR` (kmod 31+, so derived): the files kmod writes into the module
/// directory appear under `DIR/lib/modules/<release>` instead, and nothing
/// is written into the module directory. Messages still name the module
/// directory. `-m DIR` (kmod 34): the module directory is `<base>/DIR/<release>`
/// (a leading `/` dropped); derived by moving a tree kmod ran on.
#[test]
fn outdir_and_moduledir() {
    let t = Tree::new();
    t.modules(
        "kernel",
        &["mod_a", "mod_b", "mod_c", "mod_devname", "mod_alias"],
    );
    let k = t.run(&kmod_depmod(), &[], &[]);
    assert_eq!(k.out.code, Some(0));
    let out = t.base().join("out");
    let outdir = out.join("lib/modules").join(&t.release);
    let o = t.run_in(&our_depmod(), &["-o", out.to_str().unwrap()], &[], &outdir);
    assert_same(&t, &o, &k, b"", &[]);
    assert!(
        read_outputs(&t.dir()).is_empty(),
        "-o wrote into the module directory"
    );

    // -m: the same tree moved to <base>/usr/lib/modules/<release>.
    let moved = t.base().join("usr/lib/modules");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(t.dir(), moved.join(&t.release)).unwrap();
    for m in ["/usr/lib/modules", "usr/lib/modules", "/usr/lib/modules/"] {
        // Paths are spelled `<base>/<moduledir>/<release>`: a trailing `/`
        // of the -m value shows as `//`.
        let kstderr = replace(
            &k.out.stderr,
            &format!("{}/lib/modules/", t.b()),
            &format!("{}/{}/", t.b(), m.trim_start_matches('/')),
        );
        let o = t.run_in(&our_depmod(), &["-m", m], &[], &moved.join(&t.release));
        assert_eq!(o.out.code, Some(0), "-m {m}: {}", o.out.show());
        assert_eq!(text(&o.out.stderr), text(&kstderr), "-m {m}");
        let (problems, _) = compare_files(&o.files, &k.files, b"");
        assert!(problems.is_empty(), "-m {m}: {}", problems.join("\n"));
        assert!(o.leftovers.is_empty());
    }
    // -m with -o: <out>/<moduledir>/<release>.
    let out_m = out.join("usr/lib/modules").join(&t.release);
    let o = t.run_in(
        &our_depmod(),
        &["-m", "/usr/lib/modules", "-o", out.to_str().unwrap()],
        &[],
        &out_m,
    );
    let (problems, _) = compare_files(&o.files, &k.files, b"");
    assert!(problems.is_empty(), "-m -o: {}", problems.join("\n"));
    assert!(read_outputs(&moved.join(&t.release)).is_empty());
}

/// `-e -E` with the kernel headers' Module.symvers (the fixtures were built
/// against them: no warning), a copy with `_printk` missing and CRCs
/// changed (warnings for each module), the fixtures' own Module.symvers
/// (no `vmlinux` lines: every kernel symbol unknown); and `-e -F` with a
/// System.map. Live against kmod.
#[test]
fn symbol_checks() {
    let t = Tree::new();
    t.modules("kernel", &ALL);
    let symvers = env_path("MODUTILS_TEST_SYMVERS", "the kernel's Module.symvers");
    let real = std::fs::read_to_string(&symvers).unwrap();
    let mut doctored = String::new();
    for line in real.lines() {
        let sym = line.split('\t').nth(1).unwrap_or("");
        match sym {
            "_printk" => continue,
            "module_layout" | "__fentry__" | "param_ops_int" => {
                doctored.push_str(&line.replacen("0x", "0x1", 1));
            }
            _ => doctored.push_str(line),
        }
        doctored.push('\n');
    }
    t.file("doctored.symvers", &doctored);
    let map: String = real
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .filter(|s| *s != "_printk")
        .map(|s| format!("ffffffff81000000 r __ksymtab_{s}\n"))
        .collect();
    t.file("System.map", &map);
    let fixture_symvers = fixture_dir().join("Module.symvers");
    let (doc, map) = (t.path("doctored.symvers"), t.path("System.map"));
    let cases = [
        vec!["-e", "-E", symvers.to_str().unwrap()],
        vec!["-e", "-E", &doc],
        vec!["-e", "-E", fixture_symvers.to_str().unwrap()],
        vec!["-E", &doc],
        vec!["-e", "-F", &map],
        vec!["-e", "-E", &doc, "-F", &map],
        vec!["-e"],
    ];
    let weakdep = derived_weakdep(&t, &t.run(&kmod_depmod(), &[], &[]));
    for args in cases {
        let k = t.run(&kmod_depmod(), &args, &[]);
        let o = t.run(&our_depmod(), &args, &[]);
        assert_same(&t, &o, &k, &weakdep, &[]);
        let warnings = text(&k.out.stderr).lines().count();
        eprintln!("depmod {args:?}: {warnings} identical messages");
    }
    // Each case above was compared; these must have produced warnings.
    let k = t.run(
        &kmod_depmod(),
        &["-n", "-e", "-E", &t.path("doctored.symvers")],
        &[],
    );
    let err = text(&k.out.stderr);
    assert!(err.contains("needs unknown symbol _printk"), "{err}");
    assert!(
        err.contains("disagrees about version of symbol module_layout"),
        "{err}"
    );
}

/// Module files named on the command line: only they are scanned (no
/// depmod.d), paths under the module directory shown relative, others
/// absolute; and the errors for relative or missing files.
#[test]
fn explicit_module_files() {
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_b", "mod_c", "mod_alias"]);
    std::fs::create_dir_all(t.base().join("elsewhere")).unwrap();
    std::fs::copy(
        fixture_dir().join("mod-dash.ko"),
        t.base().join("elsewhere/mod-dash.ko"),
    )
    .unwrap();
    let file = |rel: &str| format!("{}/kernel/{rel}.ko", t.dir().display());
    let elsewhere = t.path("elsewhere/mod-dash.ko");
    let cases: Vec<Vec<String>> = vec![
        vec![file("mod_c"), file("mod_b"), file("mod_a")],
        vec![file("mod_b"), elsewhere.clone()],
        vec![file("mod_c")],
        vec![file("mod_a"), file("mod_a")],
        vec!["kernel/mod_a.ko".into()],
        vec![t.path("nothere.ko")],
    ];
    for files in &cases {
        let post: Vec<&str> = files.iter().map(String::as_str).collect();
        for pre in [&[][..], &["-a"][..]] {
            let k = t.run(&kmod_depmod(), pre, &post);
            let o = t.run(&our_depmod(), pre, &post);
            assert_same(&t, &o, &k, b"", &[]);
        }
    }
}

/// Command-line mistakes and missing inputs: same messages, same status.
#[test]
fn command_line_errors() {
    let t = Tree::new();
    t.module("kernel", "mod_a");
    let b = t.b().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["-b", &b, "notaversion"],
        vec!["-b", &b, "6", "x"],
        vec!["-P", "ab", "-b", &b, "1.0"],
        vec!["--bogus", "-b", &b, "1.0"],
        vec!["-b"],
        vec!["-E", "/nonexistent/Module.symvers", "-b", &b, "1.0"],
        vec!["-F", "/nonexistent/System.map", "-b", &b, "1.0"],
        vec!["-b", "/nonexistent/base", "1.0"],
        vec!["-b", &b, "9.9.9-notthere"],
        // No version: the running kernel's, not in this tree.
        vec!["-b", &b],
        vec!["-C", "/nonexistent/depmod.d", "-n", "-b", &b, &t.release],
        vec![
            "--basedir",
            &b,
            "--show",
            "--all",
            "--symbol-prefix=_",
            &t.release,
        ],
    ];
    for args in cases {
        let (k, o) = (exec(&kmod_depmod(), &args), exec(&our_depmod(), &args));
        assert_eq!(
            o.code,
            k.code,
            "{args:?}\n--- kmod\n{}\n--- ours\n{}",
            k.show(),
            o.show()
        );
        assert_eq!(text(&o.stderr), text(&k.stderr), "{args:?}");
        // -n output: kmod 34 adds the modules.weakdep section.
        let marker = b"# Aliases for symbols, used by symbol_request().\n";
        let want = match k.stdout.windows(marker.len()).position(|w| w == marker) {
            Some(at) => [&k.stdout[..at], WEAKDEP_HEADER, &k.stdout[at..]].concat(),
            None => k.stdout.clone(),
        };
        assert_eq!(text(&o.stdout), text(&want), "{args:?}");
        assert!(read_outputs(&t.dir()).is_empty(), "{args:?} wrote files");
    }
}

/// kmod's depmod creates a library context, which reads the module
/// directory's modules.softdep (and, from kmod 33, modules.weakdep) as
/// modprobe configuration: bad lines there are reported by libkmod's
/// logger before anything else. kmod 30's library messages carry its debug
/// prefix (normalised; docs/compat.md, "kmod 30 and 34.2"), and it does not
/// read modules.weakdep: that file's message is derived from kmod 34's.
#[test]
fn bad_lines_in_the_old_softdep_and_weakdep_files() {
    let t = Tree::new();
    t.modules("kernel", &["mod_a", "mod_softdep"]);
    let softdep = "# Soft dependencies extracted from modules themselves.\nsoftdep mod_x pre: mod_a\ngarbage here\n  # indented comment\nsoftdep\noptions mod_a x=1\n";
    let weakdep = "weakdep mod_a mod_b\nbogus weak\n";
    let dir = t.dir();
    let d = dir.to_str().unwrap();
    let want_weak = format!(
        "libkmod: ERROR: kmod_config_parse: {d}/modules.weakdep line 2: ignoring bad line starting with 'bogus'\n"
    );
    for pre in [&[][..], &["-n"][..], &["-v"][..]] {
        let mut runs = Vec::new();
        for tool in [kmod_depmod(), our_depmod()] {
            t.file(
                &format!("lib/modules/{}/modules.softdep", t.release),
                softdep,
            );
            t.file(
                &format!("lib/modules/{}/modules.weakdep", t.release),
                weakdep,
            );
            runs.push(t.run(&tool, pre, &[]));
        }
        let (k, o) = (&runs[0], &runs[1]);
        let kerr = crate::util::normalize_libkmod_30(&text(&k.out.stderr));
        let at = kerr
            .rfind("/modules.softdep line ")
            .map(|i| i + kerr[i..].find('\n').unwrap() + 1)
            .unwrap();
        let want = format!("{}{want_weak}{}", &kerr[..at], &kerr[at..]);
        assert_eq!(text(&o.out.stderr), want, "{pre:?}");
        assert_eq!(o.out.code, k.out.code);
        assert!(kerr.contains("starting with 'garbage'"), "{kerr}");
    }
}

/// libkmod's own logger, which reports the bad lines of the tree's
/// modules.softdep while depmod sets up its library context, shows them or
/// not for the same values of `KMOD_LOG` as kmod's: a number only when
/// nothing or a blank follows it (kept in an int), a word by its first
/// letters, nothing for anything else (the empty value included).
#[test]
fn kmod_log_is_read_as_kmod_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib/modules/1.0");
    std::fs::create_dir_all(dir.join("kernel")).unwrap();
    let base = tmp.path().to_str().unwrap();
    let shown = |program: &Path, value: Option<&str>| {
        std::fs::write(dir.join("modules.softdep"), "softdep\nbogus line\n").unwrap();
        let mut cmd = std::process::Command::new(program);
        cmd.args(["-b", base, "1.0"])
            .env_remove("MODUTILS_SYSROOT")
            .env_remove("MODUTILS_NO_CACHE")
            .env_remove("LD_LIBRARY_PATH");
        match value {
            Some(v) => cmd.env("KMOD_LOG", v),
            None => cmd.env_remove("KMOD_LOG"),
        };
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stderr)
            .matches("ignoring bad line")
            .count()
    };
    let values = [
        None,
        Some(""),
        Some("3"),
        Some("2"),
        Some("3x"),
        Some("3 x"),
        Some("3\x0b"),
        Some(" +3"),
        Some("-1"),
        Some("4294967295"),
        Some("4294967299"),
        Some("99999999999999999999"),
        Some("errx"),
        Some("e"),
        Some(" err"),
        Some("information"),
        Some("debug"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for value in values {
        let kmod = shown(&kmod_depmod(), value);
        assert_eq!(shown(&our_depmod(), value), kmod, "KMOD_LOG={value:?}");
        seen.insert(kmod);
    }
    assert_eq!(
        seen.len(),
        2,
        "the values should both show and hide the errors"
    );
}
