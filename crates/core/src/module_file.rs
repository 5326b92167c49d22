//! Opening a module file: raw ELF is memory-mapped, compressed files are
//! decompressed in memory. Compression is recognised by magic bytes, never by
//! the file name, exactly as the kernel and kmod do.
//!
//! Decompression sizes its output from the stream's own record of the
//! uncompressed size where zstd's frame header has one; xz and gzip, and
//! anything unusual, take the general streaming decoders. (An exact-size
//! xz path of our own saved 7% of depmod's CPU time on an xz tree and cost
//! 40% more peak memory: docs/benchmarks.md.) A caller reading the ELF
//! sections of many modules uses [`with_elf`]: uncompressed files are read
//! on demand rather than mapped, and a [`Buffers`] keeps memory and
//! decoders from one module to the next.
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::decompress;
use crate::elf::{self, Elf};

/// Decompressed modules larger than this are refused: a few-kilobyte `.ko.xz`
/// must not be able to exhaust memory. The largest real modules are tens of MiB.
pub const MAX_MODULE_SIZE: u64 = 1 << 30;

/// How a module file is stored on disk, as told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain ELF (`.ko`).
    None,
    /// gzip (`.ko.gz`).
    Gzip,
    /// xz (`.ko.xz`).
    Xz,
    /// zstd (`.ko.zst`).
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

/// Whether `path`, a target path under `root`, is a regular file named
/// like a module: how modinfo tells a file argument from a module name.
pub fn is_module_path(root: &crate::Root, path: &Path) -> bool {
    std::fs::metadata(root.host(path)).is_ok_and(|m| m.is_file())
        && has_module_extension(path.as_os_str().as_encoded_bytes())
}

/// Whether `name` ends like a module file.
pub fn has_module_extension(name: &[u8]) -> bool {
    MODULE_EXTENSIONS
        .iter()
        .any(|ext| name.ends_with(ext.as_bytes()))
}

/// What went wrong reading a module file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or mapped.
    #[error("{}: {source}", path.display())]
    Io {
        /// The module file, as a host path.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
    /// The file is under 6 bytes, too short to tell its compression, let alone hold a module.
    #[error("{}: too short to be a module", path.display())]
    TooShort {
        /// The module file, as a host path.
        path: PathBuf,
    },
    /// The compressed stream is damaged or truncated.
    #[error("{}: corrupt {compression} data: {detail}", path.display())]
    Decompress {
        /// The module file, as a host path.
        path: PathBuf,
        /// The format the file's magic announced.
        compression: Compression,
        /// The decoder's own account of the damage.
        detail: String,
    },
    /// The module is compressed in a format whose library could not be
    /// loaded (the distribution build opens liblzma and libzstd when a
    /// module first needs them).
    #[error("{}: cannot decompress {compression}: {detail}", path.display())]
    NoDecoder {
        /// The module file, as a host path.
        path: PathBuf,
        /// The format the file's magic announced.
        compression: Compression,
        /// Why the library could not be used.
        detail: String,
    },
    /// The decompressed module would exceed [`MAX_MODULE_SIZE`]: a guard
    /// against small files that inflate without bound.
    #[error("{}: decompresses to more than {} bytes", path.display(), MAX_MODULE_SIZE)]
    TooLarge {
        /// The module file, as a host path.
        path: PathBuf,
    },
    /// The decompressed bytes are not a readable ELF module.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The module file, as a host path.
        path: PathBuf,
        /// What the ELF reader found wrong.
        source: elf::Error,
    },
}

impl Error {
    /// The errno kmod would report for this failure, for messages that
    /// scripts match (`strerror` text) and for exit paths.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => crate::diagnostics::errno_of(source),
            Error::TooShort { .. } => libc::EINVAL,
            Error::Decompress { .. } | Error::TooLarge { .. } => libc::EINVAL,
            // What kmod reports for a format it was built without.
            Error::NoDecoder { .. } => libc::ENOSYS,
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

