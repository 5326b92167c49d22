//! Finding the module files: a recursive walk in raw readdir order, with
//! kmod's rules for names that appear more than once.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use super::cache::FileStat;
use super::report::{text, Reporter};
use super::walk::{self, is_module_name, Item};
use crate::config::DepmodConfig;
use crate::diagnostics::{errno_of, strerror, Level};
use crate::dirs::Dir;
use crate::name::modname_normalize;
use crate::Root;

/// kmod's path buffers are PATH_MAX bytes; deeper directories are skipped.
const PATH_MAX: usize = 4096;

/// A module file chosen by the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Target path as kmod spells it: `<dir>/<relative path>`.
    pub path: Vec<u8>,
    /// Index of the last `/` in `path`.
    pub dir_len: usize,
    /// The module name: file name up to the first `.`, `-` made `_`.
    pub name: Vec<u8>,
    /// The file's identity when it was found, for the cache (taken only
    /// when a cache is in use).
    pub stat: Option<FileStat>,
}

impl Found {
    pub fn new(path: Vec<u8>, stat: Option<FileStat>) -> Found {
        let slash = path.iter().rposition(|&b| b == b'/');
        let name = modname_normalize(&path[slash.map_or(0, |i| i + 1)..]);
        let dir_len = slash.unwrap_or(0);
        Found {
            path,
            dir_len,
            name,
            stat,
        }
    }
}

/// The scan's result: one file per module name, in no particular order.
pub(crate) struct Scan<'r> {
    config: &'r DepmodConfig,
    dirname: &'r [u8],
    root: &'r Root,
    by_name: super::hash::FastMap<Vec<u8>, usize>,
    pub found: Vec<Option<Found>>,
    /// Whether module files are stat'ed, to compare with a cache's entries.
    pub stat: bool,
    /// Told as soon as the walk sees the tree changed (with `stat`).
    pub watch: Option<&'r walk::Watch<'r>>,
    /// Directory listings from the cache, and those to keep.
    pub remembered: Option<&'r walk::Remembered<'r>>,
}

/// Why the walk of the module directory itself failed (kmod: FATAL).
#[derive(Debug)]
pub(crate) struct SearchFailed(pub i32);

