//! The run itself, in kmod's order: find the modules, order them, read
//! them (in parallel), resolve symbols, then generate and write the outputs.

use std::os::unix::ffi::OsStrExt;

use rayon::prelude::*;

use std::sync::Arc;
use std::time::SystemTime;

use super::cache::listings::{Listing, Listings};
use super::cache::{self, Digest, Memo};
use super::incremental::{Inputs, Known, Leaving, Side};
use super::output::{self, Output};
use super::report::{text, Deferred};
use super::walk::{Remembered, Watch};
use super::{cycles, order, parse, resolve, scan, write};
use super::{Depmod, Error, KernelSymbols, Reporter, Summary};
use crate::config::DepmodConfig;
use crate::diagnostics::{errno_of, strerror};
use crate::diagnostics::{Level, Sink};

/// What a run has of the cache: where it goes, what was read, and what
/// is being found out about it on another thread while the modules are
/// looked for.
struct Cache<'c> {
    place: Option<cache::Place>,
    loaded: Option<&'c cache::Loaded>,
    side: Option<Side>,
    started: SystemTime,
}

impl Depmod {
    /// All stages after the depmod.d configuration, which the caller has
    /// loaded (`config` is ignored unless [`Depmod::scans_all`]).
    pub fn generate(
        &self,
        kernel: &KernelSymbols,
        config: &DepmodConfig,
        rep: &mut dyn Reporter,
    ) -> Result<Summary, Error> {
        let started = SystemTime::now();
        let place = self.cache_place();
        let loaded = place.as_ref().and_then(cache::Place::load).map(Arc::new);
        let outdir = self.options.root.host_bytes(&self.outdirname);
        let use_memo = !self.options.dry_run;
        let cache = Cache {
            place,
            loaded: loaded.as_deref(),
            side: loaded
                .as_ref()
                .and_then(|l| Side::start(l, use_memo, outdir)),
            started,
        };
        let summary = self.generate_with(kernel, config, cache, rep);
        free_aside(loaded);
        summary
    }

