//! What the algorithms ask of the running system, and the real answers.
//!
//! The trait is small on purpose: each method is one thing kmod reads or
//! does (`/sys/module/<m>/{initstate,refcnt,holders}`, `finit_module`,
//! `delete_module`, `system(3)`, the monotonic clock), plus which load of a
//! module is there (for autoclean), so a fake can stand in for all of it.

use std::ffi::{CString, OsStr};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::Force;
use crate::diagnostics::{errno_of, strerror};
use crate::kernel::{self, Syscall};
use crate::module_file::Compression;
use crate::sysfs::{self, parse_long};
use crate::Root;

/// `/sys/module/<name>/initstate`, plus what the module index says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitState {
    /// Compiled into the kernel (`modules.builtin.bin`). [`System`]
    /// implementations never answer this: the engine decides it.
    Builtin,
    /// Loaded and initialised.
    Live,
    /// Being loaded; also a `/sys/module/<m>` directory without
    /// `initstate`, as built-in modules with parameters have.
    Coming,
    /// Being removed.
    Going,
}

/// A failed read of `/sys`: the errno kmod would return, and the message
/// libkmod logs for it, if it logs one (bytes: it names the module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    /// The errno libkmod's caller would see.
    pub errno: i32,
    /// The message libkmod logs for the failure, if it logs one.
    pub log: Option<Vec<u8>>,
}

impl SysError {
    /// A failure libkmod reports by its errno alone, logging nothing.
    pub fn quiet(errno: i32) -> SysError {
        SysError { errno, log: None }
    }
}

/// A failed insertion. `from_kernel` tells a refusal by the kernel (which
/// libkmod reports at INFO level with the path) from a failure to open or
/// read the file before any system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertError {
    /// The errno of the failure, from the kernel or from opening the file.
    pub errno: i32,
    /// The kernel refused the module, as opposed to a failure before any system call.
    pub from_kernel: bool,
    /// The system call the running kernel refused (none from a fake).
    pub syscall: Option<Syscall>,
}

/// The running system as the probe and remove algorithms see it. Module
/// names are bytes, as the kernel and kmod take them.
pub trait System {
    /// The module's state; `Err` with `ENOENT` when it is not loaded.
    fn initstate(&mut self, name: &[u8]) -> Result<InitState, SysError>;
    /// `/sys/module/<name>/refcnt`.
    fn refcnt(&mut self, name: &[u8]) -> Result<i64, SysError>;
    /// The modules using this one, in the kernel's directory order.
    fn holders(&mut self, name: &[u8]) -> Result<Vec<Vec<u8>>, SysError>;
    /// Which load of the module is there: the inode number of
    /// `/sys/module/<name>`. The kernel makes that directory anew for each
    /// load, and its sysfs never hands out an inode number twice in a
    /// boot, so a module removed and loaded again has another number.
    fn instance(&mut self, name: &[u8]) -> Result<u64, SysError>;
    /// Loads the module file at `path` (a target path) with `options`.
    /// Answers the system call that took it, when a running kernel did.
    fn insert(
        &mut self,
        path: &Path,
        options: &[u8],
        force: Force,
    ) -> Result<Option<Syscall>, InsertError>;
    /// Unloads a module without waiting for its users (`O_NONBLOCK`);
    /// `force` asks for a forced unload (`O_TRUNC`). The error is an errno.
    fn remove(&mut self, name: &[u8], force: bool) -> Result<(), i32>;
    /// Runs an install or remove command as `system(3)` does, with
    /// `MODPROBE_MODULE=<module>` in its environment. Returns the wait
    /// status, or an errno when no shell could be started.
    fn run(&mut self, command: &[u8], module: &[u8]) -> Result<i32, i32>;
    /// A monotonic clock in milliseconds, for `--wait`.
    fn now_msec(&mut self) -> u64;
    /// Sleeps until the clock reads `msec`.
    fn sleep_until_msec(&mut self, msec: u64);
}

/// The real system, with every path taken through a [`Root`]: `/sys` is
/// read as libkmod reads it, modules go in and out through the core's
/// kernel interface ([`crate::kernel`]).
#[derive(Debug)]
pub struct HostSystem {
    root: Root,
    epoch: Instant,
    /// What `/sys/module/compression` says the kernel decompresses itself.
    compression: Option<Compression>,
}

