//! The depmod engine: scans a module tree and writes the files that
//! modprobe reads (modules.dep, modules.alias, their .bin indexes, …),
//! byte for byte as kmod 34's depmod does.
//!
//! The front-end parses the command line (the version operand, `-P`'s
//! single character) and drives the stages in kmod's order, so that
//! messages come out in kmod's sequence: `-A`, then `-E`/`-F`, then
//! depmod.d (only for a full scan), then the rest.
//!
//! ```no_run
//! # use modutils_core::depmod::*;
//! # use modutils_core::config::{depmod::LoadOptions, DepmodConfig};
//! # fn demo(options: Options, config_paths: Option<Vec<std::path::PathBuf>>) -> Result<(), Error> {
//! let mut rep = Collected::default(); // or the front-end's own Reporter
//! let root = options.root.clone();
//! let version = options.kernel_version.clone().into_bytes();
//! let depmod = Depmod::new(options);
//! if depmod.is_up_to_date(&mut rep) {
//!     return Ok(()); // -A: nothing to do
//! }
//! let kernel = depmod.load_kernel_symbols(&mut rep)?;
//! let config = if depmod.scans_all() {
//!     let opts = LoadOptions { root: &root, config_paths, kernel_version: version };
//!     DepmodConfig::load(&opts, &mut rep) // its messages go where the engine's do
//! } else {
//!     DepmodConfig::default()
//! };
//! depmod.generate(&kernel, &config, &mut rep)?;
//! # Ok(()) }
//! ```
//!
//! Messages reach the [`Reporter`] unfiltered, each with its level, in
//! kmod's wording without the `depmod: LEVEL: ` prefix and final newline;
//! the front-end applies the verbosity threshold. Bytes for stdout (`-v`
//! lines, `-n` output) go through [`Reporter::stdout`]. An [`Error::Fatal`]
//! is printed as `FATAL: <text>`; every [`Error`] means exit status 1.
//!
//! Modules are read in parallel; everything else is ordered exactly as
//! kmod orders it (`hash`, `order`). The library never prints, exits or
//! panics on bad input.

pub mod cache;
mod cycles;
mod engine;
mod fgets;
mod hash;
mod incremental;
mod order;
mod output;
mod parse;
mod report;
mod resolve;
mod scan;
mod symvers;
mod walk;
mod write;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use output::node_of_alias;
pub use report::{Collected, Level, Message, Reporter, Sink};
pub use symvers::KernelSymbols;

use report::text;

use crate::diagnostics::strerror;

use crate::Root;

/// What the command line asks for (kmod 34's options).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where target paths live on the host (`MODUTILS_SYSROOT`).
    pub root: Root,
    /// `-b`: prefix of the module directory. Relative paths are taken
    /// relative to the current directory.
    pub base_dir: Option<PathBuf>,
    /// `-m`: the module directory under the base, default `/lib/modules`.
    pub module_dir: Option<PathBuf>,
    /// `-o`: prefix for the output directory instead of the base.
    pub out_dir: Option<PathBuf>,
    /// The kernel release; its directory holds the modules.
    pub kernel_version: String,
    /// Module files named on the command line (absolute). Empty: all.
    pub files: Vec<PathBuf>,
    /// `-a`: scan everything even when files are named.
    pub all: bool,
    /// `-A`: do nothing when modules.dep is newer than every module.
    pub quick: bool,
    /// `-n`: write the text outputs to stdout instead of files.
    pub dry_run: bool,
    /// `-E`: Module.symvers, for unknown-symbol and CRC checks.
    pub symvers: Option<PathBuf>,
    /// `-F`: System.map, for unknown-symbol checks.
    pub system_map: Option<PathBuf>,
    /// `-e`: warn about unknown symbols (and CRC mismatches with -E).
    pub errsyms: bool,
    /// `-P`: a symbol prefix character to ignore.
    pub symbol_prefix: Option<u8>,
    /// `-w`: warn about duplicate aliases.
    pub warn: bool,
    /// `-v`: print each new dependency edge to stdout.
    pub verbose: bool,
    /// Neither read nor write the cache ([`cache`]): read every module.
    pub no_cache: bool,
}

/// Why depmod stopped. Messages of level ERROR that led here have already
/// gone to the [`Reporter`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A FATAL message (kmod's CRIT): print `FATAL: <text>` and exit 1.
    #[error("{}", String::from_utf8_lossy(.0))]
    Fatal(Vec<u8>),
    /// Modules depend on each other in cycles; nothing was written.
    #[error("dependency cycles among {0} modules")]
    Cycles(usize),
    /// An output file could not be written completely.
    #[error("could not write all output files")]
    Output,
}

/// What a successful run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Modules in the outputs.
    pub modules: usize,
    /// `-A` found nothing to do (or `-A -n`).
    pub up_to_date: bool,
}

/// What depmod reads from one module file: its exports (name, CRC), the
/// symbols it needs (name, CRC, weak) in kmod's order, and the `.modinfo`
/// values depmod writes out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleSymbols {
    /// Each exported symbol's name and CRC (0 without modversions).
    pub exports: Vec<(Vec<u8>, u64)>,
    /// Each needed symbol's name, CRC (0 when `__versions` has none) and whether the reference is
    /// weak.
    pub imports: Vec<(Vec<u8>, u64, bool)>,
    /// The module's `alias=` values from `.modinfo`.
    pub aliases: Vec<Vec<u8>>,
    /// The module's `softdep=` values from `.modinfo`.
    pub softdeps: Vec<Vec<u8>>,
    /// The module's `weakdep=` values from `.modinfo`.
    pub weakdeps: Vec<Vec<u8>>,
}

