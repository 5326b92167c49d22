//! Putting the output files in place: each is written under a temporary
//! name in the output directory and renamed over the old file, so readers
//! (and an interrupted run) only ever see complete files.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::report::{text, Reporter};
use super::Error;
use crate::diagnostics::{errno_of, strerror, Level};
use crate::Root;

/// An output file being written under its temporary name.
pub(crate) struct Pending {
    file: std::fs::File,
    name: &'static str,
    tmp_name: String,
    tmp: PathBuf,
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

    /// Creates the temporary file for output `name`. When that fails kmod
    /// reports it and moves on to the next file without generating this
    /// one, so `None` means "skip".
    pub fn begin(&self, name: &'static str, rep: &mut dyn Reporter) -> Option<Pending> {
        let tmp_name = format!("{name}{}", self.suffix);
        let tmp = self.host.join(&tmp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
        {
            Ok(file) => Some(Pending {
                file,
                name,
                tmp_name,
                tmp,
            }),
            Err(e) => {
                let msg = text!(
                    b"openat(",
                    self.target,
                    b", ",
                    tmp_name,
                    b", 301, 644): ",
                    strerror(errno_of(&e))
                );
                rep.log(Level::Err, &msg);
                None
            }
        }
    }

    /// Removes a temporary file that will not be completed.
    pub fn abandon(&self, pending: Pending) {
        drop(pending.file);
        let _ = fs::remove_file(&pending.tmp);
    }

    /// Writes the contents and renames the file into place. A failed write
    /// or rename ends the output.
    pub fn finish(
        &self,
        pending: Pending,
        bytes: &[u8],
        rep: &mut dyn Reporter,
    ) -> Result<(), Error> {
        let Pending {
            mut file,
            name,
            tmp_name,
            tmp,
        } = pending;
        if let Err(e) = file.write_all(bytes) {
            drop(file);
            let _ = fs::remove_file(&tmp);
            // Unlike kmod, the truncated file is not renamed into place.
            let msg = text!(
                b"Could not create index '",
                name,
                b"'. Output is truncated: ",
                strerror(errno_of(&e))
            );
            rep.log(Level::Err, &msg);
            return Err(Error::Output);
        }
        drop(file);
        if let Err(e) = fs::rename(&tmp, self.host.join(name)) {
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
