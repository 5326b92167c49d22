//! Interrupted and failing runs on the real tree: our depmod killed with
//! SIGKILL at many points, and writing onto a full disk. Each output file
//! must afterwards be byte-equal to its complete old version or its
//! complete new one (docs/reliability.md, "Nothing lost"), and so must
//! depmod's cache (docs/depmod.md).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modutils_core::depmod::cache::{read_image, split_image, CacheFile};
use modutils_core::index::IndexBuilder;

use super::real::{farm, source};
use super::*;
use crate::util::{real_tree, text};

/// Complete "old" outputs that differ from the new ones in every file:
/// our depmod's on a variant of the tree (modules.order reversed, the
/// first built-in module and built-in alias gone, sound modules excluded
/// by depmod.d), plus a made-up modules.weakdep (6.1 has no weak deps).
fn old_and_new(tmp: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
    let release = real_tree().release.clone();
    let (kernel, inputs) = source("uncompressed");
    let base = tmp.join("variant");
    let dir = farm(&base, &release, &kernel, &inputs);
    let order = std::fs::read_to_string(dir.join("modules.order")).unwrap();
    let reversed: String = order.lines().rev().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("modules.order"), reversed).unwrap();
    let builtin = std::fs::read_to_string(dir.join("modules.builtin")).unwrap();
    std::fs::write(
        dir.join("modules.builtin"),
        builtin.split_once('\n').unwrap().1,
    )
    .unwrap();
    let modinfo = std::fs::read(dir.join("modules.builtin.modinfo")).unwrap();
    let mut records: Vec<&[u8]> = modinfo
        .split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .collect();
    let first_alias = records
        .iter()
        .position(|r| text(r).contains(".alias="))
        .unwrap();
    records.remove(first_alias);
    let joined: Vec<u8> = records
        .iter()
        .flat_map(|r| r.iter().copied().chain([0]))
        .collect();
    std::fs::write(dir.join("modules.builtin.modinfo"), joined).unwrap();
    let conf = tmp.join("variant.conf");
    std::fs::write(&conf, "exclude sound\n").unwrap();
    let b = base.to_str().unwrap();
    let r = exec(
        &our_depmod(),
        &["-C", conf.to_str().unwrap(), "-b", b, &release],
    );
    assert_eq!(r.code, Some(0), "{}", r.show());
    let mut old = take_outputs(&dir);
    old.get_mut("modules.weakdep")
        .unwrap()
        .extend_from_slice(b"weakdep old_module old_value\n");

    let base = tmp.join("reference");
    let dir = farm(&base, &release, &kernel, &inputs);
    let r = exec(&our_depmod(), &["-b", base.to_str().unwrap(), &release]);
    assert_eq!(r.code, Some(0), "{}", r.show());
    let new = take_outputs(&dir);
    assert_eq!((old.len(), new.len()), (11, 11));
    for name in OUTPUTS {
        assert_ne!(
            old[name], new[name],
            "{name}: old and new versions are the same"
        );
    }
    (old, new)
}

#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    /// Runs that finished before their kill time.
    finished: usize,
    all_old: usize,
    mixed: usize,
    all_new: usize,
    leftovers: usize,
    leftover_names: Vec<String>,
    /// Kills while the new cache was being written.
    cache_writing: usize,
    cache_new: usize,
    cache_leftovers: usize,
}

/// The first name in `dir` that is not one of `known`: a temporary file.
fn temporary_file(dir: &Path, known: &[&str]) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .any(|e| !known.contains(&e.file_name().to_string_lossy().as_ref()))
}

