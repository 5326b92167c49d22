//! Directories read the way kmod's depmod reads them: each opened relative
//! to its parent (`openat`), each entry looked at relative to its directory
//! (`fstatat`), so that no full path is resolved again for every directory
//! of a tree 4,000 modules deep. Entries come in raw readdir order.

use std::ffi::{CStr, CString};
use std::io;
use std::path::Path;

use super::cache::FileStat;

/// An open directory.
pub(crate) struct Dir {
    dir: std::ptr::NonNull<libc::DIR>,
}

// SAFETY: a directory stream is used by one thread at a time (it moves
// with the work that walks it), which is all POSIX asks.
unsafe impl Send for Dir {}

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
    pub fn file_stat(&self) -> FileStat {
        FileStat {
            dev: self.0.st_dev,
            ino: self.0.st_ino,
            size: self.0.st_size as u64,
            mtime: (self.0.st_mtime, self.0.st_mtime_nsec as u32),
            ctime: (self.0.st_ctime, self.0.st_ctime_nsec as u32),
        }
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

    /// Opens subdirectory `name` of this one.
    pub fn open_sub(&self, name: &CStr) -> io::Result<Dir> {
        Dir::open_at(self.fd(), name)
    }

    fn open_at(at: libc::c_int, name: &CStr) -> io::Result<Dir> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `name` is NUL-terminated; the descriptor is handed to
        // fdopendir, which owns it from then on, or closed here.
        unsafe {
            let fd = libc::openat(at, name.as_ptr(), flags);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            match std::ptr::NonNull::new(libc::fdopendir(fd)) {
                Some(dir) => Ok(Dir { dir }),
                None => {
                    let e = io::Error::last_os_error();
                    libc::close(fd);
                    Err(e)
                }
            }
        }
    }

    fn fd(&self) -> libc::c_int {
        // SAFETY: `self.dir` is an open directory stream.
        unsafe { libc::dirfd(self.dir.as_ptr()) }
    }

    /// `fstatat` of an entry, following a final symbolic link or not.
    pub fn stat(&self, name: &CStr, follow: bool) -> io::Result<Stat> {
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
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
            // SAFETY: readdir64 on an open stream; errno is cleared first
            // to tell the end from an error. The entry is copied before
            // the next call on the stream.
            unsafe {
                *libc::__errno_location() = 0;
                let ent = libc::readdir64(self.dir.as_ptr());
                if ent.is_null() {
                    let errno = *libc::__errno_location();
                    return (errno != 0).then(|| Err(io::Error::from_raw_os_error(errno)));
                }
                let name = CStr::from_ptr((*ent).d_name.as_ptr());
                if name == c"." || name == c".." {
                    continue;
                }
                return Some(Ok(Entry {
                    name: name.to_owned(),
                    kind: (*ent).d_type,
                    ino: (*ent).d_ino,
                }));
            }
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the stream is open and closed only here.
        unsafe {
            libc::closedir(self.dir.as_ptr());
        }
    }
}
