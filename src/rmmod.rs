//! `rmmod`: remove modules from the running kernel, with kmod 34's options,
//! messages and exit codes; plus `-a/--all`, the 1999 article's
//! autoclean: a sweep over the modules the kernel had modprobe load
//! (`modutils_core::autoclean`), never touching anything else.
//!
//! One deliberate difference: a module in use is reported on one line,
//! `Module X is in use by: h1 h2`, as kmod 30–33 and kmod's development
//! head print it; kmod 34.0–34.2 garble that line (each piece gets its own
//! `rmmod: ERROR: ` prefix; docs/compat.md, "rmmod's in-use list").

use std::ffi::OsString;
use std::path::Path;

use modutils_core::autoclean::{self, SweepOptions};
use modutils_core::config::strerror;
use modutils_core::context::Context;
use modutils_core::kernel;
use modutils_core::probe::{system_from_env, System};
use modutils_core::{name, procfs, Root};

use crate::cli::{self, Opt};
use crate::{error, log};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Force,
    Syslog,
    Verbose,
    Version,
    Help,
    All,
    DryRun,
    Now,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::Force,
        Some('f'),
        &["force"],
        "forces a module unload and may crash your machine (needs CONFIG_MODULE_FORCE_UNLOAD). DANGEROUS",
    ),
    Opt::flag(Id::Syslog, Some('s'), &["syslog"], "print to syslog, not stderr"),
    Opt::flag(Id::Verbose, Some('v'), &["verbose"], "enables more messages"),
    Opt::flag(Id::Version, Some('V'), &["version"], "show version"),
    Opt::flag(Id::Help, Some('h'), &["help"], "show this help"),
    Opt::flag(
        Id::All,
        Some('a'),
        &["all"],
        "autoclean: remove the modules the kernel had modprobe load, once two sweeps found them unused",
    )
    .extension(),
    Opt::flag(
        Id::DryRun,
        Some('n'),
        &["dry-run"],
        "with -a: print what would be removed, change nothing",
    )
    .extension(),
    Opt::flag(
        Id::Now,
        None,
        &["now"],
        "with -a: remove what is unused at once, without waiting for a second sweep",
    )
    .extension(),
];

/// The option table (kmod's, then modutils' own).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// What `kmod` knows of rmmod.
pub const TOOL: cli::Tool = cli::Tool {
    name: "rmmod",
    main,
    options: || cli::erase(OPTIONS),
    help_text: |prog| cli::help_text(prog, &["[options] modulename ...", "-a [options]"], OPTIONS),
};

pub fn main(args: Vec<OsString>) -> i32 {
    let mut verbose = log::Level::Err as i32;
    let mut syslog = false;
    let mut force = false;
    let mut all = false;
    let mut sweep = SweepOptions::default();
    let mut parser = cli::Parser::new(OPTIONS, args);
    for item in parser.by_ref() {
        match item {
            Ok((Id::Force, _)) => force = true,
            Ok((Id::Syslog, _)) => syslog = true,
            Ok((Id::Verbose, _)) => verbose += 1,
            Ok((Id::All, _)) => all = true,
            Ok((Id::DryRun, _)) => sweep.dry_run = true,
            Ok((Id::Now, _)) => sweep.now = true,
            Ok((Id::Version, _)) => return cli::version(),
            Ok((Id::Help, _)) => return TOOL.help(),
            Err(e) => return e.report(),
        }
    }
    if syslog {
        log::use_syslog();
    }
    let operands = parser.operands();
    let root = Root::from_env();
    // Removal needs nothing of what the kernel decompresses.
    let mut sys = system_from_env(&root, None);
    if all {
        log::set_threshold(verbose);
        if !operands.is_empty() {
            error!("-a/--all sweeps the modules the kernel loaded: give no module names with it.");
            return 1;
        }
        if force {
            error!("-a/--all cannot be combined with -f/--force.");
            return 1;
        }
        return autoclean(&root, sys.as_mut(), sweep, verbose > log::Level::Err as i32);
    }
    if sweep.dry_run || sweep.now {
        let option = if sweep.dry_run {
            "-n/--dry-run"
        } else {
            "--now"
        };
        error!("{option} goes with -a/--all only.");
        return 1;
    }
    if operands.is_empty() {
        error!("missing module name.");
        return 1;
    }
    log::set_threshold(verbose);

    let ctx = Context::new(root.clone(), None);
    let mut failures = 0;
    let mut told_permission = false;
    for arg in &operands {
        let Some(name) = module_name(&root, arg) else {
            error!(
                "could not use module {}: {}",
                arg.to_string_lossy(),
                strerror(libc::ENAMETOOLONG)
            );
            failures += 1;
            break;
        };
        if !force && !may_remove(&ctx, sys.as_mut(), &name) {
            failures += 1;
            continue;
        }
        if let Err(errno) = remove(sys.as_mut(), &name, force) {
            error!(
                "could not remove module {}: {}",
                arg.to_string_lossy(),
                strerror(errno)
            );
            failures += 1;
            if errno == libc::EPERM && !told_permission {
                told_permission = true;
                if let Some(s) = kernel::permission_sentence(kernel::permission(&root), "remove") {
                    error!("{s}");
                }
            }
            if errno == libc::ENOSYS && procfs::module_support(&root) != Some(true) {
                error!("{}", kernel::NO_MODULE_SUPPORT);
            }
        }
    }
    i32::from(failures > 0)
}

