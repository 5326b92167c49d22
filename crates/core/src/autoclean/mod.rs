//! Autoclean, as the 1999 article describes it: modules that the kernel
//! had loaded on demand go away again once they have stayed unused for a
//! while; nothing else is ever touched.
//!
//! * When the kernel runs modprobe to load what it lacks (the usermode
//!   helper call, [`kernel_request`]), modprobe records every module it
//!   inserts for that request — the module asked for and the dependencies
//!   it had to load — in a small state file under `/run` ([`record`]).
//!   `/run` is a tmpfs: the records go with the reboot that unloads the
//!   modules.
//! * A sweep (`rmmod -a`, run periodically) looks only at recorded modules
//!   ([`sweep`]). One that is unused is marked; one that was already
//!   marked at the previous sweep and is still unused is removed, as the
//!   old kernel's "visited" flag worked. A recorded module used only by
//!   recorded modules that are themselves unused counts as unused: the
//!   dependencies the kernel's request pulled in go with the module that
//!   needed them.
//! * A record names one load of a module (its [`System::instance`]): a
//!   module removed and loaded again by hand or by udev no longer matches
//!   its record and is dropped from the state, never removed.
//!
//! The state file is rewritten whole (a temporary file renamed over it),
//! with every read-modify-write under an exclusive `flock` of a lock file
//! beside it, so concurrent modprobes and sweeps never lose a record.
//!
//! [`System::instance`]: crate::probe::System::instance

mod request;
mod state;
mod sweep;

pub use request::{kernel_request, record, Recorder, PF_KTHREAD};
pub use state::{Entry, State};
pub use sweep::{sweep, Outcome, SweepOptions};

use std::io;
use std::path::PathBuf;

/// The directory of the state, a target path.
pub const STATE_DIR: &str = "/run/modutils";
/// The recorded modules, one per line: `NAME INSTANCE MARK`.
pub const STATE_FILE: &str = "/run/modutils/autoclean";
/// `flock`ed exclusively around every read-modify-write of the state.
pub const LOCK_FILE: &str = "/run/modutils/autoclean.lock";
/// The new state before it is renamed over the old (written under the lock).
pub const TEMP_FILE: &str = "/run/modutils/autoclean.new";

/// Why the state could not be used. Paths are target paths.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A state file or directory could not be used.
    #[error("could not {action} {}: {}", path.display(), crate::diagnostics::strerror(crate::diagnostics::errno_of(source)))]
    Io {
        /// What was being done: `read`, `create`, `open`, `lock`, … (it fills the message).
        action: &'static str,
        /// The file or directory, as a target path.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
    /// A line of the state file is not `NAME INSTANCE MARK`.
    #[error("{}:{line}: {reason}", path.display())]
    Format {
        /// The state file, as a target path.
        path: PathBuf,
        /// The line's number, counted from 1.
        line: usize,
        /// What is wrong with the line.
        reason: &'static str,
    },
}

impl Error {
    /// The errno a C tool would report.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => crate::diagnostics::errno_of(source),
            Error::Format { .. } => libc::EINVAL,
        }
    }

    fn io(action: &'static str, path: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io {
            action,
            path: PathBuf::from(path),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
