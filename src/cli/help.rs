//! `--help` text, rendered from the same option table that parsing uses.

use super::opt::{HasArg, Opt};

/// `Usage:` lines (each `prog` + usage), then one line per option id.
pub fn help_text<K: PartialEq>(prog: &str, usages: &[&str], table: &[Opt<K>]) -> String {
    let mut out = String::from("Usage:\n");
    for usage in usages {
        out.push_str(&format!("\t{prog} {usage}\n"));
    }
    out.push_str("Options:\n");
    let mut rows: Vec<(String, &str)> = Vec::new();
    for (i, row) in table.iter().enumerate() {
        if table[..i].iter().any(|o| o.id == row.id) {
            continue;
        }
        let long = row.long.first().map(|l| match row.arg {
            HasArg::No => format!("--{l}"),
            HasArg::Required => format!("--{l}={}", row.value_name),
            HasArg::Optional => format!("--{l}[={}]", row.value_name),
        });
        // Long-only options line up with the long names of the others.
        let names = match (row.short, long) {
            (Some(s), Some(l)) => format!("-{s}, {l}"),
            (Some(s), None) => format!("-{s}"),
            (None, Some(l)) => format!("    {l}"),
            (None, None) => String::new(),
        };
        rows.push((names, row.help));
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 2;
    for (names, help) in rows {
        out.push_str(&format!("\t{names:<width$}{help}\n"));
    }
    out
}
