//! Hermetic scenario trees: a few generated modules and files under
//! `<base>/lib/modules/1.0`, run through kmod's depmod and ours in turn on
//! the same tree (so readdir order is the same for both).

use std::fs;
use std::path::{Path, PathBuf};

use modutils_core::config::depmod::LoadOptions;
use modutils_core::config::DepmodConfig;
use modutils_core::depmod::Options;
use modutils_core::Root;

use super::elfgen::Module;
use super::{kmod, ours, Outcome};

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
    pub fn module(&self, rel: &str, m: Module) -> &Scenario {
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
                let (cfg, diags) = DepmodConfig::load(&LoadOptions {
                    root: &Root::system(),
                    config_paths: Some(paths.iter().map(|p| self.base().join(p)).collect()),
                    kernel_version: VERSION.as_bytes().to_vec(),
                });
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

/// kmod 30 predates modules.weakdep (kmod-behaviour §11): in `-n` output
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
