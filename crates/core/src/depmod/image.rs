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
    let mut raw = Vec::with_capacity(len as usize);
    (&file).read_to_end(&mut raw).map_err(errno)?;
    drop(file);
    WORKSPACE.with(|ws| {
        let mut ws = ws.borrow_mut();
        let ws = &mut *ws;
        ws.out.clear();
        decompress(compression, &raw, ws, path)?;
        drop(raw);
        Ok(f(&Image::Memory(&ws.out)))
    })
}

fn decompress(kind: Compression, raw: &[u8], ws: &mut Workspace, path: &Path) -> Result<(), i32> {
    let ok = match kind {
        Compression::Xz => xz(raw, &mut ws.out),
        Compression::Zstd => zstd(raw, ws),
        _ => None,
    };
    if ok.is_some() {
        return Ok(());
    }
    // Anything unusual (several frames, gzip, sizes not recorded) takes the
    // general streaming path of the module reader.
    ws.out.clear();
    match module_file::decompress(path, kind, raw) {
        Ok(bytes) => {
            ws.out = bytes;
            Ok(())
        }
        Err(_) => Err(libc::EINVAL),
    }
}

/// Decompresses an xz stream into `out`; `None` if it is not a single
/// well-formed stream within the size limit.
fn xz(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    use liblzma::stream::{Action, Status, Stream, CONCATENATED};
    let hint = xz_uncompressed_size(raw).unwrap_or(raw.len() as u64 * 4);
    out.reserve(usize::try_from(hint.min(MAX_MODULE_SIZE)).ok()?);
    let mut stream = Stream::new_stream_decoder(u64::MAX, CONCATENATED).ok()?;
    loop {
        let consumed = stream.total_in() as usize;
        let status = stream
            .process_vec(&raw[consumed..], out, Action::Finish)
            .ok()?;
        if status == Status::StreamEnd {
            return Some(());
        }
        if out.len() as u64 > MAX_MODULE_SIZE {
            return None;
        }
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(1 << 16));
        } else if stream.total_in() as usize == raw.len() && status != Status::Ok {
            return None;
        }
    }
}

/// The uncompressed size recorded in an xz stream's index (the last stream
/// of the file), if it can be read.
fn xz_uncompressed_size(raw: &[u8]) -> Option<u64> {
    let mut end = raw.len();
    while end >= 4 && raw[end - 4..end] == [0; 4] {
        end -= 4; // stream padding
    }
    let footer = raw.get(end.checked_sub(12)?..end)?;
    if &footer[10..12] != b"YZ" {
        return None;
    }
    let backward = (u64::from(u32::from_le_bytes(footer[4..8].try_into().ok()?)) + 1) * 4;
    let index_start = (end - 12).checked_sub(usize::try_from(backward).ok()?)?;
    let mut index = raw.get(index_start..end - 12)?;
    if index.first() != Some(&0) {
        return None;
    }
    index = &index[1..];
    let records = varint(&mut index)?;
    let mut total = 0u64;
    for _ in 0..records.min(1 << 20) {
        let _unpadded = varint(&mut index)?;
        total = total.checked_add(varint(&mut index)?)?;
    }
    Some(total)
}

/// xz's multibyte integer: 7 bits per byte, low bits first.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..9 {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
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
    fn xz_index_gives_the_size() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 6);
        std::io::Write::write_all(&mut enc, &data).unwrap();
        let raw = enc.finish().unwrap();
        assert_eq!(xz_uncompressed_size(&raw), Some(data.len() as u64));
        let mut out = Vec::new();
        assert!(xz(&raw, &mut out).is_some());
        assert_eq!(out, data);
        assert!(xz(&raw[..raw.len() - 20], &mut Vec::new()).is_none());
    }

    #[test]
    fn zstd_single_frame() {
        let data = vec![7u8; 50_000];
        let raw = zstd::bulk::compress(&data, 3).unwrap();
        let mut ws = Workspace::default();
        assert!(zstd(&raw, &mut ws).is_some());
        assert_eq!(ws.out, data);
    }
}
