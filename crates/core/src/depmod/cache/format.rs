//! The cache's bytes. Integers are little-endian. A cache is two files:
//! the index (`<release>.depmod`: head, entries, memo, listings), replaced
//! whole by every run that writes the cache, and the data file
//! (`<release>.depmod.<id>`: the records), which runs only ever append to.
//!
//! ```text
//! head     magic "\x7fMODDEPC", format version u32, tool version (u8
//!          length + bytes), kernel release (u16 length + bytes), then
//!          the length u32 and CRC-32 u32 of each section (entries, memo,
//!          listings, data), the data file's id u64, then the CRC-32 of
//!          everything before it
//! entries  count u32, then per module: path (u16 length + bytes), dev,
//!          ino, size u64, mtime s i64 + ns u32, ctime s i64 + ns u32,
//!          offset u32 and length u32 of its record in the data section
//! memo     empty, or: inputs digest, count u8 + output digests, count u32
//!          + events (kind u8, level u8, u32 length + bytes)
//! listings the module directories' entries (see `listings.rs`)
//!
//! data file: magic "\x7fMODDEPD", format version u32, id u64, then the
//! data section: per module, strings (u32 length + bytes), then exports,
//!          imports, aliases, softdeps and weakdeps, each a count u32 and
//!          its items (string start u32 + length u32; CRC u64 for symbols,
//!          a weak flag u8 for imports)
//! ```
//!
//! The data section is the first `length` bytes after the data file's
//! head; the file may go on past them (records a later run appended, or
//! one that was killed while appending). Records may lie in the section in
//! any order, and bytes no entry points at (records of modules gone) are
//! allowed: only the records entries point at are decoded.
//!
//! Every length, count and offset is checked against the bytes there are
//! before anything is allocated for it, so a hostile file costs at most its
//! own size.

use std::sync::Arc;

use super::super::parse::{Export, Import, Parsed, Span};
use super::super::report::Level;

/// The first bytes of every cache file.
pub const MAGIC: [u8; 8] = *b"\x7fMODDEPC";

/// The first bytes of every data file.
pub const DATA_MAGIC: [u8; 8] = *b"\x7fMODDEPD";

/// The data file's head: magic, format version, id.
pub const DATA_HEAD_LEN: usize = 8 + 4 + 8;

/// Bumped whenever the layout, or what depmod extracts from a module
/// (`depmod::parse`), changes: a cache of another version is ignored.
pub const FORMAT_VERSION: u32 = 4;

/// The tool version written into every cache; a cache written by another
/// build version is ignored too.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why bytes are not a cache file this build can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file does not start with the cache magic.
    #[error("not a modutils depmod cache")]
    Magic,
    /// The format or tool version differs from this build's.
    #[error("written by another version")]
    Version,
    /// The file ends before a length, count or offset says it should.
    #[error("truncated")]
    Truncated,
    /// A section's CRC-32 does not match its bytes.
    #[error("checksum mismatch")]
    Checksum,
    /// A field holds a value no writer produces; the text names the field.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// What a module file's identity was when it was read: any change to the
/// file (a write, a replacement, chmod, touch) changes at least one field.
/// ctime cannot be set from userspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FileStat {
    /// The device the file lives on.
    pub dev: u64,
    /// Its inode number.
    pub ino: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its last modification time, seconds and nanoseconds.
    pub mtime: (i64, u32),
    /// Its last status change time, seconds and nanoseconds.
    pub ctime: (i64, u32),
}

impl FileStat {
    /// Stored for a file that changed too recently to be trusted by its
    /// identity (see `cache::SETTLE`): no file has it, so the entry is
    /// never taken on its stat, but its record is still there to compare
    /// a fresh read against.
    pub const UNSETTLED: FileStat = FileStat {
        dev: 0,
        ino: 0,
        size: 0,
        mtime: (0, 0),
        ctime: (0, 0),
    };

