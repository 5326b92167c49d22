//! modprobe's command line: `MODPROBE_OPTIONS`, the parse of the option
//! table (options.rs) and the settings it yields.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::options::{Id, OPTIONS};
use crate::cli::{ErrorKind, GetoptError, Opt, Parser};
use crate::error;

/// syslog priorities used as verbosity, as kmod does.
pub(super) const LOG_WARNING: i32 = 4;

/// Everything the command line asks for.
#[derive(Debug, Default)]
pub(super) struct Settings {
    pub all: bool,
    pub remove: bool,
    pub remove_holders: bool,
    pub wait_msec: u64,
    pub resolve_alias: bool,
    pub first_time: bool,
    pub ignore_commands: bool,
    pub use_blacklist: bool,
    pub force: bool,
    pub force_modversion: bool,
    pub force_vermagic: bool,
    pub ignore_loaded: bool,
    pub dry_run: bool,
    pub show: bool,
    pub show_config: bool,
    pub show_modversions: bool,
    pub show_exports: bool,
    pub config_paths: Vec<OsString>,
    pub root: Option<OsString>,
    pub kversion: Option<OsString>,
    pub syslog: bool,
    pub verbose: i32,
    /// `--tree` (with `-D`).
    pub tree: bool,
    /// `--json` (with `-D`).
    pub json: bool,
    pub operands: Vec<OsString>,
}

pub(super) enum Parsed {
    /// Stop with this exit code (help, version, a bad option).
    Exit(i32),
    Run(Box<Settings>),
}

/// Parses `argv` (with `MODPROBE_OPTIONS` in front of its options) the way
/// kmod's getopt loop does: options take effect in order, and `-h`, `-V`
/// or an error end the parse at once.
pub(super) fn parse(argv: Vec<OsString>) -> Parsed {
    if let Some(e) = env_error(argv.first()) {
        return fail(&e);
    }
    let argv = with_env_options(argv);
    let mut s = Settings {
        verbose: LOG_WARNING,
        ..Settings::default()
    };
    let mut parser = Parser::new(OPTIONS, argv);
    for item in parser.by_ref() {
        let (id, value) = match item {
            Ok(v) => v,
            Err(e) => return fail(&e),
        };
        let value = value.unwrap_or_default();
        match id {
            Id::All => s.all = true,
            Id::Remove => s.remove = true,
            Id::RemoveHolders => s.remove_holders = true,
            Id::Wait => match strtoul(value.as_bytes()) {
                Some(v) => s.wait_msec = v,
                None => {
                    error!("unexpected wait value '{}'.", value.to_string_lossy());
                    return Parsed::Exit(1);
                }
            },
            Id::ResolveAlias => s.resolve_alias = true,
            Id::FirstTime => s.first_time = true,
            Id::IgnoreCommands => s.ignore_commands = true,
            Id::UseBlacklist => s.use_blacklist = true,
            Id::Force => s.force = true,
            Id::ForceModversion => s.force_modversion = true,
            Id::ForceVermagic => s.force_vermagic = true,
            Id::ShowDepends => {
                s.ignore_loaded = true;
                s.dry_run = true;
                s.show = true;
            }
            Id::ShowConfig => s.show_config = true,
            Id::ShowModversions => s.show_modversions = true,
            Id::ShowExports => s.show_exports = true,
            // kmod 34.2: a dry run alone prints nothing (HEAD shows too).
            Id::DryRun => s.dry_run = true,
            Id::Config => {
                env_append(b"-C");
                env_append(value.as_bytes());
                s.config_paths.push(value);
            }
            Id::Dirname => s.root = Some(value),
            Id::SetVersion => s.kversion = Some(value),
            Id::Syslog => {
                env_append(b"-s");
                s.syslog = true;
            }
            Id::Quiet => {
                env_append(b"-q");
                s.verbose = 0;
            }
            Id::Verbose => {
                env_append(b"-v");
                s.verbose += 1;
            }
            Id::Tree => s.tree = true,
            Id::Json => s.json = true,
            Id::Version => return Parsed::Exit(crate::cli::version()),
            Id::Help => return Parsed::Exit(super::TOOL.help()),
        }
    }
    s.operands = parser.operands();
    Parsed::Run(Box::new(s))
}

