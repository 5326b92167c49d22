//! Command-line handling shared by the front-ends: one option table per
//! tool, parsed with glibc `getopt_long` semantics; the same tables give
//! `--help` here, and man pages and completions in xtask.

mod error;
pub mod getopt;
pub mod help;
mod opt;
mod tool;

pub use error::{ErrorKind, GetoptError};
pub use getopt::{parse, Ordering, Parsed, Parser};
pub use help::help_text;
pub use opt::{HasArg, Opt};
pub use tool::{erase, Tool};

#[cfg(test)]
mod compat_tests;

/// `-V`/`--version` of every tool: the lines scripts parse, the kmod
/// release whose behaviour we match and the features compiled in.
/// Returns the exit code, 0.
pub fn version() -> i32 {
    println!("kmod version 34.2");
    println!("+ZSTD +XZ +ZLIB +OPENSSL");
    0
}

/// The options `words` (a command line without its program name) give,
/// each named by its first long name, in the order getopt finds them.
/// Words it refuses are skipped: what a completion needs of a line still
/// being typed.
pub fn given<K: Copy + PartialEq>(
    table: &[Opt<K>],
    words: &[std::ffi::OsString],
) -> Vec<(&'static str, Option<std::ffi::OsString>)> {
    let argv = std::iter::once(std::ffi::OsString::new()).chain(words.iter().cloned());
    Parser::new(table, argv)
        .filter_map(Result::ok)
        .filter_map(|(id, value)| {
            let row = table.iter().find(|o| o.id == id)?;
            Some((*row.long.first()?, value))
        })
        .collect()
}

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
