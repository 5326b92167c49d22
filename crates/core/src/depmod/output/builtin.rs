//! modules.builtin.bin and modules.builtin.alias.bin: the modules built
//! into the kernel image, from `modules.builtin` and
//! `modules.builtin.modinfo` in the module directory.

use super::model::{check_ascii, index, Fatal, Model};
use crate::depmod::fgets::{fgets_lines, LINE_MAX};
use crate::depmod::report::{text, Deferred};
use crate::diagnostics::{strerror, Level};
use crate::index::Record;
use crate::name::{alias_normalize, modname_from_path_bytes};

/// A missing input file is reported and gives a 0-byte output.
fn builtin_input<'m>(
    dirname: &[u8],
    input: &'m Result<Vec<u8>, i32>,
    name: &str,
    log: &mut Deferred,
) -> Option<&'m [u8]> {
    match input {
        Ok(data) => Some(data),
        Err(errno) => {
            let msg = text!(
                b"could not open ",
                name,
                b" at ",
                dirname,
                b": ",
                strerror(*errno)
            );
            log.push(Level::Warning, msg);
            None
        }
    }
}

pub(super) fn builtin_bin(model: &Model<'_>, log: &mut Deferred) -> Result<Vec<u8>, Fatal> {
    let Some(data) = builtin_input(model.dirname, &model.builtin, "modules.builtin", log) else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for line in fgets_lines(data, LINE_MAX) {
        if !line.first().is_some_and(|b| b.is_ascii_alphabetic()) {
            log.push(Level::Err, text!(b"Invalid modules.builtin line: ", line));
            continue;
        }
        // The line keeps its newline, which ends up in the name when the
        // path has no dot, as in kmod.
        let base = line.rsplit(|&b| b == b'/').next().unwrap_or(b"");
        if base.is_empty() {
            continue;
        }
        let key = modname_from_path_bytes(line);
        check_ascii(&key, b"")?;
        keys.push(key);
    }
    let entries: Vec<Record<'_>> = keys
        .iter()
        .map(|k| Record {
            key: k,
            value: b"",
            priority: 0,
        })
        .collect();
    index(&entries)
}

pub(super) fn builtin_alias_bin(model: &Model<'_>, log: &mut Deferred) -> Result<Vec<u8>, Fatal> {
    let Some(data) = builtin_input(
        model.dirname,
        &model.builtin_modinfo,
        "modules.builtin.modinfo",
        log,
    ) else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<(Vec<u8>, &[u8])> = Vec::new();
    for record in data.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let Some(dot) = record.iter().position(|&b| b == b'.') else {
            continue;
        };
        let (module, field) = (&record[..dot], &record[dot + 1..]);
        let Some(value) = field.strip_prefix(b"alias=") else {
            continue;
        };
        if module.is_empty() {
            continue;
        }
        match alias_normalize(value) {
            Ok(key) => {
                check_ascii(&key, module)?;
                keys.push((key, module));
            }
            Err(_) => log.push(Level::Warning, text!(b"Unmatched bracket in ", value)),
        }
    }
    let entries: Vec<Record<'_>> = keys
        .iter()
        .map(|(k, m)| Record {
            key: k,
            value: m,
            priority: 0,
        })
        .collect();
    index(&entries)
}
