//! modprobe's option table, in kmod's order (abbreviations and the
//! "ambiguous" message depend on it), and the `--help` rendered from it.

use crate::cli::{help, Opt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Id {
    All,
    Remove,
    RemoveHolders,
    Wait,
    ResolveAlias,
    FirstTime,
    IgnoreCommands,
    UseBlacklist,
    Force,
    ForceModversion,
    ForceVermagic,
    ShowDepends,
    ShowConfig,
    ShowModversions,
    ShowExports,
    DryRun,
    Config,
    Dirname,
    SetVersion,
    Syslog,
    Quiet,
    Verbose,
    Version,
    Help,
    Tree,
    Json,
}

// Rows sharing an id are one option, as kmod's entries sharing a value:
// `--remove-` means `--remove-dependencies`, `--ignore` is `-i`. `help` is
// the line of man pages and completions; `--help` groups the options and
// has room for more (`help_lines`).
pub(super) const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::All,
        Some('a'),
        &["all"],
        "Take every argument as a module to load or remove",
    )
    .under(LOADING)
    .help_lines("Take every argument as a module (no parameters)"),
    Opt::flag(
        Id::Remove,
        Some('r'),
        &["remove"],
        "Remove the modules, then every dependency left unused (kmod leaves some)",
    )
    .under(LOADING)
    .help_lines(
        "Remove the modules, and then every module they\n\
         depended on that nothing uses any more (kmod\n\
         leaves some of those loaded; see docs/modprobe.md)",
    ),
    // kmod deprecates the first name.
    Opt::flag(
        Id::RemoveHolders,
        None,
        &["remove-dependencies", "remove-holders"],
        "Remove the modules using a module first",
    )
    .under(LOADING)
    .shown(&["remove-holders"]),
    Opt::value(
        Id::Wait,
        Some('w'),
        &["wait"],
        "MSEC",
        "With -r, retry a module in use for up to MSEC ms",
    )
    .under(LOADING),
    Opt::flag(
        Id::ResolveAlias,
        Some('R'),
        &["resolve-alias"],
        "Print the modules an alias resolves to",
    )
    .under(QUERIES),
    Opt::flag(
        Id::FirstTime,
        None,
        &["first-time"],
        "Fail if a module is already loaded (with -r: not loaded)",
    )
    .under(LOADING)
    .help_lines("Fail if a module is already loaded (or, with -r,\nnot loaded)"),
    Opt::flag(
        Id::IgnoreCommands,
        Some('i'),
        &["ignore-install", "ignore-remove"],
        "Ignore install/remove commands and soft dependencies",
    )
    .under(LOADING)
    .shown(&["ignore-install", "ignore-remove"])
    .help_lines("Ignore install and remove commands, and the\nmodule's soft dependencies"),
    Opt::flag(
        Id::UseBlacklist,
        Some('b'),
        &["use-blacklist"],
        "Apply the blacklist to module names, not only aliases",
    )
    .under(LOADING)
    .help_lines("Apply the blacklist to module names too, not\nonly to aliases"),
    Opt::flag(
        Id::Force,
        Some('f'),
        &["force"],
        "Skip the kernel's version checks; with -r, force removal",
    )
    .under(LOADING)
    .help_lines("Skip the kernel's version checks (both below);\nwith -r, force the removal"),
    Opt::flag(
        Id::ForceModversion,
        None,
        &["force-modversion"],
        "Skip the symbol version (CRC) check",
    )
    .under(LOADING),
    Opt::flag(
        Id::ForceVermagic,
        None,
        &["force-vermagic"],
        "Skip the version magic check",
    )
    .under(LOADING),
    Opt::flag(
        Id::ShowDepends,
        Some('D'),
        &["show-depends"],
        "Print what loading would do, without loading",
    )
    .under(QUERIES),
    // --help shows the spelling with a hyphen, like every other name.
    Opt::flag(
        Id::ShowConfig,
        Some('c'),
        &["showconfig", "show-config"],
        "Print the configuration and the alias indexes",
    )
    .under(QUERIES)
    .shown(&["show-config"]),
    Opt::flag(
        Id::ShowModversions,
        None,
        &["show-modversions", "dump-modversions"],
        "Print the symbol versions a module file needs",
    )
    .under(QUERIES)
    .help_lines("Print a module file's symbol versions"),
    Opt::flag(
        Id::ShowExports,
        None,
        &["show-exports"],
        "Print the symbols a module file exports",
    )
    .under(QUERIES)
    .help_lines("Print a module file's exported symbols"),
    Opt::flag(
        Id::DryRun,
        Some('n'),
        &["dry-run", "show"],
        "Decide but do nothing (add -v to see what)",
    )
    .under(GENERAL),
    Opt::value(
        Id::Config,
        Some('C'),
        &["config"],
        "FILE",
        "Read FILE or directory instead of modprobe.d",
    )
    .under(GENERAL)
    .help_lines(
        "Read FILE (or the directory) instead of the\nmodprobe.d directories; may be repeated",
    ),
    Opt::value(
        Id::Dirname,
        Some('d'),
        &["dirname"],
        "DIR",
        "Take modules from DIR/lib/modules/VERSION",
    )
    .under(GENERAL),
    Opt::value(
        Id::SetVersion,
        Some('S'),
        &["set-version"],
        "VERSION",
        "Use kernel VERSION instead of the running one",
    )
    .under(GENERAL),
    Opt::flag(
        Id::Syslog,
        Some('s'),
        &["syslog"],
        "Log to syslog instead of stderr",
    )
    .under(GENERAL),
    Opt::flag(Id::Quiet, Some('q'), &["quiet"], "No messages").under(GENERAL),
    Opt::flag(
        Id::Verbose,
        Some('v'),
        &["verbose"],
        "More messages; shows every action",
    )
    .under(GENERAL),
    Opt::flag(Id::Version, Some('V'), &["version"], "Print the version").under(GENERAL),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help").under(GENERAL),
    // modutils' own views; spelled out in full only (`Opt::extension`).
    Opt::flag(
        Id::Tree,
        None,
        &["tree"],
        "With -D, show the modules a load pulls in as a tree",
    )
    .extension()
    .under(QUERIES)
    .help_lines("With -D: the modules a load pulls in, as a tree"),
    Opt::flag(
        Id::Json,
        None,
        &["json"],
        "With -D, print the actions as JSON (docs/json.md)",
    )
    .extension()
    .under(QUERIES)
    .help_lines("With -D: the actions as JSON (docs/json.md)"),
];

// `--help`'s headings.
const LOADING: &str = "Loading and removing";
const QUERIES: &str = "Queries";
const GENERAL: &str = "General";

/// The option table, for man pages and completions.
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// The option table with its ids erased, for [`super::TOOL`].
pub(super) fn erased_options() -> Vec<Opt<usize>> {
    crate::cli::erase(OPTIONS)
}

/// `--help`: the usages, then the options under their headings.
pub(super) fn help_text(prog: &str) -> String {
    let usage = [
        "[options] [-i] [-b] module [parameter=value...]",
        "[options] -a [-i] [-b] module...",
        "[options] -r [-i] module...",
        "[options] -c",
        "[options] --show-modversions|--show-exports file.ko",
    ];
    // A fixed column, so that the one long name with a long value
    // (-S, --set-version=VERSION) does not push every text to the right.
    help::usage(prog, &usage) + &help::options(OPTIONS, Some(25))
}
