//! Where modprobe's output goes, buffered the way C's stdio buffers it.
//!
//! kmod prints the load lines (`insmod …`, `install …`) with plain
//! `printf`: line-buffered on a terminal, block-buffered into a pipe or
//! file, and only the removal lines are flushed at once. An install
//! command writing to the same pipe therefore shows up *before* the lines
//! modprobe printed earlier. Scripts capture modprobe's output through
//! pipes, so the same buffering is kept here.

use std::fs::File;
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::sync::Mutex;

use modutils_core::config::Diagnostic;
use modutils_core::probe::{Action, Report, Sink};

use crate::log::{self, library_threshold, Level};

struct Stdout {
    buf: Vec<u8>,
    /// 0 until the first write decides: stdio's buffer size.
    cap: usize,
    line_buffered: bool,
}

static OUT: Mutex<Stdout> = Mutex::new(Stdout {
    buf: Vec::new(),
    cap: 0,
    line_buffered: false,
});

fn raw_write(bytes: &[u8]) {
    // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop
    // keeps it from being closed here.
    let mut f = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    // C's stdio drops output it cannot write; so does kmod.
    let _ = f.write_all(bytes);
}

impl Stdout {
    fn init(&mut self) {
        if self.cap != 0 {
            return;
        }
        // SAFETY: isatty and fstat only read the descriptor's state.
        self.line_buffered = unsafe { libc::isatty(1) } == 1;
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let blksize = if unsafe { libc::fstat(1, &mut st) } == 0 && st.st_blksize > 0 {
            st.st_blksize as usize
        } else {
            8192
        };
        self.cap = blksize;
    }

    /// glibc's `fwrite`: fill the buffer, write it when full, whole
    /// blocks of the rest directly, keep the tail.
    fn write(&mut self, mut bytes: &[u8]) {
        self.init();
        let room = self.cap - self.buf.len();
        if bytes.len() >= room {
            self.buf.extend_from_slice(&bytes[..room]);
            bytes = &bytes[room..];
            self.flush();
            let direct = bytes.len() - bytes.len() % self.cap;
            raw_write(&bytes[..direct]);
            bytes = &bytes[direct..];
        }
        self.buf.extend_from_slice(bytes);
        if self.line_buffered {
            if let Some(nl) = self.buf.iter().rposition(|&c| c == b'\n') {
                let rest = self.buf.split_off(nl + 1);
                self.flush();
                self.buf = rest;
            }
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            raw_write(&self.buf);
            self.buf.clear();
        }
    }
}

fn out() -> std::sync::MutexGuard<'static, Stdout> {
    OUT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes to standard output through the stdio-like buffer.
pub(super) fn print(bytes: &[u8]) {
    out().write(bytes);
}

pub(super) fn flush() {
    out().flush();
}

/// modprobe's own failure (kmod's `LOG()`): fatal — printed, then exit 1
/// — unless `-a` made it a warning. Under `-q` it is not printed and the
/// caller carries on to fail later, as kmod does.
pub(super) fn fatal(all: bool, message: &[u8]) {
    if all {
        log::log_bytes(Level::Warning, message);
    } else if log::enabled(Level::Crit) {
        log::log_bytes(Level::Crit, message);
        // exit(3) in C flushes stdout after the message was written.
        flush();
        std::process::exit(1);
    }
}

/// Configuration diagnostics: libkmod's own logger writes them to stderr
/// while the configuration is read, before modprobe's logger is set up.
/// `KMOD_LOG` is its threshold (errors only by default).
pub(super) fn config_diagnostics(diags: &[Diagnostic]) {
    let threshold = library_threshold();
    let mut err = std::io::stderr().lock();
    for d in diags.iter().filter(|d| (d.level as i32) <= threshold) {
        let _ = err.write_all(&d.libkmod_line());
    }
}

/// A message of libkmod's own logger (before modprobe's is set up), as it
/// prints it: `libkmod: ERROR: <function>: <message>`, no newline added.
pub(super) fn library_message(level: Level, function: &str, message: &str) {
    if (level as i32) <= library_threshold() {
        let line = modutils_core::diagnostics::libkmod_text(level, function, message.as_bytes());
        let _ = std::io::stderr().lock().write_all(&line);
    }
}

/// The engine's output, as modprobe shows it.
pub(super) struct Frontend {
    /// `--show-depends`, or `-v`: print the actions.
    pub show: bool,
    /// `-a`: modprobe's own failures are warnings.
    pub all: bool,
}

impl Sink for Frontend {
    fn log(&mut self, level: Level, message: &[u8]) {
        log::log_bytes(level, message);
    }
}

impl Report for Frontend {
    fn show(&mut self, action: Action<'_>) {
        if self.show {
            print(&action.line());
            if action.flushed() {
                flush();
            }
        }
    }

    fn fatal(&mut self, message: &[u8]) {
        fatal(self.all, message);
    }
}
