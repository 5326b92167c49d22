//! Which config files are read, in which order, and reading them safely.
//!
//! Both modprobe.d and depmod.d merge every candidate file into one list
//! sorted by basename (strcmp), where the first directory to offer a name
//! wins. They differ only in their messages, hence [`Flavor`].

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::msg;
use crate::diagnostics::{errno_of, strerror, Level, Sink};
use crate::dirs::{Dir, Entry};
use crate::name::PATH_MAX;
use crate::Root;

/// Files larger than this are not configuration; reading stops there so that
/// `-C /dev/zero` or a runaway file cannot exhaust memory or time.
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Modprobe,
    Depmod,
}

/// One file to parse.
#[derive(Debug, Clone)]
pub(crate) struct ConfFile {
    /// The sort key: the basename.
    pub name: Vec<u8>,
    /// The path as kmod names it in messages (a target path).
    pub display: Vec<u8>,
    /// Where to read it on the host.
    pub host: PathBuf,
    /// A path given by itself (`-C file`), not found in a directory.
    pub single: bool,
}

/// The merged, sorted list.
#[derive(Debug, Default)]
pub(crate) struct ConfList {
    pub files: Vec<ConfFile>,
}

impl ConfList {
    /// Inserts in basename order; a name already present keeps its file.
    pub fn insert(&mut self, file: ConfFile) {
        if let Err(at) = self
            .files
            .binary_search_by(|f| f.name.as_slice().cmp(&file.name))
        {
            self.files.insert(at, file);
        }
    }

    /// Adds what the config path `target` holds: the `.conf` files of a
    /// directory, or the path itself when it is anything else. A path that
    /// cannot be stat'ed is skipped silently, as kmod does.
    pub fn add_path(&mut self, root: &Root, target: &Path, flavor: Flavor, diags: &mut dyn Sink) {
        let host = root.host(target);
        let tbytes = target.as_os_str().as_bytes();
        // Opening it as a directory answers in one call what kmod's stat
        // asks in the usual cases (a directory, or nothing there); any
        // other failure is put to stat as kmod does.
        let opened = match Dir::open_small(&host) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return,
            Err(e) => {
                let Ok(meta) = fs::metadata(&host) else {
                    return;
                };
                if !meta.is_dir() {
                    let name = basename(tbytes).to_vec();
                    self.insert(ConfFile {
                        name,
                        display: tbytes.to_vec(),
                        host,
                        single: true,
                    });
                    return;
                }
                Err(e)
            }
            Ok(dir) => Ok(dir),
        };
        let mut dir = match opened {
            Ok(dir) => dir,
            Err(e) => {
                let err = strerror(errno_of(&e));
                let (function, message) = match flavor {
                    Flavor::Modprobe => (
                        "conf_files_list",
                        msg(&[b"opendir(", tbytes, b"): ", err.as_bytes()]),
                    ),
                    Flavor::Depmod => (
                        "cfg_files_list",
                        msg(&[b"files list ", tbytes, b": ", err.as_bytes()]),
                    ),
                };
                diags.log_from(function, Level::Err, &message);
                return;
            }
        };
        // A read error ends the listing, like readdir returning NULL.
        while let Some(Ok(entry)) = dir.next() {
            let name = entry.name.as_bytes();
            if !wanted(&dir, tbytes, &entry, flavor, diags) {
                continue;
            }
            self.insert(ConfFile {
                name: name.to_vec(),
                display: msg(&[tbytes, b"/", name]),
                host: host.join(OsStr::from_bytes(name)),
                single: false,
            });
        }
    }
}

/// kmod's filter for directory entries (`conf_files_filter_out`,
/// `cfg_files_filter_out`): hidden files and non-`.conf` names are skipped,
/// directories are refused with an error.
fn wanted(listing: &Dir, dir: &[u8], entry: &Entry, flavor: Flavor, diags: &mut dyn Sink) -> bool {
    let name = entry.name.as_bytes();
    if name.first() == Some(&b'.') {
        return false;
    }
    let full = || msg(&[dir, b"/", name]);
    if name.len() < 6 || !name.ends_with(b".conf") {
        if flavor == Flavor::Depmod {
            diags.log_from(
                "cfg_files_filter_out",
                Level::Info,
                &msg(&[b"All cfg files need .conf: ", &full()]),
            );
        }
        return false;
    }
    // What kmod's fstatat would say, already known from the listing for a
    // plain file or directory (a symbolic link must be followed).
    let is_dir = match entry.kind {
        libc::DT_REG => Ok(false),
        libc::DT_DIR => Ok(true),
        _ => listing.stat(&entry.name, true).map(|st| st.is_dir()),
    };
    let (func, is_dir) = match (flavor, is_dir) {
        (Flavor::Modprobe, Err(_)) => {
            diags.log_from(
                "conf_files_filter_out",
                Level::Err,
                &msg(&[b"Cannot stat directory entry: ", &full()]),
            );
            return false;
        }
        // depmod does not check fstatat: an entry it cannot stat is kept and
        // fails later when opened.
        (Flavor::Depmod, Err(_)) => ("cfg_files_filter_out", false),
        (Flavor::Modprobe, Ok(is_dir)) => ("conf_files_filter_out", is_dir),
        (Flavor::Depmod, Ok(is_dir)) => ("cfg_files_filter_out", is_dir),
    };
    if is_dir {
        diags.log_from(
            func,
            Level::Err,
            &msg(&[
                b"Directories inside directories are not supported: ",
                &full(),
            ]),
        );
        return false;
    }
    true
}

/// GNU basename: what follows the last `/` (empty after a trailing `/`).
pub(crate) fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// True when `display` would not fit kmod's PATH_MAX buffer.
pub(crate) fn too_long(display: &[u8]) -> bool {
    display.len() >= PATH_MAX
}

/// What [`read_config`] got.
pub(crate) struct Contents {
    pub data: Vec<u8>,
    /// Reading stopped at [`MAX_CONFIG_BYTES`].
    pub truncated: bool,
}

/// Opens a config file. Non-blocking, so that a FIFO among the config files
/// reads as empty instead of hanging (kmod would block forever).
pub(crate) fn open_config(host: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(host)
}

/// Reads an opened config file to its end, at most [`MAX_CONFIG_BYTES`].
/// A read error ends the file, like `getc` returning EOF (a directory thus
/// reads as empty).
pub(crate) fn read_config(file: File) -> Contents {
    // Read straight into the result, with room for a typical file: no
    // buffer to clear first (libkmod makes a context per reload). An
    // error keeps what was read before it; interruptions are retried.
    let mut data = Vec::with_capacity(16 * 1024);
    let _ = file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut data);
    let truncated = data.len() as u64 > MAX_CONFIG_BYTES;
    data.truncate(MAX_CONFIG_BYTES as usize);
    Contents { data, truncated }
}

/// Our own message (kmod has none: it would not stop) for a file cut short.
pub(crate) fn truncated_message(display: &[u8]) -> Vec<u8> {
    msg(&[
        display,
        format!(": stopped reading after {MAX_CONFIG_BYTES} bytes").as_bytes(),
    ])
}
