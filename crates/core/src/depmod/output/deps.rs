//! modules.dep and modules.dep.bin: each module's path and the paths of
//! everything it needs, in load order.

use super::model::{index, Fatal, Model, Packed};
use crate::index::Record;

/// `<path>:[ <dep>...]` for module `m`, without newline.
fn dep_line(model: &Model<'_>, m: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(model.shown[m]);
    out.push(b':');
    for &d in &model.closures[m] {
        out.push(b' ');
        out.extend_from_slice(model.shown[d as usize]);
    }
}

/// The length of every module's dep line, newline included.
fn lines_size(model: &Model<'_>) -> usize {
    (0..model.names.len())
        .map(|m| {
            let deps = model.closures[m].iter();
            let deps = deps.map(|&d| 1 + model.shown[d as usize].len());
            model.shown[m].len() + 2 + deps.sum::<usize>()
        })
        .sum()
}

pub(super) fn deps_text(model: &Model<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines_size(model));
    for m in 0..model.names.len() {
        dep_line(model, m, &mut out);
        out.push(b'\n');
    }
    out
}

pub(super) fn deps_bin(model: &Model<'_>) -> Result<Vec<u8>, Fatal> {
    let mut lines = Packed::with_capacity(model.names.len(), lines_size(model));
    for m in 0..model.names.len() {
        lines.push_with(|line| dep_line(model, m, line));
    }
    // Module names are unique, so `-w`'s duplicate check never fires here.
    let entries: Vec<Record<'_>> = lines
        .iter()
        .enumerate()
        .map(|(m, line)| Record {
            key: model.names[m],
            value: line,
            priority: m as u32,
        })
        .collect();
    index(&entries)
}
