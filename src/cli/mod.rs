//! Command-line handling shared by the front-ends: one option table per
//! tool, parsed with glibc `getopt_long` semantics; the same tables give
//! `--help` here, and man pages and completions in xtask.

mod error;
pub mod getopt;
mod help;
mod opt;

pub use error::{ErrorKind, GetoptError};
pub use getopt::{parse, Ordering, Parsed, Parser};
pub use help::help_text;
pub use opt::{HasArg, Opt};

#[cfg(test)]
mod compat_tests;

/// Parses `args` with glibc semantics; on an option error prints glibc's
/// message and returns `None`, after which a tool exits 1 as kmod's do.
/// `stop_at_operand` is getopt's leading `+`: options end at the first operand.
pub fn parse_or_report<K: Copy + PartialEq>(
    table: &[Opt<K>],
    args: Vec<std::ffi::OsString>,
    stop_at_operand: bool,
) -> Option<Parsed<K>> {
    let mut parser = Parser::new(table, args);
    if stop_at_operand {
        parser = parser.ordering(Ordering::RequireOrder);
    }
    match parser.parse() {
        Ok(p) => Some(p),
        Err(e) => {
            e.print();
            None
        }
    }
}
