//! The output files' contents, in kmod's generation order.

use super::hash::FastMap;
use super::parse::Parsed;
use super::report::{text, Deferred, Level};
use super::{builtin, devname};
use crate::index::{self, BuildError, Layout, Record as Entry};
use crate::name::alias_normalize;

/// Everything the outputs are made from, in module-array order.
pub(crate) struct Model<'a> {
    pub names: Vec<&'a [u8]>,
    /// The path written for a module: relative to the module directory, or
    /// absolute for modules found elsewhere.
    pub shown: Vec<&'a [u8]>,
    pub parsed: &'a [Parsed],
    pub closures: Vec<Vec<u32>>,
    /// Symbols owned by modules, in symbol-table order.
    pub symbols: Vec<(&'a [u8], u32)>,
    /// Contents of modules.builtin and modules.builtin.modinfo, or errno.
    pub builtin: Result<Vec<u8>, i32>,
    pub builtin_modinfo: Result<Vec<u8>, i32>,
    pub dirname: &'a [u8],
    pub warn_duplicates: bool,
}

/// The output files, in the order kmod writes them. `true` marks binary
/// indexes, which `-n` leaves out.
pub(crate) const FILES: [(&str, bool); 11] = [
    ("modules.dep", false),
    ("modules.dep.bin", true),
    ("modules.alias", false),
    ("modules.alias.bin", true),
    ("modules.softdep", false),
    ("modules.weakdep", false),
    ("modules.symbols", false),
    ("modules.symbols.bin", true),
    ("modules.builtin.bin", true),
    ("modules.builtin.alias.bin", true),
    ("modules.devname", false),
];

/// A FATAL message that stops depmod (a byte outside 7-bit ASCII).
#[derive(Debug)]
pub(crate) struct Fatal(pub Vec<u8>);

/// Produces file number `which` of [`FILES`].
pub(crate) fn generate(
    model: &Model<'_>,
    which: usize,
    log: &mut Deferred,
) -> Result<Vec<u8>, Fatal> {
    match which {
        0 => Ok(deps_text(model)),
        1 => deps_bin(model),
        2 => Ok(info_text(
            model,
            b"# Aliases extracted from modules themselves.\n",
            b"alias ",
            |p| &p.aliases,
            false,
        )),
        3 => aliases_bin(model, log),
        4 => Ok(info_text(
            model,
            b"# Soft dependencies extracted from modules themselves.\n",
            b"softdep ",
            |p| &p.softdeps,
            true,
        )),
        5 => Ok(info_text(
            model,
            b"# Weak dependencies extracted from modules themselves.\n",
            b"weakdep ",
            |p| &p.weakdeps,
            true,
        )),
        6 => Ok(symbols_text(model)),
        7 => symbols_bin(model),
        8 => builtin::builtin_bin(model, log),
        9 => builtin::builtin_alias_bin(model, log),
        _ => Ok(devname::devname(model, log)),
    }
}

