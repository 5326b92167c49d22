//! modules.alias, modules.softdep and modules.weakdep, with the alias
//! index: the `.modinfo` values modules declare about themselves.

use super::model::{check_ascii, index, Fatal, Model, Packed};
use crate::depmod::hash::FastMap;
use crate::depmod::parse::{Parsed, Span};
use crate::depmod::report::{text, Deferred};
use crate::diagnostics::Level;
use crate::index::Record;
use crate::name::alias_normalize_into;

/// One line per `.modinfo` value of one kind: `<word><value> <module>` for
/// aliases, `<word><module> <value>` for soft and weak dependencies.
pub(super) fn info_text(
    model: &Model<'_>,
    header: &[u8],
    word: &[u8],
    list: impl Fn(&Parsed) -> &Vec<Span>,
    module_first: bool,
) -> Vec<u8> {
    let size = model
        .parsed
        .iter()
        .enumerate()
        .fold(header.len(), |n, (m, p)| {
            let each = word.len() + model.names[m].len() + 2;
            n + list(p)
                .iter()
                .map(|&v| each + p.str(v).len())
                .sum::<usize>()
        });
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(header);
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

pub(super) fn aliases_bin(model: &Model<'_>, log: &mut Deferred) -> Result<Vec<u8>, Fatal> {
    // Normalizing keeps an alias's length or shortens it.
    let (count, bytes) = model.parsed.iter().fold((0, 0), |(c, b), p| {
        let values = p.aliases.iter().map(|&v| p.str(v).len());
        (c + p.aliases.len(), b + values.sum::<usize>())
    });
    let mut keys = Packed::with_capacity(count, bytes);
    let mut owners = Vec::with_capacity(count);
    let mut seen: FastMap<(Vec<u8>, usize), ()> = FastMap::default();
    for (m, p) in model.parsed.iter().enumerate() {
        for &v in &p.aliases {
            let value = p.str(v);
            if keys
                .try_push_with(|key| alias_normalize_into(value, key))
                .is_err()
            {
                log.push(Level::Warning, text!(b"Unmatched bracket in ", value));
                continue;
            }
            let key = keys.last();
            check_ascii(key, model.names[m])?;
            if model.warn_duplicates && seen.insert((key.to_vec(), m), ()).is_some() {
                log.push(
                    Level::Warning,
                    text!(b"duplicate module alias:\n", key, b" ", model.names[m]),
                );
            }
            owners.push(m);
        }
    }
    let records: Vec<Record<'_>> = keys
        .iter()
        .zip(owners)
        .map(|(key, m)| Record {
            key,
            value: model.names[m],
            priority: m as u32,
        })
        .collect();
    index(&records)
}
