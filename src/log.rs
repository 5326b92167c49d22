//! Messages on stderr (or syslog) in the form scripts match:
//! `<prog>: <LEVEL>: <message>`.
//!
//! Two formats exist because kmod has two loggers: the tools' own, and the
//! library's default one (`libkmod: <LEVEL>: <function>: <message>`), which
//! modinfo always uses and modprobe uses while it reads its configuration.

use std::ffi::CString;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;

/// kmod's message levels (syslog priorities), shared with the library's
/// diagnostics.
pub use modutils_core::config::Level;

static PROG: OnceLock<String> = OnceLock::new();
static THRESHOLD: AtomicI32 = AtomicI32::new(Level::Warning as i32);
static SYSLOG: AtomicBool = AtomicBool::new(false);

/// Sets the program name used as the message prefix (the basename of argv[0]).
pub fn init(prog: &str) {
    let _ = PROG.set(prog.to_string());
}

pub fn prog() -> &'static str {
    PROG.get().map(String::as_str).unwrap_or("kmod")
}

/// Messages more verbose than `level` are dropped.
pub fn set_threshold(level: i32) {
    THRESHOLD.store(level, Ordering::Relaxed);
}

pub fn threshold() -> i32 {
    THRESHOLD.load(Ordering::Relaxed)
}

pub fn enabled(level: Level) -> bool {
    (level as i32) <= threshold()
}

/// Routes messages to syslog(3) instead of stderr.
pub fn use_syslog() {
    if !SYSLOG.swap(true, Ordering::Relaxed) {
        let ident = CString::new(prog()).unwrap_or_default();
        // openlog keeps the pointer: leak the string for the process lifetime.
        let ident = Box::leak(ident.into_boxed_c_str());
        // SAFETY: ident is a valid NUL-terminated string that is never freed.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_CONS, libc::LOG_DAEMON) };
    }
}

fn emit(level: Level, line: String) {
    emit_bytes(level, line.as_bytes());
}

fn emit_bytes(level: Level, line: &[u8]) {
    if SYSLOG.load(Ordering::Relaxed) {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        if let Ok(msg) = CString::new(text) {
            // SAFETY: "%s" with one valid C string argument.
            unsafe { libc::syslog(level as i32, c"%s".as_ptr(), msg.as_ptr()) };
        }
        return;
    }
    let _ = std::io::stderr().lock().write_all(line);
}

/// A tool message whose text is bytes (file names, module data), printed
/// as they are.
pub fn log_bytes(level: Level, text: &[u8]) {
    if !enabled(level) {
        return;
    }
    let mut line = Vec::with_capacity(text.len() + 32);
    if !SYSLOG.load(Ordering::Relaxed) {
        line.extend_from_slice(prog().as_bytes());
        line.extend_from_slice(b": ");
    }
    line.extend_from_slice(level.tool_name().as_bytes());
    line.extend_from_slice(b": ");
    line.extend_from_slice(text);
    line.push(b'\n');
    emit_bytes(level, &line);
}

/// A tool message: `<prog>: <LEVEL>: <message>\n`.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = if SYSLOG.load(Ordering::Relaxed) {
        format!("{}: {}\n", level.tool_name(), args)
    } else {
        format!("{}: {}: {}\n", prog(), level.tool_name(), args)
    };
    emit(level, line);
}

/// The library logger's threshold (`KMOD_LOG`), read once.
pub(crate) fn library_threshold() -> i32 {
    static LEVEL: OnceLock<i32> = OnceLock::new();
    *LEVEL.get_or_init(modutils_core::diagnostics::kmod_log_threshold)
}

/// A message from the library side, in kmod's default library format
/// (`libkmod: ERROR: <function>: <message>`); bytes (file names, config
/// text) are printed as they are.
pub fn library_bytes(level: Level, function: &str, message: &[u8]) {
    if (level as i32) > library_threshold() {
        return;
    }
    let mut line = modutils_core::diagnostics::libkmod_text(level, function, message);
    line.push(b'\n');
    emit_bytes(level, &line);
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Err, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warning, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Debug, format_args!($($arg)*)) };
}

/// Logs at FATAL and exits 1 at once, as kmod's tools do; when the message
/// is filtered out (quiet mode) the caller carries on and fails later.
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)*) => {{
        if $crate::log::enabled($crate::log::Level::Crit) {
            $crate::log::log($crate::log::Level::Crit, format_args!($($arg)*));
            std::process::exit(1);
        }
    }};
}
