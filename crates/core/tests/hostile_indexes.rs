//! Hostile index files (`modules.*.bin`) against the reader: truncated at
//! every byte, node offsets that loop or point past the end, values without
//! terminators, absurd counts, and valid but extreme shapes. Every error
//! names the file; nothing panics, loops or takes long. Node-level errors
//! one by one are in `crates/index/src/tests.rs`.

use std::path::Path;
use std::time::Duration;

use crate::common::cpu::CpuTimer;

use modutils_core::index::{Index, IndexBuilder, IndexError};

const FLAG_PREFIX: u32 = 0x8000_0000;
const FLAG_VALUES: u32 = 0x4000_0000;
const FLAG_CHILDS: u32 = 0x2000_0000;

/// A small alias-like index, as depmod writes it.
fn sample() -> Vec<u8> {
    let mut b = IndexBuilder::new();
    for (i, (k, v)) in [
        ("pci:v00008086d*sv*sd*bc02sc00i*", "e1000e"),
        ("pci:v00008086d00001502sv*sd*bc*sc*i*", "e1000e"),
        ("usb:v*p*d*dc*dsc*dp*ic09isc*ip*in*", "usbcore"),
        ("fs-ext4", "ext4"),
        ("fs-ext3", "ext4"),
        ("char-major-10-229", "fuse"),
        ("symbol:mod_a_value", "mod_a"),
        ("x[ab]?*", "wild"),
    ]
    .iter()
    .enumerate()
    {
        b.insert(k, v, i as u32).unwrap();
    }
    b.to_bytes().unwrap()
}

/// Every operation the tools make, on `bytes` read from `name`; errors must
/// name the file. Returns the time taken.
fn exercise(name: &Path, bytes: Vec<u8>) -> Duration {
    let start = CpuTimer::start();
    let index = match Index::from_bytes_named(name, bytes) {
        Ok(i) => i,
        Err(e) => {
            assert!(
                e.to_string().starts_with(&name.display().to_string()),
                "{e}"
            );
            return start.elapsed();
        }
    };
    let check = |e: IndexError| {
        assert!(
            e.to_string().starts_with(&name.display().to_string()),
            "{e}"
        );
    };
    for key in [
        "fs-ext4",
        "pci:v00008086d00001502sv00001028sd00000000bc02sc00i00",
        "xa!",
        "",
        "zzz",
    ] {
        index.lookup(key).err().map(check);
        index.lookup_wild(key).err().map(check);
    }
    index.dump("alias ").err().map(check);
    index.entries().err().map(check);
    start.elapsed()
}

fn word(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

#[test]
fn truncated_at_every_byte() {
    let name = Path::new("/lib/modules/x/modules.alias.bin");
    let full = sample();
    let mut total = Duration::ZERO;
    for cut in 0..full.len() {
        total += exercise(name, full[..cut].to_vec());
    }
    assert!(total < Duration::from_secs(10), "{total:?}");
}

#[test]
fn every_byte_flipped() {
    let name = Path::new("/lib/modules/x/modules.dep.bin");
    let full = sample();
    for at in 0..full.len() {
        for value in [0x00, 0xff, full[at] ^ 0x80, full[at].wrapping_add(1)] {
            let mut b = full.clone();
            b[at] = value;
            assert!(
                exercise(name, b) < Duration::from_secs(1),
                "byte {at} = {value:#x}"
            );
        }
    }
}

#[test]
fn node_offsets_that_loop() {
    let name = Path::new("modules.alias.bin");
    // The root has one child, 'a', which is the root itself.
    let mut b = vec![0u8; 12];
    word(&mut b, 0, 0xB007_F457);
    word(&mut b, 4, 0x0002_0001);
    word(&mut b, 8, FLAG_CHILDS | 12);
    b.extend_from_slice(b"aa");
    b.extend_from_slice(&(FLAG_CHILDS | 12).to_be_bytes());
    let index = Index::from_bytes_named(name, b.clone()).unwrap();
    let err = index.entries().unwrap_err();
    assert!(err.to_string().contains("reached twice"), "{err}");
    // An exact lookup along the loop stops with the key.
    assert_eq!(index.lookup("aaaaaaaaaaaaaaaaaaaa").unwrap(), None);
    // A wildcard lookup walks it once.
    assert!(exercise(name, b) < Duration::from_secs(1));

    // Two nodes pointing at each other, each with a prefix and values.
    let mut b = vec![0u8; 12];
    word(&mut b, 0, 0xB007_F457);
    word(&mut b, 4, 0x0002_0001);
    word(&mut b, 8, FLAG_PREFIX | FLAG_CHILDS | FLAG_VALUES | 12);
    let second = 12 + 3 + 2 + 4 + 4 + 4 + 2;
    b.extend_from_slice(b"p*\0*");
    b.extend_from_slice(b"*");
    b.truncate(b.len() - 2);
    b.extend_from_slice(b"**");
    b.extend_from_slice(&(FLAG_PREFIX | FLAG_CHILDS | FLAG_VALUES | second).to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(b"v\0");
    assert!(exercise(name, b) < Duration::from_secs(1));
}

#[test]
fn offsets_past_the_end_and_unterminated_values() {
    let name = Path::new("modules.symbols.bin");
    for (root, body) in [
        (FLAG_PREFIX | 0x0fff_ffff, &b""[..]),
        (FLAG_CHILDS | 12, b"\0\x7f"),
        (FLAG_VALUES | 12, b"\xff\xff\xff\xff"),
        (FLAG_VALUES | 12, b"\0\0\0\x02\0\0\0\0abc"),
        (FLAG_VALUES | 12, b"\0\0\0\x01\0\0\0\0abc"),
        (FLAG_PREFIX | FLAG_VALUES | 12, b"key-without-end"),
    ] {
        let mut b = vec![0u8; 12];
        word(&mut b, 0, 0xB007_F457);
        word(&mut b, 4, 0x0002_0001);
        word(&mut b, 8, root);
        b.extend_from_slice(body);
        assert!(exercise(name, b.clone()) < Duration::from_secs(1));
        let index = Index::from_bytes_named(name, b).unwrap();
        assert!(index.entries().is_err(), "root {root:#x} body {body:?}");
    }
}

#[test]
fn extreme_but_valid_shapes_stay_fast() {
    let name = Path::new("modules.alias.bin");
    // One 200,000-byte key; 2,000 keys that each extend the last (a chain
    // of nodes 2,000 deep); 20,000 wildcard patterns under one prefix.
    let mut b = IndexBuilder::new();
    b.insert("k".repeat(200_000), "long", 0).unwrap();
    for i in 0..2_000 {
        b.insert("d".repeat(i + 1), "deep", i as u32).unwrap();
    }
    for i in 0..20_000 {
        b.insert(format!("pci:v{i:08X}d*sv*sd*bc*sc*i*"), "wide", i)
            .unwrap();
    }
    let bytes = b.to_bytes().unwrap();
    let start = CpuTimer::start();
    let index = Index::from_bytes_named(name, bytes).unwrap();
    assert_eq!(index.entries().unwrap().len(), 1 + 2_000 + 20_000);
    assert_eq!(index.lookup("d".repeat(2_000)).unwrap(), Some(&b"deep"[..]));
    assert_eq!(
        index
            .lookup_wild("pci:v00004E1Fd1sv2sd3bc4sc5i6")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(index.lookup_wild("d".repeat(4_000)).unwrap().len(), 0);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
}
