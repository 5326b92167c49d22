//! `insmod`: insert one module file into the running kernel, with kmod 34's
//! options, messages and exit codes.
//!
//! The kernel decides: the module goes to it first, through the core's
//! [`System`] (the running kernel, or the fake one of hermetic tests).
//! Only when it refuses for a reason a symbol can explain (unknown symbol,
//! symbol version, invalid module format) are the module's symbols checked
//! against what the running kernel and the loaded modules export, as the
//! 1999 insmod did itself: kmod's error line first, unchanged, then which
//! symbols are missing and which module exports them, or which symbol
//! version disagrees, then the kernel's own log lines about the module
//! (less those that name a missing symbol already explained).
//!
//! `--check` runs that check alone, loading nothing.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::Path;

use modutils_core::config::strerror;
use modutils_core::kernel::{self, Force, Syscall};
use modutils_core::module_file::ModuleFile;
use modutils_core::probe::{kernel_compression, system_from_env, InsertError};
use modutils_core::{name, procfs, symcheck, Root};

use crate::cli::{self, Opt};
use crate::{debug, error, info, log};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Force,
    Syslog,
    Verbose,
    Version,
    Help,
    Check,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::Force,
        Some('f'),
        &["force"],
        "DANGEROUS: forces a module load, may cause data corruption and crash your machine",
    ),
    Opt::flag(
        Id::Syslog,
        Some('s'),
        &["syslog"],
        "print to syslog, not stderr",
    ),
    Opt::flag(
        Id::Verbose,
        Some('v'),
        &["verbose"],
        "enables more messages",
    ),
    Opt::flag(Id::Version, Some('V'), &["version"], "show version"),
    Opt::flag(Id::Help, Some('h'), &["help"], "show this help"),
    Opt::flag(
        Id::Check,
        None,
        &["check"],
        "only check the module's symbols against the running kernel, load nothing",
    )
    .extension(),
];

/// The option table (kmod's, then modutils' own), for man pages and
/// completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// What `kmod` knows of insmod.
pub const TOOL: cli::Tool = cli::Tool {
    name: "insmod",
    main,
    options: || cli::erase(OPTIONS),
    help_text: |prog| cli::help_text(prog, &["[options] filename [args]"], OPTIONS),
};

/// insmod's wording for the errors of module insertion (kmod's
/// `mod_strerror`); others are glibc's.
fn insert_strerror(errno: i32) -> String {
    match errno {
        libc::ENOEXEC => "Invalid module format".into(),
        libc::ENOENT => "Unknown symbol in module".into(),
        libc::ESRCH => "Module has wrong symbol version".into(),
        libc::EINVAL => "Invalid parameters".into(),
        other => strerror(other),
    }
}

pub fn main(args: Vec<OsString>) -> i32 {
    let mut verbose = log::Level::Err as i32;
    let mut syslog = false;
    let mut force = Force::default();
    let mut check_only = false;
    let mut parser = cli::Parser::new(OPTIONS, args);
    for item in parser.by_ref() {
        match item {
            Ok((Id::Force, _)) => force = Force::ALL,
            Ok((Id::Syslog, _)) => syslog = true,
            Ok((Id::Verbose, _)) => verbose += 1,
            Ok((Id::Check, _)) => check_only = true,
            Ok((Id::Version, _)) => return cli::version(),
            Ok((Id::Help, _)) => return TOOL.help(),
            Err(e) => return e.report(),
        }
    }
    if syslog {
        log::use_syslog();
    }
    let operands = parser.operands();
    let Some(filename) = operands.first() else {
        error!("missing filename.");
        return 1;
    };
    if filename == "-" {
        error!("this tool does not support loading from stdin!");
        return 1;
    }
    log::set_threshold(verbose);
    let shown = filename.to_string_lossy().into_owned();
    let path = Path::new(filename);
    let params = kernel::join_params(&operands[1..]);

    let root = Root::from_env();
    let host = root.host(path);
    if let Err(e) = std::fs::metadata(&host) {
        error!(
            "could not load module {shown}: {}",
            strerror(e.raw_os_error().unwrap_or(libc::EIO))
        );
        return 1;
    }
    if check_only {
        return check(&root, &host, &shown, force);
    }
    if procfs::module_support(&root) == Some(false) {
        error!(
            "could not insert module {shown}: {}",
            insert_strerror(libc::ENOSYS)
        );
        error!("{}", kernel::NO_MODULE_SUPPORT);
        return 1;
    }

    let (compression, unknown) = kernel_compression(&root);
    if let Some(msg) = unknown {
        error!("{msg}");
    }
    let mut system = system_from_env(&root, compression);
    let mut kernel_log = kernel::KernelLog::open(&root);
    match system.insert(path, &params, force) {
        Ok(syscall) => {
            debug!("inserted {shown} ({})", describe(syscall));
            0
        }
        Err(e) => {
            let refusal = Refusal {
                root: &root,
                host: &host,
                shown: &shown,
                force,
            };
            refusal.report(&e, &mut kernel_log);
            1
        }
    }
}

