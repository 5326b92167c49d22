//! The cache file format read back, written from its description
//! (`depmod/cache/format.rs`) rather than with the library's writer: the
//! round trip, every truncation and changed byte, and hostile files whose
//! checksums are all valid — each one refused by the reader. The engine's
//! side of the same files is in `depmod_cache`.

use modutils_core::depmod::cache::{
    split_image, CacheFile, CachedDirectory, CachedModule, Digest, Event, FileStat, FormatError,
    Memo, FORMAT_VERSION, MAGIC, TOOL_VERSION,
};
use modutils_core::depmod::ModuleSymbols;

use modutils_core::config::Level;

/// A cache image's parts (the index file, then the data file): head
/// fields, the four sections and the data file's head.
#[derive(Clone)]
pub struct Parts {
    pub magic: Vec<u8>,
    pub version: u32,
    pub tool: Vec<u8>,
    pub release: Vec<u8>,
    pub entries: Vec<u8>,
    pub memo: Vec<u8>,
    pub listings: Vec<u8>,
    pub data: Vec<u8>,
    /// The data file's id, as the index names it.
    pub data_id: u64,
    /// The data file's head: magic, version, id.
    pub data_head: (Vec<u8>, u32, u64),
    /// The data section's length in the index, when not `data`'s.
    pub data_len: Option<u32>,
}

impl Parts {
    /// Splits a well-formed image.
    pub fn split(bytes: &[u8]) -> Parts {
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let mut at = 12;
        let tool_len = bytes[at] as usize;
        let tool = bytes[at + 1..at + 1 + tool_len].to_vec();
        at += 1 + tool_len;
        let rel_len = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        let release = bytes[at + 2..at + 2 + rel_len].to_vec();
        at += 2 + rel_len;
        let lens: Vec<usize> = (0..4).map(|i| u32_at(at + 8 * i) as usize).collect();
        let data_id = u64_at(at + 4 * 8);
        at += 4 * 8 + 8 + 4;
        let mut sections = Vec::new();
        for &len in &lens[..3] {
            sections.push(bytes[at..at + len].to_vec());
            at += len;
        }
        let data_head = (bytes[at..at + 8].to_vec(), u32_at(at + 8), u64_at(at + 12));
        at += 20;
        sections.push(bytes[at..at + lens[3]].to_vec());
        assert_eq!(at + lens[3], bytes.len());
        Parts {
            magic: bytes[..8].to_vec(),
            version: u32_at(8),
            tool,
            release,
            entries: sections[0].clone(),
            memo: sections[1].clone(),
            listings: sections[2].clone(),
            data: sections[3].clone(),
            data_id,
            data_head,
            data_len: None,
        }
    }

