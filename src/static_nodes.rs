//! `kmod static-nodes`: the device nodes the running kernel's modules
//! provide, for systemd's kmod-static-nodes.service and for people.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use modutils_core::devname::{self, DevnameEntry, Line};
use modutils_core::Root;

use crate::cli::{self, Opt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Output,
    Format,
    Help,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::value(
        Id::Output,
        Some('o'),
        &["output"],
        "FILE",
        "Write to FILE (parent directories are created)",
    ),
    Opt::value(
        Id::Format,
        Some('f'),
        &["format"],
        "FORMAT",
        "Output format: human, tmpfiles or devname",
    ),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help and exit"),
];

#[derive(Clone, Copy)]
enum Format {
    Human,
    Tmpfiles,
    Devname,
}

const FORMATS: [(&str, Format, &str); 3] = [
    (
        "human",
        Format::Human,
        "readable text (the default); not meant for parsing",
    ),
    (
        "tmpfiles",
        Format::Tmpfiles,
        "lines for systemd-tmpfiles (tmpfiles.d(5))",
    ),
    ("devname", Format::Devname, "the modules.devname format"),
];

/// The option table, for man pages and completions (`cargo xtask`).
pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// The output formats and what each is for, for man pages and completions.
pub fn formats() -> impl Iterator<Item = (&'static str, &'static str)> {
    FORMATS.into_iter().map(|(name, _, what)| (name, what))
}

fn help() {
    let mut text = cli::help_text("kmod", &["static-nodes [options]"], OPTIONS);
    text.push_str("\nFormats:\n");
    for (name, _, what) in FORMATS {
        text.push_str(&format!("\t{name:<12} {what}\n"));
    }
    print!("{text}");
}

pub fn main(args: Vec<OsString>) -> i32 {
    // Only reached through `kmod static-nodes`, whose option scan stops at
    // the first operand as kmod's does.
    let Some(parsed) = cli::parse_or_report(OPTIONS, args, true) else {
        return 1;
    };
    let mut format = Format::Human;
    let mut output = None;
    for (id, value) in parsed.opts {
        let value = value.unwrap_or_default();
        match id {
            Id::Output => output = Some(value),
            Id::Format => match FORMATS.iter().find(|(n, _, _)| value.to_str() == Some(n)) {
                Some((_, f, _)) => format = *f,
                None => {
                    eprintln!("Unknown format: '{}'.", value.to_string_lossy());
                    help();
                    return 1;
                }
            },
            Id::Help => {
                help();
                return 0;
            }
        }
    }

    let root = Root::from_env();
    let path = root.module_dir(None, None).join("modules.devname");
    let target = path.display();
    let lines = match devname::Lines::open(&root, &path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!("Warning: {target} not found - ignoring");
            return 0;
        }
        Err(e) => {
            eprintln!("Error: could not open {target} - {}", crate::strerror(&e));
            return 1;
        }
    };
    let mut out: Box<dyn Write> = match output {
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
        Some(path) => match create(&root, Path::new(&path)) {
            Ok(f) => Box::new(io::BufWriter::new(f)),
            Err(msg) => {
                eprintln!("{msg}");
                return 1;
            }
        },
    };

    let mut status = 0;
    for line in lines {
        match line {
            Line::Entry(e) => {
                let _ = out.write_all(&render(format, &e));
            }
            Line::Invalid(line) => {
                let _ = io::stderr()
                    .write_all(&[&b"Error: invalid devname entry: "[..], &line].concat());
                status = 1;
            }
        }
    }
    if out.flush().is_err() {
        return 1;
    }
    status
}

fn create(root: &Root, path: &Path) -> Result<File, String> {
    let host = root.host(path);
    if let Some(parent) = host.parent().filter(|p| !p.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
        {
            return Err(format!(
                "Error: could not create parent directory for {} - {}.",
                path.display(),
                crate::strerror(&e)
            ));
        }
    }
    File::create(&host).map_err(|e| {
        format!(
            "Error: could not create {} - {}",
            path.display(),
            crate::strerror(&e)
        )
    })
}

fn render(format: Format, e: &DevnameEntry) -> Vec<u8> {
    let (m, d) = (
        String::from_utf8_lossy(&e.module),
        String::from_utf8_lossy(&e.devname),
    );
    let kind = if e.block { 'b' } else { 'c' };
    match format {
        Format::Human => format!(
            "Module: {m}\n\tDevice node: /dev/{d}\n\t\tType: {} device\n\t\tMajor: {}\n\t\tMinor: {}\n",
            if e.block { "block" } else { "character" },
            e.major,
            e.minor
        ),
        Format::Tmpfiles => {
            let dir = d.rfind('/').map(|i| format!("d /dev/{} 0755 - - -\n", &d[..i])).unwrap_or_default();
            format!("{dir}{kind}! /dev/{d} 0600 - - - {}:{}\n", e.major, e.minor)
        }
        Format::Devname => format!("{m} {d} {kind}{}:{}\n", e.major, e.minor),
    }
    .into_bytes()
}
