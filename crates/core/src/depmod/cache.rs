//! depmod's cache: what it extracted from each module file, so that a run
//! reads only the files that changed since the last one.
//!
//! Two files per kernel release in `/var/cache/modutils` under the output
//! prefix (`-o`, else `-b`) and `MODUTILS_SYSROOT`: the index,
//! `<release>.depmod`, and the data file it names, `<release>.depmod.<id>`
//! (see `format.rs`).
//! An entry is used only when the file's path (relative to the module
//! directory) and its identity — device, inode, size, mtime and ctime to
//! the nanosecond — are what they were when it was read. Nothing depmod.d
//! or an option says changes what is extracted from a file, so neither is
//! part of an entry's key (they are part of the memo's).
//!
//! The index is replaced whole (written under a temporary name, renamed),
//! so a concurrent reader holds either the old or the new one and needs no
//! lock. A data file is only ever appended to, past the end of what any
//! index names, so no index's records ever change under a reader. A run
//! that read only a few modules appends their records to the data file
//! rather than writing megabytes of records again; a full write makes a
//! new data file under a new id, names it in the new index, and only then
//! removes the old one.
//!
//! The cache is never trusted: anything unexpected in it — another format
//! or build version, another release, a short or corrupt section, a record
//! that does not add up, a file someone else could have written — and it is
//! ignored and the run reads every module, exactly as without a cache.
//!
//! The memo: when every module came from the cache, the file also records
//! what the run wrote (a digest of each output) and what it reported. A
//! later run with the same modules and inputs that finds those very outputs
//! on disk has nothing to write; it replays the messages and stops.

pub(crate) mod format;
pub(crate) mod listings;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use format::Digester;
pub use format::{
    Digest, Event, FileStat, FormatError, Memo, DATA_MAGIC, FORMAT_VERSION, MAGIC, TOOL_VERSION,
};

use super::parse::Parsed;
use super::report::{Reporter, Sink};
use super::ModuleSymbols;
use crate::diagnostics::Level;
use crate::Root;

/// The cache directory, relative to the output prefix.
pub const DIRECTORY: &str = "/var/cache/modutils";

/// A cache bigger than this is not read (a real tree's is a few MiB).
const MAX_FILE: u64 = 1 << 30;

/// Files changed this recently may have been changed again within the
/// same timestamp tick after being read (coarse clocks, 1–2 s resolution
/// on some filesystems): they are not kept in the cache, so they are read
/// by every run until they are this old.
pub const SETTLE: Duration = Duration::from_secs(3);

/// Where a run's cache is, and whether it may be written.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    dir: PathBuf,
    /// The index file.
    file: PathBuf,
    release: Vec<u8>,
}

impl Place {
    /// `prefix` is the output prefix (target path, may be empty for `/`).
    /// `None` when the release cannot name a file.
    pub fn new(root: &Root, prefix: &[u8], release: &[u8]) -> Option<Place> {
        let usable = !release.is_empty()
            && release.len() <= 200
            && release[0] != b'.'
            && !release.contains(&b'/')
            && !release.contains(&0);
        if !usable {
            return None;
        }
        let mut dir = prefix.to_vec();
        dir.extend_from_slice(DIRECTORY.as_bytes());
        let dir = root.host_bytes(&dir);
        let mut name = release.to_vec();
        name.extend_from_slice(b".depmod");
        let file = dir.join(std::ffi::OsStr::from_bytes(&name));
        Some(Place {
            dir,
            file,
            release: release.to_vec(),
        })
    }

    /// The index file (host path).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Data file `id` (host path).
    fn data_file(&self, id: u64) -> PathBuf {
        data_file_in(&self.dir, &self.release, id)
    }