    /// The image, every checksum computed.
    pub fn join(&self) -> Vec<u8> {
        let mut out = self.magic.clone();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.push(self.tool.len() as u8);
        out.extend_from_slice(&self.tool);
        out.extend_from_slice(&(self.release.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.release);
        let sections = [&self.entries, &self.memo, &self.listings, &self.data];
        for (i, s) in sections.iter().enumerate() {
            let len = match self.data_len {
                Some(len) if i == 3 => len,
                _ => s.len() as u32,
            };
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&crc32fast::hash(s).to_le_bytes());
        }
        out.extend_from_slice(&self.data_id.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        for s in &sections[..3] {
            out.extend_from_slice(s);
        }
        let (magic, version, id) = &self.data_head;
        out.extend_from_slice(magic);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// Where each entry's fixed fields are in an entries section: (offset of
/// the entry's data place, path).
fn entry_places(entries: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let count = u32::from_le_bytes(entries[..4].try_into().unwrap());
    let mut at = 4;
    for _ in 0..count {
        let len = u16::from_le_bytes([entries[at], entries[at + 1]]) as usize;
        let path = entries[at + 2..at + 2 + len].to_vec();
        at += 2 + len + 3 * 8 + 2 * 12;
        out.push((at, path));
        at += 8;
    }
    out
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Variants of `good` (which must have a module at `victim` with an
/// export and an import, and no memo) that are well checksummed but not
/// well formed, each with what is wrong with it.
pub fn hostile_variants(good: &CacheFile, victim: &[u8]) -> Vec<(String, Vec<u8>)> {
    let bytes = good.to_bytes();
    let parts = Parts::split(&bytes);
    let places = entry_places(&parts.entries);
    let (place_at, _) = places
        .iter()
        .find(|(_, p)| p == victim)
        .expect("the victim in the cache")
        .clone();
    let record_start = get_u32(&parts.entries, place_at) as usize;
    let mut out: Vec<(String, Parts)> = Vec::new();
    let mut variant = |what: &str, f: &dyn Fn(&mut Parts)| {
        let mut p = parts.clone();
        f(&mut p);
        out.push((what.to_string(), p));
    };
    variant("another format version", &|p| {
        p.version = FORMAT_VERSION + 1
    });
    variant("another tool version", &|p| {
        p.tool = b"0.0.0-other".to_vec()
    });
    variant("another magic", &|p| p.magic = b"\x7fMODDEPX".to_vec());
    variant("a data file whose id is not the index's", &|p| {
        p.data_head.2 ^= 1
    });
    variant("a data file of another format version", &|p| {
        p.data_head.1 = FORMAT_VERSION + 1
    });
    variant("a data file with another magic", &|p| {
        p.data_head.0 = MAGIC.to_vec()
    });
    variant("a data section longer than its file", &|p| {
        p.data_len = Some(p.data.len() as u32 + 1)
    });
    variant("a count of 2^32 - 1 entries", &|p| {
        put_u32(&mut p.entries, 0, u32::MAX)
    });
    variant("an entry one past its section", &|p| {
        let n = get_u32(&p.entries, 0);
        put_u32(&mut p.entries, 0, n + 1)
    });
    variant("an entry's path longer than its section", &|p| {
        p.entries[4] = 0xff;
        p.entries[5] = 0xff;
    });
    variant("a record placed past the data", &|p| {
        put_u32(&mut p.entries, place_at, u32::MAX - 2)
    });
    variant("a record longer than the data", &|p| {
        put_u32(&mut p.entries, place_at + 4, u32::MAX)
    });
    variant("strings longer than the record", &|p| {
        put_u32(&mut p.data, record_start, u32::MAX)
    });
    let strings_len = get_u32(&parts.data, record_start) as usize;
    let exports_at = record_start + 4 + strings_len;
    variant("an export count past the record", &|p| {
        put_u32(&mut p.data, exports_at, 0x1000_0000)
    });
    variant("an export name past the strings", &|p| {
        put_u32(&mut p.data, exports_at + 4, strings_len as u32)
    });
    variant("an export name that wraps around", &|p| {
        put_u32(&mut p.data, exports_at + 4, u32::MAX);
        put_u32(&mut p.data, exports_at + 8, 2);
    });
    let n_exports = get_u32(&parts.data, exports_at) as usize;
    let imports_at = exports_at + 4 + 16 * n_exports;
    variant("a weak flag of 2", &|p| {
        assert!(
            get_u32(&p.data, imports_at) > 0,
            "the victim needs an import"
        );
        p.data[imports_at + 4 + 16] = 2;
    });
    variant("an import name past the strings", &|p| {
        assert!(
            get_u32(&p.data, imports_at) > 0,
            "the victim needs an import"
        );
        put_u32(&mut p.data, imports_at + 4, strings_len as u32 - 1);
        put_u32(&mut p.data, imports_at + 8, 2);
    });
    variant("a record with a byte left over", &|p| {
        let len = get_u32(&p.entries, place_at + 4);
        put_u32(&mut p.entries, place_at + 4, len + 1);
        let end = record_start + len as usize;
        p.data.insert(end, 0);
        // Later records moved by one byte.
        for (at, _) in entry_places(&p.entries.clone()) {
            let start = get_u32(&p.entries, at);
            if start as usize > record_start {
                put_u32(&mut p.entries, at, start + 1);
            }
        }
    });
    variant("a memo cut short", &|p| p.memo = vec![1, 2, 3]);
    let memo = |events: &[(u8, u8, &[u8])], outputs: u8| {
        let mut m = vec![0u8; 20];
        m.push(outputs);
        m.extend(std::iter::repeat_n(0u8, 20 * outputs as usize));
        m.extend_from_slice(&(events.len() as u32).to_le_bytes());
        for (kind, level, text) in events {
            m.push(*kind);
            m.push(*level);
            m.extend_from_slice(&(text.len() as u32).to_le_bytes());
            m.extend_from_slice(text);
        }
        m
    };
    variant("a memo event of an unknown kind", &|p| {
        p.memo = memo(&[(9, 4, b"x")], 11)
    });
    variant("a memo message of an unknown level", &|p| {
        p.memo = memo(&[(0, 8, b"x")], 11)
    });
    variant("a memo with more outputs than bytes", &|p| {
        let mut m = memo(&[], 11);
        m[20] = 200;
        p.memo = m;
    });
    variant("a memo event longer than the memo", &|p| {
        let mut m = memo(&[(0, 4, b"xyz")], 11);
        let n = m.len();
        m[n - 7..n - 3].copy_from_slice(&100u32.to_le_bytes());
        p.memo = m;
    });
    // One directory with one entry, written out by hand.
    let listing = |path: &[u8], name: &[u8], dirs: u32, entries: u32| {
        let mut l = dirs.to_le_bytes().to_vec();
        l.extend_from_slice(&(path.len() as u16).to_le_bytes());
        l.extend_from_slice(path);
        l.extend_from_slice(&[0; 3 * 8 + 2 * 12]);
        l.extend_from_slice(&entries.to_le_bytes());
        l.push(name.len() as u8);
        l.extend_from_slice(name);
        l.push(8);
        l.extend_from_slice(&7u64.to_le_bytes());
        l
    };
    variant("a listing whose entry leads up", &|p| {
        p.listings = listing(b"/m/kernel/", b"..", 1, 1)
    });
    variant("a listing whose entry names a path", &|p| {
        p.listings = listing(b"/m/kernel/", b"a/b.ko", 1, 1)
    });
    variant("a listing of no directory", &|p| {
        p.listings = listing(b"", b"a.ko", 1, 1)
    });
    variant("a listing with more entries than bytes", &|p| {
        p.listings = listing(b"/m/kernel/", b"a.ko", 1, 2)
    });
    variant("one directory listed twice", &|p| {
        let one = listing(b"/m/kernel/", b"a.ko", 2, 1);
        p.listings = one.clone();
        p.listings.extend_from_slice(&one[4..]);
    });
    out.into_iter().map(|(w, p)| (w, p.join())).collect()
}

fn sample() -> CacheFile {
    let symbols = |n: u8| ModuleSymbols {
        exports: vec![
            (vec![b'e', n], 0x1234_5678_9abc_def0),
            (b"shared".to_vec(), 0),
        ],
        imports: vec![
            (b"printk".to_vec(), 7, false),
            (b"weakly".to_vec(), 0, true),
        ],
        aliases: vec![b"pci:v*d*".to_vec(), vec![]],
        softdeps: vec![b"pre: base".to_vec()],
        weakdeps: vec![],
    };
    let stat = |n: u64| FileStat {
        dev: n,
        ino: n * 3,
        size: 4096 + n,
        mtime: (-5, 999_999_999),
        ctime: (1_700_000_000, n as u32),
    };
    CacheFile {
        release: b"6.1.0-57-amd64".to_vec(),
        modules: (0..3u8)
            .map(|n| CachedModule {
                path: format!("kernel/m{n}.ko.xz").into_bytes(),
                stat: stat(u64::from(n)),
                symbols: symbols(n),
            })
            .chain([CachedModule {
                path: b"kernel/base.ko".to_vec(),
                stat: stat(9),
                symbols: symbols(9),
            }])
            .collect(),
        memo: None,
        directories: vec![CachedDirectory {
            path: b"/lib/modules/6.1.0-57-amd64/kernel/".to_vec(),
            stat: stat(5),
            entries: vec![(b"m0.ko.xz".to_vec(), 8, 41), (b"sub".to_vec(), 4, 42)],
        }],
    }
}

fn sample_memo() -> Memo {
    let d = |n: u64| Digest {
        len: n,
        crc: n as u32 ^ 0xdead_beef,
        mix: n.wrapping_mul(0x9e37_79b9),
    };
    Memo {
        inputs: d(1),
        outputs: (0..11).map(d).collect(),
        events: vec![
            Event::Log(Level::Warning, b"duplicate module alias:\nx y".to_vec()),
            Event::Stdout(b"a.ko needs \"f\": b.ko\n".to_vec()),
            Event::Log(Level::Err, vec![0xff, 0]),
        ],
    }
}

#[test]
fn files_round_trip() {
    for memo in [None, Some(sample_memo())] {
        let c = CacheFile { memo, ..sample() };
        let bytes = c.to_bytes();
        assert_eq!(&bytes[..8], &MAGIC);
        assert_eq!(CacheFile::from_bytes(&bytes).unwrap(), c);
        // The description the test's own writer follows gives the same bytes.
        assert_eq!(Parts::split(&bytes).join(), bytes);
        assert_eq!(Parts::split(&bytes).tool, TOOL_VERSION.as_bytes());
    }
    let empty = CacheFile::default();
    assert_eq!(CacheFile::from_bytes(&empty.to_bytes()).unwrap(), empty);
}

/// Records in another order than the entries, and bytes no entry points
/// at (what a run that adds records after the old ones leaves), are a
/// valid file with the same content.
#[test]
fn records_anywhere_and_unused_bytes_are_read() {
    let good = sample();
    let mut p = Parts::split(&good.to_bytes());
    let places = entry_places(&p.entries);
    assert!(places.len() >= 2);
    // The first record moved after all the others, behind unused bytes.
    let (first_at, _) = places[0];
    let (start, len) = (
        get_u32(&p.entries, first_at),
        get_u32(&p.entries, first_at + 4),
    );
    let record = p.data[start as usize..(start + len) as usize].to_vec();
    p.data.extend_from_slice(&[0xa5; 37]);
    put_u32(&mut p.entries, first_at, p.data.len() as u32);
    p.data.extend_from_slice(&record);
    p.data.extend_from_slice(&[0x5a; 11]);
    assert_eq!(CacheFile::from_bytes(&p.join()).unwrap(), good);
}

#[test]
fn every_truncation_and_every_changed_byte_is_refused() {
    let bytes = CacheFile {
        memo: Some(sample_memo()),
        ..sample()
    }
    .to_bytes();
    for n in 0..bytes.len() {
        assert!(CacheFile::from_bytes(&bytes[..n]).is_err(), "cut at {n}");
        for bit in [0x01, 0x80] {
            let mut b = bytes.clone();
            b[n] ^= bit;
            assert!(CacheFile::from_bytes(&b).is_err(), "byte {n} ^ {bit:#x}");
        }
    }
}

#[test]
fn hostile_files_are_refused_with_a_reason() {
    let good = sample();
    assert!(CacheFile::from_bytes(&good.to_bytes()).is_ok());
    let variants = hostile_variants(&good, b"kernel/base.ko");
    assert!(variants.len() >= 20);
    for (what, bytes) in variants {
        let e = CacheFile::from_bytes(&bytes).expect_err(&what);
        let version = matches!(e, FormatError::Version | FormatError::Magic);
        assert_eq!(version, what.contains("another"), "{what}: {e}");
    }
}

#[test]
fn open_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.depmod");
    let e = CacheFile::open(&path).unwrap_err();
    assert!(e.to_string().starts_with(path.to_str().unwrap()), "{e}");
    std::fs::write(&path, b"junk").unwrap();
    let e = CacheFile::open(&path).unwrap_err();
    assert!(e.to_string().starts_with(path.to_str().unwrap()), "{e}");
    let image = sample().to_bytes();
    let (index, data, name) = split_image(&image);
    std::fs::write(&path, index).unwrap();
    // The index alone: the data file it names is missing, and named.
    let e = CacheFile::open(&path).unwrap_err();
    let name = name.unwrap();
    assert!(e.to_string().contains(&name), "{e}");
    std::fs::write(dir.path().join(name), data).unwrap();
    assert_eq!(CacheFile::open(&path).unwrap(), sample());
}
