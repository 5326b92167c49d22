//! Hermetic scenario trees: a few generated modules and files under
//! `<base>/lib/modules/1.0`, run through kmod's depmod and ours in turn on
//! the same tree (so readdir order is the same for both).

use std::fs;
use std::path::{Path, PathBuf};

use modutils_core::config::depmod::LoadOptions;
use modutils_core::config::{DepmodConfig, Diagnostic};
use modutils_core::depmod::Options;
use modutils_core::Root;

use super::{assert_same_text, dump_index, kmod, lossy, ours, Outcome};
use modutils_test_support::fake_module::FakeModule;

pub const VERSION: &str = "1.0";

/// Every file depmod writes, kmod 34 order.
pub const OUTPUTS: [&str; 11] = [
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.weakdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
    "modules.devname",
];

pub struct Scenario {
    pub base: tempfile::TempDir,
}

/// One run's results: status, streams and the output files it left.
#[derive(Debug)]
pub struct Run {
    pub out: Outcome,
    /// (file name, contents) of each output present afterwards.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Run {
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }
}

impl Scenario {
    pub fn new() -> Scenario {
        let s = Scenario {
            base: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(s.dir()).unwrap();
        s
    }

    pub fn base(&self) -> &Path {
        self.base.path()
    }

    /// `<base>/lib/modules/1.0`.
    pub fn dir(&self) -> PathBuf {
        self.base().join("lib/modules").join(VERSION)
    }

    /// Writes a module at `rel` (relative to the module directory).
    pub fn module(&self, rel: &str, m: FakeModule) -> &Scenario {
        m.write(self.dir().join(rel));
        self
    }

    /// Writes any file relative to the base directory; `@BASE@` in the
    /// contents becomes the base path.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Scenario {
        let path = self.base().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = super::replace_bytes(contents.as_ref(), b"@BASE@", self.base_str().as_bytes());
        fs::write(path, text).unwrap();
        self
    }

    pub fn base_str(&self) -> String {
        self.base().to_str().unwrap().to_string()
    }

    /// Removes every output file, returning what was there.
    pub fn take_outputs(&self, dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for name in OUTPUTS {
            let p = dir.join(name);
            if let Ok(bytes) = fs::read(&p) {
                fs::remove_file(&p).unwrap();
                files.push((name.to_string(), bytes));
            }
        }
        files
    }

    /// kmod's depmod with `args` then `-b <base> 1.0` (plus `tail`, e.g.
    /// module files).
    pub fn kmod(&self, args: &[&str], tail: &[&str]) -> Run {
        self.kmod_in(args, tail, &self.dir())
    }

    pub fn kmod_in(&self, args: &[&str], tail: &[&str], outdir: &Path) -> Run {
        let base = self.base_str();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-b", &base, VERSION]);
        all.extend_from_slice(tail);
        let out = kmod(&all);
        Run {
            out,
            files: self.take_outputs(outdir),
        }
    }

    /// Our engine with options set by `tweak`; depmod.d from `-C` paths
    /// (relative to the base) when `config` is given, else no config.
    pub fn ours(&self, config: Option<&[&str]>, tweak: impl FnOnce(&mut Options)) -> Run {
        self.ours_in(config, tweak, &self.dir())
    }

    pub fn ours_in(
        &self,
        config: Option<&[&str]>,
        tweak: impl FnOnce(&mut Options),
        outdir: &Path,
    ) -> Run {
        let mut opts = super::options(self.base(), VERSION);
        tweak(&mut opts);
        // The front-end prints depmod.d's diagnostics (at the default
        // verbosity) before the scan's messages.
        let mut config_messages = Vec::new();
        let cfg = match config {
            Some(paths) => {
                let mut diags: Vec<Diagnostic> = Vec::new();
                let opts = LoadOptions {
                    root: &Root::system(),
                    config_paths: Some(paths.iter().map(|p| self.base().join(p)).collect()),
                    kernel_version: VERSION.as_bytes().to_vec(),
                };
                let cfg = DepmodConfig::load(&opts, &mut diags);
                for d in diags
                    .iter()
                    .filter(|d| d.level <= modutils_core::config::Level::Warning)
                {
                    config_messages.extend_from_slice(&d.tool_line("depmod"));
                }
                cfg
            }
            None => DepmodConfig::default(),
        };
        let mut out = ours(opts, &cfg);
        config_messages.extend_from_slice(&out.stderr);
        out.stderr = config_messages;
        Run {
            out,
            files: self.take_outputs(outdir),
        }
    }
}