impl HostSystem {
    /// `compression`: what [`kernel_compression`] found (read once, when
    /// the tool starts, as libkmod does).
    pub fn new(root: Root, compression: Option<Compression>) -> HostSystem {
        HostSystem {
            root,
            epoch: Instant::now(),
            compression,
        }
    }

    /// The root whose `/sys` and module files this system uses.
    pub fn root(&self) -> &Root {
        &self.root
    }
}

/// What `/sys/module/compression` says the kernel can decompress itself,
/// read once when a tool starts, as libkmod does when it creates its
/// context. A name libkmod does not know comes back as the message it
/// logs then (`unknown kernel compression <content>`, the content's own
/// newline ending the line); the module is then decompressed here.
pub fn kernel_compression(root: &Root) -> (Option<Compression>, Option<String>) {
    match sysfs::kernel_compression(root) {
        Ok(c) => (c, None),
        Err(sysfs::Error::Invalid { content, .. }) => {
            (None, Some(format!("unknown kernel compression {content}")))
        }
        // An unreadable file is an old kernel to libkmod: nothing to say.
        Err(_) => (None, None),
    }
}

/// `<start><path><end>`: a message naming a sysfs file.
fn about(start: &str, path: &Path, end: &str) -> Vec<u8> {
    [
        start.as_bytes(),
        path.as_os_str().as_bytes(),
        end.as_bytes(),
    ]
    .concat()
}

/// kmod reads sysfs attributes into a 32-byte buffer: 31 bytes at most.
pub(crate) fn read_small(root: &Root, target: &Path) -> io::Result<Result<String, io::Error>> {
    let mut file = std::fs::File::open(root.host(target))?;
    let mut buf = Vec::with_capacity(32);
    Ok((&mut file)
        .take(31)
        .read_to_end(&mut buf)
        .map(|_| String::from_utf8_lossy(&buf).into_owned()))
}

/// `initstate` as libkmod reads it, on any root.
pub(crate) fn read_initstate(root: &Root, name: &[u8]) -> Result<InitState, SysError> {
    let path = sysfs::module_path(name, Some("initstate"));
    let text = match read_small(root, &path) {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            let end = format!("': {}", strerror(errno_of(&e)));
            return Err(SysError {
                errno: errno_of(&e),
                log: Some(about("could not read from '", &path, &end)),
            });
        }
        Err(e) => {
            // A directory without the file is a module still loading, or
            // a built-in module that has parameters.
            if root.host(sysfs::module_path(name, None)).is_dir() {
                return Ok(InitState::Coming);
            }
            return Err(SysError::quiet(errno_of(&e)));
        }
    };
    match text.as_str() {
        "live\n" => Ok(InitState::Live),
        "coming\n" => Ok(InitState::Coming),
        "going\n" => Ok(InitState::Going),
        _ => Err(SysError {
            errno: libc::EINVAL,
            log: Some(about("unknown ", &path, &format!(": '{text}'"))),
        }),
    }
}

pub(crate) fn read_refcnt(root: &Root, name: &[u8]) -> Result<i64, SysError> {
    let path = sysfs::module_path(name, Some("refcnt"));
    let bad = |errno: i32| SysError {
        errno,
        log: Some(about(
            "could not read integer from '",
            &path,
            &format!("': '{}'", strerror(errno)),
        )),
    };
    match read_small(root, &path) {
        Err(e) => Err(SysError::quiet(errno_of(&e))),
        Ok(Err(e)) => Err(bad(errno_of(&e))),
        Ok(Ok(text)) => parse_long(&text).ok_or_else(|| bad(libc::EINVAL)),
    }
}

/// Holder names in directory order. kmod skips only `.` and `..`, which
/// `read_dir` never returns; other dot-names are kept.
pub(crate) fn read_holders(root: &Root, name: &[u8]) -> Result<Vec<Vec<u8>>, SysError> {
    let path = sysfs::module_path(name, Some("holders"));
    let fail = |e: &io::Error| SysError {
        errno: errno_of(e),
        log: Some(about(
            "could not open '",
            &path,
            &format!("': {}", strerror(errno_of(e))),
        )),
    };
    let dir = std::fs::read_dir(root.host(&path)).map_err(|e| fail(&e))?;
    Ok(dir
        .map_while(Result::ok)
        .map(|e| e.file_name().into_vec())
        .collect())
}