/// Reads one module (a host path) as the engine does; `Err` is the errno
/// kmod would report for it.
pub fn read_module(path: &Path) -> Result<ModuleSymbols, i32> {
    let p = parse::parse_one(path);
    match p.error {
        Some(errno) => Err(errno),
        None => Ok(ModuleSymbols::from(&p)),
    }
}

impl From<&parse::Parsed> for ModuleSymbols {
    fn from(p: &parse::Parsed) -> ModuleSymbols {
        let strs = |spans: &[parse::Span]| spans.iter().map(|&s| p.str(s).to_vec()).collect();
        ModuleSymbols {
            exports: p
                .exports
                .iter()
                .map(|e| (p.str(e.name).to_vec(), e.crc))
                .collect(),
            imports: p
                .imports()
                .map(|i| (p.str(i.name).to_vec(), i.crc, i.weak))
                .collect(),
            aliases: strs(&p.aliases),
            softdeps: strs(&p.softdeps),
            weakdeps: strs(&p.weakdeps),
        }
    }
}

/// A path as bytes, made absolute against the current directory.
fn absolute(p: &Path) -> Vec<u8> {
    let p = if p.is_relative() {
        std::env::current_dir()
            .map(|cwd| cwd.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    } else {
        p.to_path_buf()
    };
    p.as_os_str().as_bytes().to_vec()
}

/// A configured depmod run.
#[derive(Debug, Clone)]
pub struct Depmod {
    options: Options,
    dirname: Vec<u8>,
    outdirname: Vec<u8>,
}

impl Depmod {
    /// A run with `options`, its directories made absolute.
    pub fn new(options: Options) -> Depmod {
        let base = options
            .base_dir
            .as_deref()
            .map(absolute)
            .unwrap_or_default();
        let out = options
            .out_dir
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| base.clone());
        let module_dir = options
            .module_dir
            .as_deref()
            .map(|m| m.as_os_str().as_bytes().to_vec())
            .unwrap_or_else(|| crate::root::MODULE_DIRECTORY.as_bytes().to_vec());
        let module_dir: &[u8] = module_dir.strip_prefix(b"/").unwrap_or(&module_dir);
        // Spelled as kmod does: a `-b` ending in `/` gives `//` in paths.
        let under = |prefix: &[u8]| text!(prefix, b"/", module_dir, b"/", options.kernel_version);
        let (dirname, outdirname) = (under(&base), under(&out));
        Depmod {
            options,
            dirname,
            outdirname,
        }
    }

    /// `<base>/<moduledir>/<version>`, where the modules are.
    pub fn module_dir(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.dirname))
    }

    /// Where the outputs go.
    pub fn output_dir(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.outdirname))
    }

    /// The cache file this run reads and writes (a host path), unless the
    /// cache is off or the release cannot name a file.
    pub fn cache_file(&self) -> Option<PathBuf> {
        self.cache_place().map(|p| p.file().to_path_buf())
    }

    fn cache_place(&self) -> Option<cache::Place> {
        let o = &self.options;
        if o.no_cache {
            return None;
        }
        let prefix = o.out_dir.as_ref().or(o.base_dir.as_ref());
        let prefix = prefix.map(|p| absolute(p)).unwrap_or_default();
        cache::Place::new(&o.root, &prefix, o.kernel_version.as_bytes())
    }

    /// Whether the whole tree is scanned, and so depmod.d is consulted.
    pub fn scans_all(&self) -> bool {
        self.options.files.is_empty() || self.options.all || self.options.quick
    }

    /// `-A`: true when there is nothing to do: with `-n`, or when
    /// modules.dep is at least as new as every module file. Always false
    /// without `-A`.
    pub fn is_up_to_date(&self, rep: &mut dyn Reporter) -> bool {
        let o = &self.options;
        o.quick && (o.dry_run || scan::up_to_date(&o.root, &self.dirname, rep))
    }

    /// `-E`/`-F`: the kernel's own symbols; also settles whether `-e` can
    /// take effect (it needs one of them, and says so otherwise).
    pub fn load_kernel_symbols(&self, rep: &mut dyn Reporter) -> Result<KernelSymbols, Error> {
        let o = &self.options;
        let (file, loaded) = if let Some(f) = &o.symvers {
            let errno = symvers::stale_errno(&o.root, &self.dirname);
            (
                f,
                symvers::load_symvers(&o.root, f, o.symbol_prefix, errno, rep),
            )
        } else if let Some(f) = &o.system_map {
            (
                f,
                symvers::load_system_map(&o.root, f, o.symbol_prefix, rep),
            )
        } else {
            if o.errsyms {
                rep.log(Level::Warning, b"-e needs -E or -F");
            }
            return Ok(KernelSymbols::default());
        };
        match loaded {
            Ok(symbols) => Ok(KernelSymbols {
                symbols,
                print_unknown: o.errsyms,
                check_crcs: o.symvers.is_some(),
            }),
            Err(errno) => {
                let shown = file.as_os_str().as_bytes();
                Err(Error::Fatal(text!(
                    b"could not load ",
                    shown,
                    b": ",
                    strerror(errno)
                )))
            }
        }
    }
}
