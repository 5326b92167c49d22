//! `lsmod` (also `kmod list`): the loaded modules, in `/proc/modules`
//! order, with size, use count and users, formatted byte for byte as
//! kmod 34's lsmod prints them. Sizes, counts and users come from
//! `/sys/module`, as kmod reads them, not from `/proc/modules`.

use std::ffi::OsString;
use std::io::Write;

use modutils_core::config::strerror;
use modutils_core::kernel;
use modutils_core::{loaded, procfs, Root};

use crate::cli::{self, Opt};
use crate::{error, log};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Syslog,
    Verbose,
    Version,
    Help,
    Tree,
    Json,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::Syslog,
        Some('s'),
        &["syslog"],
        "print to syslog, not stderr",
    ),
    Opt::flag(
        Id::Verbose,
        Some('v'),
        &["verbose"],
        "enables more messages",
    ),
    Opt::flag(Id::Version, Some('V'), &["version"], "show version"),
    Opt::flag(Id::Help, Some('h'), &["help"], "show this help"),
    Opt::flag(
        Id::Tree,
        None,
        &["tree"],
        "show each module above the modules it uses, as a tree",
    )
    .extension(),
    Opt::flag(
        Id::Json,
        None,
        &["json"],
        "print the list as JSON (schema: docs/json.md)",
    )
    .extension(),
];

/// The option table (kmod's, then modutils' own).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// What `kmod` knows of lsmod.
pub const TOOL: cli::Tool = cli::Tool {
    name: "lsmod",
    main,
    options: || cli::erase(OPTIONS),
    help_text: |prog| cli::help_text(prog, &["[options]"], OPTIONS),
};

pub fn main(args: Vec<OsString>) -> i32 {
    let mut verbose = log::Level::Err as i32;
    let mut syslog = false;
    let (mut tree, mut json) = (false, false);
    let mut parser = cli::Parser::new(OPTIONS, args);
    for item in parser.by_ref() {
        match item {
            Ok((Id::Syslog, _)) => syslog = true,
            Ok((Id::Verbose, _)) => verbose += 1,
            Ok((Id::Tree, _)) => tree = true,
            Ok((Id::Json, _)) => json = true,
            Ok((Id::Version, _)) => return cli::version(),
            Ok((Id::Help, _)) => return TOOL.help(),
            Err(e) => return e.report(),
        }
    }
    if syslog {
        log::use_syslog();
    }
    log::set_threshold(verbose);
    if !parser.operands().is_empty() {
        error!("too many arguments provided.");
        return 1;
    }
    if tree && json {
        error!("--tree and --json cannot be combined.");
        return 1;
    }
    let root = Root::from_env();
    let names = match loaded::names(&root) {
        Ok(names) => names,
        Err(e) => {
            error!(
                "could not open {}: {}",
                procfs::PROC_MODULES,
                strerror(e.errno())
            );
            if e.errno() == libc::ENOENT && procfs::module_support(&root) == Some(false) {
                error!("{}", kernel::NO_MODULE_SUPPORT);
            } else {
                error!("could not get list of modules: {}", strerror(e.errno()));
            }
            return 1;
        }
    };

    if tree || json {
        return view(&root, &names, json);
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if out
        .write_all(b"Module                  Size  Used by\n")
        .is_err()
    {
        return 0;
    }
    let mut text = String::new();
    for raw in &names {
        let Row {
            name,
            size,
            refcnt,
            holders,
        } = row(&root, raw);
        text.push_str(&format!("{name:<19} {size:>8}  {refcnt}"));
        for (i, h) in holders.iter().enumerate() {
            text.push(if i == 0 { ' ' } else { ',' });
            text.push_str(h);
        }
        text.push('\n');
        // Write as we go, so a consumer sees lines before errors that follow.
        if out.write_all(text.as_bytes()).is_err() {
            return 0;
        }
        text.clear();
    }
    let _ = out.flush();
    0
}

/// What the list shows of one module: the core's reading, its complaints
/// logged, unreadable values as kmod prints them (`-errno`).
struct Row {
    name: String,
    size: i64,
    refcnt: i64,
    holders: Vec<String>,
}

fn row(root: &Root, raw: &str) -> Row {
    let listing = loaded::read(root, raw);
    for message in &listing.messages {
        error!("{message}");
    }
    let holders = listing.holders.unwrap_or_else(|e| {
        error!("{e}");
        Vec::new()
    });
    let known = |v: Result<i64, i32>| v.unwrap_or_else(|errno| -i64::from(errno));
    Row {
        name: listing.name,
        size: known(listing.size),
        refcnt: known(listing.use_count),
        holders,
    }
}

/// `--tree` and `--json`: the same reads as the plain list, shown another way.
fn view(root: &Root, names: &[String], json: bool) -> i32 {
    let rows: Vec<Row> = names.iter().map(|raw| row(root, raw)).collect();
    let text = if json {
        json_text(&rows).into_bytes()
    } else {
        tree_text(&rows)
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&text).and_then(|()| out.flush());
    0
}

/// Roots are the modules nothing uses, in `/proc/modules` order; under
/// each module, the modules it uses (those listing it as a holder).
fn tree_text(rows: &[Row]) -> Vec<u8> {
    let uses = |i: usize| -> Vec<usize> {
        (0..rows.len())
            .filter(|&j| rows[j].holders.contains(&rows[i].name))
            .collect()
    };
    let mut roots: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            !rows[i]
                .holders
                .iter()
                .any(|h| rows.iter().any(|r| &r.name == h))
        })
        .collect();
    // Modules reachable from no root (only a cycle could do that) are
    // shown as roots too, so that every loaded module appears.
    let mut seen = vec![false; rows.len()];
    let mut stack = roots.clone();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(uses(i));
        }
    }
    roots.extend((0..rows.len()).filter(|&i| !seen[i]));
    crate::tree::render(&roots, |i| rows[i].name.as_bytes(), uses)
}

/// docs/json.md, `lsmod --json`.
fn json_text(rows: &[Row]) -> String {
    use crate::json::Json;
    let known = |v: i64| (v >= 0).then_some(v);
    let modules = rows
        .iter()
        .map(|r| {
            Json::Obj(vec![
                ("name", Json::str(&r.name)),
                ("size", Json::opt_int(known(r.size))),
                ("use_count", Json::opt_int(known(r.refcnt))),
                (
                    "holders",
                    Json::Arr(r.holders.iter().map(|h| Json::str(h)).collect()),
                ),
            ])
        })
        .collect();
    Json::Obj(vec![("modules", Json::Arr(modules))]).to_text()
}
