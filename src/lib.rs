//! The front-ends of modutils: option parsing, messages and exit codes for
//! each tool. Everything else lives in `modutils-core`.

pub mod cli;
pub mod complete;
pub mod graph;
pub mod json;
pub mod log;
pub mod tree;

pub mod depmod;
pub mod insmod;
pub mod kmod;
pub mod lsmod;
pub mod modinfo;
pub mod modprobe;
pub mod rmmod;
pub mod static_nodes;

use std::ffi::OsString;
use std::path::Path;

/// The basename of argv[0], which names the tool in every message.
pub fn invocation_name(argv0: &OsString) -> String {
    Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| argv0.to_string_lossy().into_owned())
}

/// Runs a tool's `main` with the process arguments and exits with its code.
pub fn run(tool: fn(Vec<OsString>) -> i32) -> ! {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    log::init(&invocation_name(&argv0));
    let code = tool(args);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// `strerror` text for an I/O error, without Rust's " (os error N)" suffix.
pub use modutils_core::diagnostics::io_error_text as strerror;
