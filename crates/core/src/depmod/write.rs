//! Putting the output files in place: each is written under a temporary
//! name in the output directory and renamed over the old file, so readers
//! (and an interrupted run) only ever see complete files.
//!
//! The files are made and written in parallel ([`OutDir::make`]); only the
//! renames, and the messages, follow kmod's order ([`OutDir::put_in_place`]).
//! From the first file that could not be made in full, the rest are made
//! one at a time, and the first failure ends the run with every later
//! file's temporary removed, so what ends up in place is what kmod's
//! one-by-one run leaves.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{SystemTime, UNIX_EPOCH};

use super::cache::{Digest, Digester, Event};
use super::output::{self, Model, Output};
use super::report::{text, Deferred, Reporter};
use super::Error;
use crate::diagnostics::{errno_of, strerror, Level};
use crate::Root;

/// An output file written under its temporary name.
pub(crate) struct Pending {
    name: &'static str,
    tmp_name: String,
    tmp: PathBuf,
}

/// One output made: generated and written under its temporary name, or
/// how far it got.
pub(crate) struct Made {
    output: Output,
    /// Generation's messages, given when the file is put in place.
    log: Deferred,
    state: State,
    /// The contents' digest, when asked for and generated.
    pub digest: Option<Digest>,
}

enum State {
    /// The temporary file could not be created (the message): kmod then
    /// neither generates nor writes this output and goes on.
    NotOpened(Vec<u8>),
    /// Complete under its temporary name.
    Written(Pending),
    /// Generation failed (the FATAL message): the run ends here.
    Failed(Pending, Vec<u8>),
    /// Writing failed (the message; the temporary is gone): the run ends.
    Truncated(Vec<u8>),
}

impl Made {
    /// Written in full under its temporary name.
    pub fn is_written(&self) -> bool {
        matches!(self.state, State::Written(_))
    }

    /// The messages generating it gave, as the cache's memo records them.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        let log = self.log.0.iter();
        log.map(|m| Event::Log(m.level, m.text.clone()))
    }

    /// Removes its temporary file, if it has one.
    fn discard(self) -> Output {
        if let State::Written(p) | State::Failed(p, _) = self.state {
            let _ = fs::remove_file(&p.tmp);
        }
        self.output
    }
}

