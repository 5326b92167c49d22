//! The one vocabulary for what goes wrong: message levels ([`Level`], the
//! syslog priorities kmod logs with), the one place messages go ([`Sink`]),
//! a message with the kmod function that logs it ([`Diagnostic`]), and
//! errno as kmod reports it ([`errno_of`], [`strerror`], [`io_error_text`]).

use std::ffi::CStr;
use std::fmt;
use std::io;

/// syslog(3) priorities, which kmod uses as message levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The system is unusable: syslog's most urgent priority.
    Emerg = 0,
    /// Someone must act at once.
    Alert = 1,
    /// A failure the tools report as FATAL: the operation cannot go on.
    Crit = 2,
    /// An error: something failed, and the tool may carry on.
    Err = 3,
    /// A warning: something looks wrong but the work goes on.
    Warning = 4,
    /// Worth knowing, though nothing is wrong.
    Notice = 5,
    /// What is being done, shown only when more verbosity is asked for.
    Info = 6,
    /// Detail for whoever debugs the tools.
    Debug = 7,
}

impl Level {
    /// The name libkmod's default logger prints (kmod 34).
    pub fn library_name(self) -> &'static str {
        match self {
            Level::Emerg => "EMERGENCY",
            Level::Alert => "ALERT",
            Level::Crit => "CRITICAL",
            Level::Err => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }

    /// The name the tools' logger prints.
    pub fn tool_name(self) -> &'static str {
        match self {
            Level::Crit => "FATAL",
            Level::Err => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Emerg => "LOG-000",
            Level::Alert => "LOG-001",
        }
    }
}

/// Where the core's messages go: the configuration readers report into
/// one, and depmod's [`Reporter`](crate::depmod::Reporter) and modprobe's
/// [`Report`](crate::probe::Report) are sinks with their own extra output.
/// Messages are bytes: they quote file names and config text verbatim.
pub trait Sink {
    /// A message at `level`; `message` has no trailing newline.
    fn log(&mut self, level: Level, message: &[u8]);

    /// The same, naming the kmod function that logs it: libkmod's format
    /// and its log callback carry it, the tools' logger drops it.
    fn log_from(&mut self, function: &'static str, level: Level, message: &[u8]) {
        let _ = function;
        self.log(level, message);
    }
}

/// Collects, for callers that print later (libkmod's logger reads
/// modprobe.d before the tool's exists) or keep what was said.
impl Sink for Vec<Diagnostic> {
    /// Without a function name, `function` is empty.
    fn log(&mut self, level: Level, message: &[u8]) {
        self.log_from("", level, message);
    }

    fn log_from(&mut self, function: &'static str, level: Level, message: &[u8]) {
        self.push(Diagnostic::new(level, function, message.to_vec()));
    }
}

/// A message kmod would log while reading configuration.
///
/// `function` is the kmod function that logs it (part of libkmod's format);
/// `message` has no trailing newline and is bytes because it quotes file
/// names and config text verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious the message is.
    pub level: Level,
    /// The kmod function that logs the message, e.g. `kmod_config_parse`.
    pub function: &'static str,
    /// The message text, without trailing newline.
    pub message: Vec<u8>,
}

impl Diagnostic {
    pub(crate) fn new(level: Level, function: &'static str, message: Vec<u8>) -> Diagnostic {
        Diagnostic {
            level,
            function,
            message,
        }
    }

    /// The line libkmod's default logger writes (kmod 34.2):
    /// `libkmod: ERROR: <function>: <message>\n`.
    pub fn libkmod_line(&self) -> Vec<u8> {
        let mut out = libkmod_text(self.level, self.function, &self.message);
        out.push(b'\n');
        out
    }

    /// The line a tool's logger writes: `<prog>: ERROR: <message>\n`.
    pub fn tool_line(&self, prog: &str) -> Vec<u8> {
        let mut out = format!("{}: {}: ", prog, self.level.tool_name()).into_bytes();
        out.extend_from_slice(&self.message);
        out.push(b'\n');
        out
    }
}

impl fmt::Display for Diagnostic {
    /// The message alone, with bytes that are not UTF-8 replaced.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message))
    }
}

/// glibc's text for an errno, as kmod's `%m` and `strerror` print it.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer and its length are valid; the XSI strerror_r that
    // the libc crate binds always NUL-terminates what it writes.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: NUL-terminated within `buf`, see above.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The errno of an I/O error (EIO when it carries none).
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// The text of an I/O error as kmod's tools print it: Rust's message
/// without its " (os error N)" suffix, which leaves glibc's `strerror` text
/// for an errno and the message itself for errors that carry none.
pub fn io_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// What libkmod's default logger writes for a message, without the
/// newline: `libkmod: ERROR: <function>: <message>` (kmod 34.2's format).
pub fn libkmod_text(level: Level, function: &str, message: &[u8]) -> Vec<u8> {
    let mut out = format!("libkmod: {}: {function}: ", level.library_name()).into_bytes();
    out.extend_from_slice(message);
    out
}

/// libkmod's reading of `KMOD_LOG`, the threshold of its own logger: a
/// decimal number as `strtol` reads it, counted when nothing or a blank
/// follows (kept in an `int`, as kmod does), else a word beginning with
/// `err`, `info` or `debug`; anything else, the empty text included, is 0
/// (nothing is logged).
pub fn kmod_log_priority(text: &[u8]) -> i32 {
    use crate::cnum::{is_space, strtol};
    if let Some((n, used)) = strtol(text, 10) {
        if text.get(used).is_none_or(|&c| is_space(c)) {
            // The int it is stored in keeps the low 32 bits.
            return n as i32;
        }
    }
    if text.starts_with(b"err") {
        Level::Err as i32
    } else if text.starts_with(b"info") {
        Level::Info as i32
    } else if text.starts_with(b"debug") {
        Level::Debug as i32
    } else {
        0
    }
}

/// The library logger's threshold for this process: `KMOD_LOG` as
/// [`kmod_log_priority`] reads it, errors only when it is not set.
pub fn kmod_log_threshold() -> i32 {
    use std::os::unix::ffi::OsStrExt;
    std::env::var_os("KMOD_LOG").map_or(Level::Err as i32, |v| kmod_log_priority(v.as_bytes()))
}
