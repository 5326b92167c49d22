//! The kernel command line parser (`mod.param=value`, grub's quoting,
//! `modprobe.blacklist=`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::config::kcmdline::{self, Entry};
use modutils_core::config::Diagnostic;

fuzz_target!(|data: &[u8]| {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let entries = kcmdline::parse(data, &mut diags);
    // Nothing can come out of the command line that was not in its first
    // 4095 bytes (re-quoting adds at most one quote per item).
    let limit = data.len().min(kcmdline::MAX_LEN) + 2;
    for e in &entries {
        match e {
            Entry::Options { modname, options } => {
                assert!(modname.len() + options.len() <= limit);
            }
            Entry::Blacklist(b) => assert!(b.len() <= limit),
        }
    }
    for d in &diags {
        let _ = d.libkmod_line();
    }
});
