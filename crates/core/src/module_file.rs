//! Opening a module file: raw ELF is memory-mapped (small files are read),
//! compressed files are decompressed in memory. Compression is recognised by magic bytes, never by
//! the file name, exactly as the kernel and kmod do.
//!
//! Decompression sizes its output from the stream's own record of the
//! uncompressed size where the format has one (xz's index, zstd's frame
//! header), and checks xz's CRC32 block checks with a SIMD CRC32; anything
//! unusual takes the general streaming decoders. A caller reading many
//! modules keeps a [`Buffers`] to reuse memory and decoders from one module
//! to the next ([`ModuleFile::open_with`]).
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::elf::{self, Elf};

mod xz;

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

/// Memory kept from one module to the next by a caller that reads many
/// ([`ModuleFile::open_with`], [`Buffers::recycle`]): the compressed input,
/// the last decompressed image, the zstd decoder. Its pages stay mapped, so
/// the next module does not fault them in again.
#[derive(Default)]
pub struct Buffers {
    raw: Vec<u8>,
    spare: Vec<u8>,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl fmt::Debug for Buffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffers")
            .field("raw", &self.raw.capacity())
            .field("spare", &self.spare.capacity())
            .finish()
    }
}

impl Buffers {
    /// Takes back the memory of a module the caller is done with.
    pub fn recycle(&mut self, file: ModuleFile) {
        if let Contents::Owned(bytes) = file.contents {
            self.spare = bytes;
        }
    }
}

impl ModuleFile {
    /// Opens `host_path` (already resolved through the root); errors and
    /// [`ModuleFile::path`] use the same path.
    pub fn open(host_path: impl AsRef<Path>) -> Result<ModuleFile, Error> {
        ModuleFile::open_with(host_path, &mut Buffers::default())
    }

