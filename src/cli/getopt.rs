//! A table-driven emulation of glibc's `getopt_long`, so that every tool
//! accepts, permutes and rejects command lines exactly as kmod does.
//!
//! Semantics follow glibc 2.36 (checked against it by the tests in
//! `getopt/`): options and operands may be interleaved unless ordering is
//! "require order" (optstring `+` or `POSIXLY_CORRECT`); `--` ends the
//! options; `-` and the empty string are operands; grouped short options;
//! values attached or in the next element; unique-prefix abbreviation of
//! long names.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use super::error::{ErrorKind, GetoptError};
use super::opt::{HasArg, Opt};

/// How operands and options may be mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Options may follow operands (glibc's default).
    Permute,
    /// The first operand ends the options, as a leading `+` in the
    /// optstring or a set `POSIXLY_CORRECT` does.
    RequireOrder,
}

/// The result of a successful parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<K> {
    /// Options in command-line order, with their values.
    pub opts: Vec<(K, Option<OsString>)>,
    /// Operands in order: those met among the options, then those after
    /// `--` (or after the first operand with `Ordering::RequireOrder`).
    pub operands: Vec<OsString>,
}

/// Parse a full argv (argv[0] first) the way kmod's tools do: glibc
/// ordering (honouring `POSIXLY_CORRECT`), stopping at the first error.
pub fn parse<K: Copy + PartialEq>(
    table: &[Opt<K>],
    argv: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Parsed<K>, GetoptError> {
    Parser::new(table, argv).parse()
}

/// An option parser over one argv. As an iterator it yields each option
/// or error in scan order and, like glibc, goes on after an error; the
/// operands are available once it is exhausted.
pub struct Parser<'t, K> {
    table: &'t [Opt<K>],
    argv: Vec<OsString>,
    /// The next element to examine (glibc's `optind`).
    next: usize,
    /// Inside a group of short options: element index and byte offset.
    group: Option<(usize, usize)>,
    operands: Vec<OsString>,
    ordering: Ordering,
}

/// glibc treats an element as an option only if it is `-` plus something.
fn is_operand(arg: &[u8]) -> bool {
    arg.len() < 2 || arg[0] != b'-'
}

fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_os_string()
}

impl<'t, K: Copy + PartialEq> Parser<'t, K> {
    /// `argv[0]` is used verbatim in error messages. The ordering is
    /// `RequireOrder` if `POSIXLY_CORRECT` is set (even empty), as in glibc.
    pub fn new(table: &'t [Opt<K>], argv: impl IntoIterator<Item = impl Into<OsString>>) -> Self {
        let ordering = if std::env::var_os("POSIXLY_CORRECT").is_some() {
            Ordering::RequireOrder
        } else {
            Ordering::Permute
        };
        Parser {
            table,
            argv: argv.into_iter().map(Into::into).collect(),
            next: 1,
            group: None,
            operands: Vec::new(),
            ordering,
        }
    }

