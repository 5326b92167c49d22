//! xz decompression for module files, sized and checked from the
//! stream's own index.
//!
//! Module files are one xz stream, usually of one block with a CRC32 check
//! (the kernel's `--check=crc32`). The index gives the uncompressed size, so
//! the output is allocated once; and the block checks are verified here with
//! a SIMD CRC32 instead of liblzma's table-driven one, which is a few
//! percent of all the time depmod spends on an xz tree.

use liblzma::stream::{Action, Status, Stream, CONCATENATED, IGNORE_CHECK};

use super::MAX_MODULE_SIZE;

const CHECK_CRC32: u8 = 1;

/// One block: where its CRC32 is stored and which output bytes it covers.
struct Block {
    check_at: usize,
    out: std::ops::Range<u64>,
}

/// What the index of a single-stream file says.
struct Layout {
    uncompressed: u64,
    check: u8,
    blocks: Vec<Block>,
}

/// Decompresses an xz file into `out`; `None` if it is corrupt, too big, or
/// not laid out as expected (the caller then takes the general path).
pub(super) fn decompress(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let layout = layout(raw);
    let hint = layout
        .as_ref()
        .map_or(raw.len() as u64 * 4, |l| l.uncompressed);
    out.reserve(usize::try_from(hint.min(MAX_MODULE_SIZE)).ok()?);
    let own_check = layout.as_ref().is_some_and(|l| l.check == CHECK_CRC32);
    let flags = CONCATENATED | if own_check { IGNORE_CHECK } else { 0 };
    let mut stream = Stream::new_stream_decoder(u64::MAX, flags).ok()?;
    loop {
        let consumed = stream.total_in() as usize;
        let status = stream
            .process_vec(&raw[consumed..], out, Action::Finish)
            .ok()?;
        if status == Status::StreamEnd {
            break;
        }
        if out.len() as u64 > MAX_MODULE_SIZE {
            return None;
        }
        if out.len() == out.capacity() {
            // Never offer the decoder room past the limit: it fills all it
            // is given before the check above can stop it.
            let room = (MAX_MODULE_SIZE + 1 - out.len() as u64) as usize;
            out.reserve_exact(out.capacity().max(1 << 16).min(room));
        } else if stream.total_in() as usize == raw.len() && status != Status::Ok {
            return None;
        }
    }
    if let (true, Some(layout)) = (own_check, &layout) {
        if out.len() as u64 != layout.uncompressed {
            return None;
        }
        for b in &layout.blocks {
            let data = out.get(b.out.start as usize..b.out.end as usize)?;
            let stored = u32::from_le_bytes(raw.get(b.check_at..b.check_at + 4)?.try_into().ok()?);
            if crc32fast::hash(data) != stored {
                return None;
            }
        }
    }
    Some(())
}

/// Reads the stream header, footer and index; `None` unless the file is
/// exactly one stream (plus padding) whose blocks fill it up to the index.
fn layout(raw: &[u8]) -> Option<Layout> {
    let header = raw.get(..12)?;
    if header[6] != 0 {
        return None;
    }
    let check = header[7] & 0x0f;
    let mut end = raw.len();
    while end >= 4 && raw[end - 4..end] == [0; 4] {
        end -= 4; // stream padding
    }
    let footer = raw.get(end.checked_sub(12)?..end)?;
    if &footer[10..12] != b"YZ" || footer[8..10] != header[6..8] {
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
    let check_size: u64 = match check {
        0 => 0,
        CHECK_CRC32 => 4,
        4 => 8,
        10 => 32,
        _ => return None,
    };
    let (mut at, mut uncompressed) = (12u64, 0u64);
    let mut blocks = Vec::new();
    for _ in 0..records {
        let (unpadded, size) = (varint(&mut index)?, varint(&mut index)?);
        let data = unpadded.checked_sub(check_size)?;
        let check_at = at.checked_add(data.checked_add(3)? & !3)?;
        let out = uncompressed..uncompressed.checked_add(size)?;
        uncompressed = out.end;
        at = check_at + check_size;
        blocks.push(Block {
            check_at: usize::try_from(check_at).ok()?,
            out,
        });
    }
    (at == index_start as u64).then_some(Layout {
        uncompressed,
        check,
        blocks,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(data: &[u8], check: liblzma::stream::Check) -> Vec<u8> {
        let stream = Stream::new_easy_encoder(6, check).unwrap();
        let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        std::io::Write::write_all(&mut enc, data).unwrap();
        enc.finish().unwrap()
    }

    fn sample() -> Vec<u8> {
        (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn reads_sizes_and_checks_crc32_itself() {
        let data = sample();
        let raw = compress(&data, liblzma::stream::Check::Crc32);
        let layout = layout(&raw).unwrap();
        assert_eq!(
            (layout.uncompressed, layout.check, layout.blocks.len()),
            (data.len() as u64, 1, 1)
        );
        let mut out = Vec::new();
        assert!(decompress(&raw, &mut out).is_some());
        assert_eq!(out, data);
        // A wrong stored check is caught although liblzma was told to skip it.
        let mut bad = raw.clone();
        let at = layout.blocks[0].check_at;
        bad[at] ^= 1;
        assert!(decompress(&bad, &mut Vec::new()).is_none());
        assert!(decompress(&raw[..raw.len() - 20], &mut Vec::new()).is_none());
    }

    #[test]
    fn other_checks_are_left_to_liblzma() {
        let data = sample();
        let raw = compress(&data, liblzma::stream::Check::Crc64);
        assert_eq!(layout(&raw).unwrap().check, 4);
        let mut out = Vec::new();
        assert!(decompress(&raw, &mut out).is_some());
        assert_eq!(out, data);
    }
}
