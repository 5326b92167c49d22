//! How the engine talks: leveled messages in kmod's wording, through the
//! core's [`Sink`] (the front-end adds `depmod: <LEVEL>: ` and the
//! newline), and bytes meant for stdout (`-v` dependency lines, `-n`
//! output), which only depmod has.

use std::fmt;

pub use crate::diagnostics::{Level, Sink};

/// One message. `text` has no trailing newline of its own (the front-end
/// adds one); it may contain newlines in the middle or at the end where
/// kmod's do, and bytes from files that are not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How serious the message is.
    pub level: Level,
    /// The message, in kmod's wording.
    pub text: Vec<u8>,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.level.tool_name(),
            String::from_utf8_lossy(&self.text)
        )
    }
}

/// Where the engine's messages ([`Sink::log`]) and standard-output bytes
/// go, in the order kmod produces them.
pub trait Reporter: Sink {
    /// Bytes kmod writes to stdout: `-v` lines and, with `-n`, the outputs.
    fn stdout(&mut self, bytes: &[u8]);
}

/// A [`Reporter`] that keeps everything, for tests and for callers that
/// print afterwards.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    /// The messages, in the order they came.
    pub messages: Vec<Message>,
    /// Everything written to standard output, concatenated.
    pub stdout: Vec<u8>,
}

impl Collected {
    /// The messages as kmod's tool logger would print them on stderr.
    pub fn stderr(&self, program: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for m in &self.messages {
            out.extend_from_slice(program.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(m.level.tool_name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&m.text);
            out.push(b'\n');
        }
        out
    }
}

impl Sink for Collected {
    fn log(&mut self, level: Level, text: &[u8]) {
        self.messages.push(Message {
            level,
            text: text.to_vec(),
        });
    }
}

impl Reporter for Collected {
    fn stdout(&mut self, bytes: &[u8]) {
        self.stdout.extend_from_slice(bytes);
    }
}

/// Messages gathered off the main thread, replayed later in kmod's order.
#[derive(Debug, Default)]
pub(crate) struct Deferred(pub Vec<Message>);

impl Deferred {
    pub fn push(&mut self, level: Level, text: impl Into<Vec<u8>>) {
        self.0.push(Message {
            level,
            text: text.into(),
        });
    }

    pub fn replay(self, rep: &mut dyn Reporter) {
        for m in self.0 {
            rep.log(m.level, &m.text);
        }
    }
}

/// Concatenates byte-ish pieces into a message text.
macro_rules! text {
    ($($part:expr),* $(,)?) => {{
        let mut v: Vec<u8> = Vec::new();
        $( v.extend_from_slice(AsRef::<[u8]>::as_ref(&$part)); )*
        v
    }};
}
pub(crate) use text;