    fn generate_with(
        &self,
        kernel: &KernelSymbols,
        config: &DepmodConfig,
        cache: Cache<'_>,
        rep: &mut dyn Reporter,
    ) -> Result<Summary, Error> {
        let Cache {
            place,
            loaded,
            side,
            started,
        } = cache;
        let no_listings = Listings::default();
        let remembered = place.as_ref().map(|_| {
            let known = loaded.map_or(&no_listings, |l| &l.listings);
            Remembered::new(known, started)
        });
        let found = {
            let go = side
                .as_ref()
                .zip(loaded)
                .map(|(side, loaded)| side.on_changed(loaded, &self.dirname));
            let watch = loaded.zip(go.as_ref()).map(|(loaded, go)| Watch {
                since: loaded.written,
                changed: go,
            });
            let remembered = remembered.as_ref();
            self.find_modules(config, loaded.is_some(), watch.as_ref(), remembered, rep)?
        };
        let listings_unchanged = remembered.as_ref().is_some_and(Remembered::unchanged);
        let listings = remembered.map(|r| r.take()).unwrap_or_default();
        let listings = &listings;
        let modules = order::module_order(found, &self.dirname, &self.options.root, rep);
        let paths: Vec<&[u8]> = modules.iter().map(|m| m.path.as_slice()).collect();
        // Paths as modules.dep shows them, which are also the cache's keys.
        let shown: Vec<&[u8]> = modules
            .iter()
            .map(|m| match order::relpath_start(&m.path, &self.dirname) {
                Some(start) => &m.path[start..],
                None => m.path.as_slice(),
            })
            .collect();
        let dry_run = self.options.dry_run;
        let read = |name: &str| {
            let path = text!(self.dirname, b"/", name);
            std::fs::read(self.options.root.host_bytes(&path)).map_err(|e| errno_of(&e))
        };
        let (builtin, builtin_modinfo) = if dry_run {
            (Err(libc::ENOENT), Err(libc::ENOENT))
        } else {
            (read("modules.builtin"), read("modules.builtin.modinfo"))
        };
        let inputs = Inputs {
            dirname: &self.dirname,
            outdirname: &self.outdirname,
            options: &self.options,
            kernel,
            builtin: &builtin,
            builtin_modinfo: &builtin_modinfo,
        }
        .digest();

        let mut known = Known::new(loaded, &shown, &modules);
        let memo = known.memo().filter(|m| !dry_run && m.inputs == inputs);
        let mut read = Vec::new();
        if let Some(memo) = memo {
            let (stats, files) = known.restamp(&paths, &modules, &self.options.root, started);
            if let Some(stats) = stats {
                if side.as_ref().is_some_and(Side::unchanged) {
                    cache::replay(&memo.events, rep);
                    let place = place.as_ref();
                    self.restamp_cache(place, loaded, &stats, listings, listings_unchanged);
                    return Ok(Summary {
                        modules: modules.len(),
                        up_to_date: false,
                    });
                }
            }
            read = files;
        }
        // Without a module the cache knows, the thread is told to stop: it
        // would compete with reading every module file.
        let records = side
            .filter(|_| known.any_hit())
            .zip(loaded)
            .and_then(|(side, loaded)| side.records(loaded));
        let (parsed, read_stats) = known.parsed(&paths, &self.options.root, read, records);
        // The walk takes each file's identity only to compare it with a
        // cache's: a run without one has it from each file as it reads it.
        let stats: Vec<Option<cache::FileStat>> = modules
            .iter()
            .zip(read_stats)
            .map(|(m, read)| m.stat.or(read))
            .collect();
        for (m, p) in modules.iter().zip(&parsed) {
            if let Some(errno) = p.error {
                rep.log(
                    Level::Err,
                    &text!(
                        b"failed to load symbols from ",
                        m.path,
                        b": ",
                        strerror(errno)
                    ),
                );
            }
        }

        let mut recorder = cache::Recorder::new(rep);
        let names: Vec<&[u8]> = modules.iter().map(|m| m.name.as_slice()).collect();
        let keep = place.as_ref().filter(|_| !dry_run && self.scans_all());
        let leaving = Leaving {
            keys: &shown,
            stats: &stats,
            parsed: &parsed,
            known: &known,
            started,
        };
        let written = std::thread::scope(|scope| {
            let leaving = &leaving;
            // A run that took no module from the cache writes the cache
            // whole: its data file is written while the outputs are made.
            // A run that read a few modules appends their records at the
            // end instead: done ahead, the entries and the listings it
            // holds meanwhile raised its peak memory by 1 MiB.
            let whole = keep.filter(|_| !known.any_hit());
            let ahead = whole.map(|place| scope.spawn(move || leaving.data_file(place)));
            let mut store: Option<Store<'_>> = keep.map(|place| {
                Box::new(move |complete: Option<(Vec<Digest>, Vec<cache::Event>)>| {
                    let memo = complete.map(|(outputs, events)| Memo {
                        inputs,
                        outputs,
                        events,
                    });
                    let listings = cache::listings::encode(listings);
                    let data = match ahead {
                        Some(ahead) => ahead.join().ok().flatten(),
                        None => leaving.data_file(place),
                    };
                    leaving.store(place, memo, &listings, data);
                }) as Store<'_>
            });
            let written = self.resolve_and_emit(
                kernel,
                &parsed,
                &paths,
                names,
                shown.clone(),
                builtin,
                builtin_modinfo,
                &mut store,
                &mut recorder,
            );
            // A run that ended before its outputs were made still keeps
            // what it read.
            if let Some(store) = store.take() {
                store(None);
            }
            written
        });
        let count = modules.len();
        free_aside((parsed, modules));
        written.map(|()| Summary {
            modules: count,
            up_to_date: false,
        })
    }

    /// After a run that had nothing to write: records the files read again
    /// (found to hold what the cache has) under their new identities.
    fn restamp_cache(
        &self,
        place: Option<&cache::Place>,
        loaded: Option<&cache::Loaded>,
        stats: &[cache::FileStat],
        listings: &[(Vec<u8>, Arc<Listing>)],
        listings_unchanged: bool,
    ) {
        let (Some(place), Some(old)) = (place, loaded) else {
            return;
        };
        let same = old.entries.iter().map(|e| e.stat).eq(stats.iter().copied());
        if !(same && listings_unchanged) && self.scans_all() {
            place.store_restamped(old, stats, &cache::listings::encode(listings));
        }
    }

    /// Symbols, dependencies, their order, then the outputs; `store`, when
    /// given, is handed the cache's memo as soon as the outputs are made.
    #[allow(clippy::too_many_arguments)]
    fn resolve_and_emit(
        &self,
        kernel: &KernelSymbols,
        parsed: &[parse::Parsed],
        paths: &[&[u8]],
        names: Vec<&[u8]>,
        shown: Vec<&[u8]>,
        builtin: Result<Vec<u8>, i32>,
        builtin_modinfo: Result<Vec<u8>, i32>,
        store: &mut Option<Store<'_>>,
        rep: &mut cache::Recorder<'_>,
    ) -> Result<(), Error> {
        let prefix = self.options.symbol_prefix;
        let symbols = resolve::Symbols::build(kernel, parsed, prefix);
        // The symbols' table order needs nothing else: worked out while
        // the dependencies are, on the same threads.
        let (resolved, table) = rayon::join(
            || {
                let verbose = self.options.verbose;
                resolve::dependencies(&symbols, parsed, paths, kernel, prefix, verbose)
            },
            || symbols.owned_in_table_order(),
        );
        let deps = resolved.report(rep);
        let sort_idx = match resolve::dependency_order(&deps) {
            Ok(idx) => idx,
            Err(users) => {
                let (lines, count) = cycles::find(&deps, &users, &names);
                for line in lines {
                    rep.log(Level::Err, &text!(b"Cycle detected: ", line));
                }
                rep.log(
                    Level::Err,
                    format!("Found {count} modules in dependency cycles!").as_bytes(),
                );
                return Err(Error::Cycles(count));
            }
        };
        let model = output::Model {
            names,
            shown,
            parsed,
            closures: resolve::closures(&deps, &sort_idx),
            symbols: table,
            builtin,
            builtin_modinfo,
            dirname: &self.dirname,
            warn_duplicates: self.options.warn,
        };
        let emitted = self.emit(&model, store, rep);
        free_aside((deps, model.closures));
        emitted
    }

    /// [`Depmod::is_up_to_date`], [`Depmod::load_kernel_symbols`] and
    /// [`Depmod::generate`] in a row, for callers that loaded depmod.d
    /// before (its messages then come first).
    pub fn run(&self, config: &DepmodConfig, rep: &mut dyn Reporter) -> Result<Summary, Error> {
        if self.is_up_to_date(rep) {
            return Ok(Summary {
                modules: 0,
                up_to_date: true,
            });
        }
        let kernel = self.load_kernel_symbols(rep)?;
        self.generate(&kernel, config, rep)
    }

    fn find_modules(
        &self,
        config: &DepmodConfig,
        stat: bool,
        watch: Option<&Watch<'_>>,
        remembered: Option<&Remembered<'_>>,
        rep: &mut dyn Reporter,
    ) -> Result<Vec<scan::Found>, Error> {
        let root = &self.options.root;
        // kmod loads depmod.d only for a full scan, and always ends up with
        // a search list (just `updates` when none is configured).
        let mut config = if self.scans_all() {
            config.clone()
        } else {
            DepmodConfig::default()
        };
        config.finish();
        let mut scan = scan::Scan::new(&config, &self.dirname, root);
        scan.stat = stat;
        scan.watch = watch;
        scan.remembered = remembered;
        if self.scans_all() {
            if let Err(scan::SearchFailed(errno)) = scan.run(rep) {
                return Err(Error::Fatal(text!(
                    b"could not search modules: ",
                    strerror(errno)
                )));
            }
            return Ok(scan.into_found());
        }
        for file in &self.options.files {
            let path = file.as_os_str().as_bytes();
            if !file.is_absolute() {
                return Err(Error::Fatal(text!(path, b": not absolute path.")));
            }
            let meta = match std::fs::metadata(root.host(file)) {
                Ok(meta) => meta,
                Err(e) => {
                    return Err(Error::Fatal(text!(
                        b"could not create module ",
                        path,
                        b": ",
                        strerror(errno_of(&e))
                    )))
                }
            };
            let stat = (stat && meta.is_file()).then(|| cache::FileStat::of(&meta));
            if let Err((name, old)) = scan.add_explicit(path.to_vec(), stat) {
                // kmod's module pool refuses a second path for a name; the
                // same path twice gets as far as its name table.
                let exists = strerror(libc::EEXIST);
                if old != path {
                    let msg = text!(
                        b"kmod_module '",
                        name,
                        b"' already exists with different path: new-path='",
                        path,
                        b"' old-path='",
                        old,
                        b"'"
                    );
                    rep.log(Level::Err, &msg);
                    return Err(Error::Fatal(text!(
                        b"could not create module ",
                        path,
                        b": ",
                        exists
                    )));
                }
                rep.log(Level::Err, &text!(b"hash_add_unique ", name, b": ", exists));
                return Err(Error::Fatal(text!(
                    b"could not add module ",
                    path,
                    b": ",
                    exists
                )));
            }
        }
        Ok(scan.into_found())
    }

    /// Generates and writes every output (in parallel), then reports and
    /// puts them in place in kmod's order; `-n` sends the text ones to
    /// stdout instead. The cache is written beside the renames: what a
    /// complete run reports and writes is known once the files are made.
    fn emit(
        &self,
        model: &output::Model<'_>,
        store: &mut Option<Store<'_>>,
        rep: &mut cache::Recorder<'_>,
    ) -> Result<(), Error> {
        if self.options.dry_run {
            let shown: Vec<Output> = Output::ALL.into_iter().filter(|o| !o.is_index()).collect();
            let generated: Vec<_> = shown
                .par_iter()
                .map(|&o| {
                    let mut log = Deferred::default();
                    let result = o.generate(model, &mut log);
                    (log, result)
                })
                .collect();
            for (log, result) in generated {
                log.replay(rep);
                let bytes = result.map_err(|output::Fatal(msg)| Error::Fatal(msg))?;
                rep.stdout(&bytes);
            }
            return Ok(());
        }
        let dir = write::OutDir::create(&self.options.root, &self.outdirname)?;
        let digests = store.is_some();
        let made = longest_first(|o| dir.make(o, model, digests));
        // A memo is only ever used for outputs found on disk with its
        // digests, which are the ones a complete run writes: it can be
        // written before the renames are done. After an incomplete run the
        // cache waits for the outputs, which may be short of room.
        let Some(store) = store.take_if(|_| made.iter().all(write::Made::is_written)) else {
            return dir.put_in_place(made, model, rep);
        };
        let outputs = made.iter().filter_map(|m| m.digest).collect();
        let mut events = rep.events.clone();
        for m in &made {
            events.extend(m.events());
        }
        std::thread::scope(|scope| {
            scope.spawn(move || store(Some((outputs, events))));
            dir.put_in_place(made, model, rep)
        })
    }
}

