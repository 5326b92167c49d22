//! depmod's cache reader, on arbitrary bytes taken as a cache image (the
//! index file, then the data file): whatever it accepts must write back
//! to an image it reads as the same thing.
//!
//! Input: a mode byte, then the image. Mode odd: the head's checksum and
//! each section's are recomputed first (where the lengths allow), so that
//! the section decoders see mutated contents rather than a checksum error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::depmod::cache::CacheFile;

/// Recomputes the checksums of an image laid out as the head says.
fn fix_checksums(b: &mut [u8]) -> Option<()> {
    let u16_at = |b: &[u8], at: usize| -> Option<usize> {
        Some(usize::from(u16::from_le_bytes(
            b.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |b: &[u8], at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let mut at = 12 + 1 + usize::from(*b.get(12)?);
    at += 2 + u16_at(b, at)?;
    let table = at;
    let head_crc_at = table + 4 * 8 + 8;
    let mut start = head_crc_at + 4;
    for i in 0..4 {
        if i == 3 {
            // The data section follows the data file's head.
            start = start.checked_add(20)?;
        }
        let len = u32_at(b, table + 8 * i)?;
        let end = start.checked_add(len)?;
        let crc = crc32fast::hash(b.get(start..end)?);
        b[table + 8 * i + 4..table + 8 * i + 8].copy_from_slice(&crc.to_le_bytes());
        start = end;
    }
    let crc = crc32fast::hash(b.get(..head_crc_at)?);
    b[head_crc_at..head_crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        let _ = fix_checksums(&mut bytes);
    }
    let Ok(file) = CacheFile::from_bytes(&bytes) else {
        return;
    };
    let again = file.to_bytes();
    let back = CacheFile::from_bytes(&again).expect("a written cache must read back");
    assert_eq!(back, file);
});
