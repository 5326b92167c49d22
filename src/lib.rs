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

/// Defines the C `main` of a tool binary (declared `#![no_main]`), which
/// calls [`run`] with the tool's `main`.
///
/// The tools start as C programs do, without Rust's runtime start-up: that
/// start-up reads `/proc/self/maps` to place a stack guard and sets up an
/// alternate signal stack, a fifth of the time a short run such as
/// `modprobe -R` takes (docs/benchmarks.md). What it did that matters is
/// done by [`run`]. A stack overflow is then a plain SIGSEGV, and SIGPIPE
/// keeps its default, as in kmod: a tool whose reader went away ends there.
#[macro_export]
macro_rules! entry {
    ($tool:path) => {
        #[no_mangle]
        extern "C" fn main(
            _argc: ::std::ffi::c_int,
            _argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            $crate::run($tool)
        }
    };
}

/// Runs a tool's `main` with the process arguments and exits with its code.
pub fn run(tool: fn(Vec<OsString>) -> i32) -> ! {
    open_standard_descriptors();
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    log::init(&invocation_name(&argv0));
    let code = tool(args);
    // exit() flushes standard output if the tool used it; flushing here
    // would first create its buffer for a tool that writes its own way.
    std::process::exit(code)
}

/// Opens `/dev/null` on any of the standard descriptors the caller left
/// closed, so that no file the tool opens later becomes its standard
/// output or error (depmod would write its messages into an index).
fn open_standard_descriptors() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only asks about the descriptor.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // The lowest free descriptor: `fd`, as those below it are open.
            // SAFETY: a constant C string.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// `strerror` text for an I/O error, without Rust's " (os error N)" suffix.
pub use modutils_core::diagnostics::io_error_text as strerror;