/// The inode number of the module's sysfs directory, on any root.
pub(crate) fn read_instance(root: &Root, name: &[u8]) -> Result<u64, SysError> {
    std::fs::metadata(root.host(sysfs::module_path(name, None)))
        .map(|m| m.ino())
        .map_err(|e| SysError::quiet(errno_of(&e)))
}

/// `system(3)` with `MODPROBE_MODULE` set around it, exactly as kmod runs
/// commands: `/bin/sh -c`, the caller's environment and descriptors,
/// SIGINT/SIGQUIT ignored and SIGCHLD blocked while it runs, and the
/// command started with every signal at its default (SIGPIPE included).
pub(crate) fn system(command: &[u8], module: &[u8]) -> Result<i32, i32> {
    let end = command
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(command.len());
    let cmd = CString::new(&command[..end]).map_err(|_| libc::EINVAL)?;
    std::env::set_var("MODPROBE_MODULE", OsStr::from_bytes(module));
    // Rust programs ignore SIGPIPE, and an ignored signal stays ignored
    // across exec: the command would start with it ignored, unlike under
    // kmod. The default disposition holds for the command's lifetime only.
    // SAFETY: changing a signal disposition; modprobe writes nothing while
    // the command runs.
    let pipe = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // SAFETY: `cmd` is a valid NUL-terminated string that outlives the call.
    let status = unsafe { libc::system(cmd.as_ptr()) };
    let errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    // SAFETY: restores the disposition saved above.
    unsafe { libc::signal(libc::SIGPIPE, pipe) };
    std::env::remove_var("MODPROBE_MODULE");
    if status == -1 {
        Err(errno)
    } else {
        Ok(status)
    }
}

impl System for HostSystem {
    fn initstate(&mut self, name: &[u8]) -> Result<InitState, SysError> {
        read_initstate(&self.root, name)
    }

    fn refcnt(&mut self, name: &[u8]) -> Result<i64, SysError> {
        read_refcnt(&self.root, name)
    }

    fn holders(&mut self, name: &[u8]) -> Result<Vec<Vec<u8>>, SysError> {
        read_holders(&self.root, name)
    }

    fn instance(&mut self, name: &[u8]) -> Result<u64, SysError> {
        read_instance(&self.root, name)
    }

    fn insert(
        &mut self,
        path: &Path,
        options: &[u8],
        force: Force,
    ) -> Result<Option<Syscall>, InsertError> {
        // Options never hold a NUL: configuration lines and arguments end there.
        let end = options
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(options.len());
        let params = CString::new(&options[..end]).unwrap_or_default();
        let host = self.root.host(path);
        kernel::insert_module(&host, &params, force, self.compression, None)
            .map(Some)
            .map_err(|e| InsertError {
                errno: e.errno(),
                from_kernel: e.from_kernel(),
                syscall: match e {
                    kernel::InsertError::Kernel { syscall, .. } => Some(syscall),
                    kernel::InsertError::File(_) => None,
                },
            })
    }

    fn remove(&mut self, name: &[u8], force: bool) -> Result<(), i32> {
        kernel::remove_module(name, force).map_err(|e| e as i32)
    }

    fn run(&mut self, command: &[u8], module: &[u8]) -> Result<i32, i32> {
        system(command, module)
    }

    fn now_msec(&mut self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn sleep_until_msec(&mut self, msec: u64) {
        let now = self.now_msec();
        if msec > now {
            std::thread::sleep(Duration::from_millis(msec - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initstate_reads_like_libkmod() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::at(t.path());
        let dir = t.path().join("sys/module");
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/initstate"), "live\n").unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::create_dir_all(dir.join("c")).unwrap();
        std::fs::write(dir.join("c/initstate"), "odd\n").unwrap();
        assert_eq!(read_initstate(&root, b"a"), Ok(InitState::Live));
        assert_eq!(read_initstate(&root, b"b"), Ok(InitState::Coming));
        assert_eq!(read_initstate(&root, b"z").unwrap_err().errno, libc::ENOENT);
        let e = read_initstate(&root, b"c").unwrap_err();
        assert_eq!(e.errno, libc::EINVAL);
        assert_eq!(
            e.log.as_deref(),
            Some(&b"unknown /sys/module/c/initstate: 'odd\n'"[..])
        );
    }
}
