//! depmod's cache: what it extracted from each module file, so that a run
//! reads only the files that changed since the last one.
//!
//! One file per kernel release, `/var/cache/modutils/<release>.depmod`
//! under the output prefix (`-o`, else `-b`) and `MODUTILS_SYSROOT`.
//! An entry is used only when the file's path (relative to the module
//! directory) and its identity — device, inode, size, mtime and ctime to
//! the nanosecond — are what they were when it was read. Nothing depmod.d
//! or an option says changes what is extracted from a file, so neither is
//! part of an entry's key (they are part of the memo's).
//!
//! The file is replaced whole (written under a temporary name, renamed),
//! so a concurrent reader holds either the old or the new one and needs no
//! lock. It is never trusted: anything unexpected in it — another format or
//! build version, another release, a short or corrupt section, a record
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
pub use format::{Digest, Event, FileStat, FormatError, Memo, FORMAT_VERSION, MAGIC, TOOL_VERSION};

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

    /// The cache file (host path).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Opens the cache, or `None` if there is none this run can use.
    pub fn load(&self) -> Option<Loaded> {
        // Not a FIFO someone put there (opening would wait for a writer),
        // not a link to somewhere else.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&self.file)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE || !trusted_owner(&meta) {
            return None;
        }
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
        let mut front = vec![0; entries_len + memo_len + listings_len];
        file.read_exact_at(&mut front, start as u64).ok()?;
        let (entries, rest) = front.split_at(entries_len);
        let (memo, listings) = rest.split_at(memo_len);
        head.verify(format::ENTRIES, entries).ok()?;
        head.verify(format::MEMO, memo).ok()?;
        head.verify(format::LISTINGS, listings).ok()?;
        let memo = format::decode_memo(memo).ok()?;
        let listings = listings::decode(listings).ok()?;
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
            file,
            written: (meta.mtime(), meta.mtime_nsec() as u32),
            head,
            entries,
            memo,
            listings,
        })
    }

    /// Replaces the cache with one of these modules (path, identity,
    /// data) and `memo`; any failure leaves the old one.
    pub fn store(
        &self,
        entries: &[(&[u8], FileStat, &Parsed)],
        memo: Option<&Memo>,
        listings: &[u8],
    ) {
        self.replace(&mut |file| format::write(file, &self.release, entries, memo, listings));
    }

    /// Replaces the cache with `old` whose entries have the identities
    /// `stats` (one per entry, in order) and whose records and memo stay as
    /// they are: the records are copied from the old file, not decoded.
    pub fn store_restamped(&self, old: &Loaded, stats: &[FileStat], listings: &[u8]) {
        let mut entries = format::Entries::default();
        for (e, stat) in old.entries.iter().zip(stats) {
            entries.push(&e.path, *stat, e.data);
        }
        let (start, len) = old.head.sections[format::DATA];
        let front = format::front(
            &self.release,
            &entries,
            old.memo.as_ref(),
            listings,
            (len, old.head.crc(format::DATA)),
        );
        self.replace(&mut |file| {
            format::Destination::expect(file, front.len() + len);
            file.write_all(&front)?;
            copy_range(&old.file, start as u64, len, file)
        });
    }

    /// Replaces the cache with one whose data section is `old`'s, copied
    /// as it is, followed by the records of the modules read this run:
    /// after a module added or removed, re-encoding thousands of records
    /// the old file already holds took longer than every output. The
    /// records of modules gone stay behind, unreferenced, until a full
    /// write (see [`Place::worth_appending`]). `false` when the offsets
    /// would not fit the format; the caller then writes it whole.
    pub fn store_appended(
        &self,
        old: &Loaded,
        entries: &[(&[u8], FileStat, Source<'_>)],
        memo: Option<&Memo>,
        listings: &[u8],
    ) -> bool {
        let (start, len) = old.head.sections[format::DATA];
        let mut heads = format::Entries::default();
        let mut added = Vec::new();
        for (path, stat, source) in entries {
            let at = match source {
                Source::Kept(at) => *at,
                Source::New(parsed) => {
                    let from = added.len();
                    format::encode_module(parsed, &mut added);
                    let (Ok(at), Ok(n)) =
                        (u32::try_from(len + from), u32::try_from(added.len() - from))
                    else {
                        return false;
                    };
                    (at, n)
                }
            };
            heads.push(path, *stat, at);
        }
        let total = len + added.len();
        if u32::try_from(total).is_err() {
            return false;
        }
        let mut crc =
            crc32fast::Hasher::new_with_initial_len(old.head.crc(format::DATA), len as u64);
        crc.update(&added);
        let data = (total, crc.finalize());
        let front = format::front(&self.release, &heads, memo, listings, data);
        self.replace(&mut |file| {
            format::Destination::expect(file, front.len() + total);
            file.write_all(&front)?;
            copy_range(&old.file, start as u64, len, file)?;
            file.write_all(&added)
        });
        true
    }

    /// Whether a new cache keeping `kept` bytes of `old`'s data section
    /// should be written by [`Place::store_appended`]: not once a quarter
    /// of the section would be records no entry uses, which a full write
    /// leaves out.
    pub fn worth_appending(old: &Loaded, kept: usize) -> bool {
        let len = old.head.sections[format::DATA].1;
        len.saturating_sub(kept) <= len / 4
    }

    /// Writes a new cache file with `fill` and puts it in place; any
    /// failure leaves the old one.
    fn replace(&self, fill: &mut dyn FnMut(&mut File) -> std::io::Result<()>) {
        let _ = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir);
        let Some(tmp) = write_unnamed(&self.dir, fill).or_else(|| write_named(&self.dir, fill))
        else {
            return;
        };
        if fs::rename(&tmp, &self.file).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

/// Where a module's record in a new cache comes from.
pub(crate) enum Source<'a> {
    /// The old cache's record at this place in its data section.
    Kept((u32, u32)),
    /// Encoded from what was read this run.
    New(&'a Parsed),
}

/// A new cache file's blocks are allocated before it is written. ext4
/// starts writing out a file whose blocks are still to be allocated when
/// it is renamed over another (so that a crash cannot leave an empty file
/// where the old one was), and a run waited milliseconds for that, and for
/// the old file's pages still being written out when the next run
/// replaced it. After a crash, blocks not yet written read as zeros: the
/// cache's checksums then fail and it is ignored, as any damaged cache is.
impl format::Destination for File {
    fn expect(&mut self, len: usize) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(self);
        let len = libc::off_t::try_from(len).unwrap_or(0);
        // SAFETY: a plain system call on a descriptor this File owns. Its
        // failure (a file system without it) leaves the file as it was.
        unsafe { libc::fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, 0, len) };
    }
}

