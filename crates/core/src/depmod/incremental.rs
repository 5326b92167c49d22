//! How a run uses the cache: which modules it already knows, whether the
//! memo says the outputs on disk are already this run's, and the cache the
//! run leaves behind.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use super::cache::{self, Digest, Digester, Loaded, Memo};
use super::hash::FastSet;
use super::order;
use super::output::Output;
use super::parse::{self, Parsed};
use super::scan::Found;
use super::symvers::KernelSymbols;
use super::ModuleSymbols;
use crate::Root;

/// The modules of a run (in module-array order) matched against a cache.
pub(super) struct Known<'c> {
    /// Each module's entry in the cache, when the cache has the module as
    /// its file is now.
    hits: Vec<Option<usize>>,
    /// The cache lists exactly these paths, in this order (each file as it
    /// is now or not).
    same_paths: bool,
    loaded: Option<&'c Loaded>,
}

impl<'c> Known<'c> {
    /// `keys` are the modules' cache keys (path relative to the module
    /// directory, or the full target path).
    pub fn new(loaded: Option<&'c Loaded>, keys: &[&[u8]], modules: &[Found]) -> Known<'c> {
        let Some(cache) = loaded else {
            return Known {
                hits: vec![None; modules.len()],
                same_paths: false,
                loaded: None,
            };
        };
        let entries = &cache.entries;
        let same_paths =
            entries.len() == modules.len() && entries.iter().zip(keys).all(|(e, k)| e.path == *k);
        let hits = if same_paths {
            (0..entries.len())
                .map(|i| (modules[i].stat == Some(entries[i].stat)).then_some(i))
                .collect()
        } else {
            let by_key: super::hash::FastMap<&[u8], usize> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.path.as_slice(), i))
                .collect();
            keys.iter()
                .zip(modules)
                .map(|(k, m)| {
                    by_key
                        .get(k)
                        .copied()
                        .filter(|&i| m.stat == Some(entries[i].stat))
                })
                .collect()
        };
        Known {
            hits,
            same_paths,
            loaded,
        }
    }

    /// The memo of a cache that lists exactly this run's module paths
    /// (whether each file is still the one read is [`Known::restamp`]'s
    /// question).
    pub fn memo(&self) -> Option<&'c Memo> {
        self.loaded.filter(|_| self.same_paths)?.memo.as_ref()
    }

    /// When the memo's run had these very paths: reads each module whose
    /// file changed since and compares what it holds with its cached
    /// record. A file replaced by one with the same symbols, aliases and
    /// dependencies (a module rebuilt from changed code) leaves every
    /// output as it was. Gives each entry's identity for the new cache
    /// when that holds for every module, and what was read either way.
    pub fn restamp(
        &self,
        paths: &[&[u8]],
        modules: &[Found],
        root: &Root,
        started: SystemTime,
    ) -> (Option<Vec<cache::FileStat>>, Vec<(usize, Parsed)>) {
        let Some(cache) = self.loaded.filter(|_| self.same_paths) else {
            return (None, Vec::new());
        };
        let mut stats: Vec<cache::FileStat> = cache.entries.iter().map(|e| e.stat).collect();
        let missing: Vec<usize> = (0..paths.len()).filter(|&i| !self.is_hit(i)).collect();
        if missing.is_empty() {
            // Nothing to read: the thread pool is not even started.
            return (Some(stats), Vec::new());
        }
        let miss_paths: Vec<&[u8]> = missing.iter().map(|&i| paths[i]).collect();
        let read: Vec<(usize, Parsed)> = missing
            .into_iter()
            .zip(
                parse::parse_all(&miss_paths, root)
                    .into_iter()
                    .map(|(p, _)| p),
            )
            .collect();
        for (i, parsed) in &read {
            // Records differ in where they keep their strings, not in what
            // they say: compared as what depmod reads from a module.
            let same = parsed.error.is_none()
                && cache
                    .record(cache.entries[*i].data)
                    .is_some_and(|old| ModuleSymbols::from(&old) == ModuleSymbols::from(parsed));
            match modules[*i].stat {
                Some(stat) if same => stats[*i] = kept_stat(stat, started),
                _ => return (None, read),
            }
        }
        (Some(stats), read)
    }

    pub fn is_hit(&self, i: usize) -> bool {
        self.hits[i].is_some()
    }

    /// Whether the cache knows any module as its file is now.
    pub fn any_hit(&self) -> bool {
        self.hits.iter().any(Option::is_some)
    }

    /// Every module's data: from the cache's `records` where it is known,
    /// else read from its file. Every record of the cache must have
    /// decoded (`records` is `None` if not), or the run reads every file as
    /// without a cache. `read` holds modules already read from their files.
    /// Also gives the identity of each file read here, as it was opened.
    pub fn parsed(
        &mut self,
        paths: &[&[u8]],
        root: &Root,
        read: Vec<(usize, Parsed)>,
        records: Option<Records>,
    ) -> (Vec<Parsed>, Vec<Option<cache::FileStat>>) {
        let records = records.filter(|_| self.loaded.is_some() && self.any_hit());
        let mut out: Vec<Option<Parsed>> = match records {
            Some(mut records) => self
                .hits
                .iter()
                .map(|h| h.and_then(|i| records[i].take()))
                .collect(),
            None => {
                self.hits.iter_mut().for_each(|h| *h = None);
                std::iter::repeat_with(|| None).take(paths.len()).collect()
            }
        };
        for (i, parsed) in read {
            out[i] = Some(parsed);
        }
        let missing: Vec<usize> = (0..paths.len()).filter(|&i| out[i].is_none()).collect();
        let miss_paths: Vec<&[u8]> = missing.iter().map(|&i| paths[i]).collect();
        let mut stats = vec![None; paths.len()];
        for (i, (p, stat)) in missing.into_iter().zip(parse::parse_all(&miss_paths, root)) {
            out[i] = Some(p);
            stats[i] = stat;
        }
        (out.into_iter().flatten().collect(), stats)
    }
}

