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
        let mut names = Vec::new();
        if let Some(s) = row.short {
            names.push(format!("-{s}"));
        }
        if let Some(l) = row.long.first() {
            names.push(match row.arg {
                HasArg::No => format!("--{l}"),
                HasArg::Required => format!("--{l}={}", row.value_name),
                HasArg::Optional => format!("--{l}[={}]", row.value_name),
            });
        }
        rows.push((names.join(", "), row.help));
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 2;
    for (names, help) in rows {
        out.push_str(&format!("\t{names:<width$}{help}\n"));
    }
    out
}
