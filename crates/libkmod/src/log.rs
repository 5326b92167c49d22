//! Logging: the context's priority, its log function (standard error by
//! default, the client's, or none) and `KMOD_LOG`.

use modutils_core::diagnostics::kmod_log_priority;
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};

pub(crate) const LOG_ERR: i32 = 3;
pub(crate) const LOG_INFO: i32 = 6;

extern "C" {
    /// log_shim.c: calls `log_fn(data, priority, file, line, fn, "%s", …)`
    /// with `message` as the one argument of its `va_list`.
    fn modutils_libkmod_call_log_fn(
        log_fn: *const c_void,
        data: *const c_void,
        priority: c_int,
        file: *const c_char,
        line: c_int,
        func: *const c_char,
        message: *const c_char,
    );
    fn secure_getenv(name: *const c_char) -> *mut c_char;
}

#[derive(Clone, Copy)]
enum Target {
    Stderr,
    Client {
        log_fn: *const c_void,
        data: *const c_void,
    },
    Off,
}

/// Where a context's messages go, and which.
pub(crate) struct Logger {
    priority: Cell<i32>,
    target: Cell<Target>,
}

impl Logger {
    /// Standard error at the priority `KMOD_LOG` asks for (else LOG_ERR).
    pub(crate) fn from_env() -> Logger {
        // SAFETY: a NUL-terminated literal; the result is NULL or a string
        // of the environment, read before anything can change it.
        let env = unsafe { secure_getenv(c"KMOD_LOG".as_ptr()) };
        let priority = if env.is_null() {
            LOG_ERR
        } else {
            // SAFETY: getenv returns a NUL-terminated string.
            kmod_log_priority(unsafe { CStr::from_ptr(env) }.to_bytes())
        };
        Logger {
            priority: Cell::new(priority),
            target: Cell::new(Target::Stderr),
        }
    }

    pub(crate) fn priority(&self) -> i32 {
        self.priority.get()
    }

    pub(crate) fn set_priority(&self, priority: i32) {
        self.priority.set(priority);
    }

    /// A NULL `log_fn` silences the context.
    pub(crate) fn set_client(&self, log_fn: *const c_void, data: *const c_void) {
        self.target.set(if log_fn.is_null() {
            Target::Off
        } else {
            Target::Client { log_fn, data }
        });
    }

    /// Whether a message of `priority` would be delivered: callers skip
    /// formatting it otherwise.
    pub(crate) fn enabled(&self, priority: i32) -> bool {
        self.priority.get() >= priority && !matches!(self.target.get(), Target::Off)
    }

    /// Delivers `message` (which ends in its own newline, as kmod's do).
    /// `func` is the libkmod function the message is about.
    pub(crate) fn log(&self, priority: i32, line: u32, func: &str, message: &[u8]) {
        if !self.enabled(priority) {
            return;
        }
        match self.target.get() {
            Target::Off => {}
            Target::Stderr => {
                let mut text =
                    format!("libkmod: {}: {func}: ", priority_name(priority)).into_bytes();
                text.extend_from_slice(message);
                write_stderr(&text);
            }
            Target::Client { log_fn, data } => {
                let file = CString::new(file!()).unwrap_or_default();
                let func = crate::ffi::c_string(func.as_bytes());
                let message = crate::ffi::c_string(message);
                // SAFETY: log_fn is the client's function of the documented
                // type, data its pointer; the strings outlive the call.
                unsafe {
                    modutils_libkmod_call_log_fn(
                        log_fn,
                        data,
                        priority,
                        file.as_ptr(),
                        line as c_int,
                        func.as_ptr(),
                        message.as_ptr(),
                    )
                }
            }
        }
    }
}

/// Logs through a context's logger, formatting only when the message
/// will be delivered: `log!(ctx, LOG_ERR, "function", "text {}\n", x)`.
macro_rules! log {
    ($ctx:expr, $prio:expr, $func:expr, $($fmt:tt)+) => {{
        let logger = &$ctx.logger;
        if logger.enabled($prio) {
            logger.log($prio, line!(), $func, format!($($fmt)+).as_bytes());
        }
    }};
}
pub(crate) use log;

fn priority_name(priority: i32) -> String {
    const NAMES: [&str; 8] = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    usize::try_from(priority)
        .ok()
        .and_then(|p| NAMES.get(p))
        .map_or_else(|| format!("L:{priority}"), |n| n.to_string())
}

/// One write, so that concurrent writers do not interleave a line.
fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: writes from a valid buffer of the given length.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        rest = &rest[n as usize..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmod_log_values() {
        assert_eq!(kmod_log_priority(b"7"), 7);
        assert_eq!(kmod_log_priority(b"6 \n"), 6);
        assert_eq!(kmod_log_priority(b"info"), 6);
        assert_eq!(kmod_log_priority(b"debugging"), 7);
        assert_eq!(kmod_log_priority(b"err"), 3);
        assert_eq!(kmod_log_priority(b"bogus"), 0);
        assert_eq!(kmod_log_priority(b"7x"), 0);
        assert_eq!(kmod_log_priority(b"7 and more"), 7);
        assert_eq!(kmod_log_priority(b" -1"), -1);
        assert_eq!(priority_name(3), "ERROR");
        assert_eq!(priority_name(9), "L:9");
    }
}