    /// The identity recorded in `m`, a module file's metadata.
    pub fn of(m: &std::fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec() as u32),
            ctime: (m.ctime(), m.ctime_nsec() as u32),
        }
    }

    /// The identity in what fstatat(2) filled in.
    pub(crate) fn of_stat(st: &libc::stat64) -> FileStat {
        FileStat {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime, st.st_ctime_nsec as u32),
        }
    }
}

/// Length, CRC-32 and a 64-bit multiplicative hash of some bytes: two
/// unrelated checks, so that accidental equality of different contents is
/// out of reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    /// How many bytes were digested.
    pub len: u64,
    /// Their CRC-32.
    pub crc: u32,
    /// Their 64-bit multiplicative hash.
    pub mix: u64,
}

/// Builds a [`Digest`] from pieces. The hash runs four lanes over 32-byte
/// blocks (so that the multiplications overlap); bytes are buffered until
/// a block is complete, so how the input is cut into pieces does not
/// matter.
#[derive(Clone)]
pub(crate) struct Digester {
    len: u64,
    crc: crc32fast::Hasher,
    lanes: [u64; 4],
    pending: [u8; 32],
}

impl Default for Digester {
    fn default() -> Digester {
        Digester {
            len: 0,
            crc: crc32fast::Hasher::new(),
            lanes: [
                0x243f_6a88_85a3_08d3,
                0x1319_8a2e_0370_7344,
                0xa409_3822_299f_31d0,
                0x082e_fa98_ec4e_6c89,
            ],
            pending: [0; 32],
        }
    }
}

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Digester {
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.crc.update(bytes);
        let have = (self.len % 32) as usize;
        self.len += bytes.len() as u64;
        if have > 0 {
            let take = bytes.len().min(32 - have);
            self.pending[have..have + take].copy_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if have + take < 32 {
                return;
            }
            let block = self.pending;
            self.block(&block);
        }
        let mut blocks = bytes.chunks_exact(32);
        for b in &mut blocks {
            self.block(b);
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
    }

    fn block(&mut self, b: &[u8]) {
        for (lane, word) in self.lanes.iter_mut().zip(b.chunks_exact(8)) {
            let v = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            *lane = (*lane ^ v).wrapping_mul(MIX).rotate_left(29);
        }
    }

    /// A piece with its length in front, so that concatenations of
    /// different pieces differ.
    pub fn field(&mut self, bytes: &[u8]) {
        self.update(&(bytes.len() as u64).to_le_bytes());
        self.update(bytes);
    }

    pub fn finish(self) -> Digest {
        let rest = &self.pending[..(self.len % 32) as usize];
        let mut h = self.len.wrapping_mul(MIX);
        for (i, lane) in self.lanes.iter().enumerate() {
            h = (h ^ lane.rotate_left(i as u32 * 16)).wrapping_mul(MIX);
        }
        for &b in rest {
            h = (h ^ u64::from(b)).wrapping_mul(MIX).rotate_left(29);
        }
        Digest {
            len: self.len,
            crc: self.crc.finalize(),
            mix: h ^ (h >> 32),
        }
    }

    pub fn of(bytes: &[u8]) -> Digest {
        let mut d = Digester::default();
        d.update(bytes);
        d.finish()
    }

    /// The digest of a file, read in pieces (no buffer its size).
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Digest> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut buf = [0u8; 64 * 1024];
        let mut d = Digester::default();
        loop {
            match file.read(&mut buf) {
                Ok(0) => return Ok(d.finish()),
                Ok(n) => d.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One module's entry in the entries section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryHead<'a> {
    /// The module's path relative to the module directory, or its full
    /// target path when it lies outside.
    pub path: &'a [u8],
    pub stat: FileStat,
    /// Its record's place in the data section.
    pub data: (u32, u32),
}

/// Something the run that wrote the cache reported, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message depmod logged, with its level, without the `depmod: LEVEL: ` prefix.
    Log(Level, Vec<u8>),
    /// Bytes depmod wrote to standard output.
    Stdout(Vec<u8>),
}

/// What a complete run produced from inputs that are all in the cache:
/// enough to tell that a new run would produce the same again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memo {
    /// Options, built-in module lists and kernel symbols of that run.
    pub inputs: Digest,
    /// Each output file as written, in `output::Output::ALL` order.
    pub outputs: Vec<Digest>,
    /// Messages and stdout bytes of the run after its modules were found.
    pub events: Vec<Event>,
}

/// The head of a cache file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub release: Vec<u8>,
    /// Offset and length of the entries, memo and listings sections in the
    /// index file, and of the data section in the data file.
    pub sections: [(usize, usize); SECTIONS],
    crcs: [u32; SECTIONS],
    /// Which data file holds the data section.
    pub data_id: u64,
}

