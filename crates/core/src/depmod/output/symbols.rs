//! modules.symbols and modules.symbols.bin: which module exports each
//! symbol, for `symbol_request()`.

use super::model::{index, Fatal, Model};
use crate::index::Record;

pub(super) fn symbols_text(model: &Model<'_>) -> Vec<u8> {
    let mut out = b"# Aliases for symbols, used by symbol_request().\n".to_vec();
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
    // Every key in one buffer, each `symbol:<name>`: tens of thousands.
    const WORD: &[u8] = b"symbol:";
    let size = model
        .symbols
        .iter()
        .map(|(name, _)| WORD.len() + name.len());
    let mut keys = Vec::with_capacity(size.sum());
    for (name, _) in &model.symbols {
        keys.extend_from_slice(WORD);
        keys.extend_from_slice(name);
    }
    let mut at = 0;
    let entries: Vec<Record<'_>> = model
        .symbols
        .iter()
        .map(|&(name, owner)| {
            let key = &keys[at..at + WORD.len() + name.len()];
            at += key.len();
            Record {
                key,
                value: model.names[owner as usize],
                priority: owner,
            }
        })
        .collect();
    index(&entries)
}