    /// Opens the cache, or `None` if there is none this run can use.
    pub fn load(&self) -> Option<Loaded> {
        let (file, meta) = open_trusted(&self.file)?;
        let len = meta.len() as usize;
        let mut head = vec![0; len.min(format::Head::MAX_LEN)];
        file.read_exact_at(&mut head, 0).ok()?;
        let head = format::Head::decode(&head, len).ok()?;
        if head.release != self.release {
            return None;
        }
        // Entries, memo and listings lie back to back.
        let (start, entries_len) = head.sections[format::ENTRIES];
        let memo_len = head.sections[format::MEMO].1;
        let listings_len = head.sections[format::LISTINGS].1;
        let mut sections = vec![0; entries_len + memo_len + listings_len];
        file.read_exact_at(&mut sections, start as u64).ok()?;
        let (entries, rest) = sections.split_at(entries_len);
        let (memo, listings) = rest.split_at(memo_len);
        head.verify(format::ENTRIES, entries).ok()?;
        head.verify(format::MEMO, memo).ok()?;
        head.verify(format::LISTINGS, listings).ok()?;
        let memo = format::decode_memo(memo).ok()?;
        let listings = listings::decode(listings).ok()?;
        let (data, data_meta) = open_trusted(&self.data_file(head.data_id))?;
        let mut data_head = [0; format::DATA_HEAD_LEN];
        data.read_exact_at(&mut data_head, 0).ok()?;
        head.check_data_file(&data_head, data_meta.len()).ok()?;
        let entries = format::decode_entries(entries)
            .ok()?
            .into_iter()
            .map(|e| Entry {
                path: e.path.to_vec(),
                stat: e.stat,
                data: e.data,
            })
            .collect();
        Some(Loaded {
            data,
            data_identity: (data_meta.dev(), data_meta.ino()),
            written: (meta.mtime(), meta.mtime_nsec() as u32),
            head,
            entries,
            memo,
            listings,
        })
    }

    /// Replaces the cache with one of these modules (path, identity,
    /// data) and `memo`, in a new data file; any failure leaves the old
    /// cache.
    pub fn store(
        &self,
        entries: &[(&[u8], FileStat, &Parsed)],
        memo: Option<&Memo>,
        listings: &[u8],
    ) {
        if let Some(data) = self.write_data(entries) {
            self.name_data(data, memo, listings);
        }
    }