const SECTIONS: usize = 4;

/// The sections, in file order.
pub(crate) const ENTRIES: usize = 0;
pub(crate) const MEMO: usize = 1;
pub(crate) const LISTINGS: usize = 2;
pub(crate) const DATA: usize = 3;

impl Head {
    /// The most bytes a head can take: read this much first.
    pub const MAX_LEN: usize = 8 + 4 + 1 + 255 + 2 + 65535 + SECTIONS * 8 + 8 + 4;

    /// Decodes the head at the start of `bytes`, which may hold more of
    /// the index file or less; `file_len` is the index file's length.
    pub fn decode(bytes: &[u8], file_len: usize) -> Result<Head, FormatError> {
        let head = Head::parse(bytes)?;
        match head.index_len().cmp(&file_len) {
            std::cmp::Ordering::Greater => Err(FormatError::Truncated),
            std::cmp::Ordering::Less => Err(FormatError::Malformed("file length")),
            std::cmp::Ordering::Equal => Ok(head),
        }
    }

    /// Decodes the head at the start of `bytes`, whatever the length of
    /// the file it heads.
    pub fn parse(bytes: &[u8]) -> Result<Head, FormatError> {
        let mut r = Reader::new(bytes);
        let magic = r.take(MAGIC.len()).map_err(|_| FormatError::Magic)?;
        if magic != MAGIC {
            return Err(FormatError::Magic);
        }
        if r.u32()? != FORMAT_VERSION {
            return Err(FormatError::Version);
        }
        let tool_len = r.u8()?;
        if r.take(usize::from(tool_len))? != TOOL_VERSION.as_bytes() {
            return Err(FormatError::Version);
        }
        let release_len = r.u16()?;
        let release = r.take(usize::from(release_len))?.to_vec();
        let mut lens = [0usize; SECTIONS];
        let mut crcs = [0u32; SECTIONS];
        for i in 0..SECTIONS {
            lens[i] = r.u32()? as usize;
            crcs[i] = r.u32()?;
        }
        let data_id = r.u64()?;
        let end = r.pos;
        if crc32fast::hash(&bytes[..end]) != r.u32()? {
            return Err(FormatError::Checksum);
        }
        let mut at = r.pos;
        let mut sections = [(0usize, 0usize); SECTIONS];
        for i in [ENTRIES, MEMO, LISTINGS] {
            sections[i] = (at, lens[i]);
            at = at.saturating_add(lens[i]);
        }
        sections[DATA] = (DATA_HEAD_LEN, lens[DATA]);
        Ok(Head {
            release,
            sections,
            crcs,
            data_id,
        })
    }

    /// The index file's length: its head and three sections.
    pub fn index_len(&self) -> usize {
        let (start, len) = self.sections[LISTINGS];
        start + len
    }