/// Every record of a cache, decoded, in its entries' order.
pub(super) type Records = Vec<Option<Parsed>>;

/// A cache's records being decoded, a chunk of entries at a time, by
/// whichever threads take part: the side thread from when it is told to,
/// and every thread of the pool once the run needs them.
struct Decoding {
    data: Arc<cache::format::Data>,
    /// The next chunk to take.
    next: AtomicUsize,
    /// Each chunk's records once decoded; `Some(None)`: one did not decode.
    chunks: Vec<Mutex<Option<Option<Records>>>>,
}

/// Records decoded between two looks at whether to stop.
const RECORDS_AT_ONCE: usize = 64;

impl Decoding {
    /// `None` when the data section is not there as the head says, or
    /// `stop` is set before it is checked.
    fn new(cache: &Loaded, stop: &AtomicBool) -> Option<Decoding> {
        let data = Arc::new(cache.data(stop)?);
        let chunks = cache.entries.len().div_ceil(RECORDS_AT_ONCE);
        Some(Decoding {
            data,
            next: AtomicUsize::new(0),
            chunks: (0..chunks).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Decodes chunks until none is left or `stop` is set.
    fn work(&self, cache: &Loaded, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = self.chunks.get(i) else {
                return;
            };
            let start = i * RECORDS_AT_ONCE;
            let end = (start + RECORDS_AT_ONCE).min(cache.entries.len());
            let records: Option<Records> = cache.entries[start..end]
                .iter()
                .map(|e| cache::record(&self.data, e.data).map(Some))
                .collect();
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(records);
        }
    }

    /// [`Decoding::work`] on every thread of the pool, until every chunk
    /// is taken.
    fn work_in_parallel(&self, cache: &Loaded) {
        let never = AtomicBool::new(false);
        rayon::broadcast(|_| self.work(cache, &never));
    }

    /// Every record, in the entries' order, once every chunk is done.
    fn finish(self) -> Option<Records> {
        let mut out = Vec::new();
        for slot in self.chunks {
            out.extend(
                slot.into_inner()
                    .unwrap_or_else(PoisonError::into_inner)??,
            );
        }
        Some(out)
    }
}

/// The cache's thread. It first finds out whether the outputs on disk are
/// the memo's. If so, the run may have nothing to do, and the thread waits
/// for a sign of work (a changed module file seen by the search for
/// modules, [`Go`]) before it decodes every record; if not, it decodes
/// them at once. Neither depends on the search, which mostly waits for the
/// file system. A run that does not need the records does not wait for
/// the thread: dropping this tells it to stop, and it frees what it made.
pub(super) struct Side {
    unchanged: std::sync::mpsc::Receiver<bool>,
    /// What the thread decodes, once it has the data section.
    decoding: std::sync::mpsc::Receiver<Option<Arc<Decoding>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    go: Go,
    /// Set by the thread when it starts decoding.
    started: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

/// Tells the side thread, once, to decode.
struct Go {
    tell: std::sync::mpsc::Sender<()>,
    told: AtomicBool,
}

impl Go {
    fn now(&self) {
        if !self.told.swap(true, Ordering::Relaxed) {
            let _ = self.tell.send(());
        }
    }
}

impl Side {
    /// Starts the thread; `use_memo`: whether a memo may spare the run.
    pub fn start(loaded: &Arc<cache::Loaded>, use_memo: bool, outdir: PathBuf) -> Option<Side> {
        let (tell, unchanged) = std::sync::mpsc::channel();
        let (go, wait) = std::sync::mpsc::channel();
        let (publish, decoding) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (loaded, stopped, starting) =
            (Arc::clone(loaded), Arc::clone(&stop), Arc::clone(&started));
        let thread = std::thread::Builder::new()
            .spawn(move || {
                let memo = loaded.memo.as_ref().filter(|_| use_memo);
                let unchanged = memo.is_some_and(|m| outputs_unchanged(m, &outdir));
                let _ = tell.send(unchanged);
                // Told to stop when the sender is gone.
                if unchanged && wait.recv().is_err() {
                    return;
                }
                starting.store(true, Ordering::Relaxed);
                let Some(work) = Decoding::new(&loaded, &stopped).map(Arc::new) else {
                    let _ = publish.send(None);
                    return;
                };
                let _ = publish.send(Some(Arc::clone(&work)));
                work.work(&loaded, &stopped);
            })
            .ok()?;
        Some(Side {
            unchanged,
            decoding,
            thread: Some(thread),
            go: Go {
                tell: go,
                told: AtomicBool::new(false),
            },
            started,
            stop,
        })
    }

    /// Whether the outputs on disk are those the memo's run wrote.
    pub fn unchanged(&self) -> bool {
        self.unchanged.recv().unwrap_or(false)
    }

    /// The cache's records. If the thread has started on them, every
    /// thread of the pool joins it on what it has not yet decoded. If not
    /// (a module removed leaves no changed file to see), it is told to
    /// stop and the pool decodes them all.
    pub fn records(mut self, loaded: &Loaded) -> Option<Records> {
        if !self.started.load(Ordering::Relaxed) {
            self.stop.store(true, Ordering::Relaxed);
            let work = Decoding::new(loaded, &AtomicBool::new(false))?;
            work.work_in_parallel(loaded);
            return work.finish();
        }
        let work = self.decoding.recv().ok()??;
        work.work_in_parallel(loaded);
        // The thread's share of the work ends with its last chunk.
        self.thread.take()?.join().ok()?;
        Arc::into_inner(work)?.finish()
    }

    /// What the search for modules calls with each module file changed
    /// since the cache was written. A file the cache knows by its path was
    /// replaced, which may leave every output as it is (see
    /// [`Known::restamp`]): only one it does not know tells the thread to
    /// decode.
    pub fn on_changed<'a>(
        &'a self,
        loaded: &'a Loaded,
        dirname: &'a [u8],
    ) -> impl Fn(&[u8]) + Sync + 'a {
        let (known, go) = (std::sync::OnceLock::<FastSet<&[u8]>>::new(), &self.go);
        move |path: &[u8]| {
            let key = order::relpath_start(path, dirname).map_or(path, |at| &path[at..]);
            let known =
                known.get_or_init(|| loaded.entries.iter().map(|e| e.path.as_slice()).collect());
            if !known.contains(key) {
                go.now();
            }
        }
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Everything besides the modules that decides a run's outputs and
/// messages once its modules are known: the memo holds its digest.
pub(super) struct Inputs<'a> {
    pub dirname: &'a [u8],
    pub outdirname: &'a [u8],
    pub options: &'a super::Options,
    pub kernel: &'a KernelSymbols,
    pub builtin: &'a Result<Vec<u8>, i32>,
    pub builtin_modinfo: &'a Result<Vec<u8>, i32>,
}

impl Inputs<'_> {
    pub fn digest(&self) -> Digest {
        let mut d = Digester::default();
        let o = self.options;
        d.field(self.dirname);
        d.field(self.outdirname);
        let flags = [
            o.verbose,
            o.warn,
            o.dry_run,
            self.kernel.print_unknown,
            self.kernel.check_crcs,
        ];
        d.field(&flags.map(u8::from));
        d.field(&o.symbol_prefix.map_or(vec![], |c| vec![c]));
        d.update(&(self.kernel.symbols.len() as u64).to_le_bytes());
        for (name, crc) in &self.kernel.symbols {
            d.field(name);
            d.update(&crc.to_le_bytes());
        }
        for file in [self.builtin, self.builtin_modinfo] {
            match file {
                Ok(bytes) => d.field(bytes),
                Err(errno) => d.field(&errno.to_le_bytes()),
            }
        }
        d.finish()
    }
}

/// Whether every output file under `outdir` (host path) is the one the
/// memo's run wrote. One thread, the one it is called on: it runs beside
/// the walk of the module directory, which takes longer, and a run with
/// nothing to do then never starts the thread pool.
pub(super) fn outputs_unchanged(memo: &Memo, outdir: &std::path::Path) -> bool {
    memo.outputs.len() == Output::ALL.len()
        && Output::ALL.iter().zip(&memo.outputs).all(|(output, want)| {
            Digester::of_file(&outdir.join(output.file_name())).is_ok_and(|d| d == *want)
        })
}

/// The identity a module's entry is stored with: a file changed too
/// recently gets one that no file has, so it is read again next time.
fn kept_stat(stat: cache::FileStat, started: SystemTime) -> cache::FileStat {
    if cache::settled(&stat, started) {
        stat
    } else {
        cache::FileStat::UNSETTLED
    }
}

/// What a run leaves in the cache: every module that was read without
/// error (one changed too recently under an identity no file has), and the
/// memo when that is every module and one is given. Records the old cache
/// holds are copied from it when that is worth it.
pub(super) struct Leaving<'a> {
    /// The modules' cache keys, identities (where known) and data.
    pub keys: &'a [&'a [u8]],
    pub stats: &'a [Option<cache::FileStat>],
    pub parsed: &'a [Parsed],
    pub known: &'a Known<'a>,
    pub started: SystemTime,
}

