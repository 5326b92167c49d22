//! Option errors, worded exactly as glibc 2.36's getopt_long prints them.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};

/// What went wrong. `opt` fields index the option table row that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A short option character not in the table (a raw byte: glibc
    /// walks `-é` byte by byte).
    InvalidOption { byte: u8 },
    /// A short option that needs a value was last on the command line.
    ShortMissingArgument { short: char },
    /// `--name` matched no long option; `arg` is the whole element,
    /// including any `=value`.
    UnrecognizedOption { arg: OsString },
    /// `--prefix` matched several different options. `candidates` lists
    /// them in table order, as glibc does.
    AmbiguousOption {
        arg: OsString,
        candidates: Vec<&'static str>,
    },
    /// `--name` needs a value and was last. `name` is the table's full
    /// name even when the user typed an abbreviation.
    LongMissingArgument { name: &'static str, opt: usize },
    /// `--name=value` for an option without a value.
    UnexpectedArgument { name: &'static str, opt: usize },
}

/// An option error with glibc's message, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetoptError {
    pub kind: ErrorKind,
    /// Bytes, not a String: argv[0] and the option may be non-UTF-8 and
    /// glibc prints them verbatim.
    message: Vec<u8>,
}

impl GetoptError {
    pub(crate) fn new(argv0: &[u8], kind: ErrorKind) -> Self {
        let mut m = argv0.to_vec();
        m.extend_from_slice(b": ");
        match &kind {
            ErrorKind::InvalidOption { byte } => {
                m.extend_from_slice(b"invalid option -- '");
                m.push(*byte);
                m.push(b'\'');
            }
            ErrorKind::ShortMissingArgument { short } => {
                m.extend_from_slice(format!("option requires an argument -- '{short}'").as_bytes());
            }
            ErrorKind::UnrecognizedOption { arg } => {
                m.extend_from_slice(b"unrecognized option '");
                m.extend_from_slice(arg.as_encoded_bytes());
                m.push(b'\'');
            }
            ErrorKind::AmbiguousOption { arg, candidates } => {
                m.extend_from_slice(b"option '");
                m.extend_from_slice(arg.as_encoded_bytes());
                m.extend_from_slice(b"' is ambiguous; possibilities:");
                for c in candidates {
                    m.extend_from_slice(format!(" '--{c}'").as_bytes());
                }
            }
            ErrorKind::LongMissingArgument { name, .. } => {
                m.extend_from_slice(format!("option '--{name}' requires an argument").as_bytes());
            }
            ErrorKind::UnexpectedArgument { name, .. } => {
                m.extend_from_slice(
                    format!("option '--{name}' doesn't allow an argument").as_bytes(),
                );
            }
        }
        GetoptError { kind, message: m }
    }

    /// The message without the trailing newline.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// Print the message and a newline to stderr, as glibc does before
    /// getopt_long returns '?'.
    /// [`GetoptError::print`], then the exit code the tools give for
    /// it, 1.
    pub fn report(&self) -> i32 {
        self.print();
        1
    }

    pub fn print(&self) {
        let mut err = io::stderr().lock();
        // Nothing sensible to do if stderr is gone; the tool exits 1 anyway.
        let _ = err
            .write_all(&self.message)
            .and_then(|()| err.write_all(b"\n"));
    }
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message))
    }
}

impl std::error::Error for GetoptError {}