    /// Checks the head of the data file this head names, given its first
    /// bytes and its length.
    pub fn check_data_file(&self, head: &[u8], file_len: u64) -> Result<(), FormatError> {
        let mut r = Reader::new(head);
        if r.take(DATA_MAGIC.len()).map_err(|_| FormatError::Magic)? != DATA_MAGIC {
            return Err(FormatError::Magic);
        }
        if r.u32()? != FORMAT_VERSION {
            return Err(FormatError::Version);
        }
        if r.u64()? != self.data_id {
            return Err(FormatError::Malformed("data file id"));
        }
        let (start, len) = self.sections[DATA];
        if file_len < (start + len) as u64 {
            return Err(FormatError::Truncated);
        }
        Ok(())
    }

    /// The CRC-32 the head gives for section `i`.
    pub fn crc(&self, i: usize) -> u32 {
        self.crcs[i]
    }

    /// Checks section `i`'s bytes against the CRC the head gives.
    pub fn verify(&self, i: usize, bytes: &[u8]) -> Result<(), FormatError> {
        if bytes.len() != self.sections[i].1 {
            return Err(FormatError::Truncated);
        }
        if crc32fast::hash(bytes) != self.crcs[i] {
            return Err(FormatError::Checksum);
        }
        Ok(())
    }
}

/// A data section's bytes, which every module read from it keeps its
/// strings in: read into memory, or mapped from the cache file.
#[derive(Debug)]
pub(crate) enum Data {
    Read(Vec<u8>),
    Mapped {
        map: memmap2::Mmap,
        start: usize,
        len: usize,
    },
}

impl std::ops::Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Data::Read(bytes) => bytes,
            Data::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }
}

/// The head of data file `id`.
pub(crate) fn data_head(id: u64) -> [u8; DATA_HEAD_LEN] {
    let mut out = [0; DATA_HEAD_LEN];
    out[..8].copy_from_slice(&DATA_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..].copy_from_slice(&id.to_le_bytes());
    out
}

/// A whole cache as one buffer, the index file followed by its data file
/// (see [`write_data`]); the data file's id is derived from its contents.
pub(crate) fn encode(
    release: &[u8],
    entries: &[(&[u8], FileStat, &Parsed)],
    memo: Option<&Memo>,
    listings: &[u8],
) -> Vec<u8> {
    let mut records = Vec::new();
    // Writing to a Vec fails only past the format's 4 GiB of records.
    let Ok((heads, (len, crc))) = write_records(&mut records, entries) else {
        return Vec::new();
    };
    let id = u64::from(crc) << 32 | len as u64;
    let mut out = index_file(release, &heads, memo, listings, (len, crc), id);
    out.extend_from_slice(&data_head(id));
    out.extend_from_slice(&records);
    out
}

/// Writes data file `id`: its head, then every module's record. Gives
/// the entries section that places them, and the data section's length
/// and CRC-32. Paths of 64 KiB or more cannot be stored: their modules
/// are left out (and read from their files every time).
pub(crate) fn write_data(
    out: &mut impl std::io::Write,
    id: u64,
    entries: &[(&[u8], FileStat, &Parsed)],
) -> std::io::Result<(Entries, (usize, u32))> {
    out.write_all(&data_head(id))?;
    write_records(out, entries)
}

fn write_records(
    out: &mut impl std::io::Write,
    entries: &[(&[u8], FileStat, &Parsed)],
) -> std::io::Result<(Entries, (usize, u32))> {
    let mut heads = Entries::default();
    let mut crc = crc32fast::Hasher::new();
    let mut data = Vec::with_capacity(64 * 1024);
    let mut at = 0usize;
    for (path, stat, parsed) in entries {
        if path.len() > usize::from(u16::MAX) {
            continue;
        }
        let from = data.len();
        encode_module(parsed, &mut data);
        let len = data.len() - from;
        let (Ok(start), Ok(n)) = (u32::try_from(at), u32::try_from(len)) else {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        };
        heads.push(path, *stat, (start, n));
        at += len;
        if data.len() >= 60 * 1024 {
            crc.update(&data);
            out.write_all(&data)?;
            data.clear();
        }
    }
    crc.update(&data);
    out.write_all(&data)?;
    if u32::try_from(at).is_err() {
        return Err(std::io::ErrorKind::FileTooLarge.into());
    }
    Ok((heads, (at, crc.finalize())))
}

