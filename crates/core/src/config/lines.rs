//! kmod's config line reader (`freadline_wrapped`) and `strtok` tokenising.
//!
//! * A backslash before a newline joins two physical lines; before any other
//!   byte it is dropped and the byte kept; at end of file it is dropped.
//! * Line numbers count physical lines, so a message about a continued line
//!   names its last physical line.
//! * kmod handles lines as C strings, so a NUL byte ends the line's content
//!   (the rest still counts for line numbers).
//! * Comments are lines whose *first* byte is `#`: `  # x` is not a comment
//!   but a line whose command is `#`.
//! * Tokens are split on space and tab only (`strtok(line, "\t ")`).

use std::borrow::Cow;

/// One logical line and the physical line number it ends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// The joined text, without the newline; may contain NUL bytes.
    /// Borrowed from the file unless a backslash had to be undone.
    pub raw: Cow<'a, [u8]>,
    /// Physical lines read so far, this one included.
    pub number: u32,
}

impl Line<'_> {
    /// The text as kmod sees it: up to the first NUL.
    pub fn text(&self) -> &[u8] {
        c_str(&self.raw)
    }

    /// Empty lines and lines starting with `#` carry nothing.
    pub fn is_blank_or_comment(&self) -> bool {
        matches!(self.text().first(), None | Some(b'#'))
    }

    /// A tokeniser over [`Line::text`].
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::new(self.text())
    }
}

/// Bytes up to the first NUL.
pub fn c_str(s: &[u8]) -> &[u8] {
    match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// Iterator over the logical lines of a file's contents.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    number: u32,
}

