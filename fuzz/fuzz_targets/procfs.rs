//! `/proc/modules` and `/proc/kallsyms`: the line parsers, and the readers
//! that lsmod, rmmod, insmod and the symbol check use, through a fake root.
//!
//! The first byte picks the file the rest is written to.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use modutils_core::procfs;
use modutils_fuzz::{put, scratch_root};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let root = scratch_root();
    let text = String::from_utf8_lossy(rest);
    if mode % 2 == 0 {
        let _ = procfs::parse_modules(&text, Path::new(procfs::PROC_MODULES));
        for line in text.lines().take(64) {
            let _ = procfs::parse_module_line(line);
        }
        put(procfs::PROC_MODULES, rest);
        let _ = procfs::loaded_modules(&root);
        let _ = procfs::loaded_module_names(&root);
    } else {
        for line in text.lines().take(64) {
            if let Some(s) = procfs::parse_kallsyms_line(line) {
                let _ = s.is_global();
            }
        }
        put(procfs::PROC_KALLSYMS, rest);
        let _ = procfs::kernel_symbols(&root).map(|s| procfs::addresses_hidden(&s));
        let _ = procfs::scan_kernel_symbol_names(&root, |name, module| {
            let _ = (name.len(), module.map(<[u8]>::len));
        });
    }
});
