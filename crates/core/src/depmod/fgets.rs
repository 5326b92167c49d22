//! Reading text files the way kmod's depmod does: with `fgets` into a
//! fixed-size buffer, so a long line comes in pieces and a NUL ends what
//! the C code sees of a line.

/// kmod reads these text files with `fgets` into PATH_MAX-byte buffers.
pub(crate) const LINE_MAX: usize = 4096;

/// Splits `data` the way repeated `fgets(buf, size)` calls would: at each
/// newline (kept) or after `size - 1` bytes. Each piece is then cut at its
/// first NUL, as the C code's `strlen` sees it.
pub(crate) fn fgets_lines(data: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(size - 1);
        let end = memchr::memchr(b'\n', &rest[..limit]).map_or(limit, |i| i + 1);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        let len = memchr::memchr(0, piece).unwrap_or(piece.len());
        Some(&piece[..len])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fgets_splits_like_c() {
        let v: Vec<&[u8]> = fgets_lines(b"ab\ncd\0x\nlast", 4096).collect();
        assert_eq!(v, vec![&b"ab\n"[..], b"cd", b"last"]);
        let v: Vec<&[u8]> = fgets_lines(b"abcdef\n", 4).collect();
        assert_eq!(v, vec![&b"abc"[..], b"def", b"\n"]);
    }
}
