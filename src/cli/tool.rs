//! One descriptor per tool, which `kmod` iterates to dispatch by name, to
//! list the tools in `kmod help`, and which completion reads the options
//! from: a tool is added in one place.

use std::ffi::OsString;

use super::Opt;

/// A tool as `kmod` knows it.
#[derive(Clone, Copy)]
pub struct Tool {
    /// The command word, and the link name that runs it.
    pub name: &'static str,
    /// Runs it with its argv (`argv[0]` names it in messages); the exit code.
    pub main: fn(Vec<OsString>) -> i32,
    /// Its option table, ids erased ([`erase`]).
    pub options: fn() -> Vec<Opt<usize>>,
    /// Its `--help` text, given the name it was called by.
    pub help_text: fn(&str) -> String,
}

impl Tool {
    /// `-h`/`--help`: prints the help text; the exit code, 0.
    pub fn help(&self) -> i32 {
        print!("{}", (self.help_text)(crate::log::prog()));
        0
    }
}

/// A tool's option table with its ids erased, for code that treats every
/// tool alike: a row's id becomes the index of the first row with the same
/// id, so rows that are one option for getopt still are.
pub fn erase<K: Copy + PartialEq>(table: &[Opt<K>]) -> Vec<Opt<usize>> {
    table
        .iter()
        .map(|row| {
            let first = table.iter().position(|o| o.id == row.id);
            row.with_id(first.unwrap_or_default())
        })
        .collect()
}
