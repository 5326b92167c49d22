//! kmod 34.2's option tables (see docs/compat.md, "What we match") with kmod's `val`s as
//! ids, plus a synthetic table for corners kmod does not reach. Test data
//! only: the front-ends own their real tables.

use crate::cli::{HasArg, Opt};

const fn row(val: i32, long: &'static [&'static str], arg: HasArg) -> Opt<i32> {
    // kmod gives long-only options small vals and others their letter.
    let short = if val > ' ' as i32 {
        Some(val as u8 as char)
    } else {
        None
    };
    Opt::new(val, short, long, arg, "", "")
}

const fn c(ch: char) -> i32 {
    ch as i32
}

use HasArg::{No, Optional, Required};

pub const MODPROBE: &[Opt<i32>] = &[
    row(c('a'), &["all"], No),
    row(c('r'), &["remove"], No),
    row(5, &["remove-dependencies"], No),
    row(5, &["remove-holders"], No),
    row(c('w'), &["wait"], Required),
    row(c('R'), &["resolve-alias"], No),
    row(3, &["first-time"], No),
    row(c('i'), &["ignore-install"], No),
    row(c('i'), &["ignore-remove"], No),
    row(c('b'), &["use-blacklist"], No),
    row(c('f'), &["force"], No),
    row(2, &["force-modversion"], No),
    row(1, &["force-vermagic"], No),
    row(c('D'), &["show-depends"], No),
    row(c('c'), &["showconfig"], No),
    row(c('c'), &["show-config"], No),
    row(4, &["show-modversions"], No),
    row(4, &["dump-modversions"], No),
    row(6, &["show-exports"], No),
    row(c('n'), &["dry-run"], No),
    row(c('n'), &["show"], No),
    row(c('C'), &["config"], Required),
    row(c('d'), &["dirname"], Required),
    row(c('S'), &["set-version"], Required),
    row(c('s'), &["syslog"], No),
    row(c('q'), &["quiet"], No),
    row(c('v'), &["verbose"], No),
    row(c('V'), &["version"], No),
    row(c('h'), &["help"], No),
];

pub const INSMOD: &[Opt<i32>] = &[
    row(c('f'), &["force"], No),
    row(c('s'), &["syslog"], No),
    row(c('v'), &["verbose"], No),
    row(c('V'), &["version"], No),
    row(c('h'), &["help"], No),
];

pub const LSMOD: &[Opt<i32>] = &[
    row(c('s'), &["syslog"], No),
    row(c('v'), &["verbose"], No),
    row(c('V'), &["version"], No),
    row(c('h'), &["help"], No),
];

pub const MODINFO: &[Opt<i32>] = &[
    row(c('a'), &["author"], No),
    row(c('d'), &["description"], No),
    row(c('l'), &["license"], No),
    row(c('p'), &["parameters"], No),
    row(c('n'), &["filename"], No),
    row(c('0'), &["null"], No),
    row(c('m'), &["modname"], No),
    row(c('F'), &["field"], Required),
    row(c('k'), &["set-version"], Required),
    row(c('b'), &["basedir"], Required),
    row(c('V'), &["version"], No),
    row(c('h'), &["help"], No),
];

pub const DEPMOD: &[Opt<i32>] = &[
    row(c('a'), &["all"], No),
    row(c('A'), &["quick"], No),
    row(c('b'), &["basedir"], Required),
    row(c('m'), &["moduledir"], Required),
    row(c('o'), &["outdir"], Required),
    row(c('C'), &["config"], Required),
    row(c('E'), &["symvers"], Required),
    row(c('F'), &["filesyms"], Required),
    row(c('e'), &["errsyms"], No),
    row(c('v'), &["verbose"], No),
    row(c('n'), &["show", "dry-run"], No),
    row(c('P'), &["symbol-prefix"], Required),
    row(c('w'), &["warn"], No),
    row(c('V'), &["version"], No),
    row(c('h'), &["help"], No),
];

/// `kmod` itself, parsed with "+hV".
pub const KMOD: &[Opt<i32>] = &[row(c('h'), &["help"], No), row(c('V'), &["version"], No)];

pub const STATIC_NODES: &[Opt<i32>] = &[
    row(c('o'), &["output"], Required),
    row(c('f'), &["format"], Required),
    row(c('h'), &["help"], No),
];

/// Optional values, one val under two has_arg kinds, an exact name that
/// is also a prefix, and candidates equal to each other but not to the
/// first match.
pub const SYNTHETIC: &[Opt<i32>] = &[
    row(1, &["abc"], No),
    row(2, &["abd"], No),
    row(2, &["abe"], No),
    row(1, &["abf"], No),
    row(c('o'), &["opt"], Optional),
    row(c('o'), &["opx"], Required),
    row(c('x'), &["xx", "xxy"], Optional),
    row(c('q'), &["q"], No),
    row(3, &["qq"], Required),
    row(c('Z'), &[], Required),
];