    /// The first half of [`Place::store`]: a new data file with the
    /// records of these modules, which no index names yet. A run that
    /// writes its cache whole writes this while it makes its outputs.
    pub fn write_data(&self, entries: &[(&[u8], FileStat, &Parsed)]) -> Option<DataFile> {
        let _ = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir);
        let id = new_id();
        let path = self.data_file(id);
        let mut written = None;
        // The records come in chunks of about 60 KiB: written as they are.
        let made = self.put(&path, &mut |file| {
            written = Some(format::write_data(file, id, entries)?);
            Ok(())
        });
        let (true, Some((heads, section))) = (made, written) else {
            return None;
        };
        Some(DataFile {
            id,
            path: Some(path),
            heads,
            section,
        })
    }

    /// The second half of [`Place::store`]: the index that names `data`,
    /// then, when `data` is a new data file, the release's other ones
    /// removed.
    pub fn name_data(&self, mut data: DataFile, memo: Option<&Memo>, listings: &[u8]) {
        let index = format::index_file(
            &self.release,
            &data.heads,
            memo,
            listings,
            data.section,
            data.id,
        );
        if self.put_index(&index) && data.path.take().is_some() {
            self.remove_data_files_but(data.id);
        }
    }

    /// Replaces the index with `old`'s whose entries have the identities
    /// `stats` (one per entry, in order): its data file and memo stay.
    pub fn store_restamped(&self, old: &Loaded, stats: &[FileStat], listings: &[u8]) {
        let mut entries = format::Entries::default();
        for (e, stat) in old.entries.iter().zip(stats) {
            entries.push(&e.path, *stat, e.data);
        }
        let len = old.head.sections[format::DATA].1;
        let index = format::index_file(
            &self.release,
            &entries,
            old.memo.as_ref(),
            listings,
            (len, old.head.crc(format::DATA)),
            old.head.data_id,
        );
        self.put_index(&index);
    }

    /// The data file of an index that keeps `old`'s, with the records of
    /// the modules read this run appended to it: after a module added or
    /// removed, writing thousands of records the data file already holds
    /// took longer than every output. The records of modules gone stay
    /// behind, unreferenced, until a full write (see
    /// [`Place::worth_appending`]). `None` when the data file is no longer
    /// as `old` found it (another run appended to it or replaced it) or
    /// the offsets would not fit the format; the caller then writes it
    /// whole.
    pub fn append_data(
        &self,
        old: &Loaded,
        entries: &[(&[u8], FileStat, Source<'_>)],
    ) -> Option<DataFile> {
        let len = old.head.sections[format::DATA].1;
        let mut heads =
            format::Entries::with_capacity(entries.len(), entries.iter().map(|e| e.0.len()).sum());
        let mut added = Vec::new();
        for (path, stat, source) in entries {
            let at = match source {
                Source::Kept(at) => *at,
                Source::New(parsed) => {
                    let from = added.len();
                    format::encode_module(parsed, &mut added);
                    let at = u32::try_from(len + from).ok()?;
                    (at, u32::try_from(added.len() - from).ok()?)
                }
            };
            heads.push(path, *stat, at);
        }
        let total = len + added.len();
        u32::try_from(total).ok()?;
        if !added.is_empty() && !self.append(old, &added) {
            return None;
        }
        let mut crc =
            crc32fast::Hasher::new_with_initial_len(old.head.crc(format::DATA), len as u64);
        crc.update(&added);
        Some(DataFile {
            id: old.head.data_id,
            path: None,
            heads,
            section: (total, crc.finalize()),
        })
    }

    /// Appends `added` to `old`'s data file, if it still ends where the
    /// data section `old` names ends, and its bytes land right there.
    fn append(&self, old: &Loaded, added: &[u8]) -> bool {
        use std::io::Seek;
        let Ok(mut file) = OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(self.data_file(old.head.data_id))
        else {
            return false;
        };
        let (start, len) = old.head.sections[format::DATA];
        let end = (start + len) as u64;
        let same = file
            .metadata()
            .is_ok_and(|m| (m.dev(), m.ino()) == old.data_identity && m.len() == end);
        // An O_APPEND write lands at the end whatever another writer did
        // meanwhile; where this one's ended tells whether that was `end`.
        same && file.write_all(added).is_ok()
            && file
                .stream_position()
                .is_ok_and(|at| at == end + added.len() as u64)
    }

    /// Whether a new cache keeping `kept` bytes of `old`'s data section
    /// should be written by [`Place::append_data`]: not once a quarter
    /// of the section would be records no entry uses, which a full write
    /// leaves out.
    pub fn worth_appending(old: &Loaded, kept: usize) -> bool {
        let len = old.head.sections[format::DATA].1;
        len.saturating_sub(kept) <= len / 4
    }

    /// Puts a new index file in place; `false` if it could not be.
    fn put_index(&self, index: &[u8]) -> bool {
        self.put(&self.file, &mut |file| {
            preallocate(file, index.len());
            file.write_all(index)
        })
    }

    /// Writes a new file with `fill` and renames it to `target`; any
    /// failure leaves `target` as it was.
    fn put(&self, target: &Path, fill: Fill<'_>) -> bool {
        let Some(tmp) = write_unnamed(&self.dir, fill).or_else(|| write_named(&self.dir, fill))
        else {
            return false;
        };
        if fs::rename(&tmp, target).is_err() {
            let _ = fs::remove_file(&tmp);
            return false;
        }
        true
    }

    /// Removes this release's data files other than `id`'s: the one the
    /// index named before a full write, and any a killed run left.
    fn remove_data_files_but(&self, id: u64) {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return;
        };
        let keep = self.data_file(id);
        let mut prefix = self.release.clone();
        prefix.extend_from_slice(b".depmod.");
        for entry in dir.flatten() {
            let name = entry.file_name();
            let is_data = name
                .as_bytes()
                .strip_prefix(&prefix[..])
                .is_some_and(|id| id.len() == 16 && id.iter().all(u8::is_ascii_hexdigit));
            if is_data && entry.path() != keep {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// The data file a new index is to name ([`Place::name_data`]), with that
/// index's entries: one written whole by [`Place::write_data`], removed
/// again unless an index comes to name it, or the old one with records
/// appended by [`Place::append_data`].
pub(crate) struct DataFile {
    id: u64,
    /// Where a new one is, until an index names it.
    path: Option<PathBuf>,
    heads: format::Entries,
    section: (usize, u32),
}

impl Drop for DataFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Data file `id` of `release` in `dir`.
fn data_file_in(dir: &Path, release: &[u8], id: u64) -> PathBuf {
    let mut name = release.to_vec();
    name.extend_from_slice(format!(".depmod.{id:016x}").as_bytes());
    dir.join(std::ffi::OsStr::from_bytes(&name))
}

/// An id no other data file of the release is likely to have: the clock
/// and the process, mixed.
fn new_id() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut d = Digester::default();
    d.update(&now.as_nanos().to_le_bytes());
    d.update(&std::process::id().to_le_bytes());
    d.finish().mix
}

/// Opens a cache file to read, if it is one this run may trust.
fn open_trusted(path: &Path) -> Option<(File, fs::Metadata)> {
    // Not a FIFO someone put there (opening would wait for a writer),
    // not a link to somewhere else.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE || !trusted_owner(&meta) {
        return None;
    }
    Some((file, meta))
}

/// Where a module's record in a new cache comes from.
pub(crate) enum Source<'a> {
    /// The old cache's record at this place in its data section.
    Kept((u32, u32)),
    /// Encoded from what was read this run.
    New(&'a Parsed),
}

/// A new index file's blocks are allocated before it is written. ext4
/// starts writing out a file whose blocks are still to be allocated when
/// it is renamed over another (so that a crash cannot leave an empty file
/// where the old one was), and a run waited for that. After a crash,
/// blocks not yet written read as zeros: the cache's checksums then fail
/// and it is ignored, as any damaged cache is.
fn preallocate(file: &File, len: usize) {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    let len = libc::off_t::try_from(len).unwrap_or(0);
    // SAFETY: a plain system call on a descriptor the File owns. Its
    // failure (a file system without it) leaves the file as it was.
    unsafe { libc::fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, 0, len) };
}

/// Only a file its reader or root owns, that nobody else may write, is
/// read: anyone who can write the cache decides what depmod writes.
fn trusted_owner(meta: &fs::Metadata) -> bool {
    // SAFETY: geteuid(2) cannot fail.
    let euid = unsafe { libc::geteuid() };
    (meta.uid() == euid || meta.uid() == 0) && meta.mode() & 0o022 == 0
}

/// A name no other writer uses.
fn temporary_name(dir: &Path) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    dir.join(format!(
        ".depmod.{}.{}.{}",
        std::process::id(),
        now.as_secs(),
        now.subsec_nanos()
    ))
}