/// Starts writing `file` out to disk, without waiting. ext4 does it when
/// the file is renamed over an older one (so that a crash cannot leave an
/// empty file in its place), and the renames are one after another;
/// started here, on the thread that made the file, the rename finds it
/// done.
fn start_writeback(file: &File) {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: a plain system call on a descriptor the File owns; it only
    // starts writeback, and its failure changes nothing.
    unsafe { libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

/// The output directory, created on first use.
pub(crate) struct OutDir<'a> {
    target: &'a [u8],
    host: PathBuf,
    /// kmod 34's temporary suffix: `.<pid>.<usec>.<sec>`.
    suffix: String,
}

impl<'a> OutDir<'a> {
    pub fn create(root: &Root, target: &'a [u8]) -> Result<OutDir<'a>, Error> {
        let host = root.host(OsStr::from_bytes(target));
        if let Err(e) = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&host)
        {
            let msg = text!(
                b"could not create directory ",
                target,
                b": ",
                strerror(errno_of(&e))
            );
            return Err(Error::Fatal(msg));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let suffix = format!(
            ".{}.{}.{}",
            std::process::id(),
            now.subsec_micros(),
            now.as_secs()
        );
        Ok(OutDir {
            target,
            host,
            suffix,
        })
    }

    /// Creates output `o`'s temporary file, generates its contents and
    /// writes them there; `digest` also digests them. Safe to call for
    /// every output at once.
    pub fn make(&self, o: Output, model: &Model<'_>, digest: bool) -> Made {
        let mut log = Deferred::default();
        let name = o.file_name();
        let tmp_name = format!("{name}{}", self.suffix);
        let tmp = self.host.join(&tmp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp);
        let mut file = match file {
            Ok(file) => file,
            Err(e) => {
                let msg = text!(
                    b"openat(",
                    self.target,
                    b", ",
                    tmp_name,
                    b", 301, 644): ",
                    strerror(errno_of(&e))
                );
                return Made {
                    output: o,
                    log,
                    state: State::NotOpened(msg),
                    digest: None,
                };
            }
        };
        let pending = Pending {
            name,
            tmp_name,
            tmp,
        };
        let bytes = match o.generate(model, &mut log) {
            Ok(bytes) => bytes,
            Err(output::Fatal(msg)) => {
                drop(file);
                return Made {
                    output: o,
                    log,
                    state: State::Failed(pending, msg),
                    digest: None,
                };
            }
        };
        let digest = digest.then(|| Digester::of(&bytes));
        let state = match file.write_all(&bytes) {
            Ok(()) => {
                start_writeback(&file);
                State::Written(pending)
            }
            Err(e) => {
                drop(file);
                let _ = fs::remove_file(&pending.tmp);
                // Unlike kmod, the truncated file is not renamed into place.
                State::Truncated(text!(
                    b"Could not create index '",
                    name,
                    b"'. Output is truncated: ",
                    strerror(errno_of(&e))
                ))
            }
        };
        Made {
            output: o,
            log,
            state,
            digest,
        }
    }

    /// Gives each output's messages and renames it into place, in kmod's
    /// order. The first failure ends it: the files after it are not put
    /// in place and their temporaries are removed. From the first output
    /// that could not be made in full on, the rest are made again one at a
    /// time: the files made beside it may be what left no room, or no
    /// inode, for it, and kmod writes one file at a time.
    pub fn put_in_place(
        &self,
        made: Vec<Made>,
        model: &Model<'_>,
        rep: &mut dyn Reporter,
    ) -> Result<(), Error> {
        std::thread::scope(|scope| {
            let (replaced, closing) = std::sync::mpsc::channel::<File>();
            // Without a thread, the files replaced are closed as they come.
            let closer = std::thread::Builder::new()
                .spawn_scoped(scope, move || closing.into_iter().for_each(drop))
                .is_ok();
            let replaced = closer.then_some(replaced);
            self.put_all_in_place(made, model, replaced.as_ref(), rep)
        })
    }

    fn put_all_in_place(
        &self,
        made: Vec<Made>,
        model: &Model<'_>,
        replaced: Option<&Sender<File>>,
        rep: &mut dyn Reporter,
    ) -> Result<(), Error> {
        let mut made = made.into_iter();
        while let Some(m) = made.next() {
            if !m.is_written() {
                let rest: Vec<Output> = std::iter::once(m).chain(made).map(Made::discard).collect();
                for o in rest {
                    self.settle(self.make(o, model, false), replaced, rep)?;
                }
                return Ok(());
            }
            if let Err(e) = self.settle(m, replaced, rep) {
                made.for_each(|m| {
                    m.discard();
                });
                return Err(e);
            }
        }
        Ok(())
    }

    /// One output's messages, then the output put in place, as far as it
    /// got: an error ends the run.
    fn settle(
        &self,
        m: Made,
        replaced: Option<&Sender<File>>,
        rep: &mut dyn Reporter,
    ) -> Result<(), Error> {
        match m.state {
            State::NotOpened(msg) => {
                rep.log(Level::Err, &msg);
                Ok(())
            }
            State::Written(pending) => {
                m.log.replay(rep);
                self.rename(pending, replaced)
            }
            State::Failed(pending, msg) => {
                m.log.replay(rep);
                let _ = fs::remove_file(&pending.tmp);
                Err(Error::Fatal(msg))
            }
            State::Truncated(msg) => {
                m.log.replay(rep);
                rep.log(Level::Err, &msg);
                Err(Error::Output)
            }
        }
    }

    /// Renames an output into place. The file it replaces is held open
    /// across the rename and handed to `replaced`, whose thread closes it:
    /// dropping the last reference to a file of megabytes frees its pages
    /// and blocks, which took longer than the rename itself, and the
    /// renames are one after another.
    fn rename(&self, pending: Pending, replaced: Option<&Sender<File>>) -> Result<(), Error> {
        let Pending {
            name,
            tmp_name,
            tmp,
        } = pending;
        let target = self.host.join(name);
        let old = replaced.and_then(|_| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
                .open(&target)
                .ok()
        });
        let renamed = fs::rename(&tmp, &target);
        if let (Some(old), Some(replaced)) = (old, replaced) {
            let _ = replaced.send(old);
        }
        if let Err(e) = renamed {
            let _ = fs::remove_file(&tmp);
            let msg = text!(
                b"renameat(",
                self.target,
                b", ",
                tmp_name,
                b", ",
                self.target,
                b", ",
                name,
                b"): ",
                strerror(errno_of(&e))
            );
            return Err(Error::Fatal(msg));
        }
        Ok(())
    }
}
