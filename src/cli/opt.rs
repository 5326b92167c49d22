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
    /// The first name is the one man pages show (and `--help`, unless
    /// `shown` says otherwise); the others are aliases.
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
    /// The heading `--help` lists the option under; empty: "Options".
    /// `--help` keeps the table's order within a heading, and puts the
    /// headings in the order they first appear: the table's order is
    /// kmod's (getopt depends on it), the grouping is for the reader.
    pub group: &'static str,
    /// What `--help` says of the option when it differs from `help`, the
    /// one line man pages and completions take: `--help` has room for
    /// more, a line per `\n`. Empty: `help`.
    pub help_lines: &'static str,
    /// The long names `--help` shows, a line each; empty: the first. The
    /// table keeps kmod's order of names, in which a deprecated one may
    /// come first.
    pub shown: &'static [&'static str],
}

impl<K> Opt<K> {
    /// Marks an option kmod does not have: it must be given in full (see
    /// [`Opt::exact`]).
    pub const fn extension(mut self) -> Self {
        self.exact = true;
        self
    }

    /// The same row under another id.
    pub(crate) fn with_id<J>(&self, id: J) -> Opt<J> {
        Opt {
            id,
            short: self.short,
            long: self.long,
            arg: self.arg,
            value_name: self.value_name,
            help: self.help,
            exact: self.exact,
            group: self.group,
            help_lines: self.help_lines,
            shown: self.shown,
        }
    }

    /// Lists the option under the heading `group` in `--help`.
    pub const fn under(mut self, group: &'static str) -> Self {
        self.group = group;
        self
    }

    /// `--help`'s own text for the option (see [`Opt::help_lines`]).
    pub const fn help_lines(mut self, text: &'static str) -> Self {
        self.help_lines = text;
        self
    }

    /// The long names `--help` shows (see [`Opt::shown`]).
    pub const fn shown(mut self, names: &'static [&'static str]) -> Self {
        self.shown = names;
        self
    }

    /// A row of an option kmod has, which `--help` lists under "Options"
    /// with `help`; the builders above change that.
    pub const fn new(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        arg: HasArg,
        value_name: &'static str,
        help: &'static str,
    ) -> Self {
        Opt {
            id,
            short,
            long,
            arg,
            value_name,
            help,
            exact: false,
            group: "",
            help_lines: "",
            shown: &[],
        }
    }

    /// An option without a value.
    pub const fn flag(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        help: &'static str,
    ) -> Self {
        Self::new(id, short, long, HasArg::No, "", help)
    }

    /// An option with a required value.
    pub const fn value(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        value_name: &'static str,
        help: &'static str,
    ) -> Self {
        Self::new(id, short, long, HasArg::Required, value_name, help)
    }

    /// An option whose value must be attached (`--name=VAL`).
    pub const fn optional_value(
        id: K,
        short: Option<char>,
        long: &'static [&'static str],
        value_name: &'static str,
        help: &'static str,
    ) -> Self {
        Self::new(id, short, long, HasArg::Optional, value_name, help)
    }
}