/// What writes a new cache file's bytes.
type Fill<'a> = &'a mut dyn FnMut(&mut File) -> std::io::Result<()>;

/// Writes into an unnamed file (O_TMPFILE) and names it only once it is
/// complete, so a run killed while writing leaves nothing behind.
fn write_unnamed(dir: &Path, fill: Fill<'_>) -> Option<PathBuf> {
    let mut file = OpenOptions::new()
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
        .ok()?;
    fill(&mut file).ok()?;
    let tmp = temporary_name(dir);
    let fd_path = format!("/proc/self/fd/{}\0", std::os::fd::AsRawFd::as_raw_fd(&file));
    let mut target = tmp.as_os_str().as_bytes().to_vec();
    target.push(0);
    // SAFETY: both paths are NUL-terminated and outlive the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            fd_path.as_ptr().cast(),
            libc::AT_FDCWD,
            target.as_ptr().cast(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    (linked == 0).then_some(tmp)
}

/// Where O_TMPFILE is not supported: a named temporary file.
fn write_named(dir: &Path, fill: Fill<'_>) -> Option<PathBuf> {
    let tmp = temporary_name(dir);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .ok()?;
    if fill(&mut file).is_err() {
        drop(file);
        let _ = fs::remove_file(&tmp);
        return None;
    }
    Some(tmp)
}

/// A cache file as read: its entries and memo checked and decoded; its
/// data section read on first use.
pub(crate) struct Loaded {
    /// The data file.
    data: File,
    /// The data file's device and inode.
    data_identity: (u64, u64),
    /// When the index was written (its mtime, seconds and ns).
    pub written: (i64, u32),
    head: format::Head,
    pub entries: Vec<Entry>,
    pub memo: Option<Memo>,
    /// The module directories' listings, by target path.
    pub listings: listings::Listings,
}

/// One module the cache knows.
pub(crate) struct Entry {
    pub path: Vec<u8>,
    pub stat: FileStat,
    /// Its record's place in the data section.
    pub data: (u32, u32),
}

impl Loaded {
    /// The record at `at` in the data section, read alone: the section's
    /// checksum is not verified, so it is only for comparing with what a
    /// module file holds now.
    pub fn record(&self, at: (u32, u32)) -> Option<Parsed> {
        let (start, len) = self.head.sections[format::DATA];
        let end = (at.0 as usize).checked_add(at.1 as usize)?;
        if end > len {
            return None;
        }
        let mut bytes = vec![0; at.1 as usize];
        self.data
            .read_exact_at(&mut bytes, (start + at.0 as usize) as u64)
            .ok()?;
        format::decode_module_in(&Arc::new(format::Data::Read(bytes)), 0..at.1 as usize).ok()
    }

    /// The data section, checked, or `None` if `stop` is set before it is
    /// all checked: it is checked a MiB at a time, and megabytes of it take
    /// milliseconds that a run found to have nothing to do does not wait.
    /// It is mapped rather than read: reading copied every page into
    /// memory allocated for it, which took longer than decoding it.
    pub fn data(&self, stop: &AtomicBool) -> Option<format::Data> {
        const CHUNK: usize = 1 << 20;
        let (start, len) = self.head.sections[format::DATA];
        let file = &self.data;
        // SAFETY: cache files are replaced by renames, never changed in
        // place; one truncated under this process by someone else can at
        // worst fault it, as with every mapped file the tools read.
        let data = match unsafe { memmap2::Mmap::map(file) } {
            Ok(map) if map.len() >= start.checked_add(len)? => {
                format::Data::Mapped { map, start, len }
            }
            _ => {
                let mut bytes = vec![0; len];
                file.read_exact_at(&mut bytes, start as u64).ok()?;
                format::Data::Read(bytes)
            }
        };
        let mut crc = crc32fast::Hasher::new();
        for chunk in data.chunks(CHUNK) {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            crc.update(chunk);
        }
        (crc.finalize() == self.head.crc(format::DATA)).then_some(data)
    }
}

/// One module's record in a data section; its strings stay there.
pub(crate) fn record(data: &Arc<format::Data>, at: (u32, u32)) -> Option<Parsed> {
    let (start, len) = (at.0 as usize, at.1 as usize);
    format::decode_module_in(data, start..start.checked_add(len)?).ok()
}

/// Whether an entry read at `started` may be kept: its file has not
/// changed for long enough that a change would show in its timestamps.
pub(crate) fn settled(stat: &FileStat, started: SystemTime) -> bool {
    let Ok(now) = started.duration_since(UNIX_EPOCH) else {
        return false;
    };
    let limit = now.saturating_sub(SETTLE);
    let at = |(s, ns): (i64, u32)| {
        u64::try_from(s)
            .ok()
            .map(|s| Duration::new(s, ns.min(999_999_999)))
    };
    [stat.ctime, stat.mtime]
        .into_iter()
        .all(|t| at(t).is_some_and(|t| t < limit))
}

/// A [`Reporter`] that also keeps everything it passes on, for the memo.
pub(crate) struct Recorder<'r> {
    inner: &'r mut dyn Reporter,
    pub events: Vec<Event>,
}