    /// [`ModuleFile::open`] drawing on `buffers` for memory; give the file
    /// back with [`Buffers::recycle`] when done.
    pub fn open_with(
        host_path: impl AsRef<Path>,
        buffers: &mut Buffers,
    ) -> Result<ModuleFile, Error> {
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
        let mut magic = [0u8; 6];
        if len < magic.len() as u64 {
            return Err(Error::TooShort { path });
        }
        file.read_exact_at(&mut magic, 0).map_err(io_err)?;
        let compression = Compression::detect(&magic);
        let contents = match compression {
            // A small file is read: copying it costs less than setting up,
            // faulting in and tearing down a mapping.
            Compression::None if len <= READ_LIMIT => {
                Contents::Owned(read_whole(&mut file, len, buffers).map_err(io_err)?)
            }
            // SAFETY: module files are not expected to change while a tool
            // reads them; a concurrent truncation can at worst fault this
            // process, which is the accepted trade-off of every mmap-based
            // reader.
            Compression::None => match unsafe { Mmap::map(&file) } {
                Ok(map) => Contents::Mapped(map),
                // Files that cannot be mapped are read.
                Err(_) => Contents::Owned(read_whole(&mut file, len, buffers).map_err(io_err)?),
            },
            _ => {
                let mut raw = std::mem::take(&mut buffers.raw);
                raw.clear();
                raw.reserve(reserve_for(len));
                let read = file.read_to_end(&mut raw).map_err(io_err);
                drop(file);
                let mut out = std::mem::take(&mut buffers.spare);
                let done = read.and_then(|_| {
                    decompress_into(&path, compression, &raw, &mut out, &mut buffers.zstd)
                });
                buffers.raw = raw;
                if let Err(e) = done {
                    buffers.spare = out;
                    return Err(e);
                }
                Contents::Owned(out)
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

/// Uncompressed files up to this size are read rather than mapped.
const READ_LIMIT: u64 = 64 << 10;

/// Room to reserve for a file of `len` bytes: all of it, unless its size
/// is absurd (the read then grows the buffer as data actually comes).
fn reserve_for(len: u64) -> usize {
    usize::try_from(len.min(MAX_MODULE_SIZE)).unwrap_or(0)
}

/// The whole file, in the buffer `buffers` has spare.
fn read_whole(file: &mut File, len: u64, buffers: &mut Buffers) -> io::Result<Vec<u8>> {
    let mut bytes = std::mem::take(&mut buffers.spare);
    bytes.clear();
    bytes.reserve(reserve_for(len));
    match file.read_to_end(&mut bytes) {
        Ok(_) => Ok(bytes),
        Err(e) => {
            buffers.spare = bytes;
            Err(e)
        }
    }
}

/// Decompresses `raw` in memory, refusing output beyond [`MAX_MODULE_SIZE`].
pub fn decompress(path: &Path, compression: Compression, raw: &[u8]) -> Result<Vec<u8>, Error> {
    if compression == Compression::None {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    decompress_into(path, compression, raw, &mut out, &mut None)?;
    Ok(out)
}

/// Decompresses `raw` into `out` (cleared first): the exact-size paths
/// when the stream allows, else the general decoders, which also give the
/// error of a corrupt stream.
fn decompress_into(
    path: &Path,
    compression: Compression,
    raw: &[u8],
    out: &mut Vec<u8>,
    zstd: &mut Option<zstd::bulk::Decompressor<'static>>,
) -> Result<(), Error> {
    out.clear();
    let fast = match compression {
        Compression::Xz => xz::decompress(raw, out),
        Compression::Zstd => zstd_frame(raw, out, zstd),
        _ => None,
    };
    if fast.is_some() {
        return Ok(());
    }
    // Past the size limit already (a decompression bomb): decoding it again
    // below would double the time and hold a second buffer as large.
    if out.len() as u64 > MAX_MODULE_SIZE {
        *out = Vec::new();
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
        });
    }
    // The failed attempt's memory goes before the general path takes its own.
    *out = Vec::new();
    let reader: Box<dyn Read + '_> = match compression {
        Compression::None => {
            out.extend_from_slice(raw);
            return Ok(());
        }
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
    out.reserve(raw.len().saturating_mul(4).min(64 << 20));
    let read = reader.take(MAX_MODULE_SIZE + 1).read_to_end(out);
    match read {
        Ok(_) if out.len() as u64 > MAX_MODULE_SIZE => Err(Error::TooLarge {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) => Err(Error::Decompress {
            path: path.to_path_buf(),
            compression,
            detail: e.to_string(),
        }),
    }
}

/// Decompresses a single zstd frame whose size is recorded in its header,
/// straight into an output of that size. `None`: not such a frame, or
/// corrupt (the caller then takes the general path).
fn zstd_frame(
    raw: &[u8],
    out: &mut Vec<u8>,
    dctx: &mut Option<zstd::bulk::Decompressor<'static>>,
) -> Option<()> {
    let size = zstd::zstd_safe::get_frame_content_size(raw).ok()??;
    let frame = zstd::zstd_safe::find_frame_compressed_size(raw).ok()?;
    if frame != raw.len() || size > MAX_MODULE_SIZE {
        return None;
    }
    if dctx.is_none() {
        *dctx = Some(zstd::bulk::Decompressor::new().ok()?);
    }
    let dctx = dctx.as_mut()?;
    out.reserve(usize::try_from(size).ok()?);
    let n = dctx.decompress_to_buffer(raw, out).ok()?;
    (n as u64 == size).then_some(())
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
        assert!(zstd_frame(&raw, &mut out, &mut None).is_some());
        assert_eq!(out, data);
        assert_eq!(
            decompress(Path::new("x"), Compression::Zstd, &raw).unwrap(),
            data
        );
    }

    #[test]
    fn buffers_are_reused_across_modules() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let path = dir.path().join("m.ko.zst");
        std::fs::write(&path, zstd::bulk::compress(&data, 3).unwrap()).unwrap();
        let mut buffers = Buffers::default();
        let first = ModuleFile::open_with(&path, &mut buffers).unwrap();
        assert_eq!(first.bytes(), &data[..]);
        let at = first.bytes().as_ptr();
        buffers.recycle(first);
        let second = ModuleFile::open_with(&path, &mut buffers).unwrap();
        assert_eq!(second.bytes(), &data[..]);
        assert_eq!(second.bytes().as_ptr(), at, "the image buffer is reused");
        // A corrupt file leaves the buffers usable.
        let bad = dir.path().join("bad.ko.zst");
        std::fs::write(&bad, b"\x28\xb5\x2f\xfdgarbage").unwrap();
        buffers.recycle(second);
        assert!(ModuleFile::open_with(&bad, &mut buffers).is_err());
        assert_eq!(
            ModuleFile::open_with(&path, &mut buffers).unwrap().bytes(),
            &data[..]
        );
    }
}