/// Copies `len` bytes at `offset` of `from` to the end of `to`, in the
/// kernel where it can.
fn copy_range(from: &File, offset: u64, len: usize, to: &mut File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut from = from;
    from.seek(SeekFrom::Start(offset))?;
    // std copies File to File with copy_file_range(2) when it can.
    let copied = std::io::copy(&mut from.take(len as u64), to)?;
    if copied == len as u64 {
        Ok(())
    } else {
        Err(std::io::ErrorKind::UnexpectedEof.into())
    }
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
    file: File,
    /// When the cache file was written (its mtime, seconds and ns).
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
        self.file
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
        let file = &self.file;
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
    /// Reads and checks the cache file at `path` (a host path), as
    /// [`CacheFile::from_bytes`]; no checks of owner or mode.
    pub fn open(path: &Path) -> Result<CacheFile, CacheError> {
        let bytes = fs::read(path).map_err(|source| CacheError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        CacheFile::from_bytes(&bytes).map_err(|source| CacheError::Format {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Decodes and checks a whole cache file, every record included.
    pub fn from_bytes(bytes: &[u8]) -> Result<CacheFile, FormatError> {
        let head = format::Head::decode(bytes, bytes.len())?;
        let section = |i: usize| {
            let (start, len) = head.sections[i];
            let s = &bytes[start..start + len];
            head.verify(i, s).map(|()| s)
        };
        let (entries, memo) = (section(format::ENTRIES)?, section(format::MEMO)?);
        let (listings, data) = (section(format::LISTINGS)?, section(format::DATA)?);
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

    /// The file's bytes, as depmod writes them.
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
