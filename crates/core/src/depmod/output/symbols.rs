//! modules.symbols and modules.symbols.bin: which module exports each
//! symbol, for `symbol_request()`.

use super::model::{index, Fatal, Model, Packed};
use crate::index::Record;

pub(super) fn symbols_text(model: &Model<'_>) -> Vec<u8> {
    const HEADER: &[u8] = b"# Aliases for symbols, used by symbol_request().\n";
    let size = model
        .symbols
        .iter()
        .fold(HEADER.len(), |n, &(name, owner)| {
            n + b"alias symbol:".len() + name.len() + model.names[owner as usize].len() + 2
        });
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(HEADER);
    for &(name, owner) in &model.symbols {
        for part in [
            b"alias symbol:",
            name,
            b" ",
            model.names[owner as usize],
            b"\n",
        ] {
            out.extend_from_slice(part);
        }
    }
    out
}

pub(super) fn symbols_bin(model: &Model<'_>) -> Result<Vec<u8>, Fatal> {
    let bytes = model
        .symbols
        .iter()
        .map(|(name, _)| name.len())
        .sum::<usize>();
    let mut keys = Packed::with_capacity(
        model.symbols.len(),
        bytes + model.symbols.len() * b"symbol:".len(),
    );
    for (name, _) in &model.symbols {
        keys.push_with(|key| {
            key.extend_from_slice(b"symbol:");
            key.extend_from_slice(name);
        });
    }
    let entries: Vec<Record<'_>> = keys
        .iter()
        .zip(&model.symbols)
        .map(|(key, &(_, owner))| Record {
            key,
            value: model.names[owner as usize],
            priority: owner,
        })
        .collect();
    index(&entries)
}
