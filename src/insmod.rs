//! `insmod`: insert one module file into the running kernel, with kmod 34's
//! options, messages and exit codes.
//!
//! Before asking the kernel, the module's symbols are checked against what
//! the running kernel and the loaded modules export (as the 1999 insmod
//! did itself). When a symbol is certainly missing, insmod says so without
//! asking the kernel: kmod's error line first, unchanged, then which
//! symbols are missing and which module exports them. When the kernel
//! refuses, kmod's line is followed by what the check found (e.g. a symbol
//! version mismatch) and by the kernel's own log lines about the module.

use std::ffi::{CString, OsString};
use std::path::Path;

use modutils_core::config::strerror;
use modutils_core::kernel::{self, Force, Permission};
use modutils_core::module_file::ModuleFile;
use modutils_core::{name, procfs, symcheck, sysfs, Root};

use crate::cli::{self, Opt};
use crate::{debug, error, info, log};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Force,
    Syslog,
    Verbose,
    Version,
    Help,
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
];

/// The option table, for man pages and completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

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
    let mut parser = cli::Parser::new(OPTIONS, args);
    for item in parser.by_ref() {
        match item {
            Ok((Id::Force, _)) => force = Force::ALL,
            Ok((Id::Syslog, _)) => syslog = true,
            Ok((Id::Verbose, _)) => verbose += 1,
            Ok((Id::Version, _)) => {
                crate::kmod::version();
                return 0;
            }
            Ok((Id::Help, _)) => {
                print!(
                    "{}",
                    cli::help_text(log::prog(), &["[options] filename [args]"], OPTIONS)
                );
                return 0;
            }
            Err(e) => {
                e.print();
                return 1;
            }
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
    let params = kernel::join_params(&operands[1..]);
    let Ok(params) = CString::new(params) else {
        error!(
            "could not insert module {shown}: {}",
            insert_strerror(libc::EINVAL)
        );
        return 1;
    };

    let root = Root::from_env();
    let host = root.host(Path::new(filename));
    if let Err(e) = std::fs::metadata(&host) {
        error!(
            "could not load module {shown}: {}",
            strerror(e.raw_os_error().unwrap_or(libc::EIO))
        );
        return 1;
    }
    if procfs::module_support(&root) == Some(false) {
        error!(
            "could not insert module {shown}: {}",
            insert_strerror(libc::ENOSYS)
        );
        error!("{}", kernel::NO_MODULE_SUPPORT);
        return 1;
    }

    // The image, for the symbol check (and reused by the init_module path).
    let image = ModuleFile::open(&host).ok();
    let path_name = name::modname_from_path(Path::new(filename));
    let elf_name = image.as_ref().and_then(|m| {
        m.elf()
            .ok()
            .and_then(|e| e.this_module_name().map(str::to_string))
    });
    let permission = kernel::permission(&root);
    let report = match (&image, permission) {
        (Some(m), Permission::Allowed) => {
            let options = symcheck::Options {
                ignore_crcs: force.modversion,
            };
            match symcheck::check(&root, &root.kernel_release(), m, options) {
                Ok(r) => Some(r),
                Err(e) => {
                    debug!("symbol check skipped: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    if let Some(r) = report.as_ref().filter(|r| r.refuses()) {
        error!(
            "could not insert module {shown}: {}",
            insert_strerror(r.errno())
        );
        explain(r);
        return 1;
    }

    let kernel_compression = match sysfs::kernel_compression(&root) {
        Ok(c) => c,
        Err(sysfs::Error::Invalid { content, .. }) => {
            error!("unknown kernel compression {content}");
            None
        }
        Err(_) => None,
    };
    let mut kernel_log = kernel::KernelLog::open(&root);
    match kernel::insert_module(&host, &params, force, kernel_compression, image.as_ref()) {
        Ok(syscall) => {
            debug!("inserted {} ({})", host.display(), syscall.describe());
            0
        }
        Err(e) => {
            let errno = e.errno();
            info!(
                "Failed to insert module '{}': {}",
                host.display(),
                strerror(errno)
            );
            error!(
                "could not insert module {shown}: {}",
                insert_strerror(errno)
            );
            if let kernel::InsertError::Kernel { syscall, .. } = &e {
                debug!("the kernel refused {}", syscall.describe());
            }
            match errno {
                libc::EPERM => {
                    if let Some(s) = kernel::permission_sentence(permission, "load") {
                        error!("{s}");
                    }
                }
                libc::ENOSYS => error!("{}", kernel::NO_MODULE_SUPPORT),
                _ => {}
            }
            // "File exists" needs no explanation (and the log then holds
            // the lines of whoever loaded it).
            if e.from_kernel() && errno != libc::EEXIST {
                if let Some(r) = report.as_ref().filter(|r| !r.problems.is_empty()) {
                    explain(r);
                }
                let mut names = vec![path_name.as_str()];
                if let Some(n) = elf_name.as_deref() {
                    names.push(n);
                }
                for record in kernel_log.read_about(&names) {
                    error!("kernel: {}", record.message);
                }
            }
            1
        }
    }
}

/// The symbol check's findings, one sentence each, with advice.
fn explain(report: &symcheck::Report) {
    for s in report.sentences() {
        match (s.cause, &s.provider) {
            (symcheck::Cause::Missing, Some(_)) => {
                error!(
                    "{}: load it first or use modprobe {}",
                    s.text, report.module
                )
            }
            (symcheck::Cause::Missing, None) => error!("{}", s.text),
            (symcheck::Cause::CrcMismatch, _) => {
                error!(
                    "{}: rebuild it for this kernel, or force it with insmod -f",
                    s.text
                )
            }
        }
    }
}
