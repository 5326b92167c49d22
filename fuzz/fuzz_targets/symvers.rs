//! `Module.symvers` (and `System.map`): depmod's `-E`/`-F` loaders, the
//! symbol check's reader (driven by a real module's needs), and the line
//! parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::depmod::{Collected, Depmod, Options};
use modutils_core::elf::Elf;
use modutils_core::symcheck;
use modutils_fuzz::{put, scratch_root};

/// A real module that needs symbols of the kernel and of mod_a/mod_b.
static MOD_C: &[u8] = include_bytes!("../data/mod_c.ko");
const RELEASE: &str = "6.1.0-fuzz";

fuzz_target!(|data: &[u8]| {
    let root = scratch_root();
    let symvers = format!("/lib/modules/{RELEASE}/build/Module.symvers");
    put(&symvers, data);
    for line in String::from_utf8_lossy(data).lines().take(64) {
        let _ = symcheck::parse_symvers_line(line);
    }
    for system_map in [false, true] {
        let mut options = Options {
            root: root.clone(),
            kernel_version: RELEASE.to_string(),
            errsyms: true,
            symbol_prefix: Some(b'_'),
            ..Options::default()
        };
        if system_map {
            options.system_map = Some(symvers.clone().into());
        } else {
            options.symvers = Some(symvers.clone().into());
        }
        let mut rep = Collected::default();
        let _ = Depmod::new(options).load_kernel_symbols(&mut rep);
    }
    // No /proc/kallsyms under the scratch root: the check reads
    // Module.symvers, then stops with an error.
    let elf = Elf::parse(MOD_C).expect("mod_c.ko parses");
    let _ = symcheck::check_elf(&root, RELEASE, "mod_c", &elf, symcheck::Options::default());
});
