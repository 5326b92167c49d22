//! Carrying out a load list (libkmod's `kmod_module_probe_insert_module`).

use std::os::unix::ffi::OsStrExt;

use super::command::expand_cmdline_opts;
use super::engine::{Engine, ModId};
use super::{Action, Force};
use crate::diagnostics::strerror;
use crate::diagnostics::Level;

/// When the blacklist stops a load. Only ever about the module asked for:
/// dependencies and soft dependencies are loaded even if blacklisted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BlacklistMode {
    /// Never.
    Ignore,
    /// When it was found through an alias (what modprobe always does).
    #[default]
    AliasOnly,
    /// Also when asked for by name (`-b`).
    Always,
}

/// How to load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Do not look at what is loaded (`--show-depends`).
    pub ignore_loaded: bool,
    /// Fail with `EEXIST` if the module is already loaded (`--first-time`).
    pub fail_on_loaded: bool,
    /// Insert files even where install commands are configured, and skip
    /// the module's soft dependencies (`-i`).
    pub ignore_commands: bool,
    /// Decide and show, but do nothing (`-n`, `--show-depends`).
    pub dry_run: bool,
    /// When the blacklist stops the load of the module asked for.
    pub blacklist: BlacklistMode,
    /// Which of the kernel's version checks to skip (`--force`, `--force-modversion`,
    /// `--force-vermagic`).
    pub force: Force,
}

/// How a load that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probed {
    /// The load list was carried out (or shown, in a dry run).
    Done,
    /// Already loaded or built in; nothing was done.
    AlreadyLoaded,
    /// Blacklisted; nothing was done.
    Blacklisted,
}

impl Engine<'_> {
    /// Loads `target` with its dependencies and soft dependencies.
    /// `extra_options` (the command line's `key=value` arguments) go to
    /// `target` only. The error is an errno.
    pub fn probe(
        &mut self,
        target: ModId,
        opts: &ProbeOptions,
        extra_options: Option<&[u8]>,
    ) -> Result<Probed, i32> {
        if !opts.ignore_loaded && self.in_kernel(target) {
            return if opts.fail_on_loaded {
                Err(libc::EEXIST)
            } else {
                Ok(Probed::AlreadyLoaded)
            };
        }
        if self.is_blacklisted(target) {
            let by_alias = self.alias(target).is_some();
            match opts.blacklist {
                BlacklistMode::AliasOnly if by_alias => return Ok(Probed::Blacklisted),
                BlacklistMode::Always => return Ok(Probed::Blacklisted),
                _ => {}
            }
        }
        let plan = self.plan(target, opts.ignore_commands);
        let mut err = 0;
        for step in plan {
            let m = step.module;
            // Checked again for each module: another process may have
            // loaded it since the list was made.
            err = if !opts.ignore_loaded && self.in_kernel(m) {
                libc::EEXIST
            } else {
                let extra = if m == target { extra_options } else { None };
                let options = concat_options(self.options(m), extra);
                self.load_one(m, step.ignore_command, &options, opts)
                    .err()
                    .unwrap_or(0)
            };
            if err == libc::EEXIST && m == target && opts.fail_on_loaded {
                break;
            }
            // Soft dependencies may fail; what is already there is fine.
            if err == libc::EEXIST || !step.required {
                err = 0;
            } else if err != 0 {
                break;
            }
        }
        if err == 0 {
            Ok(Probed::Done)
        } else {
            Err(err)
        }
    }

    fn load_one(
        &mut self,
        m: ModId,
        ignore_command: bool,
        options: &[u8],
        opts: &ProbeOptions,
    ) -> Result<(), i32> {
        if let Some(cmd) = self.install_command(m).filter(|_| !ignore_command) {
            let name = self.name(m).to_vec();
            self.report.show(Action::Install {
                module: &name,
                command: &cmd,
                options,
            });
            if opts.dry_run {
                return Ok(());
            }
            let cmd = expand_cmdline_opts(&cmd, options);
            return self.run_command("install", m, &cmd);
        }
        let path = self.path(m);
        let name = self.name(m).to_vec();
        match &path {
            Some(p) => self.report.show(Action::Insmod {
                module: &name,
                path: p,
                options,
            }),
            None if self.is_builtin(m) => self.report.show(Action::Builtin { name: &name }),
            None => {}
        }
        if opts.dry_run {
            return Ok(());
        }
        let Some(path) = path else {
            let msg = [b"could not find module by name='", &name[..], b"'"].concat();
            self.report.log(Level::Err, &msg);
            return Err(libc::ENOENT);
        };
        self.sys
            .insert(&path, options, opts.force)
            .map(|_| ())
            .map_err(|e| {
                if e.from_kernel {
                    let why = strerror(e.errno);
                    let path = path.as_os_str().as_bytes();
                    let msg = [b"Failed to insert module '", path, b"': ", why.as_bytes()].concat();
                    self.report.log(Level::Info, &msg);
                }
                e.errno
            })
    }

    /// An install command through the shell, as libkmod runs it: any
    /// failure becomes `EINVAL`.
    fn run_command(&mut self, kind: &str, m: ModId, cmd: &[u8]) -> Result<(), i32> {
        let name = self.name(m).to_vec();
        let (start, end) = match self.sys.run(cmd, &name) {
            Err(errno) => ("Could not run", format!(": {}", strerror(errno))),
            Ok(status) if libc::WEXITSTATUS(status) != 0 => (
                "Error running",
                format!(": retcode {}", libc::WEXITSTATUS(status)),
            ),
            Ok(_) => return Ok(()),
        };
        let msg = [
            start.as_bytes(),
            b" ",
            kind.as_bytes(),
            b" command '",
            cmd,
            b"' for module ",
            &name,
            end.as_bytes(),
        ]
        .concat();
        self.report.log(Level::Err, &msg);
        Err(libc::EINVAL)
    }
}

/// libkmod's option joining: configured options, a space, then the
/// command line's. The space is there whenever configured options are
/// (they are never empty), even with nothing after it, which
/// `--show-depends` shows as a trailing space.
pub(crate) fn concat_options(configured: Option<Vec<u8>>, extra: Option<&[u8]>) -> Vec<u8> {
    match (configured, extra) {
        (None, None) => Vec::new(),
        (None, Some(x)) => x.to_vec(),
        (Some(mut o), x) => {
            o.push(b' ');
            o.extend_from_slice(x.unwrap_or_default());
            o
        }
    }
}
