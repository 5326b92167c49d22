//! The option table every front-end declares once: it drives parsing
//! (`getopt`), `--help`, and in xtask man pages and completions.

/// Whether an option takes a value, as glibc's `has_arg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HasArg {
    No,
    /// `-C FILE`, `-CFILE`, `--config FILE`, `--config=FILE`.
    Required,
    /// Only attached: `-xVAL` or `--name=VAL`.
    Optional,
}

/// One row of a tool's option table.
///
/// The long names of all rows, flattened in table order, form glibc's
/// `struct option` array. That order is observable (abbreviation
/// resolution and the list in the "is ambiguous" message), so rows must
/// follow the order of kmod's own table; split a row in two when kmod
/// interleaves an alias with another option.
///
/// Rows with the same `id` and `arg` are one option for abbreviation
/// purposes, as glibc treats entries with equal `val`: `--ignore` is
/// accepted when it only matches `--ignore-install` and `--ignore-remove`.
#[derive(Debug, Clone, Copy)]
pub struct Opt<K> {
    pub id: K,
    /// ASCII only: glibc matches short options byte by byte.
    pub short: Option<char>,
    /// The first name is the one shown in help; the others are aliases.
    pub long: &'static [&'static str],
    pub arg: HasArg,
    /// Placeholder shown in help, e.g. "FILE". Empty when `arg` is `No`.
    pub value_name: &'static str,
    pub help: &'static str,
    /// An option modutils adds to kmod's: its long names match only when
    /// spelled out in full and never count as abbreviation candidates, so
    /// every abbreviation kmod accepts still means the same option, and
    /// every prefix kmod rejects is still rejected with kmod's message.
    pub exact: bool,
}

impl<K> Opt<K> {
    /// Marks an option kmod does not have: it must be given in full (see
    /// [`Opt::exact`]).
    pub const fn extension(mut self) -> Self {
        self.exact = true;
        self
    }

    /// An option without a value.
    pub const fn flag(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        help: &'static str,
    ) -> Self {
        Opt {
            id,
            short,
            long,
            arg: HasArg::No,
            value_name: "",
            help,
            exact: false,
        }
    }

    /// An option with a required value.
    pub const fn value(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        value_name: &'static str,
        help: &'static str,
    ) -> Self {
        Opt {
            id,
            short,
            long,
            arg: HasArg::Required,
            value_name,
            help,
            exact: false,
        }
    }

    /// An option whose value must be attached (`--name=VAL`).
    pub const fn optional_value(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        value_name: &'static str,
        help: &'static str,
    ) -> Self {
        Opt {
            id,
            short,
            long,
            arg: HasArg::Optional,
            value_name,
            help,
            exact: false,
        }
    }
}
