//! A tiny coldplug: load the driver of every device the kernel has found,
//! as udev does at boot for the devices that appeared before it ran.
//!
//! Every device directory under `/sys/devices` with a `modalias` file
//! names what driver it wants; each distinct alias is probed with the
//! blacklist applied (what udev asks libkmod for). Prints one line per
//! alias that matched a module:
//!
//! ```text
//! loaded e1000 for pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00
//! present ata_piix for pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80
//! ```
//!
//! `present` is a module already loaded or built in, `blacklisted` one the
//! configuration keeps out, `failed` one the kernel refused (with why).
//!
//! Usage: `coldplug [-n]` (`-n`: only show what would be loaded). Paths go
//! through `MODUTILS_SYSROOT` like the tools'; with it and
//! `MODUTILS_FAKE_KERNEL=LOG` too, the fake kernel loads. Run it with
//! `cargo run --example coldplug -p modutils-core`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use modutils_core::modules::{Error, Kernel, Modules, Options};
use modutils_core::probe::{fake_kernel_log, BlacklistMode, ProbeOptions, Probed};
use modutils_core::Root;

fn main() -> ExitCode {
    let dry_run = std::env::args()
        .skip(1)
        .any(|a| a == "-n" || a == "--dry-run");
    let root = Root::from_env();

    let mut aliases = BTreeSet::new();
    collect(&root.host("/sys/devices"), &mut aliases, 0);

    let kernel = match fake_kernel_log(&root) {
        Some(log) => Kernel::Fake { log: Some(log) },
        None => Kernel::Host,
    };
    let mut modules = Modules::open(Options {
        kernel,
        ..Options::new(root)
    });
    for d in modules.diagnostics() {
        eprint!("{}", String::from_utf8_lossy(&d.libkmod_line()));
    }
    let opts = ProbeOptions {
        blacklist: BlacklistMode::Always,
        dry_run,
        ..ProbeOptions::default()
    };

    let mut failed = false;
    for alias in &aliases {
        let results = match modules.probe(alias, &opts) {
            Ok(r) => r,
            // Most devices need no module, or one built into the kernel
            // without an alias: nothing to do.
            Err(Error::NotFound { .. }) => continue,
            Err(e) => {
                eprintln!("coldplug: {alias}: {e}");
                failed = true;
                continue;
            }
        };
        for r in results {
            let what = match r.result {
                Ok(Probed::Done) if dry_run => "would load".to_string(),
                Ok(Probed::Done) => "loaded".to_string(),
                Ok(Probed::AlreadyLoaded) => "present".to_string(),
                Ok(Probed::Blacklisted) => "blacklisted".to_string(),
                Err(errno) => {
                    failed = true;
                    let why = std::io::Error::from_raw_os_error(errno);
                    format!("failed ({why})")
                }
            };
            let module = String::from_utf8_lossy(&r.module);
            println!("{what} {module} for {alias}");
            for (_, m) in r.messages {
                eprintln!("coldplug: {module}: {}", String::from_utf8_lossy(&m));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Every `modalias` below `dir` (a host path). Symbolic links are not
/// followed: sysfs links every device from many places, and in circles.
fn collect(dir: &Path, out: &mut BTreeSet<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            collect(&e.path(), out, depth + 1);
        } else if kind.is_file() && e.file_name() == "modalias" {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                let alias = text.trim_end();
                if !alias.is_empty() {
                    out.insert(alias.to_string());
                }
            }
        }
    }
}
