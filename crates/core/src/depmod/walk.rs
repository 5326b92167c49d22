//! The walk of a module directory, in raw readdir order, on every core:
//! the calling thread walks the top levels and hands each directory it
//! meets at [`SPLIT_DEPTH`] to whichever thread is free, and everything
//! found (files, messages) is put back in the order one thread walking
//! alone would have produced.
//!
//! A directory is opened where the walk meets it (its error reported in
//! place), and at most [`QUEUED`] wait open, so a wide tree cannot run out
//! of descriptors for this.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use super::cache::FileStat;
use super::report::text;
use crate::config::DepmodConfig;
use crate::diagnostics::{errno_of, strerror};
use crate::dirs::{Dir, Stat};
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
struct Subtree {
    dir: Dir,
    path: Vec<u8>,
    depth: usize,
    ancestors: Vec<(u64, u64)>,
}

/// Subtrees waiting, and what the walked ones gave.
#[derive(Default)]
struct Shared {
    queue: VecDeque<(usize, Subtree)>,
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

struct Walker<'a> {
    config: &'a DepmodConfig,
    stat: bool,
    watch: Option<&'a Watch<'a>>,
    shared: &'a (Mutex<Shared>, Condvar),
}

/// Walks `dir` (open; `path` its target path ending in `/`, `id` its
/// device and inode). `stat`: take each module file's identity (and tell
/// `watch` of changes).
pub(crate) fn walk(
    config: &DepmodConfig,
    stat: bool,
    watch: Option<&Watch<'_>>,
    dir: Dir,
    path: Vec<u8>,
    id: (u64, u64),
) -> (Vec<Item>, Vec<Vec<Item>>) {
    let shared = (Mutex::new(Shared::default()), Condvar::new());
    let w = Walker {
        config,
        stat,
        watch: watch.filter(|_| stat),
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
        w.dir(dir, &mut path, 0, &mut vec![id], true, &mut top);
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

impl Walker<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
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

    fn subtree(&self, sub: Subtree) -> Vec<Item> {
        let Subtree {
            dir,
            mut path,
            depth,
            mut ancestors,
        } = sub;
        let mut out = Vec::new();
        self.dir(dir, &mut path, depth, &mut ancestors, false, &mut out);
        out
    }

    /// A directory and everything below it, depth first. `path` ends with
    /// `/`; `depth` gives the file descriptor number kmod would name in
    /// its messages (3 for the top). Each directory stays open while its
    /// subdirectories are walked, as in kmod. The walk keeps its own stack
    /// of open directories: a tree can be thousands of levels deep.
    /// `split`: hand subdirectories at [`SPLIT_DEPTH`] to the queue.
    fn dir(
        &self,
        dir: Dir,
        path: &mut Vec<u8>,
        depth: usize,
        ancestors: &mut Vec<(u64, u64)>,
        split: bool,
        out: &mut Vec<Item>,
    ) {
        struct Level {
            dir: Dir,
            base: usize,
            depth: usize,
        }
        let mut stack = vec![Level {
            dir,
            base: path.len(),
            depth,
        }];
        while let Some(level) = stack.last_mut() {
            let (base, depth) = (level.base, level.depth);
            let Some(Ok(entry)) = level.dir.next() else {
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
            let sub = match dir.open_sub(&entry.name) {
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
            path.push(b'/');
            if split && depth + 1 == SPLIT_DEPTH {
                let mut below = ancestors.clone();
                below.push(id);
                let job = Subtree {
                    dir: sub,
                    path: path.clone(),
                    depth: depth + 1,
                    ancestors: below,
                };
                self.queue(job, out);
            } else {
                ancestors.push(id);
                stack.push(Level {
                    dir: sub,
                    base: path.len(),
                    depth: depth + 1,
                });
            }
        }
    }

    /// Hands a subtree to the other threads, or walks it here when enough
    /// are waiting already; its place in `out` is kept either way.
    fn queue(&self, job: Subtree, out: &mut Vec<Item>) {
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