/// The module an argument names: an existing file's module name (its base
/// name up to the first `.`, `-` as `_`), else the argument as a name.
/// `None` for a name too long to be one.
fn module_name(root: &Root, arg: &OsString) -> Option<String> {
    let name = name::module_of_argument(root, Path::new(arg));
    (name.len() < libc::PATH_MAX as usize).then_some(name)
}

/// kmod's checks before removing without `--force`: not built in, loaded,
/// no holders, use count 0. Each failure is reported, with the line
/// libkmod logs for a file it could not read.
fn may_remove(ctx: &Context, sys: &mut dyn System, name: &str) -> bool {
    let root = ctx.root();
    if ctx.is_builtin(name.as_bytes()) {
        error!("Module {name} is builtin.");
        return false;
    }
    if let Err(e) = sys.initstate(name.as_bytes()) {
        if let Some(line) = &e.log {
            log::log_bytes(log::Level::Err, line);
        }
        error!("Module {name} is not currently loaded");
        static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if e.errno == libc::ENOENT
            && procfs::module_support(root) == Some(false)
            && !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            error!("{}", kernel::NO_MODULE_SUPPORT);
        }
        return false;
    }
    match sys.holders(name.as_bytes()) {
        Ok(holders) if !holders.is_empty() => {
            let list: String = holders
                .iter()
                .map(|h| {
                    format!(
                        " {}",
                        name::modname_normalize_str(&String::from_utf8_lossy(h))
                    )
                })
                .collect();
            error!("Module {name} is in use by:{list}");
            return false;
        }
        Ok(_) => {}
        Err(e) => {
            if let Some(line) = &e.log {
                log::log_bytes(log::Level::Err, line);
            }
        }
    }
    match sys.refcnt(name.as_bytes()) {
        Ok(0) => true,
        Ok(_) => {
            error!("Module {name} is in use");
            false
        }
        Err(e) if e.errno == libc::ENOENT => {
            error!("Module unloading is not supported");
            false
        }
        Err(e) => {
            if let Some(line) = &e.log {
                log::log_bytes(log::Level::Err, line);
            }
            false
        }
    }
}

/// `delete_module` through the system, logging kmod's library line on
/// failure.
fn remove(sys: &mut dyn System, name: &str, force: bool) -> Result<(), i32> {
    sys.remove(name.as_bytes(), force).inspect_err(|&errno| {
        error!("could not remove '{name}': {}", strerror(errno));
    })
}

/// `rmmod -a`: one sweep (see `modutils_core::autoclean`). `-v` prints
/// each removal (`rmmod NAME`) and each module found unused for the first
/// time (`mark NAME`); `-n` prints the removals a sweep would make.
fn autoclean(root: &Root, sys: &mut dyn System, opts: SweepOptions, verbose: bool) -> i32 {
    let permission = || kernel::permission_sentence(kernel::permission(root), "remove");
    let outcome = match autoclean::sweep(root, sys, opts) {
        Ok(o) => o,
        Err(e) => {
            error!("{e}");
            if matches!(e.errno(), libc::EACCES | libc::EPERM | libc::EROFS) {
                if let Some(s) = permission() {
                    error!("{s}");
                }
            }
            return 1;
        }
    };
    if verbose || opts.dry_run {
        for name in &outcome.removed {
            print_line(&[b"rmmod ", &name[..], b"\n"].concat());
        }
    }
    if verbose {
        for name in &outcome.marked {
            print_line(&[b"mark ", &name[..], b"\n"].concat());
        }
    }
    for (name, errno) in &outcome.failed {
        let why = strerror(*errno);
        let line = [b"could not remove '", &name[..], b"': ", why.as_bytes()].concat();
        log::log_bytes(log::Level::Err, &line);
        if *errno == libc::EPERM {
            if let Some(s) = permission() {
                error!("{s}");
            }
        }
    }
    i32::from(!outcome.failed.is_empty())
}

/// One line of bytes on standard output (module names need not be UTF-8).
fn print_line(line: &[u8]) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(line);
}
