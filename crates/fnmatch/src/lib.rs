//! glibc-compatible `fnmatch(pattern, string, 0)` in the C locale.
//!
//! kmod matches module aliases (config `alias` lines, `modules.alias.bin`
//! keys) with glibc's `fnmatch` and no flags, so a module resolves the same
//! way only if every quirk matches too: `?` and `*` cross `/` and leading
//! dots, `\x` is a literal `x`, a trailing lone `\` never matches, `[!..]` and
//! `[^..]` negate, a `]` right after `[` (or `[!`) is a member, POSIX classes
//! `[:name:]`, equivalence classes `[=c=]` and collating symbols `[.c.]`, and
//! an unterminated `[` stands for a literal `[`.
//!
//! The matcher mirrors the way glibc itself proceeds, because several
//! quirks are properties of that procedure rather than of a clean grammar:
//! the text is cut into star-free segments, each segment is tried at the
//! leftmost position where it fits and that choice is never revisited. This
//! also keeps the cost at O(pattern × string) for any pattern.
//!
//! Inputs are byte strings; as in C, both end at their first NUL byte.

#![warn(missing_docs)]

/// glibc (2.36, measured) gives up on a `[:name:]` whose name reaches this
/// many bytes.
const CLASS_NAME_MAX: usize = 2048;

/// Does `string` match `pattern` as glibc's `fnmatch(pattern, string, 0)`
/// does in the C locale?
pub fn fnmatch(pattern: &[u8], string: &[u8]) -> bool {
    // The plain bytes before the first special one are anchored at the
    // start: most patterns (module names) are plain throughout, and most
    // calls end here at the first byte, without measuring either string.
    for (i, &c) in pattern.iter().enumerate() {
        let ch = string.get(i).copied().unwrap_or(0);
        match c {
            0 => return ch == 0,
            b'*' | b'?' | b'[' | b'\\' => {
                return fnmatch_terminated(until_nul(pattern), until_nul(string))
            }
            _ if c != ch => return false,
            _ => {}
        }
    }
    string.get(pattern.len()).copied().unwrap_or(0) == 0
}

/// [`fnmatch`] for a pattern and string that hold no NUL byte (the caller
/// has cut them at their first one).
pub fn fnmatch_terminated(pattern: &[u8], s: &[u8]) -> bool {
    let pat = Pattern(pattern);

    // Whatever precedes the first star is anchored at the start.
    let (mut p, mut n) = match pat.segment(0, s, 0) {
        Segment::Mismatch => return false,
        Segment::End(end) => return end == s.len(),
        Segment::Star(p, n) => (p, n),
    };

    // Invariant: `p` is at a `*`, `n` is the first byte it may absorb.
    loop {
        p += 1;
        // A run of stars and question marks is one star plus fixed bytes.
        loop {
            match pat.at(p) {
                b'*' => {}
                b'?' => {
                    if n == s.len() {
                        return false;
                    }
                    n += 1;
                }
                _ => break,
            }
            p += 1;
        }
        if pat.at(p) == 0 {
            return true;
        }

        // A segment starting with a plain byte can only begin where that
        // byte is; checking it first is only a shortcut.
        let first = match pat.at(p) {
            b'[' => None,
            b'\\' => Some(pat.at(p + 1)),
            c => Some(c),
        };
        let mut next = None;
        for start in n..s.len() {
            if first.is_some_and(|c| c != s[start]) {
                continue;
            }
            match pat.segment(p, s, start) {
                Segment::Mismatch => {}
                Segment::End(end) => {
                    if end == s.len() {
                        return true;
                    }
                }
                Segment::Star(p2, n2) => {
                    next = Some((p2, n2));
                    break;
                }
            }
        }
        match next {
            Some((p2, n2)) => (p, n) = (p2, n2),
            None => return false,
        }
    }
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// How a star-free run of the pattern fared against the string.
enum Segment {
    Mismatch,
    /// The pattern ended; the string was consumed up to this index.
    End(usize),
    /// A `*` at pattern index .0, reached at string index .1.
    Star(usize, usize),
}

/// How one bracket expression fared against one byte.
enum Bracket {
    /// Member; the pattern continues at this index.
    Matched(usize),
    NoMatch,
    /// No closing `]`: the `[` is an ordinary byte after all.
    Literal,
}

struct Pattern<'a>(&'a [u8]);

