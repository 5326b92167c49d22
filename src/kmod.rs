//! The multicall `kmod`: called through a link named after a tool it runs
//! that tool; called as `kmod` it takes a command (`list`, `static-nodes`,
//! `help`, or a tool name).

use std::ffi::OsString;

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

pub fn main(args: Vec<OsString>) -> i32 {
    let argv0 = args.first().cloned().unwrap_or_default();
    if let Some(run) = tool(&invocation_name(&argv0)) {
        return run(args);
    }
    let mut rest = args.into_iter().skip(1).peekable();
    // Only `-h`/`-V` belong to kmod itself; anything after the command is the command's.
    while let Some(arg) = rest.peek() {
        match arg.to_str() {
            Some("-h") | Some("--help") => {
                help();
                return 0;
            }
            Some("-V") | Some("--version") => {
                version();
                return 0;
            }
            _ => break,
        }
    }
    let Some(command) = rest.next() else {
        eprintln!("missing command");
        help();
        return 1;
    };
    let command_args: Vec<OsString> = std::iter::once(command.clone()).chain(rest).collect();
    match command.to_str() {
        Some("help") => {
            help();
            0
        }
        Some("list") => crate::lsmod::main(command_args),
        Some(name) if tool(name).is_some() => tool(name).unwrap()(command_args),
        _ => {
            eprintln!("invalid command '{}'", command.to_string_lossy());
            help();
            1
        }
    }
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
         \x20 <tool>       run lsmod, rmmod, insmod, modinfo, modprobe or depmod\n\n\
         kmod is also each of those tools when called through a link with its name.\n",
        env!("CARGO_PKG_VERSION")
    );
}
