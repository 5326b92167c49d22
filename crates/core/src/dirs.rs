//! Directories read the way kmod reads them: each opened relative to its
//! parent (`openat`), each entry looked at relative to its directory
//! (`fstatat`), so that no full path is resolved again for every directory
//! of a tree 4,000 modules deep. Entries come in raw readdir order.
//!
//! Listings are read with getdents64(2) itself: glibc's `fdopendir` adds
//! an fstat and two fcntl calls per directory, a quarter of the system
//! calls of a depmod run whose modules all come from its cache; and
//! glibc's 32 KiB listing buffer is far more than a configuration
//! directory of a few files needs.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// Bytes of directory entries read per getdents64 call in a module tree
/// (glibc's size).
const LISTING_BUFFER: usize = 32 * 1024;

/// The same for a configuration directory, which holds a handful of files
/// (a longer listing just takes more calls).
const SMALL_LISTING_BUFFER: usize = 2 * 1024;

/// An open directory and the part of its listing read so far.
pub(crate) struct Dir {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// The entries not yet returned are `buf[pos..]`.
    pos: usize,
    /// The end was reached, or a read failed.
    ended: bool,
    /// Bytes asked for per getdents64 call.
    chunk: usize,
}

/// One entry: its name, `d_type` and `d_ino`.
pub(crate) struct Entry {
    pub name: CString,
    pub kind: u8,
    pub ino: u64,
}

/// What an entry is, as `stat` tells.
pub(crate) struct Stat(libc::stat64);

impl Stat {
    fn format(&self) -> u32 {
        self.0.st_mode & libc::S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.format() == libc::S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.format() == libc::S_IFREG
    }
    pub fn format_bits(&self) -> u32 {
        self.format()
    }
    pub fn id(&self) -> (u64, u64) {
        (self.0.st_dev, self.0.st_ino)
    }
    /// What stat(2) filled in.
    pub fn raw(&self) -> &libc::stat64 {
        &self.0
    }
}

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl Dir {
    /// Opens the directory at a host path.
    pub fn open(path: &Path) -> io::Result<Dir> {
        use std::os::unix::ffi::OsStrExt;
        Dir::open_at(libc::AT_FDCWD, &cstr(path.as_os_str().as_bytes())?)
    }

    /// Opens a directory expected to hold few entries.
    pub fn open_small(path: &Path) -> io::Result<Dir> {
        let mut dir = Dir::open(path)?;
        dir.chunk = SMALL_LISTING_BUFFER;
        Ok(dir)
    }

    /// Opens subdirectory `name` of this one.
    pub fn open_sub(&self, name: &CStr) -> io::Result<Dir> {
        Dir::open_at(self.fd(), name)
    }

    /// Opens subdirectory `name` of this one only to look at it and at
    /// what is in it ([`Dir::stat`], [`Dir::identity`], [`Dir::open_sub`]):
    /// cheaper than opening it to read (`O_PATH`), and its listing cannot be
    /// read until it is [`Dir::reopen`]ed.
    pub fn open_sub_path(&self, name: &CStr) -> io::Result<Dir> {
        Dir::open_with(self.fd(), name, libc::O_PATH)
    }

    /// This directory, opened again to read its listing.
    pub fn reopen(&self) -> io::Result<Dir> {
        Dir::open_at(self.fd(), c".")
    }

    /// fstat(2) of the directory itself.
    pub fn identity(&self) -> io::Result<Stat> {
        self.stat_at(c"", libc::AT_EMPTY_PATH)
    }

    fn open_at(at: libc::c_int, name: &CStr) -> io::Result<Dir> {
        Dir::open_with(at, name, libc::O_RDONLY)
    }

    fn open_with(at: libc::c_int, name: &CStr, mode: libc::c_int) -> io::Result<Dir> {
        let flags = mode | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `name` is NUL-terminated; a descriptor returned is ours.
        let fd = unsafe { libc::openat(at, name.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Dir {
            // SAFETY: `fd` was just opened and nothing else owns it.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            buf: Vec::new(),
            pos: 0,
            ended: false,
            chunk: LISTING_BUFFER,
        })
    }

    fn fd(&self) -> libc::c_int {
        self.fd.as_raw_fd()
    }

    /// Reads the next piece of the listing; `Ok(false)` at its end.
    fn fill(&mut self) -> io::Result<bool> {
        self.buf.clear();
        self.buf.reserve(self.chunk);
        // SAFETY: the buffer has room for `self.chunk` bytes; the
        // kernel initialises the `n` it reports, and only those are used.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                self.fd(),
                self.buf.as_mut_ptr(),
                self.chunk,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(self.chunk);
        // SAFETY: see above: `n` bytes were written by the kernel.
        unsafe { self.buf.set_len(n) };
        self.pos = 0;
        Ok(n > 0)
    }

    /// `fstatat` of an entry, following a final symbolic link or not.
    pub fn stat(&self, name: &CStr, follow: bool) -> io::Result<Stat> {
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        self.stat_at(name, flags)
    }

    fn stat_at(&self, name: &CStr, flags: libc::c_int) -> io::Result<Stat> {
        let mut st = std::mem::MaybeUninit::<libc::stat64>::uninit();
        // SAFETY: `name` is NUL-terminated and `st` has room for a stat64;
        // it is read only when the call succeeded.
        unsafe {
            if libc::fstatat64(self.fd(), name.as_ptr(), st.as_mut_ptr(), flags) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Stat(st.assume_init()))
        }
    }
}

impl Iterator for Dir {
    type Item = io::Result<Entry>;

    /// The next entry but `.` and `..`; an error ends the listing.
    fn next(&mut self) -> Option<io::Result<Entry>> {
        loop {
            if self.ended {
                return None;
            }
            if self.pos >= self.buf.len() {
                let filled = self.fill();
                self.ended = !matches!(filled, Ok(true));
                match filled {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(Err(e)),
                }
            }
            // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16,
            // d_type u8, then the NUL-terminated name.
            let rec = &self.buf[self.pos..];
            let field = |at: usize, n: usize| rec.get(at..at + n);
            let (Some(ino), Some(reclen), Some(&kind)) = (field(0, 8), field(16, 2), rec.get(18))
            else {
                self.pos = self.buf.len();
                continue;
            };
            let reclen = usize::from(u16::from_ne_bytes([reclen[0], reclen[1]]));
            let ino = u64::from_ne_bytes(ino.try_into().unwrap_or([0; 8]));
            let name = rec
                .get(19..reclen.max(19))
                .and_then(|n| CStr::from_bytes_until_nul(n).ok());
            self.pos += reclen.max(1);
            let Some(name) = name else { continue };
            if name == c"." || name == c".." {
                continue;
            }
            return Some(Ok(Entry {
                name: name.to_owned(),
                kind,
                ino,
            }));
        }
    }
}
