//! `depmod`: scan a kernel's modules and write the dependency list and the
//! indexes modprobe, modinfo and udev read.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use modutils_core::config::depmod::LoadOptions;
use modutils_core::config::modprobe::{self, KernelCmdline};
use modutils_core::config::{DepmodConfig, ModprobeConfig};
use modutils_core::depmod::{Depmod, Error, Options, Reporter, Sink};
use modutils_core::Root;

use crate::cli::{self, Opt};
use crate::log::{self, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    All,
    Quick,
    Basedir,
    Moduledir,
    Outdir,
    Config,
    Symvers,
    Filesyms,
    Errsyms,
    Verbose,
    DryRun,
    SymbolPrefix,
    Warn,
    NoCache,
    Version,
    Help,
}

#[rustfmt::skip]
const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(Id::All, Some('a'), &["all"], "Scan every module (the default)"),
    Opt::flag(Id::Quick, Some('A'), &["quick"], "Do nothing if modules.dep is newer than every module"),
    Opt::value(Id::Basedir, Some('b'), &["basedir"], "DIR", "Take DIR as the root of the module tree"),
    Opt::value(Id::Moduledir, Some('m'), &["moduledir"], "DIR", "Module directory under the root (default /lib/modules)"),
    Opt::value(Id::Outdir, Some('o'), &["outdir"], "DIR", "Write the output files under DIR instead of the root"),
    Opt::value(Id::Config, Some('C'), &["config"], "PATH", "Read depmod.d configuration from PATH (file or directory)"),
    Opt::value(Id::Symvers, Some('E'), &["symvers"], "FILE", "Check symbols and their versions against Module.symvers"),
    Opt::value(Id::Filesyms, Some('F'), &["filesyms"], "FILE", "Check symbols against System.map"),
    Opt::flag(Id::Errsyms, Some('e'), &["errsyms"], "Report symbols no module or kernel provides (needs -E or -F)"),
    Opt::flag(Id::Verbose, Some('v'), &["verbose"], "Print each dependency found; more messages"),
    Opt::flag(Id::DryRun, Some('n'), &["show", "dry-run"], "Write the text outputs to stdout, no files"),
    Opt::value(Id::SymbolPrefix, Some('P'), &["symbol-prefix"], "CHAR", "Ignore this symbol prefix character"),
    Opt::flag(Id::Warn, Some('w'), &["warn"], "Warn about duplicate dependencies and aliases"),
    Opt::flag(Id::NoCache, None, &["no-cache"], "Read every module; neither use nor update the cache").extension(),
    Opt::flag(Id::Version, Some('V'), &["version"], "Print the version and exit"),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help and exit"),
];

/// The option table, for man pages and completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// What `kmod` knows of depmod.
pub const TOOL: cli::Tool = cli::Tool {
    name: "depmod",
    main,
    options: || cli::erase(OPTIONS),
    help_text: |prog| cli::help_text(prog, &["[options] [version] [module files…]"], OPTIONS),
};

/// Set and not empty: as `--no-cache`.
const NO_CACHE_VAR: &str = "MODUTILS_NO_CACHE";

/// Sends the engine's messages to the logger (which applies the verbosity
/// threshold) and its output to stdout.
struct Terminal {
    out: io::BufWriter<io::Stdout>,
}

impl Sink for Terminal {
    fn log(&mut self, level: Level, text: &[u8]) {
        // Keep stdout and stderr in the order kmod produces them.
        let _ = self.out.flush();
        log::log_bytes(level, text);
    }
}

impl Reporter for Terminal {
    fn stdout(&mut self, bytes: &[u8]) {
        let _ = self.out.write_all(bytes);
    }
}

/// kmod accepts a version operand only if it starts like `%u.%u`.
fn looks_like_version(s: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let n = digits(s);
    n > 0 && s.get(n) == Some(&b'.') && digits(&s[n + 1..]) > 0
}

