//! How a run uses the cache: which modules it already knows, whether the
//! memo says the outputs on disk are already this run's, and the cache the
//! run leaves behind.

use std::time::SystemTime;

use rayon::prelude::*;

use super::cache::{self, Digest, Digester, Loaded, Memo};
use super::output::Output;
use super::parse::{self, Parsed};
use super::scan::Found;
use super::symvers::KernelSymbols;
use crate::Root;

/// The modules of a run (in module-array order) matched against a cache.
pub(super) struct Known<'c> {
    /// Each module's entry in the cache, when the cache has the module as
    /// its file is now.
    hits: Vec<Option<usize>>,
    /// The cache lists exactly these modules, in this order.
    same_list: bool,
    loaded: Option<&'c Loaded>,
}

impl<'c> Known<'c> {
    /// `keys` are the modules' cache keys (path relative to the module
    /// directory, or the full target path).
    pub fn new(loaded: Option<&'c Loaded>, keys: &[&[u8]], modules: &[Found]) -> Known<'c> {
        let Some(cache) = loaded else {
            return Known {
                hits: vec![None; modules.len()],
                same_list: false,
                loaded: None,
            };
        };
        let entries = &cache.entries;
        let same_list = entries.len() == modules.len()
            && entries
                .iter()
                .zip(keys.iter().zip(modules))
                .all(|(e, (k, m))| e.path == *k && m.stat == Some(e.stat));
        let hits = if same_list {
            (0..entries.len()).map(Some).collect()
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
            same_list,
            loaded,
        }
    }

    /// The memo of a cache that lists exactly this run's modules.
    pub fn memo(&self) -> Option<&'c Memo> {
        self.loaded.filter(|_| self.same_list)?.memo.as_ref()
    }

    pub fn is_hit(&self, i: usize) -> bool {
        self.hits[i].is_some()
    }

    /// Every module's data: from the cache where it is known, else read
    /// from its file. Once the cache's data is read, every record in it
    /// must decode, or the run reads every file as without a cache.
    pub fn parsed(&mut self, paths: &[&[u8]], root: &Root) -> Vec<Parsed> {
        let records = match self.loaded {
            Some(cache) if self.hits.iter().any(Option::is_some) => records(cache),
            _ => None,
        };
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
        let missing: Vec<usize> = (0..paths.len()).filter(|&i| out[i].is_none()).collect();
        let miss_paths: Vec<&[u8]> = missing.iter().map(|&i| paths[i]).collect();
        for (i, p) in missing.into_iter().zip(parse::parse_all(&miss_paths, root)) {
            out[i] = Some(p);
        }
        out.into_iter().flatten().collect()
    }
}

/// Every record of the cache, decoded (in parallel), or `None` if any
/// does not decode.
fn records(cache: &Loaded) -> Option<Vec<Option<Parsed>>> {
    let data = cache.data()?;
    cache
        .entries
        .par_iter()
        .map(|e| cache::record(&data, e.data).map(Some))
        .collect()
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
/// memo's run wrote.
pub(super) fn outputs_unchanged(memo: &Memo, outdir: &std::path::Path) -> bool {
    memo.outputs.len() == Output::ALL.len()
        && Output::ALL
            .par_iter()
            .zip(&memo.outputs)
            .all(|(output, want)| {
                Digester::of_file(&outdir.join(output.file_name())).is_ok_and(|d| d == *want)
            })
}

/// What a run leaves in the cache: every module that was read without
/// error and has not changed too recently, and the memo when that is every
/// module and `memo` is given.
pub(super) fn cache_bytes(
    release: &[u8],
    keys: &[&[u8]],
    modules: &[Found],
    parsed: &[Parsed],
    known: &Known<'_>,
    started: SystemTime,
    memo: Option<Memo>,
) -> Vec<u8> {
    let entries: Vec<(&[u8], cache::FileStat, &Parsed)> = (0..modules.len())
        .filter_map(|i| {
            let stat = modules[i].stat?;
            let keep =
                parsed[i].error.is_none() && (known.is_hit(i) || cache::settled(&stat, started));
            keep.then_some((keys[i], stat, &parsed[i]))
        })
        .collect();
    let memo = memo.filter(|_| entries.len() == modules.len());
    cache::format::encode(release, &entries, memo.as_ref())
}
