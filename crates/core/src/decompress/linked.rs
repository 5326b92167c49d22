//! The decoders through the crates' bindings, the libraries linked in.

use std::io::Read;

use super::Failure;

/// A zstd decoding context kept from one module to the next.
#[derive(Default)]
pub(crate) struct Zstd(Option<zstd::bulk::Decompressor<'static>>);

/// A single zstd frame whose size is recorded in its header, straight into
/// an output of that size. None: not such a frame, larger than `limit`,
/// or corrupt (the caller then takes the streaming path).
pub(crate) fn zstd_frame(raw: &[u8], out: &mut Vec<u8>, ctx: &mut Zstd, limit: u64) -> Option<()> {
    let size = zstd::zstd_safe::get_frame_content_size(raw).ok()??;
    let frame = zstd::zstd_safe::find_frame_compressed_size(raw).ok()?;
    if frame != raw.len() || size > limit {
        return None;
    }
    if ctx.0.is_none() {
        ctx.0 = Some(zstd::bulk::Decompressor::new().ok()?);
    }
    let dctx = ctx.0.as_mut()?;
    out.reserve(usize::try_from(size).ok()?);
    let n = dctx.decompress_to_buffer(raw, out).ok()?;
    (n as u64 == size).then_some(())
}

/// zstd, any number of frames, into `out`: at most `limit` bytes and one
/// more.
pub(crate) fn zstd_stream(raw: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    let decoder = zstd::stream::read::Decoder::with_buffer(raw)
        .map_err(|e| Failure::Corrupt(e.to_string()))?;
    read_capped(decoder, out, limit)
}

/// xz, any number of streams, into `out`: at most `limit` bytes and one
/// more.
pub(crate) fn xz(raw: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    read_capped(liblzma::read::XzDecoder::new_multi_decoder(raw), out, limit)
}

/// gzip, possibly several members, into `out`: at most `limit` bytes and
/// one more.
pub(crate) fn gzip(raw: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    read_capped(flate2::read::MultiGzDecoder::new(raw), out, limit)
}

/// All a decoder gives, into `out`, up to `limit` bytes and one more.
fn read_capped(decoder: impl Read, out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    decoder
        .take(limit.saturating_add(1))
        .read_to_end(out)
        .map(drop)
        .map_err(|e| Failure::Corrupt(e.to_string()))
}
