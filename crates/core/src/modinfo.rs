//! The information `modinfo` shows about a module: the `.modinfo` records in
//! file order, then the signature fields; for built-in modules the records of
//! `modules.builtin.modinfo`.

use std::collections::BTreeMap;

use crate::module_file::{self, ModuleFile};
use crate::signature;

/// One `key=value` record. Values are bytes: modules may carry any text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The record's key, e.g. `license`, `depends` or `alias`.
    pub key: Vec<u8>,
    /// Everything after the first `=`; empty when there is none.
    pub value: Vec<u8>,
}

impl Field {
    /// Splits a raw record at its first `=`; a record without one is all key.
    pub fn from_record(record: &[u8]) -> Field {
        match record.iter().position(|&b| b == b'=') {
            Some(eq) => Field {
                key: record[..eq].to_vec(),
                value: record[eq + 1..].to_vec(),
            },
            None => Field {
                key: record.to_vec(),
                value: Vec::new(),
            },
        }
    }

    fn new(key: &str, value: impl Into<Vec<u8>>) -> Field {
        Field {
            key: key.as_bytes().to_vec(),
            value: value.into(),
        }
    }
}

/// Every field of a module file, in the order modinfo lists them.
pub fn module_fields(file: &ModuleFile) -> Result<Vec<Field>, module_file::Error> {
    let elf = file.elf()?;
    let records = elf.modinfo().map_err(|e| file.elf_error(e))?;
    let mut fields: Vec<Field> = records.into_iter().map(Field::from_record).collect();
    if let Some(sig) = signature::parse(file.bytes()) {
        fields.push(Field::new("sig_id", sig.id_type_name()));
        fields.push(Field::new("signer", sig.signer.clone()));
        fields.push(Field::new("sig_key", signature::hex_field(&sig.key_id)));
        fields.push(Field::new("sig_hashalgo", sig.hash_algo.clone()));
        fields.push(Field::new(
            "signature",
            signature::hex_field(&sig.signature),
        ));
    }
    Ok(fields)
}

/// Why `modules.builtin.modinfo` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuiltinError {
    /// A record does not start with `module.`, so it belongs to no module.
    #[error("unexpected string without modname prefix")]
    MissingPrefix,
}

/// The fields of built-in module `name` from the contents of
/// `modules.builtin.modinfo` (`module.key=value` records, NUL-separated).
/// Only the first contiguous run of the module's records counts.
pub fn builtin_fields(blob: &[u8], name: &[u8]) -> Result<Vec<Field>, BuiltinError> {
    let mut fields = Vec::new();
    for record in blob.split(|&b| b == 0) {
        if record.is_empty() {
            continue;
        }
        if !record.contains(&b'.') {
            return Err(BuiltinError::MissingPrefix);
        }
        let ours = record.strip_prefix(name).and_then(|r| r.strip_prefix(b"."));
        match ours {
            Some(rest) => fields.push(Field::from_record(rest)),
            None if fields.is_empty() => continue,
            None => break,
        }
    }
    Ok(fields)
}

/// A module parameter assembled from its `parm` (description) and
/// `parmtype` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    /// The parameter's name, the part of the record before the `:`.
    pub name: &'a [u8],
    /// Its description from the `parm` record, if there is one.
    pub desc: Option<&'a [u8]>,
    /// Its type from the `parmtype` record (`int`, `charp`, …), if there is one.
    pub ty: Option<&'a [u8]>,
}

/// The result of merging parameter records.
#[derive(Debug, Default)]
pub struct Params<'a> {
    /// In modinfo's print order: the reverse of each name's first appearance.
    pub params: Vec<Param<'a>>,
    /// `parm`/`parmtype` records without a `:` (reported, then ignored).
    pub invalid: Vec<&'a Field>,
}

/// Whether `key` describes a module parameter (`parm` or `parmtype`).
pub fn is_param_key(key: &[u8]) -> bool {
    key == b"parm" || key == b"parmtype"
}

/// Merges `parm`/`parmtype` records by parameter name; a later record of the
/// same kind replaces an earlier one, as kmod does.
pub fn merge_params(fields: &[Field]) -> Params<'_> {
    let mut out = Params::default();
    // Parameter name -> its place in `out.params`: a module with tens of
    // thousands of records must not cost a quadratic search. Ordered, so
    // that no names a module file chooses can make the lookups slow, and no
    // random seed is needed for a handful of names.
    let mut known: BTreeMap<&[u8], usize> = BTreeMap::new();
    for field in fields.iter().filter(|f| is_param_key(&f.key)) {
        let Some(colon) = field.value.iter().position(|&b| b == b':') else {
            out.invalid.push(field);
            continue;
        };
        let (name, text) = (&field.value[..colon], &field.value[colon + 1..]);
        let idx = *known.entry(name).or_insert_with(|| {
            out.params.push(Param {
                name,
                desc: None,
                ty: None,
            });
            out.params.len() - 1
        });
        if field.key == b"parm" {
            out.params[idx].desc = Some(text);
        } else {
            out.params[idx].ty = Some(text);
        }
    }
    out.params.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(key: &str, value: &str) -> Field {
        Field::new(key, value.as_bytes())
    }

    #[test]
    fn records_split_at_first_equals() {
        assert_eq!(Field::from_record(b"a=b=c"), f("a", "b=c"));
        assert_eq!(Field::from_record(b"noequals"), f("noequals", ""));
    }

    #[test]
    fn params_merge_in_reverse_first_appearance() {
        let fields = vec![
            f("parm", "debug:Enable debugging"),
            f("license", "GPL"),
            f("parmtype", "count:int"),
            f("parmtype", "debug:bool"),
            f("parm", "broken"),
        ];
        let p = merge_params(&fields);
        assert_eq!(p.params.len(), 2);
        assert_eq!(p.params[0].name, b"count");
        assert_eq!(p.params[0].ty, Some(&b"int"[..]));
        assert_eq!(p.params[0].desc, None);
        assert_eq!(p.params[1].desc, Some(&b"Enable debugging"[..]));
        assert_eq!(p.params[1].ty, Some(&b"bool"[..]));
        assert_eq!(p.invalid.len(), 1);
    }

    #[test]
    fn builtin_takes_first_contiguous_run() {
        let blob = b"ext4.license=GPL\0foo.license=MIT\0foo.alias=fs-foo\0bar.x=1\0foo.late=1\0";
        let got = builtin_fields(blob, b"foo").unwrap();
        assert_eq!(got, vec![f("license", "MIT"), f("alias", "fs-foo")]);
        assert!(builtin_fields(blob, b"nope").unwrap().is_empty());
        assert_eq!(
            builtin_fields(b"noprefix\0", b"x"),
            Err(BuiltinError::MissingPrefix)
        );
    }
}