    /// Override the ordering; `RequireOrder` is the optstring `+` prefix.
    pub fn ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = ordering;
        self
    }

    /// All options up to the first error, then the operands.
    pub fn parse(mut self) -> Result<Parsed<K>, GetoptError> {
        let mut opts = Vec::new();
        for item in self.by_ref() {
            opts.push(item?);
        }
        Ok(Parsed {
            opts,
            operands: self.operands,
        })
    }

    /// The operands; complete only once the iterator returned `None`.
    pub fn operands(self) -> Vec<OsString> {
        self.operands
    }

    fn error(&self, kind: ErrorKind) -> GetoptError {
        let argv0 = self.argv.first().map_or(&[][..], |a| a.as_bytes());
        GetoptError::new(argv0, kind)
    }

    /// Move everything from `from` on to the operands and stop scanning.
    fn finish(&mut self, from: usize) {
        self.operands.extend(self.argv.drain(from..));
        self.next = self.argv.len();
    }

    /// The value for a required argument taken from the next element.
    fn take_next(&mut self) -> Option<OsString> {
        let v = self.argv.get(self.next).cloned()?;
        self.next += 1;
        Some(v)
    }

    fn short(&mut self, i: usize, pos: usize) -> Result<(K, Option<OsString>), GetoptError> {
        let bytes = self.argv[i].as_bytes();
        let c = bytes[pos];
        let rest = os(&bytes[pos + 1..]);
        let last = rest.is_empty();
        self.group = if last { None } else { Some((i, pos + 1)) };
        if last {
            self.next = i + 1;
        }
        // Short names are ASCII, so a UTF-8 lead byte never matches.
        let table = self.table;
        let row = table
            .iter()
            .find(|o| c.is_ascii() && o.short == Some(c as char));
        let Some(row) = row else {
            return Err(self.error(ErrorKind::InvalidOption { byte: c }));
        };
        let value = match row.arg {
            HasArg::No => None,
            // A value-taking option always ends its group.
            _ if !last => {
                self.group = None;
                self.next = i + 1;
                Some(rest)
            }
            HasArg::Optional => None,
            HasArg::Required => match self.take_next() {
                Some(v) => Some(v),
                None => {
                    let short = c as char;
                    return Err(self.error(ErrorKind::ShortMissingArgument { short }));
                }
            },
        };
        Ok((row.id, value))
    }

    fn same_option(&self, a: usize, b: usize) -> bool {
        self.table[a].id == self.table[b].id && self.table[a].arg == self.table[b].arg
    }

    /// Resolve a long name (without `--` and `=value`) to (row, name).
    fn lookup_long(&self, name: &[u8]) -> Result<Option<(usize, &'static str)>, Vec<&'static str>> {
        let all = || {
            self.table
                .iter()
                .enumerate()
                .flat_map(|(r, o)| o.long.iter().map(move |n| (r, *n)))
        };
        if let Some(exact) = all().find(|(_, n)| n.as_bytes() == name) {
            return Ok(Some(exact));
        }
        // Options kmod lacks take no part in abbreviation (`Opt::exact`).
        let names = || all().filter(|(r, _)| !self.table[*r].exact);
        let mut first = None;
        // glibc lists the first candidate plus every later candidate that
        // differs from the first one (not from each other).
        let mut ambiguous = Vec::new();
        for (r, n) in names().filter(|(_, n)| n.as_bytes().starts_with(name)) {
            match first {
                None => first = Some((r, n)),
                Some((fr, fname)) if !self.same_option(fr, r) => {
                    if ambiguous.is_empty() {
                        ambiguous.push(fname);
                    }
                    ambiguous.push(n);
                }
                Some(_) => {}
            }
        }
        if ambiguous.is_empty() {
            Ok(first)
        } else {
            Err(ambiguous)
        }
    }

    fn long(&mut self, i: usize) -> Result<(K, Option<OsString>), GetoptError> {
        self.next = i + 1;
        let whole = self.argv[i].clone();
        let body = &whole.as_bytes()[2..];
        let (name, attached) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (&body[..eq], Some(os(&body[eq + 1..]))),
            None => (body, None),
        };
        let (row, name) = match self.lookup_long(name) {
            Ok(Some(found)) => found,
            Ok(None) => return Err(self.error(ErrorKind::UnrecognizedOption { arg: whole })),
            Err(candidates) => {
                let kind = ErrorKind::AmbiguousOption {
                    arg: whole,
                    candidates,
                };
                return Err(self.error(kind));
            }
        };
        let Opt { id, arg, .. } = self.table[row];
        let value = match (arg, attached) {
            (HasArg::No, Some(_)) => {
                return Err(self.error(ErrorKind::UnexpectedArgument { name, opt: row }));
            }
            (_, Some(v)) => Some(v),
            (HasArg::Required, None) => match self.take_next() {
                Some(v) => Some(v),
                None => {
                    return Err(self.error(ErrorKind::LongMissingArgument { name, opt: row }));
                }
            },
            (_, None) => None,
        };
        Ok((id, value))
    }
}

impl<K: Copy + PartialEq> Iterator for Parser<'_, K> {
    type Item = Result<(K, Option<OsString>), GetoptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((i, pos)) = self.group {
            return Some(self.short(i, pos));
        }
        while self.next < self.argv.len() && is_operand(self.argv[self.next].as_bytes()) {
            match self.ordering {
                Ordering::Permute => {
                    self.operands.push(self.argv[self.next].clone());
                    self.next += 1;
                }
                Ordering::RequireOrder => self.finish(self.next),
            }
        }
        let i = self.next;
        let arg = self.argv.get(i)?.as_bytes();
        if arg == b"--" {
            self.finish(i + 1);
            None
        } else if arg.starts_with(b"--") {
            Some(self.long(i))
        } else {
            Some(self.short(i, 1))
        }
    }
}

#[cfg(test)]
pub(crate) mod tables;
#[cfg(test)]
mod tests;

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod glibc;