fn describe(syscall: Option<Syscall>) -> String {
    match syscall {
        Some(s) => s.describe(),
        None => "the fake kernel".into(),
    }
}

/// A module the kernel (or the file system) did not take.
struct Refusal<'a> {
    root: &'a Root,
    host: &'a Path,
    shown: &'a str,
    force: Force,
}

impl Refusal<'_> {
    /// kmod's lines, then what explains them.
    fn report(&self, e: &InsertError, kernel_log: &mut kernel::KernelLog) {
        let errno = e.errno;
        info!(
            "Failed to insert module '{}': {}",
            self.shown,
            strerror(errno)
        );
        error!(
            "could not insert module {}: {}",
            self.shown,
            insert_strerror(errno)
        );
        if let Some(syscall) = e.syscall {
            debug!("the kernel refused {}", syscall.describe());
        }
        match errno {
            libc::EPERM => {
                let permission = kernel::permission(self.root);
                if let Some(s) = kernel::permission_sentence(permission, "load") {
                    error!("{s}");
                }
            }
            libc::ENOSYS => error!("{}", kernel::NO_MODULE_SUPPORT),
            _ => {}
        }
        // "File exists" needs no explanation (and the log then holds
        // the lines of whoever loaded it).
        if !e.from_kernel || errno == libc::EEXIST {
            return;
        }
        let image = ModuleFile::open(self.host).ok();
        let mut names = vec![name::modname_from_path(self.host)];
        if let Some(n) = image
            .as_ref()
            .and_then(|m| m.elf().ok()?.this_module_name().map(str::to_string))
        {
            names.push(n);
        }
        // The errors a symbol can be the reason for.
        let symbolic = matches!(
            errno,
            libc::ENOENT | libc::EINVAL | libc::ENOEXEC | libc::ESRCH
        );
        let report = image
            .as_ref()
            .filter(|_| symbolic)
            .and_then(|m| diagnose(self.root, m, self.force));
        let mut explained = HashSet::new();
        if let Some(r) = report.as_ref() {
            for line in advice(r) {
                error!("{line}");
            }
            explained.extend(r.missing().map(|p| p.symbol().to_string()));
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for record in kernel_log.read_about(&names) {
            // Our sentence named the symbol and who exports it.
            let said = record
                .unknown_symbol()
                .is_some_and(|(m, sym)| names.contains(&m) && explained.contains(sym));
            if !said {
                error!("kernel: {}", record.message);
            }
        }
    }
}

/// The symbol check of `image` against the running kernel; `None` when it
/// cannot be made (then the kernel's own lines are all there is).
fn diagnose(root: &Root, image: &ModuleFile, force: Force) -> Option<symcheck::Report> {
    let options = symcheck::Options {
        ignore_crcs: force.modversion,
    };
    symcheck::check(root, &root.kernel_release(), image, options)
        .map_err(|e| debug!("symbol check skipped: {e}"))
        .ok()
}

/// `--check`: the symbol check alone, its findings on stdout. Exits 1 when
/// it finds a reason for the kernel to refuse, 0 when it finds none.
fn check(root: &Root, host: &Path, shown: &str, force: Force) -> i32 {
    let image = match ModuleFile::open(host) {
        Ok(m) => m,
        Err(e) => {
            error!("could not check module {shown}: {}", strerror(e.errno()));
            return 1;
        }
    };
    let options = symcheck::Options {
        ignore_crcs: force.modversion,
    };
    match symcheck::check(root, &root.kernel_release(), &image, options) {
        Ok(report) => {
            let lines = advice(&report);
            for line in &lines {
                println!("{line}");
            }
            i32::from(!lines.is_empty())
        }
        Err(e) => {
            error!("could not check module {shown}: {e}");
            1
        }
    }
}

/// The symbol check's findings, one sentence each, with advice.
fn advice(report: &symcheck::Report) -> Vec<String> {
    report
        .sentences()
        .into_iter()
        .map(|s| match (s.cause, &s.provider) {
            (symcheck::Cause::Missing, Some(_)) => format!(
                "{}: load it first or use modprobe {}",
                s.text, report.module
            ),
            (symcheck::Cause::Missing, None) => s.text,
            (symcheck::Cause::CrcMismatch, _) => format!(
                "{}: rebuild it for this kernel, or force it with insmod -f",
                s.text
            ),
        })
        .collect()
}
