//! An option table as a `clap::Command`, for clap_mangen and clap_complete.
//! clap never parses our command lines: its rules differ from glibc's.

use clap::{Arg, ArgAction, Command};

use super::opt::{HasArg, Opt};

/// Build a command with one argument per id. Rows sharing an id (kmod's
/// `-c, --showconfig` and `-c, --show-config`) become one argument whose
/// later long names are visible aliases, since clap rejects a short flag
/// declared twice; the first row gives help and value kind. Operands are
/// left to the caller.
pub fn to_clap_command<K: PartialEq>(
    name: &'static str,
    about: &'static str,
    table: &[Opt<K>],
) -> Command {
    let mut cmd = Command::new(name)
        .about(about)
        // The tables declare -h and -V themselves.
        .disable_help_flag(true)
        .disable_version_flag(true);
    for (i, row) in table.iter().enumerate() {
        let same = |o: &Opt<K>| o.id == row.id;
        if table[..i].iter().any(same) {
            continue;
        }
        let group: Vec<&Opt<K>> = table[i..].iter().filter(|o| same(o)).collect();
        let mut longs = group.iter().flat_map(|o| o.long.iter().copied());
        let first_long = longs.next();
        let short = group.iter().find_map(|o| o.short);
        let id = match (first_long, short) {
            (Some(l), _) => l.to_string(),
            (None, Some(s)) => s.to_string(),
            (None, None) => panic!("option table row {i} has neither a short nor a long name"),
        };
        // Man pages and completions mark the options kmod does not have.
        let help = if row.exact {
            format!("{} [modutils]", row.help)
        } else {
            row.help.to_string()
        };
        let mut arg = Arg::new(id).help(help);
        if let Some(s) = short {
            arg = arg.short(s);
        }
        if let Some(l) = first_long {
            arg = arg.long(l).visible_aliases(longs);
        }
        arg = match row.arg {
            HasArg::No => arg.action(ArgAction::SetTrue),
            HasArg::Required => arg
                .action(ArgAction::Append)
                .num_args(1)
                .value_name(row.value_name),
            HasArg::Optional => arg
                .action(ArgAction::Append)
                .num_args(0..=1)
                .require_equals(true)
                .value_name(row.value_name),
        };
        cmd = cmd.arg(arg);
    }
    cmd
}
