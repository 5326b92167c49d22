//! `kmod graph`: the module dependency graph of a module directory, in
//! Graphviz's DOT language (`kmod graph bttv | dot -Tsvg > bttv.svg`).
//!
//! The edges come from modules.dep.bin, the index modprobe loads by.
//! modules.dep lists everything a module needs, directly or not; the graph
//! keeps an edge only where no other needed module already leads there
//! (the transitive reduction), which is the readable picture: bttv points
//! at tea575x, tea575x at videodev, and bttv has no edge of its own to
//! videodev.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use modutils_core::context::Context;
use modutils_core::name::modname_from_path;
use modutils_core::Root;

use crate::cli::{self, Opt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Basedir,
    SetVersion,
    Help,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::value(
        Id::Basedir,
        Some('b'),
        &["basedir"],
        "DIR",
        "Take DIR as the root of the module directory",
    ),
    Opt::value(
        Id::SetVersion,
        Some('k'),
        &["set-version"],
        "VERSION",
        "Use the modules of kernel VERSION (default: the running one)",
    ),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help and exit"),
];

/// The option table, for man pages and completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

pub fn main(args: Vec<OsString>) -> i32 {
    let Some(parsed) = cli::parse_or_report(OPTIONS, args, false) else {
        return 1;
    };
    let (mut basedir, mut version) = (None, None);
    for (id, value) in parsed.opts {
        match id {
            Id::Basedir => basedir = value,
            Id::SetVersion => version = value,
            Id::Help => {
                let usage = ["graph [options] [module...]"];
                print!("{}", cli::help_text("kmod", &usage, OPTIONS));
                return 0;
            }
        }
    }
    let root = Root::from_env();
    let dir = root.module_dir(basedir.as_deref(), version.as_deref());
    let ctx = Context::new(root, Some(dir));

    let all = ctx.module_names();
    if all.is_empty() {
        crate::error!(
            "no modules in {}: is modules.dep.bin there? (run depmod)",
            ctx.dirname().display()
        );
        return 1;
    }
    // DOT is text: names that are not UTF-8 are shown with U+FFFD.
    let needs: BTreeMap<String, BTreeSet<String>> = all
        .iter()
        .map(|m| {
            let deps = ctx
                .dependencies(m)
                .map(|(_, deps)| deps.iter().map(modname_from_path).collect())
                .unwrap_or_default();
            (String::from_utf8_lossy(m).into_owned(), deps)
        })
        .collect();

    let mut failed = false;
    let shown: BTreeSet<String> = if parsed.operands.is_empty() {
        needs.keys().cloned().collect()
    } else {
        let mut set = BTreeSet::new();
        for arg in &parsed.operands {
            match ctx.lookup(arg.as_bytes()) {
                Ok(found) if !found.is_empty() => {
                    for m in found {
                        let name = String::from_utf8_lossy(&m.name).into_owned();
                        if let Some(deps) = needs.get(&name) {
                            set.extend(deps.iter().cloned());
                        }
                        set.insert(name);
                    }
                }
                _ => {
                    crate::error!("Module {} not found.", arg.to_string_lossy());
                    failed = true;
                }
            }
        }
        set
    };

    let mut out = String::from("digraph modules {\n\tnode [shape=box];\n");
    for m in &shown {
        out.push_str(&format!("\t{};\n", quote(m)));
    }
    for m in &shown {
        let deps = needs.get(m).cloned().unwrap_or_default();
        for d in &deps {
            // An edge only where no other dependency already leads to d.
            let indirect = deps
                .iter()
                .any(|e| e != d && needs.get(e).is_some_and(|n| n.contains(d)));
            if !indirect {
                out.push_str(&format!("\t{} -> {};\n", quote(m), quote(d)));
            }
        }
    }
    out.push_str("}\n");
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(out.as_bytes()).is_err() {
        return 1;
    }
    i32::from(failed)
}

/// A DOT identifier in double quotes.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}