/// kmod 30 predates modules.weakdep (docs/compat.md, "kmod 30 and 34.2"): in `-n` output
/// kmod 34 prints its header (and any entries) after the soft dependencies.
pub fn with_weakdep_section(kmod30_stdout: &[u8], entries: &[u8]) -> Vec<u8> {
    let marker = b"# Aliases for symbols, used by symbol_request().\n";
    let at = kmod30_stdout
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("no symbols header");
    let mut out = kmod30_stdout[..at].to_vec();
    out.extend_from_slice(b"# Weak dependencies extracted from modules themselves.\n");
    out.extend_from_slice(entries);
    out.extend_from_slice(&kmod30_stdout[at..]);
    out
}

const WEAKDEP_HEADER: &[u8] = b"# Weak dependencies extracted from modules themselves.\n";

/// Same status, streams and outputs; modules.weakdep (which kmod 30 does
/// not write) must be `weakdep` when the run wrote files.
pub fn assert_same(ours: &Run, kmod: &Run, weakdep: &[u8]) {
    assert_eq!(
        ours.out.ok,
        kmod.out.ok,
        "exit status; ours stderr:\n{}",
        lossy(&ours.out.stderr)
    );
    assert_same_text("stderr", &ours.out.stderr, &kmod.out.stderr);
    assert_same_text("stdout", &ours.out.stdout, &kmod.out.stdout);
    for (name, theirs) in &kmod.files {
        let mine = ours
            .file(name)
            .unwrap_or_else(|| panic!("we did not write {name}"));
        if name.ends_with(".bin") {
            assert_eq!(dump_index(mine), dump_index(theirs), "{name}");
            super::assert_index_bytes(name, mine);
        } else {
            assert_same_text(name, mine, theirs);
        }
    }
    let extra: Vec<&str> = ours
        .files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| kmod.file(n).is_none())
        .collect();
    if kmod.files.is_empty() {
        assert!(
            ours.files.is_empty(),
            "kmod wrote nothing, we wrote {extra:?}"
        );
    } else {
        assert_eq!(extra, ["modules.weakdep"]);
        assert_same_text(
            "modules.weakdep",
            ours.file("modules.weakdep").unwrap(),
            &[WEAKDEP_HEADER, weakdep].concat(),
        );
    }
}

/// Runs kmod then ours with the same arguments on `s` and compares.
pub fn compare(
    s: &Scenario,
    args: &[&str],
    tweak: impl FnOnce(&mut modutils_core::depmod::Options),
) {
    let k = s.kmod(args, &[]);
    let o = s.ours(None, tweak);
    assert_same(&o, &k, b"");
}

/// A little stack: two users of `mid`, which uses `base`, plus aliases,
/// soft dependencies and device nodes.
pub fn stack(s: &Scenario) {
    s.module(
        "kernel/base.ko",
        FakeModule::bare()
            .export("base_fn")
            .export("base_data")
            .info("alias=base-alias")
            .info("license=GPL"),
    )
    .module(
        "kernel/sub/mid-dash.ko",
        FakeModule::bare()
            .export("mid_fn")
            .import("base_fn")
            .info("alias=pci:v00001234d*sv*sd*bc*sc*i*"),
    )
    .module(
        "kernel/top.ko",
        FakeModule::bare()
            .import("mid_fn")
            .import("base_data")
            .import("printk")
            .info("softdep=pre: base"),
    )
    .module(
        "kernel/top2.ko",
        FakeModule::bare()
            .import("mid_fn")
            .info("alias=char-major-10-200")
            .info("alias=devname:top2dev"),
    )
    .module(
        "extra/lonely.ko",
        FakeModule::bare()
            .info("alias=devname:nomajor")
            .weak_import("base_fn"),
    );
}

/// A module `name` exporting `<name>_fn` and using `<dep>_fn` of each dep.
pub fn linked(s: &Scenario, name: &str, deps: &[&str]) {
    let mut m = FakeModule::bare().export(format!("{name}_fn"));
    for d in deps {
        m = m.import(format!("{d}_fn"));
    }
    s.module(&format!("kernel/{name}.ko"), m);
}
