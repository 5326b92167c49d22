//! Getting at a module's bytes cheaply.
//!
//! An uncompressed module is not read whole: depmod needs its section
//! headers and a handful of sections, so those ranges are read with
//! `pread` (no mapping to set up and tear down, no page faults). A
//! compressed module has to be decompressed whole; each worker thread keeps
//! its output buffer and decoders from one module to the next, and the
//! output is sized from the stream's own record of the uncompressed size.
//! Compression is recognised by magic bytes, as kmod does.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::module_file::{self, Compression, MAX_MODULE_SIZE};

/// A module's contents: a file read on demand, or bytes in memory.
pub(crate) enum Image<'a> {
    File { file: File, len: u64 },
    Memory(&'a [u8]),
}

impl Image<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Image::File { len, .. } => *len,
            Image::Memory(bytes) => bytes.len() as u64,
        }
    }

    /// `len` bytes at `offset`, or `None` if the range is not in the file.
    pub fn range(&self, offset: u64, len: u64) -> Option<Cow<'_, [u8]>> {
        let end = offset.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        match self {
            Image::Memory(bytes) => Some(Cow::Borrowed(&bytes[offset as usize..end as usize])),
            Image::File { file, .. } => {
                let mut buf = vec![0u8; usize::try_from(len).ok()?];
                file.read_exact_at(&mut buf, offset).ok()?;
                Some(Cow::Owned(buf))
            }
        }
    }
}

/// Per-thread state reused across modules.
#[derive(Default)]
struct Workspace {
    raw: Vec<u8>,
    out: Vec<u8>,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

thread_local! {
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// Opens the module at `path` and runs `f` on its image. Errors are errno
/// values, as kmod reports them: EINVAL for files too short to hold a magic
/// number and for corrupt compressed data.
pub(crate) fn with_image<T>(path: &Path, f: impl FnOnce(&Image<'_>) -> T) -> Result<T, i32> {
    let errno = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    let file = File::open(path).map_err(errno)?;
    let len = file.metadata().map_err(errno)?.len();
    let mut magic = [0u8; 6];
    if len < magic.len() as u64 {
        return Err(libc::EINVAL);
    }
    file.read_exact_at(&mut magic, 0).map_err(errno)?;
    let compression = Compression::detect(&magic);
    if compression == Compression::None {
        return Ok(f(&Image::File { file, len }));
    }
    WORKSPACE.with(|ws| {
        let mut ws = ws.borrow_mut();
        let ws = &mut *ws;
        // Both buffers stay with the thread: their pages are already
        // mapped when the next module comes.
        let mut raw = std::mem::take(&mut ws.raw);
        raw.clear();
        raw.reserve(len as usize);
        let read = (&file).read_to_end(&mut raw).map_err(errno);
        drop(file);
        ws.out.clear();
        let done = read.and_then(|_| decompress(compression, &raw, ws, path));
        ws.raw = raw;
        done?;
        Ok(f(&Image::Memory(&ws.out)))
    })
}

fn decompress(kind: Compression, raw: &[u8], ws: &mut Workspace, path: &Path) -> Result<(), i32> {
    let ok = match kind {
        Compression::Xz => super::xz::decompress(raw, &mut ws.out),
        Compression::Zstd => zstd(raw, ws),
        _ => None,
    };
    if ok.is_some() {
        return Ok(());
    }
    // Past the size limit already (a decompression bomb): decoding it again
    // below would double the time and hold a second buffer as large.
    let too_large = ws.out.len() as u64 > MAX_MODULE_SIZE;
    // The failed attempt's memory goes before the general path takes its own.
    ws.out = Vec::new();
    if too_large {
        return Err(libc::EINVAL);
    }
    // Anything unusual (several frames, gzip, sizes not recorded) takes the
    // general streaming path of the module reader.
    match module_file::decompress(path, kind, raw) {
        Ok(bytes) => {
            ws.out = bytes;
            Ok(())
        }
        Err(_) => Err(libc::EINVAL),
    }
}

/// Decompresses a single zstd frame whose size is recorded in its header.
fn zstd(raw: &[u8], ws: &mut Workspace) -> Option<()> {
    let size = zstd::zstd_safe::get_frame_content_size(raw).ok()??;
    let frame = zstd::zstd_safe::find_frame_compressed_size(raw).ok()?;
    if frame != raw.len() || size > MAX_MODULE_SIZE {
        return None;
    }
    if ws.zstd.is_none() {
        ws.zstd = Some(zstd::bulk::Decompressor::new().ok()?);
    }
    let dctx = ws.zstd.as_mut()?;
    ws.out.reserve(size as usize);
    let n = dctx.decompress_to_buffer(raw, &mut ws.out).ok()?;
    (n as u64 == size).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_single_frame() {
        let data = vec![7u8; 50_000];
        let raw = zstd::bulk::compress(&data, 3).unwrap();
        let mut ws = Workspace::default();
        assert!(zstd(&raw, &mut ws).is_some());
        assert_eq!(ws.out, data);
    }
}
