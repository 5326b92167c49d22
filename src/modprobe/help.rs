//! `modprobe --help`. Written out rather than generated from the option
//! table: the table must keep kmod's order (deprecated names first, where
//! kmod has them first), while the help shows the current names, grouped.

pub(super) fn text(prog: &str) -> String {
    let usage = [
        "[options] [-i] [-b] module [parameter=value...]",
        "[options] -a [-i] [-b] module...",
        "[options] -r [-i] module...",
        "[options] -c",
        "[options] --show-modversions|--show-exports file.ko",
    ];
    let mut out = String::from("Usage:\n");
    for u in usage {
        out.push_str(&format!("\t{prog} {u}\n"));
    }
    out.push_str(OPTIONS);
    out
}

const OPTIONS: &str = "\
Loading and removing:
\t-a, --all                Take every argument as a module (no parameters)
\t-r, --remove             Remove the modules, and then every module they
\t                         depended on that nothing uses any more (kmod
\t                         leaves some of those loaded; see docs/modprobe.md)
\t    --remove-holders     Remove the modules using a module first
\t-w, --wait=MSEC          With -r, retry a module in use for up to MSEC ms
\t    --first-time         Fail if a module is already loaded (or, with -r,
\t                         not loaded)
\t-i, --ignore-install     Ignore install and remove commands, and the
\t    --ignore-remove      module's soft dependencies
\t-b, --use-blacklist      Apply the blacklist to module names too, not
\t                         only to aliases
\t-f, --force              Skip the kernel's version checks (both below);
\t                         with -r, force the removal
\t    --force-modversion   Skip the symbol version (CRC) check
\t    --force-vermagic     Skip the version magic check
Queries:
\t-R, --resolve-alias      Print the modules an alias resolves to
\t-D, --show-depends       Print what loading would do, without loading
\t-c, --show-config        Print the configuration and the alias indexes
\t    --show-modversions   Print a module file's symbol versions
\t    --show-exports       Print a module file's exported symbols
\t    --tree               With -D: the modules a load pulls in, as a tree
\t    --json               With -D: the actions as JSON (docs/json.md)
General:
\t-n, --dry-run            Decide but do nothing (add -v to see what)
\t-C, --config=FILE        Read FILE (or the directory) instead of the
\t                         modprobe.d directories; may be repeated
\t-d, --dirname=DIR        Take modules from DIR/lib/modules/VERSION
\t-S, --set-version=VERSION  Use kernel VERSION instead of the running one
\t-s, --syslog             Log to syslog instead of stderr
\t-q, --quiet              No messages
\t-v, --verbose            More messages; shows every action
\t-V, --version            Print the version
\t-h, --help               Print this help
";