impl<'r> Recorder<'r> {
    pub fn new(inner: &'r mut dyn Reporter) -> Recorder<'r> {
        Recorder {
            inner,
            events: Vec::new(),
        }
    }
}

impl Sink for Recorder<'_> {
    fn log(&mut self, level: Level, text: &[u8]) {
        self.events.push(Event::Log(level, text.to_vec()));
        self.inner.log(level, text);
    }
}

impl Reporter for Recorder<'_> {
    fn stdout(&mut self, bytes: &[u8]) {
        self.events.push(Event::Stdout(bytes.to_vec()));
        self.inner.stdout(bytes);
    }
}

/// Replays a memo's events.
pub(crate) fn replay(events: &[Event], rep: &mut dyn Reporter) {
    for e in events {
        match e {
            Event::Log(level, text) => rep.log(*level, text),
            Event::Stdout(bytes) => rep.stdout(bytes),
        }
    }
}

/// A whole cache file decoded, for tools and tests that look inside one
/// (the engine reads only the parts it needs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheFile {
    /// The kernel release the cache was written for.
    pub release: Vec<u8>,
    /// One entry per module file read, in the order the cache stores them.
    pub modules: Vec<CachedModule>,
    /// What the last complete run produced, if the cache records one.
    pub memo: Option<Memo>,
    /// The module directories as the run that wrote the cache listed
    /// them, in path order.
    pub directories: Vec<CachedDirectory>,
}

