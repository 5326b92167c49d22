//! `lsmod` (also `kmod list`): the loaded modules, in `/proc/modules`
//! order, with size, use count and users, formatted byte for byte as
//! kmod 34's lsmod prints them. Sizes, counts and users come from
//! `/sys/module`, as kmod reads them, not from `/proc/modules`.

use std::ffi::OsString;
use std::io::Write;

use modutils_core::config::strerror;
use modutils_core::kernel;
use modutils_core::{procfs, sysfs, Root};

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

/// lsmod's options and operands, for man pages and completions.
pub fn command() -> clap::Command {
    cli::to_clap_command("lsmod", "Show the modules loaded in the kernel", OPTIONS)
}

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
            Ok((Id::Version, _)) => {
                crate::kmod::version();
                return 0;
            }
            Ok((Id::Help, _)) => {
                print!("{}", cli::help_text(log::prog(), &["[options]"], OPTIONS));
                return 0;
            }
            Err(e) => {
                e.print();
                return 1;
            }
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
    let names = match procfs::loaded_module_names(&root) {
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
        let name = normalize(raw);
        let size = size(&root, &name);
        let refcnt = refcnt(&root, &name);
        text.push_str(&format!("{name:<19} {size:>8}  {refcnt}"));
        match sysfs::holders(&root, &name) {
            Ok(holders) => {
                for (i, h) in holders.iter().enumerate() {
                    text.push(if i == 0 { ' ' } else { ',' });
                    text.push_str(&normalize(h));
                }
            }
            Err(e) => error!("{e}"),
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

/// What the plain list shows of one module.
struct Row {
    name: String,
    size: i64,
    refcnt: i64,
    holders: Vec<String>,
}

/// `--tree` and `--json`: the same reads as the plain list (sizes, use
/// counts and holders from `/sys/module`), shown another way.
fn view(root: &Root, names: &[String], json: bool) -> i32 {
    let rows: Vec<Row> = names
        .iter()
        .map(|raw| {
            let name = normalize(raw);
            let size = size(root, &name);
            let refcnt = refcnt(root, &name);
            let holders = match sysfs::holders(root, &name) {
                Ok(h) => h.iter().map(|h| normalize(h)).collect(),
                Err(e) => {
                    error!("{e}");
                    Vec::new()
                }
            };
            Row {
                name,
                size,
                refcnt,
                holders,
            }
        })
        .collect();
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

/// A module name as kmod keeps it: `-` becomes `_`, and it ends at the
/// first `.`.
pub(crate) fn normalize(name: &str) -> String {
    String::from_utf8_lossy(&modutils_core::name::modname_normalize(name.as_bytes())).into_owned()
}

/// `coresize`, else the size column of `/proc/modules`; `-errno` when the
/// module has no sysfs directory.
fn size(root: &Root, name: &str) -> i64 {
    let dir = sysfs::module_path(name, None);
    if let Err(e) = std::fs::metadata(root.host(&dir)) {
        return -i64::from(e.raw_os_error().unwrap_or(libc::EIO));
    }
    match sysfs::coresize(root, name) {
        Ok(v) => v,
        Err(e) if e.is_not_found() => size_from_proc_modules(root, name),
        Err(_) => {
            error!("failed to read coresize from {}", dir.display());
            0
        }
    }
}

fn size_from_proc_modules(root: &Root, name: &str) -> i64 {
    let text = match std::fs::read(root.host(procfs::PROC_MODULES)) {
        Ok(t) => t,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            error!(
                "could not open {}: {}",
                procfs::PROC_MODULES,
                strerror(errno)
            );
            return -i64::from(errno);
        }
    };
    let text = String::from_utf8_lossy(&text);
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        if words.next() != Some(name) {
            continue;
        }
        return match words
            .next()
            .and_then(|w| w.parse::<i64>().ok())
            .filter(|v| *v >= 0)
        {
            Some(v) => v,
            None => {
                error!("invalid line format at {}:{}", procfs::PROC_MODULES, i + 1);
                -i64::from(libc::ENOENT)
            }
        };
    }
    -i64::from(libc::ENOENT)
}

/// `refcnt`; `-errno` when it cannot be read (`-2` on kernels that cannot
/// unload modules).
fn refcnt(root: &Root, name: &str) -> i64 {
    match sysfs::refcnt(root, name) {
        Ok(v) => v,
        Err(sysfs::Error::Io { source, .. }) => {
            -i64::from(source.raw_os_error().unwrap_or(libc::EIO))
        }
        Err(e) => {
            error!(
                "could not read integer from '{}': '{}'",
                e.path().display(),
                strerror(libc::EINVAL)
            );
            -i64::from(libc::EINVAL)
        }
    }
}
