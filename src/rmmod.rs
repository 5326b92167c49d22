//! `rmmod`: remove modules from the running kernel, with kmod 34's options,
//! messages and exit codes; plus `-a/--all`, the 1999 article's
//! "autoclean": remove every module nothing uses, until none is left.
//!
//! One deliberate difference: a module in use is reported on one line,
//! `Module X is in use by: h1 h2`, as kmod 30–33 and kmod's development
//! head print it; kmod 34.0–34.2 garble that line (each piece gets its own
//! `rmmod: ERROR: ` prefix, reference section 1.2).

use std::ffi::OsString;
use std::path::Path;

use modutils_core::config::strerror;
use modutils_core::index::Index;
use modutils_core::kernel;
use modutils_core::{name, procfs, sysfs, Root};

use crate::cli::{self, Opt};
use crate::lsmod::normalize;
use crate::{error, log};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Force,
    Syslog,
    Verbose,
    Version,
    Help,
    All,
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
        "remove every module that nothing uses, repeatedly (autoclean)",
    )
    .extension(),
];

/// The option table (kmod's, then modutils' own).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

pub fn main(args: Vec<OsString>) -> i32 {
    let mut verbose = log::Level::Err as i32;
    let mut syslog = false;
    let mut force = false;
    let mut all = false;
    let mut parser = cli::Parser::new(OPTIONS, args);
    for item in parser.by_ref() {
        match item {
            Ok((Id::Force, _)) => force = true,
            Ok((Id::Syslog, _)) => syslog = true,
            Ok((Id::Verbose, _)) => verbose += 1,
            Ok((Id::All, _)) => all = true,
            Ok((Id::Version, _)) => {
                crate::kmod::version();
                return 0;
            }
            Ok((Id::Help, _)) => {
                print!(
                    "{}",
                    cli::help_text(
                        log::prog(),
                        &["[options] modulename ...", "-a [options]"],
                        OPTIONS
                    )
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
    let root = Root::from_env();
    if all {
        log::set_threshold(verbose);
        if !operands.is_empty() {
            error!("-a/--all removes every unused module: give no module names with it.");
            return 1;
        }
        if force {
            error!("-a/--all cannot be combined with -f/--force.");
            return 1;
        }
        return autoclean(&root);
    }
    if operands.is_empty() {
        error!("missing module name.");
        return 1;
    }
    log::set_threshold(verbose);

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
        if !force && !may_remove(&root, &name) {
            failures += 1;
            continue;
        }
        if let Err(errno) = remove(&name, force) {
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
    let text = arg.to_string_lossy();
    let name = if std::fs::metadata(root.host(Path::new(arg))).is_ok() {
        name::modname_from_path(Path::new(arg))
    } else {
        normalize(&text)
    };
    (name.len() < libc::PATH_MAX as usize).then_some(name)
}

/// kmod's checks before removing without `--force`: not built in, loaded,
/// no holders, use count 0. Each failure is reported.
fn may_remove(root: &Root, name: &str) -> bool {
    if is_builtin(root, name) {
        error!("Module {name} is builtin.");
        return false;
    }
    match sysfs::initstate(root, name) {
        Ok(Some(_)) => {}
        Ok(None) => {
            error!("Module {name} is not currently loaded");
            static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if procfs::module_support(root) == Some(false)
                && !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                error!("{}", kernel::NO_MODULE_SUPPORT);
            }
            return false;
        }
        Err(e) => {
            error!("{e}");
            error!("Module {name} is not currently loaded");
            return false;
        }
    }
    match sysfs::holders(root, name) {
        Ok(holders) if !holders.is_empty() => {
            let list: String = holders
                .iter()
                .map(|h| format!(" {}", normalize(h)))
                .collect();
            error!("Module {name} is in use by:{list}");
            return false;
        }
        Ok(_) => {}
        Err(e) => error!("{e}"),
    }
    match sysfs::refcnt(root, name) {
        Ok(0) => true,
        Err(e) if e.is_not_found() => {
            error!("Module unloading is not supported");
            false
        }
        _ => {
            error!("Module {name} is in use");
            false
        }
    }
}

/// `delete_module`, logging kmod's library line on failure.
fn remove(name: &str, force: bool) -> Result<(), i32> {
    kernel::remove_module(name, force).map_err(|e| {
        let errno = e as i32;
        error!("could not remove '{name}': {}", strerror(errno));
        errno
    })
}

/// Whether `name` is built into the kernel: listed in depmod's
/// `modules.builtin.bin` (no index, no built-ins, as in kmod).
fn is_builtin(root: &Root, name: &str) -> bool {
    let release = root.kernel_release();
    let path = root.host(format!("/lib/modules/{release}/modules.builtin.bin"));
    Index::open(path).is_ok_and(|index| matches!(index.lookup(name), Ok(Some(_))))
}

/// `rmmod -a`: removes every live module whose use count is 0 and that no
/// other module holds, newest first, again and again until a pass removes
/// nothing (removing a module can free the ones it used). Modules without
/// an exit function (`[permanent]`) stay. Prints each module removed.
fn autoclean(root: &Root) -> i32 {
    let mut failures = 0;
    let mut skip: Vec<String> = Vec::new();
    loop {
        let modules = match procfs::loaded_modules(root) {
            Ok(m) => m,
            Err(e) => {
                error!(
                    "could not open {}: {}",
                    procfs::PROC_MODULES,
                    strerror(e.errno())
                );
                if e.errno() == libc::ENOENT && procfs::module_support(root) == Some(false) {
                    error!("{}", kernel::NO_MODULE_SUPPORT);
                }
                return 1;
            }
        };
        let mut removed = 0;
        for m in modules {
            if m.permanent || m.state != procfs::ModuleState::Live || skip.contains(&m.name) {
                continue;
            }
            let refcnt = sysfs::refcnt(root, &m.name).ok().or(m.refcnt);
            let held = sysfs::holders(root, &m.name)
                .map(|h| !h.is_empty())
                .unwrap_or(!m.users.is_empty());
            if refcnt != Some(0) || held {
                continue;
            }
            match kernel::remove_module(&m.name, false) {
                Ok(()) => {
                    println!("removed {}", m.name);
                    removed += 1;
                }
                // Taken or gone meanwhile: not ours to report.
                Err(e) if matches!(e as i32, libc::EAGAIN | libc::EBUSY | libc::ENOENT) => {
                    skip.push(m.name.clone());
                }
                Err(e) => {
                    error!("could not remove '{}': {}", m.name, strerror(e as i32));
                    if e as i32 == libc::EPERM {
                        if let Some(s) =
                            kernel::permission_sentence(kernel::permission(root), "remove")
                        {
                            error!("{s}");
                        }
                        return 1;
                    }
                    failures += 1;
                    skip.push(m.name.clone());
                }
            }
        }
        if removed == 0 {
            break;
        }
    }
    i32::from(failures > 0)
}
