//! `modprobe --help`: the usages, then the option table under its headings
//! (see `args::OPTIONS`).

pub(super) fn text(prog: &str) -> String {
    let usage = [
        "[options] [-i] [-b] module [parameter=value...]",
        "[options] -a [-i] [-b] module...",
        "[options] -r [-i] module...",
        "[options] -c",
        "[options] --show-modversions|--show-exports file.ko",
    ];
    // A fixed column, so that the one long name with a long value
    // (-S, --set-version=VERSION) does not push every text to the right.
    crate::cli::help::usage(prog, &usage)
        + &crate::cli::help::options(super::args::OPTIONS, Some(25))
}
