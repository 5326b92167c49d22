//! Configuration: modprobe.d, depmod.d and the kernel command line.
//!
//! * [`lines`] is kmod's line reader (continuations, comments, tokens),
//!   shared by both config formats.
//! * [`modprobe`] loads modprobe.d (plus the module directory's
//!   `modules.softdep`/`modules.weakdep` and `/proc/cmdline`) and answers the
//!   lookups the modprobe engine makes; [`modprobe::ModprobeConfig::show_config`]
//!   renders the first part of `modprobe -c`.
//! * [`depmod`] loads depmod.d and ranks duplicate modules; [`kver`]
//!   matches its KVER patterns as glibc's regex would.
//! * [`kcmdline`] parses the kernel command line.
//!
//! Nothing here prints. Problems kmod would log go to a [`Sink`], in the
//! order kmod would log them, and the front-end prints them through the
//! right logger (libkmod's for modprobe.d, the tool's for depmod.d).
//! modprobe.d's are collected as [`Diagnostic`]s, because libkmod logs
//! them before the tool's logger is set up.

pub mod depmod;
mod files;
pub mod kcmdline;
pub mod kver;
pub mod lines;
pub mod modprobe;
mod modprobe_lookup;
mod modprobe_show;

// The diagnostics vocabulary lives in `crate::diagnostics`; these paths
// stay for the front-ends that name it through `config`.
pub use crate::diagnostics::{strerror, Diagnostic, Level, Sink};
pub use depmod::DepmodConfig;
pub use modprobe::ModprobeConfig;
pub use modprobe_show::END_OF_CONFIG;

/// Appends `parts` (text or bytes) into one message.
pub(crate) fn msg(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