/// `MODPROBE_OPTIONS` may hold only kmod's options: our extensions
/// (`--tree`, `--json`) are refused there with the message kmod gives for
/// any option it does not know. Its words are checked alone, against kmod's
/// table; the first error is the one kmod's parse meets first, as those
/// words come before the command line's (an option at the very end that
/// takes its value from the command line is left to the full parse).
fn env_error(argv0: Option<&OsString>) -> Option<GetoptError> {
    let env = std::env::var_os("MODPROBE_OPTIONS")?;
    let kmods: Vec<Opt<Id>> = OPTIONS.iter().filter(|o| !o.exact).copied().collect();
    let mut words = vec![argv0.cloned().unwrap_or_default()];
    words.extend(
        split_env(env.as_bytes())
            .into_iter()
            .map(OsString::from_vec),
    );
    let first = Parser::new(&kmods, words).find_map(Result::err)?;
    match first.kind {
        ErrorKind::ShortMissingArgument { .. } | ErrorKind::LongMissingArgument { .. } => None,
        _ => Some(first),
    }
}

fn fail(e: &GetoptError) -> Parsed {
    e.print();
    Parsed::Exit(1)
}

/// Appends to `MODPROBE_OPTIONS`, so that modprobe run by an install
/// command inherits `-C`, `-q`, `-v` and `-s`.
fn env_append(value: &[u8]) {
    let mut v = std::env::var_os("MODPROBE_OPTIONS")
        .map(OsString::into_vec)
        .map(|mut old| {
            old.push(b' ');
            old
        })
        .unwrap_or_default();
    v.extend_from_slice(value);
    std::env::set_var("MODPROBE_OPTIONS", OsString::from_vec(v));
}

/// argv with the words of `MODPROBE_OPTIONS` after argv[0].
fn with_env_options(argv: Vec<OsString>) -> Vec<OsString> {
    let Some(env) = std::env::var_os("MODPROBE_OPTIONS") else {
        return argv;
    };
    let mut it = argv.into_iter();
    let mut out: Vec<OsString> = it.next().into_iter().collect();
    out.extend(
        split_env(env.as_bytes())
            .into_iter()
            .map(OsString::from_vec),
    );
    out.extend(it);
    out
}

/// kmod's splitting of `MODPROBE_OPTIONS`: words end at each space (so two
/// spaces make an empty word); a word that starts with a quote ends at the
/// matching quote, spaces included; a quote pair inside a word is dropped
/// and its content kept; an unclosed quote runs to the end, quote and all.
pub(super) fn split_env(env: &[u8]) -> Vec<Vec<u8>> {
    let mut buf = env.to_vec();
    let mut words = Vec::new();
    let mut start = 0;
    let mut quote: Option<usize> = None;
    let mut i = 0;
    while i < buf.len() {
        let c = buf[i];
        match quote {
            None if c == b' ' => {
                words.push(buf[start..i].to_vec());
                start = i + 1;
            }
            None if c == b'"' || c == b'\'' => quote = Some(i),
            None => {}
            Some(q) if c == buf[q] => {
                if q == start {
                    words.push(buf[start + 1..i].to_vec());
                    start = i + 1;
                } else {
                    buf.remove(i);
                    buf.remove(q);
                    i -= 2;
                }
                quote = None;
            }
            Some(_) => {}
        }
        i += 1;
    }
    if start < buf.len() {
        words.push(buf[start..].to_vec());
    }
    words
}

/// `strtoul(s, &end, 0)` that must consume everything (see
/// [`modutils_core::cnum`]).
pub(super) fn strtoul(s: &[u8]) -> Option<u64> {
    modutils_core::cnum::strtoull(s, 0)
        .filter(|p| p.used == s.len())
        .map(|p| p.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_env(s.as_bytes())
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn env_words_follow_kmod() {
        assert_eq!(words("-q -v"), ["-q", "-v"]);
        assert_eq!(words("-q  -v"), ["-q", "", "-v"]);
        assert_eq!(words("-C \"/a b\" -q"), ["-C", "/a b", "", "-q"]);
        assert_eq!(words("x=\"a b\"c d"), ["x=a bc", "d"]);
        assert_eq!(words("'open quote"), ["'open quote"]);
        assert_eq!(words("-q "), ["-q"]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    #[test]
    fn wait_values_as_strtoul() {
        assert_eq!(strtoul(b"100"), Some(100));
        assert_eq!(strtoul(b"0x10"), Some(16));
        assert_eq!(strtoul(b"010"), Some(8));
        assert_eq!(strtoul(b" 7"), Some(7));
        assert_eq!(strtoul(b"-1"), Some(u64::MAX));
        assert_eq!(strtoul(b""), None);
        assert_eq!(strtoul(b"0x"), None);
        assert_eq!(strtoul(b"12a"), None);
        assert_eq!(strtoul(b"09"), None);
    }
}