/// One directory's listing in a [`CacheFile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedDirectory {
    /// Its target path, ending in `/`.
    pub path: Vec<u8>,
    /// Its identity when it was listed; a different one makes the listing stale.
    pub stat: FileStat,
    /// (name, `d_type`, inode) of each entry, in readdir order.
    pub entries: Vec<(Vec<u8>, u8, u64)>,
}

/// One module of a [`CacheFile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedModule {
    /// Relative to the module directory, or a full target path.
    pub path: Vec<u8>,
    /// The file's identity when it was read; a different one makes the entry stale.
    pub stat: FileStat,
    /// What depmod read from the module.
    pub symbols: ModuleSymbols,
}

/// Why a cache file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The cache file, as a host path.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The bytes are not a cache file this build can use.
    #[error("{}: {source}", path.display())]
    Format {
        /// The cache file, as a host path.
        path: PathBuf,
        /// What is wrong with them.
        source: FormatError,
    },
}

impl CacheFile {
    /// Reads and checks the cache whose index file is at `path` (a host
    /// path) and the data file it names, as [`CacheFile::from_bytes`]; no
    /// checks of owner or mode.
    pub fn open(path: &Path) -> Result<CacheFile, CacheError> {
        let image = read_image(path)?;
        CacheFile::from_bytes(&image).map_err(|source| CacheError::Format {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Decodes and checks a whole cache, every record included: its
    /// image, the index file followed by the data file (see
    /// [`split_image`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<CacheFile, FormatError> {
        let head = format::Head::parse(bytes)?;
        let index_len = head.index_len();
        let index = bytes.get(..index_len).ok_or(FormatError::Truncated)?;
        let data_file = &bytes[index_len..];
        head.check_data_file(data_file, data_file.len() as u64)?;
        fn section<'b>(
            head: &format::Head,
            i: usize,
            file: &'b [u8],
        ) -> Result<&'b [u8], FormatError> {
            let (start, len) = head.sections[i];
            let s = file.get(start..start + len).ok_or(FormatError::Truncated)?;
            head.verify(i, s).map(|()| s)
        }
        let entries = section(&head, format::ENTRIES, index)?;
        let memo = section(&head, format::MEMO, index)?;
        let listings = section(&head, format::LISTINGS, index)?;
        let data = section(&head, format::DATA, data_file)?;
        let mut modules = Vec::new();
        for e in format::decode_entries(entries)? {
            let (start, len) = (e.data.0 as usize, e.data.1 as usize);
            let bytes = data
                .get(start..start.saturating_add(len))
                .ok_or(FormatError::Malformed("record place"))?;
            let parsed = format::decode_module(bytes)?;
            modules.push(CachedModule {
                path: e.path.to_vec(),
                stat: e.stat,
                symbols: ModuleSymbols::from(&parsed),
            });
        }
        let mut directories: Vec<CachedDirectory> = listings::decode(listings)?
            .into_iter()
            .map(|(path, l)| CachedDirectory {
                path,
                stat: l.stat,
                entries: (0..l.len())
                    .filter_map(|i| l.get(i))
                    .map(|e| (e.name.to_bytes().to_vec(), e.kind, e.ino))
                    .collect(),
            })
            .collect();
        directories.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(CacheFile {
            release: head.release,
            modules,
            memo: format::decode_memo(memo)?,
            directories,
        })
    }

