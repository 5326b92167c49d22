//! The module system calls: `finit_module`, its `init_module` fallback and
//! `delete_module`.

use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::kmod::{DeleteModuleFlags, ModuleInitFlags};

use super::force::{strip_for_force, Force};
use crate::module_file::{self, Compression, ModuleFile};

/// `finit_module` flag: the file is compressed and the kernel should undo
/// it (Linux 6.4+, `CONFIG_MODULE_DECOMPRESS`). nix lacks the constant.
pub const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// How a module reached the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// `finit_module` on the file; `compressed` when the kernel was asked
    /// to decompress it.
    FinitModule {
        /// The compression the kernel was asked to undo; `None` when the file went in as it is.
        compressed: Option<Compression>,
    },
    /// `init_module` with the image read (and decompressed) here.
    InitModule {
        /// How the file was stored.
        compression: Compression,
        /// `--force` cleared `SHF_ALLOC` of `__versions` in our copy.
        stripped_modversions: bool,
        /// `--force` blanked the `vermagic=` record in our copy.
        stripped_vermagic: bool,
    },
}

impl Syscall {
    /// A short description for verbose output.
    pub fn describe(&self) -> String {
        match self {
            Syscall::FinitModule { compressed: None } => "finit_module".into(),
            Syscall::FinitModule {
                compressed: Some(c),
            } => {
                format!("finit_module, the kernel decompressing {c}")
            }
            Syscall::InitModule {
                compression: Compression::None,
                ..
            } => "init_module".into(),
            Syscall::InitModule { compression, .. } => {
                format!("init_module after {compression} decompression in userspace")
            }
        }
    }
}

/// Why a module could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The module file could not be opened, read or decompressed here.
    #[error(transparent)]
    File(#[from] module_file::Error),
    /// The kernel refused: the errno of the system call.
    #[error("{} refused: {}", syscall.describe(), errno.desc())]
    Kernel {
        /// The errno the system call failed with.
        errno: Errno,
        /// The system call that carried the module.
        syscall: Syscall,
    },
}

impl InsertError {
    /// The errno kmod reports for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            InsertError::File(e) => e.errno(),
            InsertError::Kernel { errno, .. } => *errno as i32,
        }
    }

    /// The kernel answered (as opposed to a failure before the call).
    pub fn from_kernel(&self) -> bool {
        matches!(self, InsertError::Kernel { .. })
    }
}

fn io_error(path: &Path, source: io::Error) -> module_file::Error {
    module_file::Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Inserts the module at `path` (a host path) with the parameter string
/// `params`.
///
/// `kernel_compression` is what `/sys/module/compression` names (see
/// [`crate::sysfs::kernel_compression`]). `image`, when the caller has
/// already opened the same file (e.g. for a symbol check), saves reading
/// and decompressing it a second time on the `init_module` path.
pub fn insert_module(
    path: &Path,
    params: &CStr,
    force: Force,
    kernel_compression: Option<Compression>,
    image: Option<&ModuleFile>,
) -> Result<Syscall, InsertError> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    let mut head = [0u8; 6];
    let n = read_head(&file, &mut head).map_err(|e| io_error(path, e))?;
    if n < head.len() {
        return Err(module_file::Error::TooShort {
            path: path.to_path_buf(),
        }
        .into());
    }
    let compression = Compression::detect(&head);
    if compression == Compression::None || Some(compression) == kernel_compression {
        let compressed = (compression != Compression::None).then_some(compression);
        let mut flags = force.init_flags();
        if compressed.is_some() {
            flags |= ModuleInitFlags::from_bits_retain(MODULE_INIT_COMPRESSED_FILE);
        }
        let syscall = Syscall::FinitModule { compressed };
        match nix::kmod::finit_module(&file, params, flags) {
            Ok(()) => return Ok(syscall),
            Err(Errno::ENOSYS) => {}
            Err(errno) => return Err(InsertError::Kernel { errno, syscall }),
        }
    }
    init_module_fallback(path, file, params, force, compression, image)
}

fn read_head(file: &File, head: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < head.len() {
        match file.read_at(&mut head[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn init_module_fallback(
    path: &Path,
    mut file: File,
    params: &CStr,
    force: Force,
    compression: Compression,
    image: Option<&ModuleFile>,
) -> Result<Syscall, InsertError> {
    let bytes: Cow<'_, [u8]> = match image {
        Some(m) if m.compression() == compression => Cow::Borrowed(m.bytes()),
        _ => {
            let mut raw = Vec::new();
            file.read_to_end(&mut raw).map_err(|e| io_error(path, e))?;
            match compression {
                Compression::None => Cow::Owned(raw),
                c => Cow::Owned(module_file::decompress(path, c, &raw)?),
            }
        }
    };
    let mut syscall = Syscall::InitModule {
        compression,
        stripped_modversions: false,
        stripped_vermagic: false,
    };
    let bytes = if force.any() {
        let mut copy = bytes.into_owned();
        let (versions, vermagic) = strip_for_force(&mut copy, force);
        if let Syscall::InitModule {
            stripped_modversions,
            stripped_vermagic,
            ..
        } = &mut syscall
        {
            *stripped_modversions = versions;
            *stripped_vermagic = vermagic;
        }
        Cow::Owned(copy)
    } else {
        bytes
    };
    nix::kmod::init_module(&bytes, params)
        .map_err(|errno| InsertError::Kernel { errno, syscall })?;
    Ok(syscall)
}

/// Removes module `name` from the kernel. Never waits for its users to go
/// (`O_NONBLOCK`: a module in use gives `EWOULDBLOCK`); `force` adds
/// `O_TRUNC`, which kernels with `CONFIG_MODULE_FORCE_UNLOAD` honour.
pub fn remove_module(name: impl AsRef<[u8]>, force: bool) -> Result<(), Errno> {
    let name = CString::new(name.as_ref()).map_err(|_| Errno::EINVAL)?;
    let mut flags = DeleteModuleFlags::O_NONBLOCK;
    if force {
        flags |= DeleteModuleFlags::O_TRUNC;
    }
    nix::kmod::delete_module(&name, flags)
}
