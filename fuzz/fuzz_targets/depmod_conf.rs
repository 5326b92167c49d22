//! depmod.d: every directive (KVER patterns go through our bounded
//! glibc-compatible matcher, `config/kver.rs`; the `kver` target compares it
//! with glibc), the duplicate ranking and the exclude test, on arbitrary
//! file contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::config::{DepmodConfig, Diagnostic};

const MODDIR: &[u8] = b"/lib/modules/6.1.0-56-amd64";

fuzz_target!(|data: &[u8]| {
    let mut config = DepmodConfig::default();
    let mut diags: Vec<Diagnostic> = Vec::new();
    config.parse(
        b"/etc/depmod.d/fuzz.conf",
        data,
        b"6.1.0-56-amd64",
        &mut diags,
    );
    config.finish();
    for d in &diags {
        let _ = d.tool_line("depmod");
    }
    let _ = config.externals_in_scan_order().count();
    let mut paths: Vec<Vec<u8>> = vec![
        b"/lib/modules/6.1.0-56-amd64/kernel/drivers/a.ko".to_vec(),
        b"/lib/modules/6.1.0-56-amd64/updates/a.ko.xz".to_vec(),
        b"/lib/modules/6.1.0-56-amd64/extra/a-b.ko".to_vec(),
        b"/opt/ext/a.ko".to_vec(),
        b"/lib/modules/6.1.0-56-amd64".to_vec(),
        b"a.ko".to_vec(),
        Vec::new(),
    ];
    for o in config.overrides.iter().take(4) {
        let mut p = MODDIR.to_vec();
        p.push(b'/');
        p.extend_from_slice(&o.key());
        p.extend_from_slice(b".ko");
        paths.push(p);
    }
    for e in config.externals.iter().take(4) {
        let mut p = e.clone();
        p.extend_from_slice(b"/a.ko");
        paths.push(p);
    }
    for a in &paths {
        let _ = config.is_excluded(a);
        for b in &paths {
            let _ = config.existing_wins(MODDIR, a, b);
        }
    }
});