    /// The cache's image (see [`split_image`]), as depmod writes its files.
    pub fn to_bytes(&self) -> Vec<u8> {
        let parsed: Vec<Parsed> = self
            .modules
            .iter()
            .map(|m| Parsed::from_symbols(&m.symbols))
            .collect();
        let entries: Vec<(&[u8], FileStat, &Parsed)> = self
            .modules
            .iter()
            .zip(&parsed)
            .map(|(m, p)| (m.path.as_slice(), m.stat, p))
            .collect();
        let listings: Vec<(Vec<u8>, Arc<listings::Listing>)> = self
            .directories
            .iter()
            .map(|d| {
                let mut l = listings::Listing::new(d.stat);
                for (name, kind, ino) in &d.entries {
                    l.push(name, *kind, *ino);
                }
                (d.path.clone(), Arc::new(l))
            })
            .collect();
        let listings = listings::encode(&listings);
        format::encode(&self.release, &entries, self.memo.as_ref(), &listings)
    }
}

/// A cache's two files as one buffer, its image: the index file, then the
/// data file it names. Gives the index file's bytes, the data file's
/// bytes and the data file's name (`<release>.depmod.<id>`), or the whole
/// image as the index when its head cannot be read.
pub fn split_image(image: &[u8]) -> (&[u8], &[u8], Option<String>) {
    let Ok(head) = format::Head::parse(image) else {
        return (image, &[], None);
    };
    let at = head.index_len().min(image.len());
    let name = format!(
        "{}.depmod.{:016x}",
        String::from_utf8_lossy(&head.release),
        head.data_id
    );
    (&image[..at], &image[at..], Some(name))
}

/// The image (see [`split_image`]) of the cache whose index file is at
/// `path`: that file and the data file it names, in the same directory.
pub fn read_image(path: &Path) -> Result<Vec<u8>, CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut image = fs::read(path).map_err(io)?;
    let head = format::Head::parse(&image).map_err(|source| CacheError::Format {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let data = data_file_in(dir, &head.release, head.data_id);
    let bytes = fs::read(&data).map_err(|source| CacheError::Io { path: data, source })?;
    image.extend_from_slice(&bytes);
    Ok(image)
}
