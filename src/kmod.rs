//! The multicall `kmod`: called through a link named after a tool it runs
//! that tool; called as `kmod` it takes a command (`list`, `static-nodes`,
//! `help`, or a tool name).

use std::ffi::OsString;

use crate::cli::{self, Opt};
use crate::invocation_name;

type ToolMain = fn(Vec<OsString>) -> i32;

const TOOLS: [(&str, ToolMain); 6] = [
    ("lsmod", crate::lsmod::main),
    ("rmmod", crate::rmmod::main),
    ("insmod", crate::insmod::main),
    ("modinfo", crate::modinfo::main),
    ("modprobe", crate::modprobe::main),
    ("depmod", crate::depmod::main),
];

fn tool(name: &str) -> Option<ToolMain> {
    TOOLS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Version,
    Help,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::Version,
        Some('V'),
        &["version"],
        "Print the version and exit",
    ),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help and exit"),
];

pub fn main(args: Vec<OsString>) -> i32 {
    let argv0 = args.first().cloned().unwrap_or_default();
    if let Some(run) = tool(&invocation_name(&argv0)) {
        return run(args);
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
        Some(Id::Version) => {
            version();
            return 0;
        }
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
        Some("list") => crate::lsmod::main(command_args),
        Some("static-nodes") => crate::static_nodes::main(command_args),
        Some("graph") => crate::graph::main(command_args),
        Some("__complete") => crate::complete::main(command_args),
        Some(name) if tool(name).is_some() => tool(name).map_or(1, |run| run(command_args)),
        _ => {
            eprintln!("invalid command '{}'", command.to_string_lossy());
            help();
            1
        }
    }
}

/// The option table, for man pages and completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// The version lines scripts parse: the kmod release whose behaviour we
/// match, and the features compiled in.
pub fn version() {
    println!("kmod version 34.2");
    println!("+ZSTD +XZ +ZLIB +OPENSSL");
}

fn help() {
    print!(
        "kmod - manage Linux kernel modules (modutils {})\n\
         Usage:\n\
         \tkmod [options] command [command_options]\n\n\
         Options:\n\
         \t-V, --version     print the version and exit\n\
         \t-h, --help        print this help and exit\n\n\
         Commands:\n\
         \x20 help         print this help\n\
         \x20 list         list the loaded modules (same as lsmod)\n\
         \x20 static-nodes list the device nodes the running kernel's modules provide\n\
         \x20 graph        print the module dependency graph (Graphviz DOT)\n\
         \x20 <tool>       run lsmod, rmmod, insmod, modinfo, modprobe or depmod\n\n\
         kmod is also each of those tools when called through a link with its name.\n",
        env!("CARGO_PKG_VERSION")
    );
}
