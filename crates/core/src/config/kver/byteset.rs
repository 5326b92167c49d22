//! Sets of bytes: bracket expressions, `.`, `\w` and the like.

/// A set of bytes (what a bracket expression, `.` or `\w` matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ByteSet([u64; 4]);

impl ByteSet {
    pub(super) const EMPTY: ByteSet = ByteSet([0; 4]);

    pub(super) fn range(lo: u8, hi: u8) -> ByteSet {
        let mut set = ByteSet::EMPTY;
        for b in lo..=hi {
            set.insert(b);
        }
        set
    }

    pub(super) fn byte(b: u8) -> ByteSet {
        ByteSet::range(b, b)
    }

    pub(super) fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    pub(super) fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    pub(super) fn union(mut self, other: ByteSet) -> ByteSet {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        self
    }

    pub(super) fn complement(mut self) -> ByteSet {
        for a in &mut self.0 {
            *a = !*a;
        }
        self
    }

    /// The set as maximal runs of consecutive bytes.
    pub(super) fn runs(&self) -> Vec<(u8, u8)> {
        let mut runs: Vec<(u8, u8)> = Vec::new();
        for b in 0..=255u8 {
            if !self.contains(b) {
                continue;
            }
            match runs.last_mut() {
                Some((_, hi)) if usize::from(*hi) + 1 == usize::from(b) => *hi = b,
                _ => runs.push((b, b)),
            }
        }
        runs
    }

    /// A POSIX character class in the C locale (glibc's `isalpha` and so on:
    /// no byte above 0x7f is in any of them).
    pub(super) fn class(name: &[u8]) -> Option<ByteSet> {
        let r = ByteSet::range;
        let upper = r(b'A', b'Z');
        let lower = r(b'a', b'z');
        let digit = r(b'0', b'9');
        let alpha = upper.union(lower);
        let punct = r(b'!', b'/')
            .union(r(b':', b'@'))
            .union(r(b'[', b'`'))
            .union(r(b'{', b'~'));
        Some(match name {
            b"alpha" => alpha,
            b"upper" => upper,
            b"lower" => lower,
            b"digit" => digit,
            b"alnum" => alpha.union(digit),
            b"xdigit" => digit.union(r(b'a', b'f')).union(r(b'A', b'F')),
            b"space" => r(b'\t', b'\r').union(ByteSet::byte(b' ')),
            b"blank" => ByteSet::byte(b'\t').union(ByteSet::byte(b' ')),
            b"print" => r(b' ', b'~'),
            b"graph" => r(b'!', b'~'),
            b"punct" => punct,
            b"cntrl" => r(0, 0x1f).union(ByteSet::byte(0x7f)),
            _ => return None,
        })
    }

    /// `\w`: glibc's word characters, `[_[:alnum:]]`.
    pub(super) fn word() -> ByteSet {
        ByteSet::class(b"alnum")
            .unwrap_or(ByteSet::EMPTY)
            .union(ByteSet::byte(b'_'))
    }

    /// `\s`: `[[:space:]]`.
    pub(super) fn space() -> ByteSet {
        ByteSet::class(b"space").unwrap_or(ByteSet::EMPTY)
    }
}
