//! Every `--help` is its tool's option table: each option once, under the
//! heading, names and text the table gives it, in the table's order within
//! a heading, and no option the table lacks. (kmod's help texts are not
//! ours to match: ours are our own words, laid out our own way.)

use modutils::cli::{erase, Opt};

use crate::util::{ours, run, text};

/// A command line that prints a help (program, arguments), and the
/// option table behind that help.
type Case = (&'static str, Vec<&'static str>, Vec<Opt<usize>>);

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = (modutils::kmod::TOOLS.iter())
        .map(|t| (t.name, vec!["--help"], (t.options)()))
        .collect();
    cases.push(("kmod", vec!["--help"], erase(modutils::kmod::options())));
    let static_nodes = erase(modutils::static_nodes::options());
    cases.push(("kmod", vec!["static-nodes", "--help"], static_nodes));
    let graph = erase(modutils::graph::options());
    cases.push(("kmod", vec!["graph", "--help"], graph));
    cases
}

/// A line of the options part of a help: its heading, the short name and
/// long name it starts with, and the text after the names.
#[derive(Debug, PartialEq)]
struct Line {
    heading: String,
    short: Option<char>,
    long: Option<String>,
    text: String,
}

/// The lines that start with an option name (`\t-x, --long…` or
/// `\t    --long…`), each with the heading above it; the text of the
/// lines below without names continues the text.
fn option_lines(help: &str) -> Vec<Line> {
    let mut heading = String::new();
    let mut lines: Vec<Line> = Vec::new();
    for line in help.lines() {
        if !line.starts_with(['\t', ' ']) {
            if let Some(h) = line.strip_suffix(':') {
                heading = h.to_string();
            }
            continue;
        }
        let Some(rest) = line.strip_prefix('\t') else {
            continue;
        };
        // Long-only names are indented by four spaces; texts by more.
        let rest = rest.strip_prefix("    ").unwrap_or(rest);
        let names_end = rest.find("  ").unwrap_or(rest.len());
        let (names, text) = (&rest[..names_end], rest[names_end..].trim_start());
        if names.is_empty() {
            if let Some(last) = lines.last_mut() {
                last.text = format!("{}\n{text}", last.text);
            }
            continue;
        }
        let (short, long) = match names.strip_prefix('-') {
            Some(long) if long.starts_with('-') => (None, Some(long)),
            Some(s) => (
                s.chars().next(),
                s.get(1..).and_then(|l| l.strip_prefix(", -")),
            ),
            None => continue,
        };
        let long = long.map(|l| {
            l.trim_start_matches('-')
                .split(['=', '['])
                .next()
                .unwrap_or_default()
        });
        lines.push(Line {
            heading: heading.clone(),
            short,
            long: long.map(str::to_string),
            text: text.to_string(),
        });
    }
    lines
}

/// The option lines the table says the help has, in its order: headings
/// in the order they first appear, rows in table order below them.
fn expected_lines(table: &[Opt<usize>]) -> Vec<Line> {
    // One entry per option: the first row of its id (ids are erased).
    let mut options: Vec<&Opt<usize>> = (table.iter().enumerate())
        .filter(|(i, row)| row.id == *i)
        .map(|(_, row)| row)
        .collect();
    let first_of_group = |g: &str| table.iter().position(|o| o.group == g);
    options.sort_by_key(|o| first_of_group(o.group));
    let mut lines = Vec::new();
    for o in options {
        let heading = Some(o.group).filter(|g| !g.is_empty());
        let longs = match o.shown {
            [] => o.long.get(..1).unwrap_or_default(),
            shown => shown,
        };
        let help = Some(o.help_lines).filter(|t| !t.is_empty());
        let mut texts = help.unwrap_or(o.help).split('\n');
        for i in 0..longs.len().max(1) {
            lines.push(Line {
                heading: heading.unwrap_or("Options").to_string(),
                short: o.short.filter(|_| i == 0),
                long: longs.get(i).map(|l| l.to_string()),
                text: texts.next().unwrap_or_default().to_string(),
            });
        }
        let last = lines.last_mut().expect("a line per option");
        for more in texts {
            last.text = format!("{}\n{more}", last.text);
        }
    }
    lines
}

#[test]
fn every_help_is_rendered_from_the_option_table() {
    for (tool, args, table) in cases() {
        let out = run(&ours(tool), &args);
        assert_eq!(out.status.code(), Some(0), "{tool} {args:?}");
        let help = text(&out.stdout);
        assert_eq!(
            option_lines(&help),
            expected_lines(&table),
            "{tool} {args:?}:\n{help}"
        );
    }
}

/// How the test above reads a help: headings, names, continued texts.
#[test]
fn option_lines_are_read_with_their_headings() {
    let help = "Usage:\n\tx [options]\nOne:\n\t-a, --all=N  A\n\t             more\n\
                \t    --bee  B\nTwo:\n\t-c       C\n\thuman  not an option\n";
    let line = |heading: &str, short, long: Option<&str>, text: &str| Line {
        heading: heading.to_string(),
        short,
        long: long.map(str::to_string),
        text: text.to_string(),
    };
    assert_eq!(
        option_lines(help),
        [
            line("One", Some('a'), Some("all"), "A\nmore"),
            line("One", None, Some("bee"), "B"),
            line("Two", Some('c'), None, "C"),
        ]
    );
}
