//! The multicall `kmod`: called through a link named after a tool it runs
//! that tool; called as `kmod` it takes a command (`list`, `static-nodes`,
//! `help`, or a tool name).

use std::ffi::OsString;

use crate::cli::{self, Opt, Tool};
use crate::invocation_name;

/// The tools kmod runs by link name or command word, in `kmod help`'s order.
pub const TOOLS: [Tool; 6] = [
    crate::lsmod::TOOL,
    crate::rmmod::TOOL,
    crate::insmod::TOOL,
    crate::modinfo::TOOL,
    crate::modprobe::TOOL,
    crate::depmod::TOOL,
];

/// The tool called `name`.
pub fn tool(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Version,
    Help,
}

// `--help` follows the layout and lower case of kmod's own.
const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::Version,
        Some('V'),
        &["version"],
        "Print the version and exit",
    )
    .help_lines("print the version and exit"),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help and exit")
        .help_lines("print this help and exit"),
];

pub fn main(args: Vec<OsString>) -> i32 {
    let argv0 = args.first().cloned().unwrap_or_default();
    if let Some(tool) = tool(&invocation_name(&argv0)) {
        return (tool.main)(args);
    }
    // kmod's own options end at the command word; the rest is the command's.
    let Some(parsed) = cli::parse_or_report(OPTIONS, args, true) else {
        return 1;
    };
    // The first of -h/-V decides, as kmod returns at once.
    match parsed.opts.first().map(|(id, _)| *id) {
        Some(Id::Help) => {
            help();
            return 0;
        }
        Some(Id::Version) => return cli::version(),
        None => {}
    }
    let Some(command) = parsed.operands.first().cloned() else {
        eprintln!("missing command");
        help();
        return 1;
    };
    let command_args = parsed.operands;
    match command.to_str() {
        Some("help") => {
            help();
            0
        }
        Some("list") => (crate::lsmod::TOOL.main)(command_args),
        Some("static-nodes") => crate::static_nodes::main(command_args),
        Some("graph") => crate::graph::main(command_args),
        Some("__complete") => crate::complete::main(command_args),
        name => match name.and_then(tool) {
            Some(tool) => (tool.main)(command_args),
            None => {
                eprintln!("invalid command '{}'", command.to_string_lossy());
                help();
                1
            }
        },
    }
}

/// The option table, for man pages and completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

fn help() {
    let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    let (last, others) = names.split_last().unwrap_or((&"", &[]));
    print!(
        "kmod - manage Linux kernel modules (modutils {})\n{}\n{}\n\
         Commands:\n\
         \x20 help         print this help\n\
         \x20 list         list the loaded modules (same as lsmod)\n\
         \x20 static-nodes list the device nodes the running kernel's modules provide\n\
         \x20 graph        print the module dependency graph (Graphviz DOT)\n\
         \x20 <tool>       run {} or {last}\n\n\
         kmod is also each of those tools when called through a link with its name.\n",
        env!("CARGO_PKG_VERSION"),
        cli::help::usage("kmod", &["[options] command [command_options]"]),
        cli::help::options(OPTIONS, Some(18)),
        others.join(", "),
    );
}