impl Pattern<'_> {
    /// The byte at `i`, or 0 past the end, the way C sees its terminator.
    fn at(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// Matches elements from pattern index `p` and string index `n` up to
    /// the next `*` or the end of the pattern.
    fn segment(&self, mut p: usize, s: &[u8], mut n: usize) -> Segment {
        loop {
            let c = self.at(p);
            if c == 0 {
                return Segment::End(n);
            }
            if c == b'*' {
                return Segment::Star(p, n);
            }
            let Some(&ch) = s.get(n) else {
                return Segment::Mismatch;
            };
            p = match c {
                b'?' => p + 1,
                b'\\' => {
                    let escaped = self.at(p + 1);
                    if escaped == 0 || escaped != ch {
                        return Segment::Mismatch;
                    }
                    p + 2
                }
                b'[' => match self.bracket(p + 1, ch) {
                    Bracket::Matched(next) => next,
                    Bracket::NoMatch => return Segment::Mismatch,
                    Bracket::Literal if ch == b'[' => p + 1,
                    Bracket::Literal => return Segment::Mismatch,
                },
                _ if c == ch => p + 1,
                _ => return Segment::Mismatch,
            };
            n += 1;
        }
    }

    /// Matches `ch` against the bracket expression whose body starts at `p`
    /// (just after the `[`).
    fn bracket(&self, mut p: usize, ch: u8) -> Bracket {
        let negated = matches!(self.at(p), b'!' | b'^');
        if negated {
            p += 1;
        }
        // The first byte is always a member, even `]`.
        let mut c = self.at(p);
        p += 1;
        let matched = loop {
            // `member` is a byte that may start a range, with whether a
            // range really follows; classes leave it None.
            let member = match c {
                b'\\' => {
                    let escaped = self.at(p);
                    if escaped == 0 {
                        return Bracket::NoMatch;
                    }
                    p += 1;
                    Some((escaped, self.plain_range_follows(p)))
                }
                b'[' if self.at(p) == b':' => match self.class(p) {
                    Class::Unknown => return Bracket::NoMatch,
                    Class::Plain => Some((b'[', self.plain_range_follows(p))),
                    Class::Known(test, after) => {
                        if test(ch) {
                            break Some(after);
                        }
                        c = self.at(after);
                        p = after + 1;
                        None
                    }
                },
                b'[' if self.at(p) == b'=' => {
                    // In the C locale an equivalence class is its one byte.
                    let eq = self.at(p + 1);
                    if eq != 0 && self.at(p + 2) == b'=' && self.at(p + 3) == b']' {
                        if ch == eq {
                            break Some(p + 4);
                        }
                        c = self.at(p + 4);
                        p += 5;
                        None
                    } else {
                        Some((b'[', self.plain_range_follows(p)))
                    }
                }
                0 => return Bracket::Literal,
                b'[' if self.at(p) == b'.' => {
                    let Some((sym, after)) = self.collating_symbol(p) else {
                        return Bracket::NoMatch;
                    };
                    p = after;
                    // Unlike a plain byte, `-]` still counts as a range here.
                    Some((sym, self.at(p) == b'-' && self.at(p + 1) != 0))
                }
                _ => Some((c, self.plain_range_follows(p))),
            };

            if let Some((low, range_follows)) = member {
                if !range_follows && low == ch {
                    break Some(p);
                }
                c = self.at(p);
                p += 1;
                if c == b'-' && self.at(p) != b']' {
                    let mut high = self.at(p);
                    p += 1;
                    if high == b'[' && self.at(p) == b'.' {
                        let Some((sym, after)) = self.collating_symbol(p) else {
                            return Bracket::NoMatch;
                        };
                        high = sym;
                        p = after;
                    } else {
                        if high == b'\\' {
                            high = self.at(p);
                            p += 1;
                        }
                        if high == 0 {
                            return Bracket::NoMatch;
                        }
                    }
                    // The C locale collates bytes by value.
                    if low <= ch && ch <= high {
                        break Some(p);
                    }
                    c = self.at(p);
                    p += 1;
                }
            }
            if c == b']' {
                break None;
            }
        };

        match matched {
            None if negated => Bracket::Matched(p),
            None => Bracket::NoMatch,
            Some(rest) => match self.skip_bracket_rest(rest) {
                SkipEnd::After(end) if !negated => Bracket::Matched(end),
                SkipEnd::After(_) => Bracket::NoMatch,
                SkipEnd::Unterminated => Bracket::Literal,
                SkipEnd::Malformed => Bracket::NoMatch,
            },
        }
    }

    /// After a plain member at `p - 1`: is it the start of a range?
    fn plain_range_follows(&self, p: usize) -> bool {
        self.at(p) == b'-' && !matches!(self.at(p + 1), 0 | b']')
    }

    /// Parses `[:name:]` whose `:` is at `p`.
    fn class(&self, p: usize) -> Class {
        let mut end = p;
        loop {
            if end - p == CLASS_NAME_MAX {
                return Class::Unknown;
            }
            end += 1;
            let c = self.at(end);
            if c == b':' && self.at(end + 1) == b']' {
                break;
            }
            // glibc's name test stops short of 'z'; no class name has one.
            if !(b'a'..=b'y').contains(&c) {
                return Class::Plain;
            }
        }
        match class_test(&self.0[p + 1..end]) {
            Some(test) => Class::Known(test, end + 2),
            None => Class::Unknown,
        }
    }

    /// Parses `[.c.]` whose first `.` is at `p`: the symbol byte and the
    /// index after the closing `]`. The C locale names only single bytes,
    /// so anything else makes the whole bracket fail (None).
    fn collating_symbol(&self, p: usize) -> Option<(u8, usize)> {
        let mut end = p;
        loop {
            end += 1;
            let c = self.at(end);
            if c == b'.' && self.at(end + 1) == b']' {
                break;
            }
            if c == 0 {
                return None;
            }
        }
        (end - p == 2).then(|| (self.at(p + 1), end + 2))
    }

    /// Skips what is left of a bracket expression once a member matched.
    /// This scan is glibc's lighter second parser, which disagrees with the
    /// first one on malformed classes; mirroring it keeps the same verdicts.
    fn skip_bracket_rest(&self, mut p: usize) -> SkipEnd {
        loop {
            let c = self.at(p);
            p += 1;
            match c {
                b']' => return SkipEnd::After(p),
                0 => return SkipEnd::Unterminated,
                b'\\' => {
                    if self.at(p) == 0 {
                        return SkipEnd::Malformed;
                    }
                    p += 1;
                }
                b'[' if self.at(p) == b':' => {
                    let start = p;
                    let mut len = 0;
                    loop {
                        p += 1;
                        len += 1;
                        if len == CLASS_NAME_MAX {
                            return SkipEnd::Malformed;
                        }
                        if self.at(p) == b':' && self.at(p + 1) == b']' {
                            p += 2;
                            break;
                        }
                        if !(b'a'..=b'y').contains(&self.at(p)) {
                            // Not a class after all: resume at the ':'.
                            p = start;
                            break;
                        }
                    }
                }
                b'[' if self.at(p) == b'=' => {
                    if self.at(p + 1) == 0 {
                        return SkipEnd::Malformed;
                    }
                    if self.at(p + 2) != b'=' || self.at(p + 3) != b']' {
                        return SkipEnd::Malformed;
                    }
                    p += 4;
                }
                b'[' if self.at(p) == b'.' => loop {
                    p += 1;
                    let c = self.at(p);
                    if c == 0 {
                        return SkipEnd::Malformed;
                    }
                    if c == b'.' && self.at(p + 1) == b']' {
                        p += 2;
                        break;
                    }
                },
                _ => {}
            }
        }
    }
}

