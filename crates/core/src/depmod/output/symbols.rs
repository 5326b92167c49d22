//! modules.symbols and modules.symbols.bin: which module exports each
//! symbol, for `symbol_request()`.

use super::model::{index, Fatal, Model};
use crate::depmod::report::text;
use crate::index::Record;

pub(super) fn symbols_text(model: &Model<'_>) -> Vec<u8> {
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

pub(super) fn symbols_bin(model: &Model<'_>) -> Result<Vec<u8>, Fatal> {
    let keys: Vec<Vec<u8>> = model
        .symbols
        .iter()
        .map(|(name, _)| text!(b"symbol:", name))
        .collect();
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
