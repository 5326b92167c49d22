//! modprobe.d: the line reader, every directive, `modprobe -c`, and the
//! lookups the engine makes, on arbitrary file contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::config::lines::lines;
use modutils_core::config::{Diagnostic, ModprobeConfig};

fuzz_target!(|data: &[u8]| {
    let mut config = ModprobeConfig::default();
    let mut diags: Vec<Diagnostic> = Vec::new();
    config.parse(b"/etc/modprobe.d/fuzz.conf", data, &mut diags);
    for d in &diags {
        let _ = d.libkmod_line();
        let _ = d.tool_line("modprobe");
    }
    let _ = config.show_config();
    // Look up the second word of the first lines (what they configure),
    // and a few fixed names.
    let mut names: Vec<Vec<u8>> = lines(data)
        .take(16)
        .filter_map(|l| {
            let mut t = l.tokens();
            t.word();
            t.word().map(<[u8]>::to_vec)
        })
        .collect();
    names.extend([
        b"snd_hda_intel".to_vec(),
        b"pci:v00008086d00001502sv00001028".to_vec(),
    ]);
    for name in &names {
        let _ = config.aliases_matching(name).count();
        let _ = config.options_for(name, Some(b"alias"));
        let _ = config.install_command(name);
        let _ = config.remove_command(name);
        let _ = config.is_blacklisted(name);
        if let Some(s) = config.softdeps_for(name) {
            let _ = (s.pre().count(), s.post().count());
        }
        let _ = config.weakdeps_for(name);
    }
    // The same bytes as a kernel command line, after the files.
    config.add_kernel_cmdline(data, &mut Vec::<Diagnostic>::new());
    let _ = config.show_config();
});