impl Leaving<'_> {
    /// The identity module `i` is kept under, if the cache is to hold it
    /// (it was read without error and its identity is known).
    fn stored_stat(&self, i: usize) -> Option<cache::FileStat> {
        let stat = self.stats[i]?;
        self.parsed[i].error.is_none().then(|| {
            if self.known.is_hit(i) {
                stat
            } else {
                kept_stat(stat, self.started)
            }
        })
    }

    /// (key, identity, module) of each module the cache is to hold.
    fn stored(&self) -> Vec<(&[u8], cache::FileStat, usize)> {
        (0..self.stats.len())
            .filter_map(|i| Some((self.keys[i], self.stored_stat(i)?, i)))
            .collect()
    }

    /// The data file the new cache is to name: written whole when no
    /// module came from the old cache, else (when worth it) the old one
    /// with this run's records appended. `None` leaves the data to
    /// [`Leaving::store`], which writes it whole.
    pub fn data_file(&self, place: &cache::Place) -> Option<cache::DataFile> {
        let known = self.known;
        let stored = self.stored();
        let Some(old) = known.loaded.filter(|_| known.any_hit()) else {
            return place.write_data(&self.with_data(stored));
        };
        let kept = |i: usize| Some(old.entries[known.hits[i]?].data);
        let kept_bytes = stored
            .iter()
            .filter_map(|&(_, _, i)| kept(i))
            .map(|(_, len)| len as usize)
            .sum();
        if !cache::Place::worth_appending(old, kept_bytes) {
            return None;
        }
        let entries: Vec<_> = stored
            .into_iter()
            .map(|(key, stat, i)| {
                let source =
                    kept(i).map_or(cache::Source::New(&self.parsed[i]), cache::Source::Kept);
                (key, stat, source)
            })
            .collect();
        place.append_data(old, &entries)
    }

    /// `stored` with each module's data, as a whole write takes them.
    fn with_data<'s>(
        &'s self,
        stored: Vec<(&'s [u8], cache::FileStat, usize)>,
    ) -> Vec<(&'s [u8], cache::FileStat, &'s Parsed)> {
        stored
            .into_iter()
            .map(|(key, stat, i)| (key, stat, &self.parsed[i]))
            .collect()
    }

    /// Writes the cache: the index naming `data` when there is one (from
    /// [`Leaving::data_file`]), else both. A memo is kept only when every
    /// module is in the cache.
    pub fn store(
        &self,
        place: &cache::Place,
        memo: Option<Memo>,
        listings: &[u8],
        data: Option<cache::DataFile>,
    ) {
        let memo = memo.filter(|_| (0..self.stats.len()).all(|i| self.stored_stat(i).is_some()));
        match data {
            Some(data) => place.name_data(data, memo.as_ref(), listings),
            None => place.store(&self.with_data(self.stored()), memo.as_ref(), listings),
        }
    }
}