/// An entries section being built.
#[derive(Default)]
pub(crate) struct Entries {
    count: u32,
    bytes: Vec<u8>,
}

impl Entries {
    /// Room for `count` entries whose paths add up to `path_bytes`.
    pub fn with_capacity(count: usize, path_bytes: usize) -> Entries {
        Entries {
            count: 0,
            bytes: Vec::with_capacity(count * (2 + STAT_LEN + 8) + path_bytes),
        }
    }

    /// Adds a module whose record is at `data` in the data section; a path
    /// too long to store is left out.
    pub fn push(&mut self, path: &[u8], stat: FileStat, data: (u32, u32)) {
        if path.len() > usize::from(u16::MAX) {
            return;
        }
        self.count += 1;
        let heads = &mut self.bytes;
        put_bytes16(heads, path);
        put_stat(heads, &stat);
        put_u32(heads, data.0);
        put_u32(heads, data.1);
    }
}

/// The index file, for a data section of `data.0` bytes with CRC-32
/// `data.1` in data file `id`. `listings` is the listings section.
pub(crate) fn index_file(
    release: &[u8],
    entries: &Entries,
    memo: Option<&Memo>,
    listings: &[u8],
    data: (usize, u32),
    id: u64,
) -> Vec<u8> {
    let release = &release[..release.len().min(usize::from(u16::MAX))];
    // The entries section is its count, then the entries.
    let count = entries.count.to_le_bytes();
    let mut heads = crc32fast::Hasher::new();
    heads.update(&count);
    heads.update(&entries.bytes);
    let heads = (count.len() + entries.bytes.len(), heads.finalize());
    let memo = memo.map(encode_memo).unwrap_or_default();

    let mut out = Vec::with_capacity(Head::MAX_LEN + heads.0 + memo.len() + listings.len());
    out.extend_from_slice(&MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    out.push(TOOL_VERSION.len() as u8);
    out.extend_from_slice(TOOL_VERSION.as_bytes());
    put_bytes16(&mut out, release);
    for (len, crc) in [
        heads,
        (memo.len(), crc32fast::hash(&memo)),
        (listings.len(), crc32fast::hash(listings)),
        data,
    ] {
        put_u32(&mut out, len as u32);
        put_u32(&mut out, crc);
    }
    out.extend_from_slice(&id.to_le_bytes());
    let crc = crc32fast::hash(&out);
    put_u32(&mut out, crc);
    out.extend_from_slice(&count);
    out.extend_from_slice(&entries.bytes);
    out.extend_from_slice(&memo);
    out.extend_from_slice(listings);
    out
}

/// Decodes the entries section.
pub(crate) fn decode_entries(bytes: &[u8]) -> Result<Vec<EntryHead<'_>>, FormatError> {
    const FIXED: usize = 2 + STAT_LEN + 8;
    let mut r = Reader::new(bytes);
    let count = r.count(FIXED)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u16()?;
        let path = r.take(usize::from(len))?;
        let stat = r.stat()?;
        out.push(EntryHead {
            path,
            stat,
            data: (r.u32()?, r.u32()?),
        });
    }
    r.end("entries")?;
    Ok(out)
}

/// Decodes the memo section (`None` when empty).
pub(crate) fn decode_memo(bytes: &[u8]) -> Result<Option<Memo>, FormatError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let mut r = Reader::new(bytes);
    let inputs = r.digest()?;
    let n = usize::from(r.u8()?);
    let mut outputs = Vec::with_capacity(n);
    for _ in 0..n {
        outputs.push(r.digest()?);
    }
    let count = r.count(6)?;
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = r.u8()?;
        let level = r.u8()?;
        let len = r.u32()? as usize;
        let text = r.take(len)?.to_vec();
        events.push(match kind {
            0 => Event::Log(level_of(level)?, text),
            1 => Event::Stdout(text),
            _ => return Err(FormatError::Malformed("event")),
        });
    }
    r.end("memo")?;
    Ok(Some(Memo {
        inputs,
        outputs,
        events,
    }))
}