impl<'r> Scan<'r> {
    pub fn new(config: &'r DepmodConfig, dirname: &'r [u8], root: &'r Root) -> Scan<'r> {
        Scan {
            config,
            dirname,
            root,
            by_name: Default::default(),
            found: Vec::new(),
            stat: false,
            watch: None,
            remembered: None,
        }
    }

    /// Walks the module directory, then the external directories (kmod
    /// visits those newest-configured first). A missing external directory
    /// is reported and skipped; any other failure to open a top directory
    /// ends the search.
    pub fn run(&mut self, rep: &mut dyn Reporter) -> Result<(), SearchFailed> {
        self.walk_top(self.dirname.to_vec(), rep)?;
        for ext in self.config.externals_in_scan_order() {
            match self.walk_top(ext.to_vec(), rep) {
                Err(SearchFailed(libc::ENOENT)) | Ok(()) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn walk_top(&mut self, dir: Vec<u8>, rep: &mut dyn Reporter) -> Result<(), SearchFailed> {
        let host = self.root.host_bytes(&dir);
        let entries = match Dir::open(&host) {
            Ok(entries) => entries,
            Err(e) => {
                rep.log(
                    Level::Err,
                    &text!(
                        b"could not open directory ",
                        dir,
                        b": ",
                        strerror(errno_of(&e))
                    ),
                );
                return Err(SearchFailed(errno_of(&e)));
            }
        };
        let id = fs::metadata(&host)
            .map(|m| (m.dev(), m.ino()))
            .unwrap_or((0, 0));
        let mut path = dir;
        path.push(b'/');
        let (top, subtrees) = walk::walk(
            self.config,
            self.stat,
            self.watch,
            self.remembered,
            entries,
            path,
            id,
        );
        let mut subtrees: Vec<Option<Vec<Item>>> = subtrees.into_iter().map(Some).collect();
        for item in top {
            let items = match item {
                Item::Subtree(n) => subtrees
                    .get_mut(n)
                    .and_then(Option::take)
                    .unwrap_or_default(),
                item => vec![item],
            };
            for item in items {
                match item {
                    Item::File(path, stat) => self.consider(path, stat),
                    Item::Error(msg) => rep.log(Level::Err, &msg),
                    Item::Subtree(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Adds a module file, or lets it replace or lose to an earlier file of
    /// the same module name.
    fn consider(&mut self, path: Vec<u8>, stat: Option<FileStat>) {
        let new = Found::new(path, stat);
        match self.by_name.get(&new.name) {
            None => {
                self.by_name.insert(new.name.clone(), self.found.len());
                self.found.push(Some(new));
            }
            Some(&at) => {
                let Some(old) = &self.found[at] else { return };
                if !self
                    .config
                    .existing_wins(self.dirname, &old.path, &new.path)
                {
                    self.found[at] = Some(new);
                }
            }
        }
    }

    /// Adds a module named on the command line. A second file with the
    /// same module name is refused, as kmod does: `Err` gives the module
    /// name and the path already added under it.
    pub fn add_explicit(
        &mut self,
        path: Vec<u8>,
        stat: Option<FileStat>,
    ) -> Result<(), (Vec<u8>, Vec<u8>)> {
        let new = Found::new(path, stat);
        if let Some(&at) = self.by_name.get(&new.name) {
            let old = self.found[at]
                .as_ref()
                .map(|f| f.path.clone())
                .unwrap_or_default();
            return Err((new.name, old));
        }
        self.by_name.insert(new.name.clone(), self.found.len());
        self.found.push(Some(new));
        Ok(())
    }

    pub fn into_found(self) -> Vec<Found> {
        self.found.into_iter().flatten().collect()
    }
}

/// `-A`: whether `modules.dep` is at least as new (in whole seconds) as
/// every module file under the module directory. Problems are reported and
/// count as "not up to date" only where kmod's walk would say so.
pub(crate) fn up_to_date(root: &Root, dirname: &[u8], rep: &mut dyn Reporter) -> bool {
    let host = root.host_bytes(dirname);
    if let Err(e) = fs::read_dir(&host) {
        rep.log(
            Level::Err,
            &text!(
                b"could not open directory ",
                dirname,
                b": ",
                strerror(errno_of(&e))
            ),
        );
        return false;
    }
    let dep = match fs::metadata(host.join("modules.dep")) {
        Ok(m) => m.mtime(),
        Err(e) => {
            let msg = text!(
                b"could not fstatat(",
                dirname,
                b", modules.dep): ",
                strerror(errno_of(&e))
            );
            rep.log(Level::Err, &msg);
            return false;
        }
    };
    let mut path = dirname.to_vec();
    path.push(b'/');
    quick_walk(root, &mut path, 0, dep, rep)
}

/// False at the first module file newer than `mtime`.
fn quick_walk(
    root: &Root,
    path: &mut Vec<u8>,
    depth: usize,
    mtime: i64,
    rep: &mut dyn Reporter,
) -> bool {
    let entries = match fs::read_dir(root.host_bytes(path)) {
        Ok(entries) => entries,
        Err(e) => {
            let name = path[..path.len() - 1]
                .rsplit(|&b| b == b'/')
                .next()
                .unwrap_or(b"");
            let msg = text!(
                b"openat(",
                (2 + depth).to_string(),
                b", ",
                name,
                b", O_RDONLY): ",
                strerror(errno_of(&e))
            );
            rep.log(Level::Err, &msg);
            return true;
        }
    };
    let base = path.len();
    let mut fresh = true;
    for entry in entries {
        let Ok(entry) = entry else { break };
        let file_name = entry.file_name();
        let name = file_name.as_bytes();
        if name == b"build" || name == b"source" || base + name.len() + 2 >= PATH_MAX {
            continue;
        }
        path.truncate(base);
        path.extend_from_slice(name);
        let meta = match fs::metadata(root.host_bytes(path)) {
            Ok(m) => m,
            Err(e) => {
                let msg = text!(
                    b"fstatat(",
                    (3 + depth).to_string(),
                    b", ",
                    name,
                    b"): ",
                    strerror(errno_of(&e))
                );
                rep.log(Level::Err, &msg);
                continue;
            }
        };
        if meta.is_dir() {
            path.push(b'/');
            fresh = quick_walk(root, path, depth + 1, mtime, rep);
        } else if meta.is_file() {
            if is_module_name(name) {
                fresh = meta.mtime() <= mtime;
            }
        } else {
            let mode = format!("{:o}", meta.mode() & libc::S_IFMT);
            rep.log(
                Level::Err,
                &text!(b"unsupported file type ", path, b": ", mode),
            );
        }
        if !fresh {
            break;
        }
    }
    path.truncate(base);
    fresh
}
