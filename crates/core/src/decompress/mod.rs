//! The decoders behind compressed modules, one interface over two ways of
//! reaching liblzma, libzstd and zlib.
//!
//! Linked (the default and the static build): the crates' own bindings,
//! with liblzma and libzstd built in, gzip read in Rust. Loaded (the
//! `system-libs` feature, the distribution build): the system's
//! `liblzma.so.5`, `libzstd.so.1` and `libz.so.1` are opened with `dlopen`
//! the first time a module needs them, as kmod 34 does. Most runs never
//! decompress anything (`modprobe -D`, `modprobe -R`, `lsmod`, a daemon
//! linking libkmod that only looks modules up), and each library linked at
//! start-up costs every run its loading and relocation.

#[cfg(not(feature = "system-libs"))]
mod linked;
#[cfg(feature = "system-libs")]
mod loaded;

#[cfg(not(feature = "system-libs"))]
pub(crate) use linked::{gzip, xz, zstd_frame, zstd_stream, Zstd};
#[cfg(feature = "system-libs")]
pub(crate) use loaded::{gzip, xz, zstd_frame, zstd_stream, Zstd};

/// Why a stream could not be decoded.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The stream is damaged or truncated: the decoder's account.
    Corrupt(String),
    /// No decoder for the format could be loaded: what went wrong.
    #[cfg_attr(not(feature = "system-libs"), allow(dead_code))]
    Unavailable(String),
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn xz_of(bytes: &[u8]) -> Vec<u8> {
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 6);
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn gzip_of(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    type Decode = fn(&[u8], &mut Vec<u8>, u64) -> Result<(), Failure>;

    /// Each format as depmod and the kernel's build write it, and two of it
    /// back to back, which every decoder takes as one stream of both.
    fn formats() -> Vec<(&'static str, Decode, Vec<u8>, Vec<u8>)> {
        let (a, b) = (data(300_000), data(70_000));
        let two = |f: fn(&[u8]) -> Vec<u8>| [f(&a), f(&b)].concat();
        let zstd_of = |bytes: &[u8]| zstd::bulk::compress(bytes, 3).unwrap();
        vec![
            ("xz", xz as Decode, xz_of(&a), two(xz_of)),
            ("zstd", zstd_stream, zstd_of(&a), two(zstd_of)),
            ("gzip", gzip, gzip_of(&a), two(gzip_of)),
        ]
    }

    #[test]
    fn each_format_decodes_whole_and_concatenated() {
        let whole = [data(300_000), data(70_000)].concat();
        for (name, decode, one, two) in formats() {
            let mut out = Vec::new();
            decode(&one, &mut out, u64::MAX).unwrap();
            assert!(out == data(300_000), "{name}");
            out.clear();
            decode(&two, &mut out, u64::MAX).unwrap();
            assert!(out == whole, "{name}: both parts");
        }
    }

    #[test]
    fn damaged_and_cut_streams_are_corrupt() {
        for (name, decode, one, _) in formats() {
            let cut = &one[..one.len() / 2];
            // Not in the middle: a zstd frame has no checksum unless asked.
            let mut flipped = one.clone();
            flipped[1] ^= 0x55;
            for (what, bytes) in [("cut", cut), ("flipped", &flipped[..])] {
                let got = decode(bytes, &mut Vec::new(), u64::MAX);
                assert!(
                    matches!(got, Err(Failure::Corrupt(_))),
                    "{name} {what}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn output_stops_one_byte_past_the_limit() {
        for (name, decode, one, _) in formats() {
            let mut out = Vec::new();
            decode(&one, &mut out, 1000).unwrap();
            assert_eq!(out.len(), 1001, "{name}");
        }
        // The exact-size path leaves a frame over the limit to the stream.
        let frame = zstd::bulk::compress(&data(50_000), 3).unwrap();
        let mut out = Vec::new();
        assert!(zstd_frame(&frame, &mut out, &mut Zstd::default(), 49_999).is_none());
        assert!(zstd_frame(&frame, &mut out, &mut Zstd::default(), 50_000).is_some());
        assert!(out == data(50_000));
    }
}
