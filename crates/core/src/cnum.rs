//! C's `strtoul`/`strtoull` and `strtol`, as kmod reads numbers from
//! files, options and the environment with them: CRCs in Module.symvers,
//! device numbers in modinfo's `devname`/`char-major-` aliases, modprobe's
//! `--wait`, `KMOD_LOG`. Matching kmod
//! means matching C's quirks: leading whitespace is skipped, a sign is
//! accepted (a minus wraps around), `0x` counts only when a hex digit
//! follows it, and an overflow gives all ones.

/// C's `isspace` in the C locale: Rust's ASCII whitespace and the
/// vertical tab, which `strtoul` and `sscanf` skip.
pub fn is_space(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0x0b
}

/// What `strtoull(s, &end, base)` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The number, negated modulo 2^64 after a minus; all ones on overflow.
    pub value: u64,
    /// The bytes used, up to `end`.
    pub used: usize,
    /// The digits did not fit in 64 bits (C sets `errno` to `ERANGE`).
    pub overflow: bool,
}

/// `strtoull(s, &end, base)` for a base of 0 (decided by the prefix: `0x`
/// hex, `0` octal, else decimal), 8, 10 or 16; `None` where C would use no
/// byte at all (no digit after the blanks and sign).
pub fn strtoull(s: &[u8], base: u32) -> Option<Parsed> {
    let n = scan(s, base)?;
    let value = match (n.overflow, n.negative) {
        (true, _) => u64::MAX,
        (false, true) => n.magnitude.wrapping_neg(),
        (false, false) => n.magnitude,
    };
    Some(Parsed {
        value,
        used: n.used,
        overflow: n.overflow,
    })
}

/// `strtol(s, &end, base)`: the value and the bytes used; a number past
/// the range of a 64-bit `long` saturates at its end, as C's does.
pub fn strtol(s: &[u8], base: u32) -> Option<(i64, usize)> {
    let n = scan(s, base)?;
    let limit = if n.negative { 1 << 63 } else { i64::MAX as u64 };
    let value = match (n.overflow || n.magnitude > limit, n.negative) {
        (true, true) => i64::MIN,
        (true, false) => i64::MAX,
        (false, true) => (n.magnitude as i64).wrapping_neg(),
        (false, false) => n.magnitude as i64,
    };
    Some((value, n.used))
}

/// What both conversions read: blanks, a sign, a base prefix, digits.
struct Scanned {
    negative: bool,
    magnitude: u64,
    overflow: bool,
    used: usize,
}

fn scan(s: &[u8], base: u32) -> Option<Scanned> {
    let mut i = s.iter().take_while(|c| is_space(**c)).count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_prefix = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let base = match base {
        0 if hex_prefix => 16,
        0 if s.get(i) == Some(&b'0') => 8,
        0 => 10,
        b => b,
    };
    if base == 16 && hex_prefix {
        i += 2;
    }
    let start = i;
    let (mut magnitude, mut overflow) = (0u64, false);
    while let Some(d) = s.get(i).and_then(|&c| char::from(c).to_digit(base)) {
        match magnitude
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => magnitude = v,
            None => overflow = true,
        }
        i += 1;
    }
    (i > start).then_some(Scanned {
        negative,
        magnitude,
        overflow,
        used: i,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, base: u32) -> Option<(u64, usize, bool)> {
        strtoull(s.as_bytes(), base).map(|p| (p.value, p.used, p.overflow))
    }

    #[test]
    fn like_c() {
        assert_eq!(parse("0x1f", 16), Some((0x1f, 4, false)));
        assert_eq!(parse("1F", 16), Some((0x1f, 2, false)));
        assert_eq!(parse("0xzz", 16), Some((0, 1, false)));
        assert_eq!(parse("zz", 16), None);
        assert_eq!(parse("-1", 16), Some((u64::MAX, 2, false)));
        assert_eq!(parse("11112222333344445", 16), Some((u64::MAX, 17, true)));
        assert_eq!(parse(" \t+42x", 10), Some((42, 5, false)));
        assert_eq!(parse("-", 10), None);
        assert_eq!(parse("010", 0), Some((8, 3, false)));
        assert_eq!(parse("0x10", 0), Some((16, 4, false)));
        assert_eq!(parse("0x", 0), Some((0, 1, false)));
        assert_eq!(parse("09", 0), Some((0, 1, false)));
        assert_eq!(
            parse("18446744073709551616", 10),
            Some((u64::MAX, 20, true))
        );
        assert_eq!(
            parse("-18446744073709551616", 10),
            Some((u64::MAX, 21, true))
        );
    }

    #[test]
    fn signed_like_c() {
        let l = |s: &str| strtol(s.as_bytes(), 10);
        assert_eq!(l(" -42x"), Some((-42, 4)));
        assert_eq!(l("+7"), Some((7, 2)));
        assert_eq!(l("9223372036854775807"), Some((i64::MAX, 19)));
        assert_eq!(l("9223372036854775808"), Some((i64::MAX, 19)));
        assert_eq!(l("-9223372036854775808"), Some((i64::MIN, 20)));
        assert_eq!(l("-9223372036854775809"), Some((i64::MIN, 20)));
        assert_eq!(l("-99999999999999999999"), Some((i64::MIN, 21)));
        assert_eq!(l("x"), None);
    }
}