/// The logical lines of `data`.
pub fn lines(data: &[u8]) -> Lines<'_> {
    Lines {
        data,
        pos: 0,
        number: 0,
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let data = self.data;
        // Most lines hold no backslash: borrow them.
        let plain = memchr::memchr2(b'\n', b'\\', &data[self.pos..])
            .map_or(Some(data.len() - self.pos), |i| {
                (data[self.pos + i] == b'\n').then_some(i)
            });
        if let Some(run) = plain {
            let start = self.pos;
            if run == 0 && start == data.len() {
                return None;
            }
            // Past the newline, if there is one.
            self.pos = (start + run + 1).min(data.len());
            self.number = self.number.wrapping_add(1);
            return Some(Line {
                raw: Cow::Borrowed(&data[start..start + run]),
                number: self.number,
            });
        }
        let mut raw = Vec::new();
        let mut physical = 0u32;
        loop {
            // Copy the run of plain bytes in one go: long lines stay linear.
            let run =
                memchr::memchr2(b'\n', b'\\', &data[self.pos..]).unwrap_or(data.len() - self.pos);
            raw.extend_from_slice(&data[self.pos..self.pos + run]);
            self.pos += run;
            match data.get(self.pos) {
                None => {
                    // End of file: a pending partial line still counts as one.
                    if raw.is_empty() {
                        return None;
                    }
                    physical += 1;
                    break;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    physical += 1;
                    break;
                }
                Some(_) => {
                    // Backslash: escapes whatever follows; nothing at EOF.
                    self.pos += 1;
                    match data.get(self.pos) {
                        None => {}
                        Some(b'\n') => {
                            self.pos += 1;
                            physical += 1;
                        }
                        Some(&c) => {
                            raw.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
        }
        self.number = self.number.wrapping_add(physical);
        Some(Line {
            raw: Cow::Owned(raw),
            number: self.number,
        })
    }
}

/// `strtok_r` over one line, with kmod's two uses: words split on space and
/// tab, and "the rest of the line" (`strtok_r(NULL, "\0", ...)`).
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    rest: &'a [u8],
}

fn is_delim(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

impl<'a> Tokens<'a> {
    /// A tokenizer over `text`, cut at its first NUL as a C string would be.
    pub fn new(text: &'a [u8]) -> Tokens<'a> {
        Tokens { rest: c_str(text) }
    }

    /// The next word. Only the one delimiter after it is consumed, so the
    /// rest of the line keeps any further leading whitespace.
    pub fn word(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&c| !is_delim(c));
        let Some(start) = start else {
            self.rest = &[];
            return None;
        };
        let s = &self.rest[start..];
        match s.iter().position(|&c| is_delim(c)) {
            Some(end) => {
                self.rest = &s[end + 1..];
                Some(&s[..end])
            }
            None => {
                self.rest = &[];
                Some(s)
            }
        }
    }

    /// Everything after the last word's delimiter, or None if that is empty.
    pub fn rest(&mut self) -> Option<&'a [u8]> {
        let r = std::mem::take(&mut self.rest);
        (!r.is_empty()).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8]) -> Vec<(Vec<u8>, u32)> {
        lines(data)
            .map(|l| (l.raw.into_owned(), l.number))
            .collect()
    }

    #[test]
    fn plain_lines_and_numbers() {
        assert_eq!(
            all(b"a\n\nb\nc"),
            vec![
                (b"a".to_vec(), 1),
                (b"".to_vec(), 2),
                (b"b".to_vec(), 3),
                (b"c".to_vec(), 4)
            ]
        );
        assert_eq!(all(b""), vec![]);
        assert_eq!(all(b"\n"), vec![(b"".to_vec(), 1)]);
    }

    #[test]
    fn continuation_joins_and_counts_physical_lines() {
        assert_eq!(
            all(b"a \\\nb\nc\n"),
            vec![(b"a b".to_vec(), 2), (b"c".to_vec(), 3)]
        );
        assert_eq!(all(b"\\\n\\\nx\n"), vec![(b"x".to_vec(), 3)]);
        // A file ending in continuations with nothing after them has no line.
        assert_eq!(all(b"a\n\\\n"), vec![(b"a".to_vec(), 1)]);
        // A continuation then an empty line gives an empty logical line.
        assert_eq!(all(b"\\\n\n"), vec![(b"".to_vec(), 2)]);
    }

    #[test]
    fn backslash_escapes_and_eof() {
        assert_eq!(all(b"a\\b\\\\c\n"), vec![(b"ab\\c".to_vec(), 1)]);
        assert_eq!(all(b"x\\"), vec![(b"x".to_vec(), 1)]);
        assert_eq!(all(b"\\"), vec![]);
        assert_eq!(all(b"a\\\r\n"), vec![(b"a\r".to_vec(), 1)]);
    }

    #[test]
    fn nul_ends_the_text_but_not_the_line() {
        let l: Vec<Line> = lines(b"ab\0cd\nef\n").collect();
        assert_eq!(l[0].text(), b"ab");
        assert_eq!(l[1].number, 2);
        let l: Vec<Line> = lines(b"\0options x y\n").collect();
        assert!(l[0].is_blank_or_comment());
    }

    #[test]
    fn comment_rule() {
        let l: Vec<Line> = lines(b"# c\n  # not\n\t#x\n").collect();
        assert!(l[0].is_blank_or_comment());
        assert!(!l[1].is_blank_or_comment());
        assert_eq!(l[1].tokens().word(), Some(&b"#"[..]));
        assert_eq!(l[2].tokens().word(), Some(&b"#x"[..]));
    }

    #[test]
    fn tokens_like_strtok() {
        let mut t = Tokens::new(b"  options\tm  a=1\tb ");
        assert_eq!(t.word(), Some(&b"options"[..]));
        assert_eq!(t.word(), Some(&b"m"[..]));
        assert_eq!(t.rest(), Some(&b" a=1\tb "[..]));
        assert_eq!(t.rest(), None);

        let mut t = Tokens::new(b"install m ");
        t.word();
        assert_eq!(t.word(), Some(&b"m"[..]));
        assert_eq!(t.rest(), None);

        let mut t = Tokens::new(b"install m");
        t.word();
        t.word();
        assert_eq!(t.rest(), None);

        let mut t = Tokens::new(b" \t ");
        assert_eq!(t.word(), None);
        // Other whitespace is part of a token.
        let mut t = Tokens::new(b"blacklist foo\r");
        t.word();
        assert_eq!(t.word(), Some(&b"foo\r"[..]));
    }

    #[test]
    fn hostile_sizes_stay_linear() {
        let long = vec![b'x'; 1 << 20];
        let l: Vec<Line> = lines(&long).collect();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].raw.len(), 1 << 20);

        let cont = b"a\\\n".repeat(10_000);
        let l: Vec<Line> = lines(&cont).collect();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].number, 10_001);
        assert_eq!(l[0].raw.len(), 10_000);
    }
}
