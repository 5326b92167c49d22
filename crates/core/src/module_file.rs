//! Opening a module file: raw ELF is memory-mapped, compressed files are
//! decompressed in memory. Compression is recognised by magic bytes, never by
//! the file name, exactly as the kernel and kmod do.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::elf::{self, Elf};

/// Decompressed modules larger than this are refused: a few-kilobyte `.ko.xz`
/// must not be able to exhaust memory. The largest real modules are tens of MiB.
pub const MAX_MODULE_SIZE: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

impl Compression {
    /// Recognises a compressed stream by its first bytes.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }

    /// The name the kernel uses in `/sys/module/compression`.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kernel_name())
    }
}

/// File name suffixes of module files, the compressed ones included.
pub const MODULE_EXTENSIONS: [&str; 4] = [".ko", ".ko.gz", ".ko.xz", ".ko.zst"];

/// Whether `name` ends like a module file.
pub fn has_module_extension(name: &[u8]) -> bool {
    MODULE_EXTENSIONS
        .iter()
        .any(|ext| name.ends_with(ext.as_bytes()))
}

/// What went wrong reading a module file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: too short to be a module", path.display())]
    TooShort { path: PathBuf },
    #[error("{}: corrupt {compression} data: {detail}", path.display())]
    Decompress {
        path: PathBuf,
        compression: Compression,
        detail: String,
    },
    #[error("{}: decompresses to more than {} bytes", path.display(), MAX_MODULE_SIZE)]
    TooLarge { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Elf { path: PathBuf, source: elf::Error },
}

impl Error {
    /// The errno kmod would report for this failure, for messages that
    /// scripts match (`strerror` text) and for exit paths.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::TooShort { .. } => libc::EINVAL,
            Error::Decompress { .. } | Error::TooLarge { .. } => libc::EINVAL,
            Error::Elf {
                source: elf::Error::NoSection(_),
                ..
            } => libc::ENODATA,
            Error::Elf {
                source: elf::Error::NotElf,
                ..
            } => libc::ENOEXEC,
            Error::Elf { .. } => libc::EINVAL,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. }
            | Error::TooShort { path }
            | Error::Decompress { path, .. }
            | Error::TooLarge { path }
            | Error::Elf { path, .. } => path,
        }
    }
}

enum Contents {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

/// An opened module: its (decompressed) bytes and how it was stored.
pub struct ModuleFile {
    path: PathBuf,
    compression: Compression,
    contents: Contents,
}

impl fmt::Debug for ModuleFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleFile")
            .field("path", &self.path)
            .field("compression", &self.compression)
            .field("len", &self.bytes().len())
            .finish()
    }
}

impl ModuleFile {
    /// Opens `host_path` (already resolved through the root); errors and
    /// [`ModuleFile::path`] use the same path.
    pub fn open(host_path: impl AsRef<Path>) -> Result<ModuleFile, Error> {
        let path = host_path.as_ref().to_path_buf();
        let io_err = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        // A directory opens, but neither maps nor reads: say what it is.
        if meta.is_dir() {
            return Err(io_err(io::Error::from_raw_os_error(libc::EISDIR)));
        }
        let len = meta.len();
        if len < 6 {
            return Err(Error::TooShort { path });
        }
        // SAFETY: module files are not expected to change while a tool reads
        // them; a concurrent truncation can at worst fault this process,
        // which is the accepted trade-off of every mmap-based reader.
        let map = unsafe { Mmap::map(&file) }.map_err(io_err)?;
        let compression = Compression::detect(&map);
        let contents = match compression {
            Compression::None => Contents::Mapped(map),
            _ => {
                drop(map);
                let mut raw = Vec::with_capacity(len as usize);
                file.read_to_end(&mut raw).map_err(io_err)?;
                Contents::Owned(decompress(&path, compression, &raw)?)
            }
        };
        Ok(ModuleFile {
            path,
            compression,
            contents,
        })
    }

    /// A module held in memory, as read from `path` (used for tests, fuzzing
    /// and callers that already have the bytes).
    pub fn from_bytes(path: impl Into<PathBuf>, raw: Vec<u8>) -> Result<ModuleFile, Error> {
        let path = path.into();
        if raw.len() < 6 {
            return Err(Error::TooShort { path });
        }
        let compression = Compression::detect(&raw);
        let bytes = match compression {
            Compression::None => raw,
            _ => decompress(&path, compression, &raw)?,
        };
        Ok(ModuleFile {
            path,
            compression,
            contents: Contents::Owned(bytes),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the file was stored on disk.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The uncompressed module image.
    pub fn bytes(&self) -> &[u8] {
        match &self.contents {
            Contents::Mapped(m) => m,
            Contents::Owned(v) => v,
        }
    }

    /// Parses the image's ELF structure.
    pub fn elf(&self) -> Result<Elf<'_>, Error> {
        Elf::parse(self.bytes()).map_err(|source| Error::Elf {
            path: self.path.clone(),
            source,
        })
    }

    /// Wraps an [`elf::Error`] from a later query with this file's path.
    pub fn elf_error(&self, source: elf::Error) -> Error {
        Error::Elf {
            path: self.path.clone(),
            source,
        }
    }
}

/// Decompresses `raw` in memory, refusing output beyond [`MAX_MODULE_SIZE`].
pub fn decompress(path: &Path, compression: Compression, raw: &[u8]) -> Result<Vec<u8>, Error> {
    let reader: Box<dyn Read + '_> = match compression {
        Compression::None => return Ok(raw.to_vec()),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(raw)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| {
                Error::Decompress {
                    path: path.to_path_buf(),
                    compression,
                    detail: e.to_string(),
                }
            })?)
        }
    };
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(64 << 20));
    let read = reader.take(MAX_MODULE_SIZE + 1).read_to_end(&mut out);
    match read {
        Ok(_) if out.len() as u64 > MAX_MODULE_SIZE => Err(Error::TooLarge {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(out),
        Err(e) => Err(Error::Decompress {
            path: path.to_path_buf(),
            compression,
            detail: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_compression_by_magic() {
        assert_eq!(Compression::detect(b"\x7fELF\x02\x01"), Compression::None);
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 8, 0, 0, 0]),
            Compression::Gzip
        );
        assert_eq!(Compression::detect(b"\xfd7zXZ\x00"), Compression::Xz);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"\xfd7zXZ"), Compression::None);
    }

    #[test]
    fn short_and_corrupt_inputs_are_errors() {
        assert!(matches!(
            ModuleFile::from_bytes("x", vec![1, 2]),
            Err(Error::TooShort { .. })
        ));
        let bad_xz = b"\xfd7zXZ\x00garbage-garbage".to_vec();
        assert!(matches!(
            ModuleFile::from_bytes("x.ko.xz", bad_xz),
            Err(Error::Decompress { .. })
        ));
        let bad_gz = vec![0x1f, 0x8b, 1, 2, 3, 4, 5, 6];
        assert!(matches!(
            ModuleFile::from_bytes("x.ko.gz", bad_gz),
            Err(Error::Decompress { .. })
        ));
        let not_elf = ModuleFile::from_bytes("x.ko", b"hello world".to_vec()).unwrap();
        assert!(matches!(not_elf.elf(), Err(Error::Elf { .. })));
    }
}