pub fn main(args: Vec<OsString>) -> i32 {
    let Some(parsed) = cli::parse_or_report(OPTIONS, args, false) else {
        return 1;
    };
    let root = Root::from_env();
    let mut opts = Options {
        root: root.clone(),
        ..Options::default()
    };
    let mut verbosity = Level::Warning as i32;
    let mut config_paths: Option<Vec<PathBuf>> = None;
    for (id, value) in parsed.opts {
        let path = || PathBuf::from(value.clone().unwrap_or_default());
        match id {
            Id::All => opts.all = true,
            Id::Quick => opts.quick = true,
            Id::Basedir => opts.base_dir = Some(path()),
            Id::Moduledir => opts.module_dir = Some(path()),
            Id::Outdir => opts.out_dir = Some(path()),
            Id::Config => config_paths.get_or_insert_with(Vec::new).push(path()),
            Id::Symvers => opts.symvers = Some(path()),
            Id::Filesyms => opts.system_map = Some(path()),
            Id::Errsyms => opts.errsyms = true,
            Id::Verbose => verbosity += 1,
            Id::DryRun => opts.dry_run = true,
            Id::SymbolPrefix => {
                let v = value.unwrap_or_default();
                if v.len() != 1 {
                    log::set_threshold(verbosity);
                    crate::fatal!("-P only takes a single char");
                    return 1;
                }
                opts.symbol_prefix = Some(v.as_bytes()[0]);
            }
            Id::Warn => opts.warn = true,
            Id::NoCache => opts.no_cache = true,
            Id::Version => return cli::version(),
            Id::Help => return TOOL.help(),
        }
    }
    log::set_threshold(verbosity);
    opts.verbose = verbosity > Level::Warning as i32;
    if std::env::var_os(NO_CACHE_VAR).is_some_and(|v| !v.is_empty()) {
        opts.no_cache = true;
    }

    let mut operands = parsed.operands.into_iter();
    match operands.next() {
        Some(v) if looks_like_version(v.as_bytes()) => {
            opts.kernel_version = v.to_string_lossy().into_owned()
        }
        Some(v) => {
            crate::error!("Bad version passed {}", v.to_string_lossy());
            return 1;
        }
        None => opts.kernel_version = root.kernel_release(),
    }
    opts.files = operands.map(PathBuf::from).collect();

    let mut term = Terminal {
        out: io::BufWriter::new(io::stdout()),
    };
    let status = run(opts, config_paths, &mut term);
    if term.out.flush().is_err() {
        return 1;
    }
    status
}

fn run(opts: Options, config_paths: Option<Vec<PathBuf>>, term: &mut Terminal) -> i32 {
    let root = opts.root.clone();
    let version = opts.kernel_version.clone().into_bytes();
    let depmod = Depmod::new(opts);
    if depmod.is_up_to_date(term) {
        return 0;
    }
    library_context(&root, depmod.module_dir());
    let result = depmod.load_kernel_symbols(term).and_then(|kernel| {
        let config = if depmod.scans_all() {
            let load = LoadOptions {
                root: &root,
                config_paths,
                kernel_version: version,
            };
            DepmodConfig::load(&load, term)
        } else {
            DepmodConfig::default()
        };
        depmod.generate(&kernel, &config, term)
    });
    match result {
        Ok(_) => 0,
        Err(Error::Fatal(text)) => {
            let _ = term.out.flush();
            log::log_bytes(Level::Crit, &text);
            1
        }
        Err(_) => 1,
    }
}

/// kmod creates its library context at this point (after `-A`, before
/// `-E`/`-F`), with an empty list of configuration directories: it still
/// reads the module directory's modules.softdep and modules.weakdep and
/// the kernel command line as modprobe configuration, and libkmod's own
/// logger reports their bad lines. depmod uses nothing else from it.
fn library_context(root: &Root, module_dir: &std::path::Path) {
    let loaded = ModprobeConfig::load(&modprobe::LoadOptions {
        root,
        config_paths: Some(Vec::new()),
        module_dir: Some(module_dir.to_path_buf()),
        kernel_cmdline: KernelCmdline::Proc,
    });
    for d in &loaded.diagnostics {
        log::library_bytes(d.level, d.function, &d.message);
    }
}