fn level_of(n: u8) -> Result<Level, FormatError> {
    const LEVELS: [Level; 8] = [
        Level::Emerg,
        Level::Alert,
        Level::Crit,
        Level::Err,
        Level::Warning,
        Level::Notice,
        Level::Info,
        Level::Debug,
    ];
    LEVELS
        .get(usize::from(n))
        .copied()
        .ok_or(FormatError::Malformed("level"))
}

fn encode_memo(memo: &Memo) -> Vec<u8> {
    let mut out = Vec::new();
    put_digest(&mut out, &memo.inputs);
    out.push(memo.outputs.len() as u8);
    for d in &memo.outputs {
        put_digest(&mut out, d);
    }
    put_u32(&mut out, memo.events.len() as u32);
    for e in &memo.events {
        let (kind, level, text) = match e {
            Event::Log(level, text) => (0, *level as u8, text),
            Event::Stdout(text) => (1, 0, text),
        };
        out.push(kind);
        out.push(level);
        put_u32(&mut out, text.len() as u32);
        out.extend_from_slice(text);
    }
    out
}

/// One module's record.
pub(crate) fn encode_module(p: &Parsed, out: &mut Vec<u8>) {
    let strings = p.strings();
    put_u32(out, strings.len() as u32);
    out.extend_from_slice(strings);
    put_u32(out, p.exports.len() as u32);
    for e in &p.exports {
        put_span(out, e.name);
        out.extend_from_slice(&e.crc.to_le_bytes());
    }
    put_u32(out, p.import_count() as u32);
    for i in p.imports() {
        put_span(out, i.name);
        out.extend_from_slice(&i.crc.to_le_bytes());
        out.push(u8::from(i.weak));
    }
    for list in [&p.aliases, &p.softdeps, &p.weakdeps] {
        put_u32(out, list.len() as u32);
        for &s in list {
            put_span(out, s);
        }
    }
}

/// Bytes of one needed symbol in a record: its name's span, its CRC and
/// whether it is weak.
pub(crate) const IMPORT_LEN: usize = 17;

/// The needed symbol in the first [`IMPORT_LEN`] bytes of `item`, which
/// [`decode_module_in`] has checked.
pub(crate) fn import_at(item: &[u8]) -> Import {
    let mut bytes = [0u8; IMPORT_LEN];
    let n = item.len().min(IMPORT_LEN);
    bytes[..n].copy_from_slice(&item[..n]);
    let [s0, s1, s2, s3, l0, l1, l2, l3, c @ .., weak] = bytes;
    Import {
        name: Span::new(
            u32::from_le_bytes([s0, s1, s2, s3]),
            u32::from_le_bytes([l0, l1, l2, l3]),
        ),
        crc: u64::from_le_bytes(c),
        weak: weak != 0,
    }
}

/// Decodes one module's record; every string must lie in its strings.
pub(crate) fn decode_module(bytes: &[u8]) -> Result<Parsed, FormatError> {
    decode_module_in(&Arc::new(Data::Read(bytes.to_vec())), 0..bytes.len())
}

