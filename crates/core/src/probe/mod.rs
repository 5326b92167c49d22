//! modprobe's engine: which modules a request loads or unloads, in which
//! order, and doing it through the running system.
//!
//! * [`Engine`] resolves names through a [`Context`] into a pool of
//!   modules ([`ModId`]), as libkmod's module pool does: a module found
//!   through an alias is a different entry from the same module found by
//!   name, and that identity decides which duplicates `--show-depends`
//!   prints.
//! * [`Engine::plan`] builds the load list (`plan.rs`), [`Engine::probe`]
//!   carries it out (`insert.rs`), [`Engine::remove`] unloads
//!   (`remove.rs`).
//! * Everything the algorithms need from the running kernel goes through
//!   the [`System`] trait: [`HostSystem`] is the real one, [`FakeSystem`]
//!   records every call and keeps a fake `/sys/module` for tests.
//! * Nothing here prints. Lines that `-v`/`--show-depends` show and the
//!   messages kmod would log go to a [`Report`]; the front-end decides
//!   what reaches the terminal.
//!
//! One deliberate difference from kmod: after removing a module, kmod
//! tries its dependencies once, deepest first, so a dependency still held
//! by another dependency stays loaded. [`Engine::remove`] removes every
//! dependency that has become unused, dependents first (see `remove.rs`).

mod command;
mod engine;
mod fake;
mod insert;
mod plan;
mod remove;
mod system;

use std::path::Path;

pub use command::expand_cmdline_opts;
pub use engine::{DependencySource, Engine, ModId};
pub use fake::{fake_kernel_log, Call, FakeSystem, FAKE_KERNEL_ENV};
pub use insert::{BlacklistMode, ProbeOptions, Probed};
pub use plan::Step;
pub use remove::RemoveOptions;
pub use system::{kernel_compression, HostSystem, InitState, InsertError, SysError, System};

use crate::context::Context;
pub use crate::diagnostics::{Level, Sink};
use crate::module_file::Compression;
use crate::Root;

/// Which of the kernel's load-time checks to skip (`--force-*`).
pub use crate::kernel::Force;

/// What modprobe shows with `--show-depends` or `-v`, one line each.
/// Module names are bytes, shown as they are (see [`Engine::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// `insmod <path> <options>`: always a space before the options, so a
    /// module without options gives a trailing space, as in kmod.
    /// `module` is the module's name (not shown in the line).
    Insmod {
        /// The module to load, by name.
        module: &'a [u8],
        /// Its file, as the line shows it.
        path: &'a Path,
        /// The parameters it is loaded with, space-separated.
        options: &'a [u8],
    },
    /// `install <command> <options>`: the command as configured, before
    /// `$CMDLINE_OPTS` is replaced. `module` is the module's name (not
    /// shown in the line).
    Install {
        /// The module the command loads in its place, by name.
        module: &'a [u8],
        /// The configured install command.
        command: &'a [u8],
        /// The parameters the module would have been loaded with, which the command can use as
        /// `$CMDLINE_OPTS`.
        options: &'a [u8],
    },
    /// `builtin <name>`: a module compiled into the kernel.
    Builtin {
        /// The built-in module's name.
        name: &'a [u8],
    },
    /// `rmmod <name>`.
    Rmmod {
        /// The module to remove, by name.
        name: &'a [u8],
    },
    /// `remove <command>`, with `$CMDLINE_OPTS` replaced.
    Remove {
        /// The configured remove command, ready to run.
        command: &'a [u8],
    },
}

impl Action<'_> {
    /// The line as printed, newline included.
    pub fn line(&self) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let parts: [&[u8]; 4] = match self {
            Action::Insmod { path, options, .. } => {
                [b"insmod ", path.as_os_str().as_bytes(), b" ", options]
            }
            Action::Install {
                command, options, ..
            } => [b"install ", command, b" ", options],
            Action::Builtin { name } => [b"builtin ", name, b"", b""],
            Action::Rmmod { name } => [b"rmmod ", name, b"", b""],
            Action::Remove { command } => [b"remove ", command, b"", b""],
        };
        let mut line = parts.concat();
        line.push(b'\n');
        line
    }

    /// kmod prints the removal lines through a helper that flushes stdout
    /// at once, and the load lines through plain buffered `printf`. The
    /// difference shows when an install command writes to the same pipe.
    pub fn flushed(&self) -> bool {
        matches!(self, Action::Rmmod { .. } | Action::Remove { .. })
    }
}

/// Where the engine's output goes: the messages libkmod would log
/// (`ERROR`, `WARNING`, `INFO`) through [`Sink`], with the libkmod
/// function through [`Sink::log_from`]; and what only modprobe has.
pub trait Report: Sink {
    /// An action that `--show-depends`/`-v` would show.
    fn show(&mut self, action: Action<'_>);
    /// A failure modprobe itself reports at its own level: fatal (the tool
    /// exits at once) unless it runs with `-a`, when it is a warning.
    fn fatal(&mut self, message: &[u8]);
}

/// A [`Report`] that keeps everything, for tests and callers that want to
/// inspect what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Shown lines, newline included.
    pub shown: Vec<Vec<u8>>,
    /// `(level, message)` in order; `fatal` messages have [`Level::Crit`].
    pub messages: Vec<(Level, Vec<u8>)>,
}

impl Recorded {
    /// Everything shown, as one text.
    pub fn shown_text(&self) -> String {
        String::from_utf8_lossy(&self.shown.concat()).into_owned()
    }
}

impl Sink for Recorded {
    fn log(&mut self, level: Level, message: &[u8]) {
        self.messages.push((level, message.to_vec()));
    }
}

impl Report for Recorded {
    fn show(&mut self, action: Action<'_>) {
        self.shown.push(action.line());
    }

    fn fatal(&mut self, message: &[u8]) {
        self.messages.push((Level::Crit, message.to_vec()));
    }
}

/// The kernel a tool loads into and unloads from: the fake one when the
/// environment asks for it ([`fake_kernel_log`]), else the running one.
/// `compression`: what [`kernel_compression`] found.
pub fn system_from_env(root: &Root, compression: Option<Compression>) -> Box<dyn System> {
    match fake_kernel_log(root) {
        Some(log) => Box::new(FakeSystem::new(root.clone(), Some(log))),
        None => Box::new(HostSystem::new(root.clone(), compression)),
    }
}

/// Creates an engine over `ctx` (a convenience for [`Engine::new`]).
pub fn engine<'a>(
    ctx: &'a Context,
    system: &'a mut dyn System,
    report: &'a mut dyn Report,
) -> Engine<'a> {
    Engine::new(ctx, system, report)
}

#[cfg(test)]
mod tests;
