//! modules.devname both ways: depmod reading a module's `char-major-M-N` /
//! `block-major-M-N` alias, and the line parser `kmod static-nodes` reads
//! the file with. A line depmod would write from the fuzzed aliases must
//! parse back to what it was made from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::cnum::is_space;
use modutils_core::depmod::node_of_alias;
use modutils_core::devname::parse_line;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n').take(64) {
        if let Some(e) = parse_line(line) {
            assert!(!e.module.is_empty() && !e.devname.is_empty());
            assert!(!e.module.iter().chain(&e.devname).any(|b| is_space(*b)));
        }
    }
    // Fields separated by NUL: module name, `devname:` value, node alias.
    let mut fields = data.split(|&b| b == 0);
    let (Some(module), Some(devname), Some(alias)) = (fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    let Some((kind, major, minor)) = node_of_alias(alias) else {
        return;
    };
    assert!(kind == b'c' || kind == b'b');
    let space = |b: &u8| is_space(*b);
    let one_word = |w: &[u8]| !w.is_empty() && !w.iter().any(space);
    if !one_word(module) || !one_word(devname) {
        return;
    }
    let mut line = [module, b" ", devname, b" ", &[kind]].concat();
    line.extend_from_slice(format!("{major}:{minor}\n").as_bytes());
    let e = parse_line(&line).expect("a line depmod writes parses");
    assert_eq!(
        (&e.module[..], &e.devname[..], e.block, e.major, e.minor),
        (module, devname, kind == b'b', major, minor)
    );
});
