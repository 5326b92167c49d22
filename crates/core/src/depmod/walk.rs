//! The walk of a module directory, in raw readdir order, on every core:
//! the calling thread walks the top levels and hands each directory it
//! meets at [`SPLIT_DEPTH`] to whichever thread is free, and everything
//! found (files, messages) is put back in the order one thread walking
//! alone would have produced.
//!
//! A directory is opened where the walk meets it (its error reported in
//! place), and at most [`QUEUED`] wait open, so a wide tree cannot run out
//! of descriptors for this. A subdirectory unchanged since the cache
//! listed it is walked from that listing ([`Remembered`]).

use std::collections::VecDeque;
use std::ffi::CStr;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

use super::cache::listings::{Listing, Listings};
use super::cache::{self, FileStat};
use super::report::text;
use crate::config::DepmodConfig;
use crate::diagnostics::{errno_of, strerror};
use crate::dirs::{Dir, Entry, Stat};
use crate::module_file::MODULE_EXTENSIONS;

/// kmod's path buffers are PATH_MAX bytes; deeper directories are skipped.
const PATH_MAX: usize = 4096;

/// Whether a file name ends like a module (and is longer than the ending).
pub(crate) fn is_module_name(name: &[u8]) -> bool {
    MODULE_EXTENSIONS
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext.as_bytes()))
}

/// Directories this deep (the top is 0; `kernel/drivers/net` is 3) are
/// walked as separate pieces of work.
const SPLIT_DEPTH: usize = 3;

/// Open directories waiting for a thread, at most.
const QUEUED: usize = 32;

/// What the walk met, in order.
pub(crate) enum Item {
    /// A module file (target path), with its identity when asked for.
    File(Vec<u8>, Option<FileStat>),
    /// A message (kmod: ERROR).
    Error(Vec<u8>),
    /// Everything a subtree gave, at this place.
    Subtree(usize),
}

/// A directory to walk, open.
struct Subtree<'a> {
    dir: Dir,
    source: Source<'a>,
    path: Vec<u8>,
    depth: usize,
    ancestors: Vec<(u64, u64)>,
}

/// Subtrees waiting, and what the walked ones gave.
struct Shared<'a> {
    queue: VecDeque<(usize, Subtree<'a>)>,
    done: Vec<Option<Vec<Item>>>,
    /// The top walk is over: nothing more will be queued.
    finished: bool,
}

/// What the walk tells as soon as it sees that the tree changed since
/// `since`: a module file changed then (its ctime is not older), as an
/// added or replaced one has. `changed` gets its path. A hint that work
/// may be coming, nothing more: a removed file leaves nothing to see.
pub(crate) struct Watch<'a> {
    pub since: (i64, u32),
    pub changed: &'a (dyn Fn(&[u8]) + Sync),
}

/// Directory listings carried from one run to the next (see
/// `cache::listings`): those the cache holds, and those this walk leaves
/// for the next run, read or taken from the cache.
pub(crate) struct Remembered<'a> {
    known: &'a Listings,
    /// When the run started: a directory changed since shortly before is
    /// not remembered (a change within the same timestamp tick would not
    /// show).
    started: SystemTime,
    kept: Mutex<Vec<(Vec<u8>, Arc<Listing>)>>,
}

impl<'a> Remembered<'a> {
    pub fn new(known: &'a Listings, started: SystemTime) -> Remembered<'a> {
        Remembered {
            known,
            started,
            kept: Mutex::default(),
        }
    }

    fn keep(&self, path: &[u8], listing: Arc<Listing>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.push((path.to_vec(), listing));
    }

    /// Whether the walk kept exactly the listings the cache had.
    pub fn unchanged(&self) -> bool {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.len() == self.known.len()
            && kept
                .iter()
                .all(|(path, l)| self.known.get(path).is_some_and(|k| Arc::ptr_eq(k, l)))
    }

    /// The listings kept, taken out.
    pub fn take(&self) -> Vec<(Vec<u8>, Arc<Listing>)> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where a directory's entries come from.
enum Source<'a> {
    /// Read from the directory, and recorded to be kept when `Some`.
    Read(Option<(Vec<u8>, Listing)>),
    /// A remembered listing, from the entry at `.1` on.
    Remembered(&'a Listing, usize),
}

struct Walker<'w, 'a> {
    config: &'a DepmodConfig,
    stat: bool,
    watch: Option<&'a Watch<'a>>,
    remembered: Option<&'a Remembered<'a>>,
    shared: &'w (Mutex<Shared<'a>>, Condvar),
}

/// Walks `dir` (open; `path` its target path ending in `/`, `id` its
/// device and inode). `stat`: take each module file's identity (and tell
/// `watch` of changes). `remembered`: the listings to walk unchanged
/// directories from, and where to keep those read.
pub(crate) fn walk<'a>(
    config: &'a DepmodConfig,
    stat: bool,
    watch: Option<&'a Watch<'a>>,
    remembered: Option<&'a Remembered<'a>>,
    dir: Dir,
    path: Vec<u8>,
    id: (u64, u64),
) -> (Vec<Item>, Vec<Vec<Item>>) {
    let shared = (
        Mutex::new(Shared {
            queue: VecDeque::new(),
            done: Vec::new(),
            finished: false,
        }),
        Condvar::new(),
    );
    let w = Walker {
        config,
        stat,
        watch: watch.filter(|_| stat),
        remembered,
        shared: &shared,
    };
    let helpers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) - 1;
    let top = std::thread::scope(|scope| {
        for _ in 0..helpers {
            // Without a helper, the calling thread does all the work.
            let _ = std::thread::Builder::new().spawn_scoped(scope, || w.help());
        }
        let mut top = Vec::new();
        let mut path = path;
        let source = Source::Read(None);
        w.dir(dir, source, &mut path, 0, &mut vec![id], true, &mut top);
        w.lock().finished = true;
        w.shared.1.notify_all();
        w.help();
        top
    });
    let shared = shared.0.into_inner().unwrap_or_else(|e| e.into_inner());
    (
        top,
        shared
            .done
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
    )
}