/// `make` of every output on all threads, each thread taking the next
/// output of [`Output::LONGEST_FIRST`] when done with one, and the results
/// in [`Output::ALL`]'s order. Halving the list between two threads, as a
/// parallel iterator does, can give one of them both large indexes.
fn longest_first<T: Send>(make: impl Fn(Output) -> T + Sync) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<T>>> =
        Output::ALL.iter().map(|_| Default::default()).collect();
    rayon::scope(|scope| {
        for _ in 0..rayon::current_num_threads().min(Output::ALL.len()) {
            scope.spawn(|_| {
                while let Some(&o) = Output::LONGEST_FIRST.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let at = Output::ALL.iter().position(|&a| a == o);
                    // Each output is in both lists exactly once.
                    if let Some(slot) = at.and_then(|at| done.get(at)) {
                        let made = make(o);
                        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(made);
                    }
                }
            });
        }
    });
    done.into_iter()
        .filter_map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// Frees `value` on a thread of its own. What a run over thousands of
/// modules leaves is hundreds of thousands of allocations, and freeing
/// them one by one takes milliseconds that a caller about to exit, as the
/// tool is, need not wait for.
fn free_aside<T: Send + 'static>(value: T) {
    let value = std::mem::ManuallyDrop::new(value);
    // No thread to be had: the memory is left to the process's end.
    let _ = std::thread::Builder::new().spawn(move || std::mem::ManuallyDrop::into_inner(value));
}

/// Writes the run's cache, given the memo of a complete run.
type Store<'a> = Box<dyn FnOnce(Option<(Vec<Digest>, Vec<cache::Event>)>) + Send + 'a>;