    /// The file the error is about, as a host path.
    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. }
            | Error::TooShort { path }
            | Error::Decompress { path, .. }
            | Error::NoDecoder { path, .. }
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

/// A module file opened and its magic number read.
struct Opened {
    path: PathBuf,
    file: File,
    /// Its metadata, taken when it was opened.
    meta: std::fs::Metadata,
    compression: Compression,
}

impl Opened {
    fn new(path: PathBuf) -> Result<Opened, Error> {
        let file = File::open(&path).map_err(|source| io_error(&path, source))?;
        let meta = file.metadata().map_err(|source| io_error(&path, source))?;
        // A directory opens, but neither maps nor reads: say what it is.
        if meta.is_dir() {
            return Err(io_error(&path, io::Error::from_raw_os_error(libc::EISDIR)));
        }
        let len = meta.len();
        let mut magic = [0u8; 6];
        if len < magic.len() as u64 {
            return Err(Error::TooShort { path });
        }
        file.read_exact_at(&mut magic, 0)
            .map_err(|source| io_error(&path, source))?;
        Ok(Opened {
            path,
            file,
            meta,
            compression: Compression::detect(&magic),
        })
    }

    /// The compressed file's contents, in `raw`.
    fn read_into(&mut self, raw: &mut Vec<u8>) -> Result<(), Error> {
        raw.clear();
        raw.reserve(usize::try_from(self.meta.len().min(MAX_MODULE_SIZE)).unwrap_or(0));
        match self.file.read_to_end(raw) {
            Ok(_) => Ok(()),
            Err(source) => Err(io_error(&self.path, source)),
        }
    }
}

fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl ModuleFile {
    /// Opens `host_path` (already resolved through the root); errors and
    /// [`ModuleFile::path`] use the same path.
    pub fn open(host_path: impl AsRef<Path>) -> Result<ModuleFile, Error> {
        let mut opened = Opened::new(host_path.as_ref().to_path_buf())?;
        let contents = match opened.compression {
            // SAFETY: module files are not expected to change while a tool
            // reads them; a concurrent truncation can at worst fault this
            // process, which is the accepted trade-off of every mmap-based
            // reader.
            Compression::None => match unsafe { Mmap::map(&opened.file) } {
                Ok(map) => Contents::Mapped(map),
                // Files that cannot be mapped are read.
                Err(_) => {
                    let mut bytes = Vec::new();
                    opened.read_into(&mut bytes)?;
                    Contents::Owned(bytes)
                }
            },
            compression => {
                let mut raw = Vec::new();
                opened.read_into(&mut raw)?;
                Contents::Owned(decompress(&opened.path, compression, &raw)?)
            }
        };
        Ok(ModuleFile {
            path: opened.path,
            compression: opened.compression,
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

    /// The file this module was read from, as a host path.
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

    /// The CRC and name of each symbol the module's `__versions` lists
    /// (`versions`, modprobe's `--show-modversions`) or each one it exports
    /// (`--show-exports`), in file order; the errno when they cannot be
    /// read. A module with neither `__crc_` symbols nor `__ksymtab_strings`
    /// has no exports to show: `ENODATA`, as in kmod.
    pub fn symbol_crcs(&self, versions: bool) -> Result<Vec<(u64, Vec<u8>)>, i32> {
        let elf = self.elf().map_err(|e| e.errno())?;
        let err = |e| self.elf_error(e).errno();
        if versions {
            let v = elf.modversions().map_err(err)?;
            return Ok(v.iter().map(|m| (m.crc, m.name.to_vec())).collect());
        }
        let v = elf.exports().map_err(err)?;
        if v.is_empty() && !elf.has_section("__ksymtab_strings") {
            return Err(libc::ENODATA);
        }
        Ok(v.iter().map(|m| (m.crc, m.name.to_vec())).collect())
    }

    /// Wraps an [`elf::Error`] from a later query with this file's path.
    pub fn elf_error(&self, source: elf::Error) -> Error {
        Error::Elf {
            path: self.path.clone(),
            source,
        }
    }
}

/// Memory kept from one module to the next by a caller that reads many
/// ([`with_elf`]): the compressed input, the decompressed image, the zstd
/// decoder. Its pages stay mapped, so the next module does not fault them
/// in again.
#[derive(Default)]
pub struct Buffers {
    raw: Vec<u8>,
    image: Vec<u8>,
    zstd: decompress::Zstd,
}

impl fmt::Debug for Buffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffers")
            .field("raw", &self.raw.capacity())
            .field("image", &self.image.capacity())
            .finish()
    }
}

/// Runs `f` on the ELF image of the module at `host_path`, reading no more
/// than `f` asks for: an uncompressed file is read on demand (its headers,
/// then each section asked for; see [`Elf::from_file`]), a compressed one
/// is decompressed into `buffers`, which keep their memory and decoders
/// for the next module. For readers of many modules (depmod); tools that
/// need the whole image (the signature, the kernel) use [`ModuleFile`].
pub fn with_elf<T>(
    host_path: impl AsRef<Path>,
    buffers: &mut Buffers,
    f: impl FnOnce(&Elf<'_>) -> T,
) -> Result<T, Error> {
    with_elf_and_metadata(host_path, buffers, |elf, _| f(elf))
}

/// [`with_elf`], with the metadata of the file as opened (taken before it
/// is read) for `f` too.
pub fn with_elf_and_metadata<T>(
    host_path: impl AsRef<Path>,
    buffers: &mut Buffers,
    f: impl FnOnce(&Elf<'_>, &std::fs::Metadata) -> T,
) -> Result<T, Error> {
    let mut opened = Opened::new(host_path.as_ref().to_path_buf())?;
    let elf_error = |source| Error::Elf {
        path: host_path.as_ref().to_path_buf(),
        source,
    };
    if opened.compression == Compression::None {
        let elf = Elf::from_file(&opened.file, opened.meta.len()).map_err(elf_error)?;
        return Ok(f(&elf, &opened.meta));
    }
    // Both buffers go back to `buffers` whatever happens.
    let mut raw = std::mem::take(&mut buffers.raw);
    let mut image = std::mem::take(&mut buffers.image);
    let result = opened.read_into(&mut raw).and_then(|()| {
        decompress_into(
            &opened.path,
            opened.compression,
            &raw,
            &mut image,
            &mut buffers.zstd,
        )?;
        let elf = Elf::parse(&image).map_err(elf_error)?;
        Ok(f(&elf, &opened.meta))
    });
    buffers.raw = raw;
    buffers.image = image;
    result
}

/// Decompresses `raw` in memory, refusing output beyond [`MAX_MODULE_SIZE`].
pub fn decompress(path: &Path, compression: Compression, raw: &[u8]) -> Result<Vec<u8>, Error> {
    if compression == Compression::None {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    decompress_into(
        path,
        compression,
        raw,
        &mut out,
        &mut decompress::Zstd::default(),
    )?;
    Ok(out)
}

/// Decompresses `raw` into `out` (cleared first): the exact-size path
/// when the stream allows, else the general decoders, which also give the
/// error of a corrupt stream.
fn decompress_into(
    path: &Path,
    compression: Compression,
    raw: &[u8],
    out: &mut Vec<u8>,
    zstd: &mut decompress::Zstd,
) -> Result<(), Error> {
    out.clear();
    if compression == Compression::None {
        out.extend_from_slice(raw);
        return Ok(());
    }
    if compression == Compression::Zstd
        && decompress::zstd_frame(raw, out, zstd, MAX_MODULE_SIZE).is_some()
    {
        return Ok(());
    }
    // The failed attempt's memory goes before the general path takes its own.
    *out = Vec::new();
    out.reserve(raw.len().saturating_mul(4).min(64 << 20));
    let decoded = match compression {
        Compression::Gzip => decompress::gzip(raw, out, MAX_MODULE_SIZE),
        Compression::Xz => decompress::xz(raw, out, MAX_MODULE_SIZE),
        Compression::Zstd => decompress::zstd_stream(raw, out, MAX_MODULE_SIZE),
        Compression::None => Ok(()),
    };
    let path = path.to_path_buf();
    match decoded {
        Ok(()) if out.len() as u64 > MAX_MODULE_SIZE => {
            *out = Vec::new();
            Err(Error::TooLarge { path })
        }
        Ok(()) => Ok(()),
        Err(decompress::Failure::Corrupt(detail)) => Err(Error::Decompress {
            path,
            compression,
            detail,
        }),
        Err(decompress::Failure::Unavailable(detail)) => Err(Error::NoDecoder {
            path,
            compression,
            detail,
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

    #[test]
    fn zstd_single_frame_exact_size() {
        let data = vec![7u8; 50_000];
        let raw = zstd::bulk::compress(&data, 3).unwrap();
        let mut out = Vec::new();
        let limit = MAX_MODULE_SIZE;
        assert!(decompress::zstd_frame(&raw, &mut out, &mut Default::default(), limit).is_some());
        assert_eq!(out, data);
        assert_eq!(
            decompress(Path::new("x"), Compression::Zstd, &raw).unwrap(),
            data
        );
    }

    #[test]
    fn with_elf_survives_errors_within_a_memory_bound() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.ko");
        std::fs::write(&m, b"\x7fELF\x02\x01\x01 not really an ELF file").unwrap();
        let data = std::fs::read(&m).unwrap();
        let zst = dir.path().join("m.ko.zst");
        let mut big = data.clone();
        big.resize(200_000, 0);
        std::fs::write(&zst, zstd::bulk::compress(&big, 3).unwrap()).unwrap();
        let bad = dir.path().join("bad.ko.zst");
        std::fs::write(&bad, b"\x28\xb5\x2f\xfdgarbage").unwrap();

        let mut buffers = Buffers::default();
        let errno = |r: Result<(), Error>| r.map_err(|e| e.errno());
        // Headers that point nowhere: EINVAL, from a file or from memory.
        assert_eq!(errno(with_elf(&m, &mut buffers, |_| ())), Err(libc::EINVAL));
        assert_eq!(
            errno(with_elf(&zst, &mut buffers, |_| ())),
            Err(libc::EINVAL)
        );
        assert_eq!(buffers.image, big);
        assert_eq!(
            errno(with_elf(&bad, &mut buffers, |_| ())),
            Err(libc::EINVAL)
        );
        assert_eq!(
            errno(with_elf(&zst, &mut buffers, |_| ())),
            Err(libc::EINVAL)
        );
        assert_eq!(buffers.image, big);
        // Whatever the decoders do with the kept buffers, a long run of
        // good and bad files neither changes the bytes nor piles up memory.
        for _ in 0..50 {
            assert!(with_elf(&bad, &mut buffers, |_| ()).is_err());
            assert!(with_elf(&zst, &mut buffers, |_| ()).is_err());
            assert_eq!(buffers.image, big);
        }
        assert!(
            buffers.image.capacity() + buffers.raw.capacity() <= 4 * big.len(),
            "kept buffers stay within a few images: {buffers:?}"
        );
        let short = dir.path().join("short.ko");
        std::fs::write(&short, b"\x7fEL").unwrap();
        assert_eq!(
            errno(with_elf(&short, &mut buffers, |_| ())),
            Err(libc::EINVAL)
        );
        let missing = dir.path().join("missing.ko");
        assert_eq!(
            errno(with_elf(&missing, &mut buffers, |_| ())),
            Err(libc::ENOENT)
        );
    }
}
