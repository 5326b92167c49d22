//! modules.symbols and modules.symbols.bin: which module exports each
//! symbol, for `symbol_request()`.

use super::model::{index, Fatal, Model, Packed};
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
    let mut keys = Packed::default();
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