/// How long one complete run of ours takes, in seconds.
fn timed_run(base: &Path, release: &str) -> f64 {
    let start = Instant::now();
    let status = spawn(base, release).wait().unwrap();
    assert!(status.success());
    start.elapsed().as_secs_f64()
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// When [`kill_while_writing`] kills.
#[derive(Clone, Copy)]
enum Moment {
    /// This many stops after the first temporary file shows.
    AfterFirstTemporary(usize),
    /// At a stop where some outputs are already new and some still old.
    Mixed,
    /// At a stop where the new cache file is open for writing.
    WritingCache,
}

/// Whether cache image `bytes` (see `split_image`) is `want`: the same
/// bytes, or the same content laid out otherwise. Where in its data
/// section a record lies depends on the runs before (a run that took most
/// modules from the cache appends the records it read to the data file),
/// and a run killed while appending leaves bytes after the data section.
fn same_cache(bytes: &[u8], want: &[u8]) -> bool {
    bytes == want
        || CacheFile::from_bytes(bytes)
            .is_ok_and(|c| CacheFile::from_bytes(want).is_ok_and(|w| c == w))
}

/// Whether `child` has a file in `dir` open for writing: the new cache
/// (an O_TMPFILE file shows as `<dir>/#<inode> (deleted)`).
fn writing_cache(child: &std::process::Child, dir: &Path) -> bool {
    let proc = format!("/proc/{}", child.id());
    let Ok(fds) = std::fs::read_dir(format!("{proc}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        let in_dir = std::fs::read_link(fd.path()).is_ok_and(|t| t.parent() == Some(dir));
        // fdinfo's `flags:` is octal; the low two bits are the access mode.
        let info = std::fs::read_to_string(format!(
            "{proc}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
        in_dir && flags.is_some_and(|f| f & 3 != 0)
    })
}

/// How long a run is let go on between two looks, once its outputs are
/// being made, when it is to be caught with some of them replaced.
const MIXED_STEP: Duration = Duration::from_micros(50);

/// Kills `child` while it is replacing files: it is stopped every `step`
/// (every [`MIXED_STEP`] once writing has begun, for [`Moment::Mixed`])
/// and looked at, and killed while stopped at the `moment` asked for.
/// Polling a running process can miss a short writing phase on a busy
/// machine; a stopped one cannot leave it. False if the run ended first.
#[allow(clippy::too_many_arguments)]
fn kill_while_writing(
    child: &mut std::process::Child,
    dir: &Path,
    cache_dir: &Path,
    known: &[&str],
    step: Duration,
    moment: Moment,
    new: &BTreeMap<String, Vec<u8>>,
) -> bool {
    let mut seen = None;
    loop {
        match (moment, seen) {
            // Once the outputs are being made, their renames are at most a
            // few milliseconds away and take a fraction of one: a sleep
            // can oversleep the whole of them on a busy machine, so the
            // run is let go on for a short spin each time.
            (Moment::Mixed, Some(_)) => {
                let until = Instant::now() + MIXED_STEP;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            _ => std::thread::sleep(step),
        }
        signal(child, libc::SIGSTOP);
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let now = match moment {
            Moment::AfterFirstTemporary(after) => {
                if seen.is_none() && temporary_file(dir, known) {
                    seen = Some(0);
                }
                seen.as_mut().is_some_and(|n| {
                    *n += 1;
                    *n > after
                })
            }
            Moment::Mixed => {
                // Outputs are compared only once writing has begun.
                if seen.is_none() && temporary_file(dir, known) {
                    seen = Some(0);
                }
                seen.is_some() && {
                    let news = OUTPUTS
                        .iter()
                        .filter(|name| {
                            std::fs::read(dir.join(name)).ok().as_ref() == new.get(**name)
                        })
                        .count();
                    news > 0 && news < OUTPUTS.len()
                }
            }
            Moment::WritingCache => writing_cache(child, cache_dir),
        };
        if now {
            let _ = child.kill();
            return true;
        }
        signal(child, libc::SIGCONT);
    }
}

#[test]
fn killed_runs_leave_each_file_old_or_new() {
    let release = real_tree().release.clone();
    let (kernel, inputs) = source("uncompressed");
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = old_and_new(tmp.path());
    let base = tmp.path().join("t");
    let dir = farm(&base, &release, &kernel, &inputs);
    let known: Vec<&str> = [&OUTPUTS[..], &INPUTS[..], &["kernel"]].concat();

    // The cache: the variant's (complete, other than ours) as the old one,
    // this tree's after a complete run as the new one.
    let cache_name = format!("{release}.depmod");
    let cache_dir = base.join("var/cache/modutils");
    let old_cache = read_image(
        &tmp.path()
            .join("variant/var/cache/modutils")
            .join(&cache_name),
    )
    .expect("the variant's cache");
    let mut runs = Vec::new();
    for _ in 0..3 {
        put_outputs(&dir, &old);
        runs.push(timed_run(&base, &release));
        assert!(
            read_outputs(&dir) == new,
            "a complete run gave other outputs"
        );
    }
    let new_cache = read_image(&cache_dir.join(&cache_name)).unwrap();
    assert_ne!(old_cache, new_cache);
    runs.sort_by(f64::total_cmp);
    let run = runs[1];
    // 25 kills at times spread over a whole run, then 45 caught while
    // files are being replaced (stopped every 0.2–1.0 ms, killed 0–8
    // stops after the first temporary file shows), then, until five kills
    // have hit a half-replaced set of outputs, kills at such a moment (a
    // busy machine can let the whole replacement pass between two stops).
    let step = |i: usize| Duration::from_micros(200 + 200 * (i as u64 % 5));
    let mut kills: Vec<Option<(Duration, Moment)>> = (0..25)
        .map(|_| None)
        .chain((0..45).map(|i| Some((step(i), Moment::AfterFirstTemporary(i % 9)))))
        .collect();
    const MIXED_WANTED: usize = 5;
    const MIXED_TRIES: usize = 100;
    kills.extend((0..MIXED_TRIES).map(|i| Some((step(i), Moment::Mixed))));
    // Then, until five have landed, kills while the cache is written.
    const CACHE_WANTED: usize = 5;
    const CACHE_TRIES: usize = 100;
    let cache_kills = kills.len();
    kills.extend((0..CACHE_TRIES).map(|i| Some((step(i), Moment::WritingCache))));

    let mut tally = Tally::default();
    let mut bad = Vec::new();
    for (n, plan) in kills.iter().copied().enumerate() {
        if n >= 70 && n < cache_kills && tally.mixed >= MIXED_WANTED {
            continue;
        }
        if n >= cache_kills && tally.cache_writing >= CACHE_WANTED {
            break;
        }
        put_outputs(&dir, &old);
        for f in other_files(&dir, &known) {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        for f in other_files(&cache_dir, &[]) {
            std::fs::remove_file(cache_dir.join(f)).unwrap();
        }
        let (index, data, data_name) = split_image(&old_cache);
        std::fs::write(cache_dir.join(&cache_name), index).unwrap();
        std::fs::write(cache_dir.join(data_name.unwrap()), data).unwrap();
        let mut child = spawn(&base, &release);
        let when = match plan {
            None => {
                let delay = run * (n as f64 + 0.5) / 25.0;
                let deadline = Instant::now() + Duration::from_secs_f64(delay);
                while Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                let _ = child.kill();
                format!("{:.2} ms after the start", delay * 1000.0)
            }
            Some((step, moment)) => {
                let killed =
                    kill_while_writing(&mut child, &dir, &cache_dir, &known, step, moment, &new);
                match moment {
                    Moment::AfterFirstTemporary(n) => {
                        format!("{n} stops after the first temporary file")
                    }
                    Moment::Mixed => "with some outputs replaced".to_string(),
                    Moment::WritingCache => {
                        tally.cache_writing += usize::from(killed);
                        "while writing the cache".to_string()
                    }
                }
            }
        };
        let status = child.wait().unwrap();
        tally.kills += 1;
        if status.success() {
            tally.finished += 1;
        }
        let mut news = 0;
        for name in OUTPUTS {
            let now = std::fs::read(dir.join(name)).unwrap_or_default();
            if now == new[name] {
                news += 1;
            } else if now != old[name] {
                bad.push(format!(
                    "killed {when}: {name} is neither old nor new ({} bytes; old {}, new {})",
                    now.len(),
                    old[name].len(),
                    new[name].len()
                ));
            }
        }
        match news {
            0 => tally.all_old += 1,
            11 => tally.all_new += 1,
            _ => tally.mixed += 1,
        }
        let cache = read_image(&cache_dir.join(&cache_name)).unwrap_or_default();
        if same_cache(&cache, &new_cache) {
            tally.cache_new += 1;
        } else if !same_cache(&cache, &old_cache) {
            bad.push(format!(
                "killed {when}: the cache is neither old nor new ({} bytes; old {}, new {})",
                cache.len(),
                old_cache.len(),
                new_cache.len()
            ));
        }
        let data_name = split_image(&cache).2.unwrap_or_default();
        tally.cache_leftovers += other_files(&cache_dir, &[&cache_name, &data_name]).len();
        let left = other_files(&dir, &known);
        tally.leftovers += left.len();
        for l in left {
            // `<file>.<pid>.<usec>.<sec>`: keep the file part.
            let stem = l.rsplitn(4, '.').nth(3).unwrap_or(&l).to_string();
            if !tally.leftover_names.contains(&stem) {
                tally.leftover_names.push(stem);
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(tally.kills >= 50);
    assert!(
        tally.mixed >= MIXED_WANTED,
        "too few kills landed while files were being replaced: {tally:?} (run {:.1} ms)",
        run * 1000.0
    );
    assert!(
        tally.cache_writing >= CACHE_WANTED,
        "too few kills landed while the cache was being written: {tally:?}"
    );
    eprintln!("depmod SIGKILL: {tally:?}; run {:.1} ms", run * 1000.0);
}

fn spawn(base: &Path, release: &str) -> std::process::Child {
    Command::new(our_depmod())
        .arg0("depmod")
        .arg("-b")
        .arg(base)
        .arg(release)
        .env_remove("MODUTILS_SYSROOT")
        .env_remove("MODUTILS_NO_CACHE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let r = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "mount -t tmpfs -o {options} {}: {} (the suite runs as root)",
            at.display(),
            text(&r.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn pages(n: usize) -> usize {
    n.div_ceil(4096)
}

/// Names of the files of `now` that differ from `want` (or are missing).
fn changed(now: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut names: Vec<String> = want
        .iter()
        .filter(|(n, v)| now.get(*n) != Some(v))
        .map(|(n, _)| n.clone())
        .collect();
    names.extend(now.keys().filter(|n| !want.contains_key(*n)).cloned());
    names
}

/// The output directory on a tmpfs too small for the new files, sized so
/// that writing file `which` fails halfway, for each file of more than a
/// page in turn (the old file stays until the new one is complete, so the
/// disk must also have held every earlier step). depmod exits 1 with
/// kmod's message naming that file; the files before it are new, it and
/// the ones after are the complete old ones (kmod renames the truncated
/// file into place: there we differ on purpose); no temporary file is left.
#[test]
fn full_disk_keeps_previous_files() {
    let release = real_tree().release.clone();
    let (kernel, inputs) = source("uncompressed");
    let tmp = tempfile::tempdir().unwrap();
    let (_, new) = old_and_new(tmp.path());
    // Small complete old files, so that the disk can be made to fill up in
    // any file: a comment for the text files, a one-entry index.
    let old: BTreeMap<String, Vec<u8>> = OUTPUTS
        .iter()
        .map(|&n| {
            let bytes = if n.ends_with(".bin") {
                let mut b = IndexBuilder::new();
                b.insert("old", n, 0).unwrap();
                b.to_bytes().unwrap()
            } else {
                format!("# old {n}\n").into_bytes()
            };
            (n.to_string(), bytes)
        })
        .collect();
    let input_pages: usize = INPUTS
        .iter()
        .map(|f| pages(std::fs::metadata(inputs.join(f)).unwrap().len() as usize))
        .sum();
    let size = |files: &BTreeMap<String, Vec<u8>>, names: &[&str]| -> usize {
        names.iter().map(|n| pages(files[*n].len())).sum()
    };
    // Pages in use while file i is being written, complete.
    let peak = |i: usize| {
        input_pages
            + size(&new, &OUTPUTS[..i])
            + size(&old, &OUTPUTS[i..])
            + pages(new[OUTPUTS[i]].len())
    };
    let mut tested = Vec::new();
    for which in 0..OUTPUTS.len() {
        let name = OUTPUTS[which];
        let room = peak(which) - pages(new[name].len()).div_ceil(2);
        if (0..which).any(|i| peak(i) > room) {
            continue;
        }
        let mnt = tmp.path().join(format!("disk{which}"));
        let _fs = Tmpfs::mount(&mnt, &format!("size={}k,nr_inodes=1000", room * 4));
        let dir = farm(&mnt, &release, &kernel, &inputs);
        put_outputs(&dir, &old);
        let args = ["-b", mnt.to_str().unwrap(), &release];
        let o = exec(&our_depmod(), &args);
        let want = format!(
            "depmod: ERROR: Could not create index '{name}'. Output is truncated: No space left on device\n"
        );
        assert_eq!(o.code, Some(1), "{name}: {}", o.show());
        assert_eq!(text(&o.stderr), want, "disk full at {name}");
        let mut expect = old.clone();
        for f in &OUTPUTS[..which] {
            expect.insert(f.to_string(), new[*f].clone());
        }
        let wrong = changed(&read_outputs(&dir), &expect);
        assert!(wrong.is_empty(), "disk full at {name}: {wrong:?} neither the complete new (before) nor old (from there on)");
        let left = other_files(&dir, &[&OUTPUTS[..], &INPUTS[..], &["kernel"]].concat());
        assert!(left.is_empty(), "left over: {left:?}");

        // kmod 30 on the same disk (it does not write modules.weakdep): the
        // same status and message, and the truncated file left in place.
        if name != "modules.weakdep" {
            put_outputs(&dir, &old);
            let k = exec(&kmod_depmod(), &args);
            assert_eq!(k.code, Some(1), "kmod: {}", k.show());
            assert_eq!(text(&k.stderr), want, "kmod's message");
            let kept = std::fs::read(dir.join(name)).unwrap();
            tested.push(format!(
                "{name} (kmod leaves {} of {} bytes)",
                kept.len(),
                new[name].len()
            ));
        } else {
            tested.push(name.to_string());
        }
    }
    // A file of one page cannot be made to fail alone: replacing the file
    // before it frees as much as it needs.
    let bigger = OUTPUTS.iter().filter(|n| pages(new[**n].len()) > 1).count();
    assert!(
        tested.len() == bigger,
        "only {tested:?} could be made to fail"
    );
    eprintln!(
        "depmod full disk: failures while writing {} files, old file kept each time: {}",
        tested.len(),
        tested.join(", ")
    );
}

/// The temporary name `<file>.<pid>.<usec>.<sec>` in an `openat(…)`
/// message, with the run-specific parts replaced.
fn without_tmp_suffix(line: &str) -> String {
    if let (Some(s), Some(e)) = (line.find(", modules."), line.find(", 301")) {
        let parts: Vec<&str> = line[s + 2..e].rsplitn(4, '.').collect();
        if parts.len() == 4 {
            return format!("{}{}.PID.USEC.SEC{}", &line[..s + 2], parts[3], &line[e..]);
        }
    }
    line.to_string()
}

/// No inode left for the temporary files: each output's creation fails,
/// is reported with kmod's message and skipped; the old files stay.
#[test]
fn no_room_for_temporary_files() {
    let release = real_tree().release.clone();
    let (kernel, inputs) = source("uncompressed");
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("disk");
    let _fs = Tmpfs::mount(&mnt, "size=64m,nr_inodes=100");
    let dir = farm(&mnt, &release, &kernel, &inputs);
    let old: BTreeMap<String, Vec<u8>> = OUTPUTS
        .iter()
        .map(|n| (n.to_string(), format!("# old {n}\n").into_bytes()))
        .collect();
    put_outputs(&dir, &old);
    // Use up the remaining inodes.
    std::fs::create_dir(mnt.join("filler")).unwrap();
    let mut n = 0;
    while std::fs::write(mnt.join(format!("filler/{n}")), b"").is_ok() {
        n += 1;
        assert!(n < 100);
    }
    let args = ["-b", mnt.to_str().unwrap(), &release];
    let o = exec(&our_depmod(), &args);
    assert!(
        changed(&read_outputs(&dir), &old).is_empty(),
        "we changed outputs"
    );
    // kmod 30 leaves modules.weakdep alone, whose inode stays in use.
    let k = exec(&kmod_depmod(), &args);
    assert!(
        changed(&read_outputs(&dir), &old).is_empty(),
        "kmod changed outputs"
    );
    assert_eq!(o.code, k.code, "{}\n{}", k.show(), o.show());
    let normal = |err: &[u8]| -> Vec<String> {
        text(err)
            .lines()
            .map(without_tmp_suffix)
            .filter(|l| !l.contains("modules.weakdep.PID"))
            .collect()
    };
    assert_eq!(normal(&o.stderr), normal(&k.stderr));
    assert_eq!(text(&o.stderr).lines().count(), 11, "{}", text(&o.stderr));
    eprintln!(
        "depmod without inodes: exit {:?}, {}",
        o.code,
        text(&o.stderr).lines().next().unwrap()
    );
}