/// Decodes the record at `data[at]`, whose strings are left in `data`.
pub(crate) fn decode_module_in(
    data: &Arc<Data>,
    at: std::ops::Range<usize>,
) -> Result<Parsed, FormatError> {
    let bytes = data.get(at.clone()).ok_or(FormatError::Truncated)?;
    let mut r = Reader::new(bytes);
    let len = r.u32()? as usize;
    let strings_at = at.start + r.pos;
    let strings = r.take(len)?;
    let span = |r: &mut Reader<'_>| -> Result<Span, FormatError> {
        let (start, len) = (r.u32()?, r.u32()?);
        if u64::from(start) + u64::from(len) > strings.len() as u64 {
            return Err(FormatError::Malformed("string"));
        }
        Ok(Span::new(start, len))
    };
    let n = r.count(16)?;
    let mut exports = Vec::with_capacity(n);
    for _ in 0..n {
        let name = span(&mut r)?;
        exports.push(Export {
            name,
            crc: r.u64()?,
        });
    }
    // Checked here, read where they are (Parsed::imports).
    let n = r.count(IMPORT_LEN)?;
    let imports = (at.start + r.pos, n);
    for _ in 0..n {
        span(&mut r)?;
        r.u64()?;
        if r.u8()? > 1 {
            return Err(FormatError::Malformed("weak flag"));
        }
    }
    let mut lists: [Vec<Span>; 3] = Default::default();
    for list in &mut lists {
        let n = r.count(8)?;
        list.reserve_exact(n);
        for _ in 0..n {
            list.push(span(&mut r)?);
        }
    }
    r.end("module record")?;
    let [aliases, softdeps, weakdeps] = lists;
    Ok(Parsed::from_parts(
        Arc::clone(data),
        strings_at..strings_at + len,
        exports,
        imports,
        aliases,
        softdeps,
        weakdeps,
    ))
}

/// A file's identity: dev, ino, size, then mtime and ctime (seconds,
/// nanoseconds).
pub(super) fn put_stat(out: &mut Vec<u8>, stat: &FileStat) {
    for v in [stat.dev, stat.ino, stat.size] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (s, ns) in [stat.mtime, stat.ctime] {
        out.extend_from_slice(&s.to_le_bytes());
        put_u32(out, ns);
    }
}

/// The bytes [`put_stat`] writes.
pub(super) const STAT_LEN: usize = 3 * 8 + 2 * 12;

pub(super) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(super) fn put_bytes16(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_span(out: &mut Vec<u8>, s: Span) {
    let (start, len) = s.parts();
    put_u32(out, start);
    put_u32(out, len);
}

fn put_digest(out: &mut Vec<u8>, d: &Digest) {
    out.extend_from_slice(&d.len.to_le_bytes());
    put_u32(out, d.crc);
    out.extend_from_slice(&d.mix.to_le_bytes());
}

/// A cursor over bytes that fails instead of reading past the end.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).ok_or(FormatError::Truncated)?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or(FormatError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let b = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(super) fn stat(&mut self) -> Result<FileStat, FormatError> {
        Ok(FileStat {
            dev: self.u64()?,
            ino: self.u64()?,
            size: self.u64()?,
            mtime: (self.u64()? as i64, self.u32()?),
            ctime: (self.u64()? as i64, self.u32()?),
        })
    }

    fn digest(&mut self) -> Result<Digest, FormatError> {
        Ok(Digest {
            len: self.u64()?,
            crc: self.u32()?,
            mix: self.u64()?,
        })
    }

    /// A count of items of at least `min` bytes each, refused when the
    /// rest of the bytes cannot hold that many.
    pub(super) fn count(&mut self, min: usize) -> Result<usize, FormatError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.bytes.len() - self.pos {
            return Err(FormatError::Truncated);
        }
        Ok(n)
    }

    pub(super) fn end(&self, what: &'static str) -> Result<(), FormatError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(FormatError::Malformed(what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_does_not_depend_on_how_the_bytes_are_cut() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = Digester::of(&bytes);
        for cut in [1, 3, 8, 31, 32, 33, 100, 999] {
            let mut d = Digester::default();
            for piece in bytes.chunks(cut) {
                d.update(piece);
            }
            assert_eq!(d.finish(), whole, "pieces of {cut}");
        }
        let mut other = bytes.clone();
        other[500] ^= 1;
        assert_ne!(Digester::of(&other).mix, whole.mix);
        assert_ne!(Digester::of(&bytes[..999]), whole);
    }
}