impl<'a> Walker<'_, 'a> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<'a>> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes subtrees from the queue until the walk is over.
    fn help(&self) {
        loop {
            let mut shared = self.lock();
            let (n, sub) = loop {
                if let Some(job) = shared.queue.pop_front() {
                    break job;
                }
                if shared.finished {
                    return;
                }
                shared = self
                    .shared
                    .1
                    .wait(shared)
                    .unwrap_or_else(|e| e.into_inner());
            };
            drop(shared);
            let items = self.subtree(sub);
            self.lock().done[n] = Some(items);
        }
    }

    fn subtree(&self, sub: Subtree<'a>) -> Vec<Item> {
        let Subtree {
            dir,
            source,
            mut path,
            depth,
            mut ancestors,
        } = sub;
        let mut out = Vec::new();
        self.dir(
            dir,
            source,
            &mut path,
            depth,
            &mut ancestors,
            false,
            &mut out,
        );
        out
    }

    /// Subdirectory `name` of `dir` (`path` its target path, ending in
    /// `/`), and where its entries come from: its remembered listing when
    /// the directory is as it was then, else itself.
    fn open_sub(&self, dir: &Dir, name: &CStr, path: &[u8]) -> io::Result<(Dir, Source<'a>)> {
        let Some(r) = self.remembered else {
            return Ok((dir.open_sub(name)?, Source::Read(None)));
        };
        let identity = |d: &Dir| d.identity().ok().map(|st| FileStat::of_stat(st.raw()));
        let (sub, stat) = match r.known.get(path) {
            Some(known) => {
                let at = dir.open_sub_path(name)?;
                let stat = identity(&at);
                if stat == Some(known.stat) {
                    r.keep(path, Arc::clone(known));
                    return Ok((at, Source::Remembered(known, 0)));
                }
                (at.reopen()?, stat)
            }
            None => {
                let sub = dir.open_sub(name)?;
                let stat = identity(&sub);
                (sub, stat)
            }
        };
        let record = stat
            .filter(|stat| cache::settled(stat, r.started))
            .map(|stat| (path.to_vec(), Listing::new(stat)));
        Ok((sub, Source::Read(record)))
    }

    /// A directory and everything below it, depth first. `path` ends with
    /// `/`; `depth` gives the file descriptor number kmod would name in
    /// its messages (3 for the top). Each directory stays open while its
    /// subdirectories are walked, as in kmod. The walk keeps its own stack
    /// of open directories: a tree can be thousands of levels deep.
    /// `split`: hand subdirectories at [`SPLIT_DEPTH`] to the queue.
    #[allow(clippy::too_many_arguments)]
    fn dir(
        &self,
        dir: Dir,
        source: Source<'a>,
        path: &mut Vec<u8>,
        depth: usize,
        ancestors: &mut Vec<(u64, u64)>,
        split: bool,
        out: &mut Vec<Item>,
    ) {
        struct Level<'a> {
            dir: Dir,
            source: Source<'a>,
            base: usize,
            depth: usize,
        }
        let mut stack = vec![Level {
            dir,
            source,
            base: path.len(),
            depth,
        }];
        while let Some(level) = stack.last_mut() {
            let (base, depth) = (level.base, level.depth);
            let Some(entry) = self.next_entry(&mut level.dir, &mut level.source) else {
                // The end of the listing (an error ends it too).
                stack.pop();
                path.truncate(base);
                if !stack.is_empty() {
                    ancestors.pop();
                }
                continue;
            };
            let dir = &level.dir;
            let fd = 3 + depth;
            let name = entry.name.as_bytes();
            if self.config.is_excluded(name) {
                continue;
            }
            path.truncate(base);
            path.extend_from_slice(name);
            let known = match entry.kind {
                libc::DT_REG => Some(false),
                libc::DT_DIR => Some(true),
                libc::DT_UNKNOWN => match dir.stat(&entry.name, false) {
                    Ok(st) if st.is_file() => Some(false),
                    Ok(st) if st.is_dir() => Some(true),
                    _ => None,
                },
                _ => None,
            };
            // Symbolic links (and unknown types) are followed.
            let (is_dir, followed) = match known {
                Some(is_dir) => (is_dir, None),
                None => match dir.stat(&entry.name, true) {
                    Err(e) => {
                        let msg = text!(
                            b"fstatat(",
                            fd.to_string(),
                            b", ",
                            name,
                            b"): ",
                            strerror(errno_of(&e))
                        );
                        out.push(Item::Error(msg));
                        continue;
                    }
                    Ok(st) if st.is_dir() || st.is_file() => (st.is_dir(), Some(st)),
                    Ok(st) => {
                        let mode = format!("{:o}", st.format_bits());
                        out.push(Item::Error(text!(
                            b"unsupported file type ",
                            path,
                            b": ",
                            mode
                        )));
                        continue;
                    }
                },
            };
            if !is_dir {
                if is_module_name(name) {
                    let stat = match followed {
                        Some(st) => Some(FileStat::of_stat(st.raw())),
                        // Relative to the open directory: no path lookup.
                        None if self.stat => dir
                            .stat(&entry.name, false)
                            .ok()
                            .filter(Stat::is_file)
                            .map(|st| FileStat::of_stat(st.raw())),
                        None => None,
                    };
                    if let (Some(watch), Some(stat)) = (self.watch, &stat) {
                        if stat.ctime >= watch.since {
                            (watch.changed)(path);
                        }
                    }
                    out.push(Item::File(path.clone(), stat.filter(|_| self.stat)));
                }
                continue;
            }
            if base + name.len() + 2 >= PATH_MAX {
                path.truncate(base);
                out.push(Item::Error(text!(
                    b"directory path is too long ",
                    path,
                    name
                )));
                continue;
            }
            let id = match &followed {
                Some(st) => st.id(),
                None => (ancestors.last().map_or(0, |a| a.0), entry.ino),
            };
            // Only a symbolic link can lead back to an ancestor; kmod
            // would recurse until its path buffer overflows.
            if ancestors.contains(&id) {
                continue;
            }
            path.push(b'/');
            let (sub, source) = match self.open_sub(dir, &entry.name, path) {
                Ok(sub) => sub,
                Err(e) => {
                    let msg = text!(
                        b"openat(",
                        fd.to_string(),
                        b", ",
                        name,
                        b", O_RDONLY): ",
                        strerror(errno_of(&e))
                    );
                    out.push(Item::Error(msg));
                    continue;
                }
            };
            if split && depth + 1 == SPLIT_DEPTH {
                let mut below = ancestors.clone();
                below.push(id);
                let job = Subtree {
                    dir: sub,
                    source,
                    path: path.clone(),
                    depth: depth + 1,
                    ancestors: below,
                };
                self.queue(job, out);
            } else {
                ancestors.push(id);
                stack.push(Level {
                    dir: sub,
                    source,
                    base: path.len(),
                    depth: depth + 1,
                });
            }
        }
    }

    /// The next entry of a directory, from `source`. A listing read to its
    /// end without error is kept when it is to be.
    fn next_entry(&self, dir: &mut Dir, source: &mut Source<'a>) -> Option<Entry> {
        match source {
            Source::Remembered(listing, at) => {
                let e = listing.get(*at)?;
                *at += 1;
                Some(Entry {
                    name: e.name.to_owned(),
                    kind: e.kind,
                    ino: e.ino,
                })
            }
            Source::Read(record) => match dir.next() {
                Some(Ok(entry)) => {
                    if let Some((_, listing)) = record {
                        if !listing.push(entry.name.to_bytes(), entry.kind, entry.ino) {
                            *record = None;
                        }
                    }
                    Some(entry)
                }
                Some(Err(_)) => None,
                None => {
                    if let (Some((path, listing)), Some(r)) = (record.take(), self.remembered) {
                        r.keep(&path, Arc::new(listing));
                    }
                    None
                }
            },
        }
    }

    /// Hands a subtree to the other threads, or walks it here when enough
    /// are waiting already; its place in `out` is kept either way.
    fn queue(&self, job: Subtree<'a>, out: &mut Vec<Item>) {
        let mut shared = self.lock();
        let n = shared.done.len();
        shared.done.push(None);
        out.push(Item::Subtree(n));
        if shared.queue.len() < QUEUED {
            shared.queue.push_back((n, job));
            drop(shared);
            self.shared.1.notify_one();
        } else {
            drop(shared);
            let items = self.subtree(job);
            self.lock().done[n] = Some(items);
        }
    }
}
