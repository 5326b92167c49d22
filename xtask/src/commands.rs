//! The tools' option tables as `clap::Command`s, for clap_mangen and
//! clap_complete. clap never parses our command lines (its rules differ
//! from glibc's), so it lives here and not in the tools: the tools and
//! their tables come from the tool table kmod dispatches on
//! (`modutils::kmod::TOOLS`), the operands and the one-line descriptions
//! are written here.

use clap::{Arg, ArgAction, Command, ValueHint};

use modutils::cli::{HasArg, Opt, Tool};

/// Every program's command-line definition: what man pages and shell
/// completions are generated from.
pub fn commands() -> Vec<Command> {
    let tools = modutils::kmod::TOOLS.iter().map(tool);
    std::iter::once(kmod()).chain(tools).collect()
}

fn kmod() -> Command {
    command(
        "kmod",
        "Manage Linux kernel modules",
        modutils::kmod::options(),
    )
    .disable_help_subcommand(true)
    .subcommand(Command::new("help").about("Print the help"))
    .subcommand(
        tool(&modutils::lsmod::TOOL)
            .name("list")
            .about("List the loaded modules (same as lsmod)"),
    )
    .subcommand(static_nodes())
    .subcommand(graph())
}

/// A tool of kmod's table, with what its option table does not say.
fn tool(tool: &Tool) -> Command {
    let (about, operands) = described(tool.name);
    let mut cmd = command(tool.name, about, &(tool.options)());
    for operand in operands {
        cmd = cmd.arg(operand);
    }
    cmd
}

/// A tool's one-line description and its operands.
fn described(name: &str) -> (&'static str, Vec<Arg>) {
    match name {
        "insmod" => (
            "Insert a module file into the kernel",
            vec![
                Arg::new("filename")
                    .value_name("FILENAME")
                    .value_hint(ValueHint::FilePath)
                    .help("The module file (.ko, .ko.xz, .ko.zst, .ko.gz)"),
                Arg::new("args")
                    .value_name("PARAM=VALUE")
                    .num_args(0..)
                    .help("Module parameters"),
            ],
        ),
        "rmmod" => (
            "Remove modules from the kernel",
            vec![Arg::new("module")
                .value_name("MODULE")
                .num_args(0..)
                .help("Loaded module names (or module files)")],
        ),
        "lsmod" => ("Show the modules loaded in the kernel", vec![]),
        "modprobe" => (
            "Add or remove modules with their dependencies",
            vec![
                Arg::new("module")
                    .value_name("MODULE")
                    .help("A module name, alias or file (with -a, -r: several)"),
                Arg::new("params")
                    .value_name("PARAM=VALUE")
                    .num_args(0..)
                    .help("Module parameters (or more modules with -a, -r)"),
            ],
        ),
        "depmod" => (
            "Generate modules.dep and the module index files",
            vec![
                Arg::new("kernel_version")
                    .value_name("VERSION")
                    .help("The kernel release (default: the running one)"),
                Arg::new("files")
                    .value_name("FILE")
                    .num_args(0..)
                    .value_hint(ValueHint::FilePath)
                    .help("Only these module files (absolute paths)"),
            ],
        ),
        "modinfo" => (
            "Show information about kernel modules",
            vec![Arg::new("module")
                .value_name("MODULE|FILE")
                .num_args(1..)
                .help("Module names, aliases or module files")],
        ),
        // Every installed tool gets a man page that says what it is for.
        other => panic!("{other} has no description for its man page: add it here"),
    }
}

fn static_nodes() -> Command {
    let formats = modutils::static_nodes::formats()
        .map(|(name, what)| clap::builder::PossibleValue::new(name).help(what))
        .collect::<Vec<_>>();
    command(
        "static-nodes",
        "List the device nodes the running kernel's modules provide",
        modutils::static_nodes::options(),
    )
    .mut_arg("format", |a| {
        a.value_parser(clap::builder::PossibleValuesParser::new(formats))
    })
    .mut_arg("output", |a| a.value_hint(ValueHint::FilePath))
}

fn graph() -> Command {
    command(
        "graph",
        "Print the module dependency graph in Graphviz DOT format",
        modutils::graph::options(),
    )
    .arg(
        Arg::new("module")
            .value_name("MODULE")
            .num_args(0..)
            .help("Only these modules (names or aliases) and what they need"),
    )
}

/// A command with one argument per id. Rows sharing an id (kmod's
/// `-c, --showconfig` and `-c, --show-config`) become one argument whose
/// later long names are visible aliases, since clap rejects a short flag
/// declared twice; the first row gives help and value kind. Operands are
/// left to the caller.
fn command<K: PartialEq>(name: &'static str, about: &'static str, table: &[Opt<K>]) -> Command {
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
            (None, None) => {
                panic!("{name}: option table row {i} has neither a short nor a long name")
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use modutils::cli::HasArg::{No, Optional, Required};

    /// clap only checks a definition when it is built.
    #[test]
    fn every_command_definition_is_valid() {
        for cmd in commands() {
            cmd.debug_assert();
        }
    }

    #[test]
    fn rows_sharing_an_id_are_one_argument_with_aliases() {
        let cmd = tool(&modutils::modprobe::TOOL);
        let show_config = cmd
            .get_arguments()
            .find(|a| a.get_id() == "showconfig")
            .unwrap();
        assert_eq!(show_config.get_short(), Some('c'));
        assert_eq!(show_config.get_visible_aliases().unwrap(), ["show-config"]);
    }

    /// Ids repeated apart, several long names in a row, a short option
    /// with no long name: every shape getopt tables take.
    #[test]
    fn unusual_tables_build() {
        let row = |id: i32, short, long, arg| {
            Opt::new(id, short, long, arg, if arg == No { "" } else { "V" }, "h")
        };
        let table = [
            row(1, None, &["abc"], No),
            row(2, None, &["abd"], No),
            row(2, None, &["abe"], No),
            row(1, None, &["abf"], No),
            row(3, Some('o'), &["opt"], Optional),
            row(3, Some('o'), &["opx"], Required),
            row(4, Some('x'), &["xx", "xxy"], Optional),
            row(5, Some('q'), &["q"], No),
            row(6, None, &["qq"], Required),
            row(7, Some('Z'), &[], Required),
        ];
        command("x", "", &table).debug_assert();
    }
}
