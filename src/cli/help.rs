//! `--help` text, rendered from the same option table that parsing uses.

use super::opt::{HasArg, Opt};

/// `Usage:` lines (each `prog` + usage), then the options with their
/// texts two spaces after the longest names.
pub fn help_text<K: PartialEq>(prog: &str, usages: &[&str], table: &[Opt<K>]) -> String {
    usage(prog, usages) + &options(table, None)
}

/// `Usage:`, then a line per usage: `prog` and the usage, tab-indented.
pub fn usage(prog: &str, usages: &[&str]) -> String {
    let mut out = String::from("Usage:\n");
    for usage in usages {
        out.push_str(&format!("\t{prog} {usage}\n"));
    }
    out
}

/// One line per option (one per id), under the headings of their groups.
/// Texts start `column` bytes after the tab, or two spaces after names
/// that reach it; `None`: two spaces after the longest names.
pub fn options<K: PartialEq>(table: &[Opt<K>], column: Option<usize>) -> String {
    // Rows sharing an id are one option, shown as the first of them.
    let shown: Vec<&Opt<K>> = table
        .iter()
        .enumerate()
        .filter(|(i, row)| !table[..*i].iter().any(|o| o.id == row.id))
        .map(|(_, row)| row)
        .collect();
    let names: Vec<Vec<String>> = shown.iter().map(|row| name_lines(row)).collect();
    let widest = names.iter().flatten().map(String::len).max().unwrap_or(0);
    let column = column.unwrap_or(widest + 2);
    let mut groups: Vec<&str> = Vec::new();
    for row in &shown {
        if !groups.contains(&row.group) {
            groups.push(row.group);
        }
    }
    let mut out = String::new();
    for group in groups {
        let heading = if group.is_empty() { "Options" } else { group };
        out.push_str(&format!("{heading}:\n"));
        for (row, names) in shown.iter().zip(&names) {
            if row.group != group {
                continue;
            }
            let text = if row.help_lines.is_empty() {
                row.help
            } else {
                row.help_lines
            };
            let texts: Vec<&str> = text.split('\n').collect();
            for i in 0..names.len().max(texts.len()) {
                let name = names.get(i).map_or("", String::as_str);
                let text = texts.get(i).copied().unwrap_or_default();
                let width = column.max(name.len() + 2);
                out.push_str(&format!("\t{name:<width$}{text}\n"));
            }
        }
    }
    out
}

/// The names column of a row, a line per shown long name: the short name
/// and the first long name, then the others below it.
fn name_lines<K>(row: &Opt<K>) -> Vec<String> {
    let longs = if row.shown.is_empty() {
        &row.long[..row.long.len().min(1)]
    } else {
        row.shown
    };
    let long = |l: &str| match row.arg {
        HasArg::No => format!("--{l}"),
        HasArg::Required => format!("--{l}={}", row.value_name),
        HasArg::Optional => format!("--{l}[={}]", row.value_name),
    };
    // Long-only options, and the further names, line up with the first
    // long name of the others.
    let mut lines: Vec<String> = (longs.iter().enumerate())
        .map(|(i, l)| match (i, row.short) {
            (0, Some(s)) => format!("-{s}, {}", long(l)),
            _ => format!("    {}", long(l)),
        })
        .collect();
    if let (Some(s), true) = (row.short, longs.is_empty()) {
        lines.push(format!("-{s}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_first_appearance_and_keep_table_order() {
        let table = [
            Opt::flag(1, Some('a'), &["all"], "A").under("One"),
            Opt::flag(2, None, &["bee"], "B").under("Two"),
            Opt::flag(3, Some('c'), &["cee"], "C").under("One"),
            Opt::flag(1, None, &["alias"], "A again"),
        ];
        assert_eq!(
            options(&table, None),
            "One:\n\t-a, --all  A\n\t-c, --cee  C\nTwo:\n\t    --bee  B\n"
        );
    }

    #[test]
    fn lines_of_names_and_text_pair_up_past_the_column() {
        let table = [
            Opt::flag(1, Some('i'), &["in", "out", "x"], "one line")
                .shown(&["in", "out"])
                .help_lines("first\nsecond\nthird"),
            Opt::value(2, Some('S'), &["set"], "VERSION", "wide"),
            Opt::flag(3, Some('q'), &[], "short only"),
        ];
        assert_eq!(
            options(&table, Some(8)),
            "Options:\n\
             \t-i, --in  first\n\
             \t    --out  second\n\
             \t        third\n\
             \t-S, --set=VERSION  wide\n\
             \t-q      short only\n"
        );
    }
}