pub(super) fn index(entries: &[Entry<'_>]) -> Result<Vec<u8>, Fatal> {
    index::build(entries, Layout::PreOrder).map_err(|e| match e {
        BuildError::NonAscii { text, byte } => bad_char(&text, byte),
        // Never happens: depmod's strings all come NUL-terminated.
        BuildError::Nul { text } => Fatal(text!(b"Module index: NUL byte in ", text)),
        BuildError::TooLarge { .. } => {
            Fatal(b"Module index: too large for the index format".to_vec())
        }
    })
}

fn bad_char(s: &[u8], b: u8) -> Fatal {
    Fatal(text!(
        b"Module index: bad character '",
        [b],
        format!("'=0x{b:x} - only 7-bit ASCII is supported:\n"),
        s
    ))
}

/// kmod checks each key and value as it inserts them, so warnings about
/// later entries never appear after a bad one; indexes whose generation
/// reports as it goes check early the same way.
pub(super) fn check_ascii(key: &[u8], value: &[u8]) -> Result<(), Fatal> {
    for s in [key, value] {
        if let Some(&b) = s.iter().find(|&&b| b >= 0x80) {
            return Err(bad_char(s, b));
        }
    }
    Ok(())
}

/// `<path>:[ <dep>...]` for module `m`, without newline.
fn dep_line(model: &Model<'_>, m: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(model.shown[m]);
    out.push(b':');
    for &d in &model.closures[m] {
        out.push(b' ');
        out.extend_from_slice(model.shown[d as usize]);
    }
}

fn deps_text(model: &Model<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(model.names.len() * 64);
    for m in 0..model.names.len() {
        dep_line(model, m, &mut out);
        out.push(b'\n');
    }
    out
}

fn deps_bin(model: &Model<'_>) -> Result<Vec<u8>, Fatal> {
    let lines: Vec<Vec<u8>> = (0..model.names.len())
        .map(|m| {
            let mut line = Vec::new();
            dep_line(model, m, &mut line);
            line
        })
        .collect();
    // Module names are unique, so `-w`'s duplicate check never fires here.
    let entries: Vec<Entry<'_>> = lines
        .iter()
        .enumerate()
        .map(|(m, line)| Entry {
            key: model.names[m],
            value: line,
            priority: m as u32,
        })
        .collect();
    index(&entries)
}

/// One line per `.modinfo` value of one kind: `<word><value> <module>` for
/// aliases, `<word><module> <value>` for soft and weak dependencies.
fn info_text(
    model: &Model<'_>,
    header: &[u8],
    word: &[u8],
    list: impl Fn(&Parsed) -> &Vec<super::parse::Span>,
    module_first: bool,
) -> Vec<u8> {
    let mut out = header.to_vec();
    for (m, p) in model.parsed.iter().enumerate() {
        for &v in list(p) {
            let (a, b) = if module_first {
                (model.names[m], p.str(v))
            } else {
                (p.str(v), model.names[m])
            };
            out.extend_from_slice(word);
            out.extend_from_slice(a);
            out.push(b' ');
            out.extend_from_slice(b);
            out.push(b'\n');
        }
    }
    out
}

fn aliases_bin(model: &Model<'_>, log: &mut Deferred) -> Result<Vec<u8>, Fatal> {
    let mut keys: Vec<(Vec<u8>, usize)> = Vec::new();
    let mut seen: FastMap<(Vec<u8>, usize), ()> = FastMap::default();
    for (m, p) in model.parsed.iter().enumerate() {
        for &v in &p.aliases {
            let value = p.str(v);
            let Ok(key) = alias_normalize(value) else {
                log.push(Level::Warning, text!(b"Unmatched bracket in ", value));
                continue;
            };
            check_ascii(&key, model.names[m])?;
            if model.warn_duplicates && seen.insert((key.clone(), m), ()).is_some() {
                log.push(
                    Level::Warning,
                    text!(b"duplicate module alias:\n", key, b" ", model.names[m]),
                );
            }
            keys.push((key, m));
        }
    }
    let entries: Vec<Entry<'_>> = keys
        .iter()
        .map(|(key, m)| Entry {
            key,
            value: model.names[*m],
            priority: *m as u32,
        })
        .collect();
    index(&entries)
}

fn symbols_text(model: &Model<'_>) -> Vec<u8> {
    let mut out = b"# Aliases for symbols, used by symbol_request().\n".to_vec();
    for &(name, owner) in &model.symbols {
        out.extend_from_slice(&text!(
            b"alias symbol:",
            name,
            b" ",
            model.names[owner as usize],
            b"\n"
        ));
    }
    out
}

fn symbols_bin(model: &Model<'_>) -> Result<Vec<u8>, Fatal> {
    let keys: Vec<Vec<u8>> = model
        .symbols
        .iter()
        .map(|(name, _)| text!(b"symbol:", name))
        .collect();
    let entries: Vec<Entry<'_>> = keys
        .iter()
        .zip(&model.symbols)
        .map(|(key, &(_, owner))| Entry {
            key,
            value: model.names[owner as usize],
            priority: owner,
        })
        .collect();
    index(&entries)
}