enum Class {
    Known(fn(u8) -> bool, usize),
    /// A well-formed `[:name:]` with a name glibc does not know.
    Unknown,
    /// Not shaped like a class: the `[` is an ordinary member.
    Plain,
}

enum SkipEnd {
    After(usize),
    Unterminated,
    Malformed,
}

/// The C locale's character classes; bytes from 0x80 belong to none.
fn class_test(name: &[u8]) -> Option<fn(u8) -> bool> {
    Some(match name {
        b"alnum" => |c: u8| c.is_ascii_alphanumeric(),
        b"alpha" => |c: u8| c.is_ascii_alphabetic(),
        b"blank" => |c: u8| c == b' ' || c == b'\t',
        b"cntrl" => |c: u8| c.is_ascii_control(),
        b"digit" => |c: u8| c.is_ascii_digit(),
        b"graph" => |c: u8| c.is_ascii_graphic(),
        b"lower" => |c: u8| c.is_ascii_lowercase(),
        b"print" => |c: u8| (b' '..=b'~').contains(&c),
        b"punct" => |c: u8| c.is_ascii_punctuation(),
        // isspace also counts the vertical tab, unlike is_ascii_whitespace.
        b"space" => |c: u8| c == b' ' || (b'\t'..=b'\r').contains(&c),
        b"upper" => |c: u8| c.is_ascii_uppercase(),
        b"xdigit" => |c: u8| c.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    fn m(p: &str, s: &str) -> bool {
        fnmatch(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("*", ""));
        assert!(m("a*b?c", "axxbyc"));
        assert!(!m("a*b?c", "axxbc"));
        assert!(m("pci:v*d*sv*", "pci:v00008086d00001502sv00001028"));
        assert!(m("*/*", "a/b"));
        assert!(m("?", "."));
    }

    /// The plain leading bytes are decided before the rest; a NUL ends
    /// either side wherever it falls.
    #[test]
    fn plain_prefix_and_nul() {
        assert!(fnmatch(b"snd", b"snd"));
        assert!(!fnmatch(b"snd", b"snd_hda"));
        assert!(!fnmatch(b"snd_hda", b"snd"));
        assert!(fnmatch(b"snd\0junk", b"snd"));
        assert!(fnmatch(b"snd", b"snd\0junk"));
        assert!(fnmatch(b"snd\0*", b"snd"));
        assert!(!fnmatch(b"snd\0", b"snd_hda"));
        assert!(fnmatch(b"snd_*", b"snd_hda"));
        assert!(!fnmatch(b"snx_*", b"snd_hda"));
        assert!(fnmatch(b"a\\*", b"a*"));
        assert!(fnmatch(b"", b"\0x"));
    }

    #[test]
    fn brackets_and_escapes() {
        assert!(m("[]]", "]"));
        assert!(m("[!]]", "a"));
        assert!(m("[^a]", "b"));
        assert!(m("[a-]", "-"));
        assert!(m("[[:alpha:]]", "x"));
        assert!(!m("[[:foo:]]", "x"));
        assert!(m("\\*", "*"));
        assert!(!m("a\\", "a\\"));
        assert!(m("[a", "[a"));
        assert!(!m("[a", "a"));
        assert!(m("[[", "[["));
        assert!(!m("[[.a.]-]", "a"));
    }

    #[test]
    fn no_exponential_blowup() {
        let pattern = "*a".repeat(40) + "b";
        let string = "a".repeat(5000);
        assert!(!m(&pattern, &string));
    }
}
