//! Command-line handling shared by the front-ends: one option table per
//! tool, parsed with glibc `getopt_long` semantics, also turned into a
//! `clap::Command` for man pages and completions.

mod command;
mod error;
pub mod getopt;
mod help;
mod opt;

pub use command::to_clap_command;
pub use error::{ErrorKind, GetoptError};
pub use getopt::{parse, Ordering, Parsed, Parser};
pub use help::help_text;
pub use opt::{HasArg, Opt};
