//! The KVER patterns of depmod.d (`override MODNAME KVER SUBDIR`,
//! `external KVER DIR`), matched without glibc.
//!
//! kmod hands KVER to glibc: `regcomp(REG_EXTENDED | REG_NOSUB)`, then
//! `regexec` on the kernel version, an unanchored search; a pattern that does
//! not compile matches nothing. glibc's compiler copies what a bounded
//! repetition or a `+` repeats, so a short line can make it take gigabytes
//! and minutes (`((^|a*)){1,300}`: 22 GB, 51 s), and the tools read depmod.d
//! as root on every boot.
//!
//! So the pattern is parsed here the way glibc parses a POSIX extended
//! regular expression (`RE_SYNTAX_POSIX_EXTENDED` with the GNU operators, in
//! the C locale) and rewritten for the `regex` crate, whose automata are
//! built under a size limit and match in time linear in the version. Only
//! the yes/no answer matters (REG_NOSUB), and it is the same as glibc's for
//! every pattern glibc itself can compile in reasonable time, with these
//! deliberate exceptions, all of which match nothing:
//!
//! * a back-reference (`\1`..`\9`) that glibc would accept: the `regex` crate
//!   has none, and no real KVER pattern needs one (glibc would match, e.g.,
//!   `(6)\.\1` against `6.6`);
//! * a pattern whose automaton passes [`SIZE_LIMIT`] (about 20,000 bytes of
//!   literal text, or nested bounded repetitions such as `(a{1,255}){1,255}`
//!   — those are the ones that make glibc blow up, too);
//! * a pattern longer than [`MAX_PATTERN_LEN`], with groups nested deeper than
//!   [`MAX_NESTING`], or with more than [`MAX_STACKED`] repetition operators
//!   in a row that cannot be merged (`a{2}?{2}?…`);
//! * a pattern containing a NUL byte (a C string would end there).
//!
//! `crates/core/tests/kver_glibc.rs` and the `kver` fuzz target compare the
//! answers with glibc's.

use regex::bytes::{Regex, RegexBuilder};

/// Bytes of compiled automaton the `regex` crate may build for one pattern
/// (and the lazy DFA's cache): a pattern needing more matches nothing.
pub const SIZE_LIMIT: usize = 1 << 20;

/// Longer patterns match nothing without being parsed: even plain text this
/// long would not fit in [`SIZE_LIMIT`].
pub const MAX_PATTERN_LEN: usize = 32 * 1024;

/// How deep groups may nest. It keeps the parser's recursion bounded.
pub const MAX_NESTING: usize = 100;

/// How many repetition operators in a row may apply to one atom once
/// merged: `a+*?++` is one `a*`, but `a{2}?{2}?` cannot be merged.
pub const MAX_STACKED: usize = 16;

/// glibc's `RE_DUP_MAX`: a larger bound is an error.
const DUP_MAX: u32 = 0x7fff;

/// glibc keeps the name in `[:name:]`, `[=x=]` and `[.x.]` in a buffer this
/// big (with its NUL): a name that fills it is an unmatched `[`. (No name
/// that long is valid anyway; the limit only decides which error.)
const BRACKET_NAME_MAX: usize = 32;

/// Why a KVER pattern matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KverError {
    /// glibc's `regcomp` would fail too.
    #[error("{0}")]
    Syntax(#[from] SyntaxError),
    /// A valid back-reference: glibc would try it, we do not (see the
    /// module documentation).
    #[error("back-references are not supported")]
    Backreference,
    #[error("the pattern contains a NUL byte")]
    Nul,
    #[error("the pattern is longer than {MAX_PATTERN_LEN} bytes")]
    TooLong,
    #[error("the pattern nests too deeply")]
    TooDeep,
    /// The `regex` crate refused the translation; for a pattern that parsed
    /// this means it needs more than [`SIZE_LIMIT`].
    #[error("the pattern is too complex: {0}")]
    TooComplex(String),
}

/// glibc's `regcomp` errors, with glibc's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("Invalid collation character")]
    Collate,
    #[error("Invalid character class name")]
    CharClass,
    #[error("Trailing backslash")]
    TrailingBackslash,
    #[error("Invalid back reference")]
    Backreference,
    #[error("Unmatched [, [^, [:, [., or [=")]
    Bracket,
    #[error("Unmatched ( or \\(")]
    Paren,
    #[error("Unmatched \\{{")]
    Brace,
    #[error("Invalid content of \\{{\\}}")]
    BadBound,
    #[error("Invalid range end")]
    Range,
    #[error("Invalid preceding regular expression")]
    BadRepetition,
    #[error("Regular expression too big")]
    BoundTooBig,
}

/// A compiled KVER pattern.
#[derive(Debug, Clone)]
pub struct KverPattern {
    regex: Regex,
}

impl KverPattern {
    /// Compiles `pattern` as glibc's `regcomp(REG_EXTENDED | REG_NOSUB)`
    /// would, or says why it matches nothing.
    pub fn new(pattern: &[u8]) -> Result<KverPattern, KverError> {
        let syntax = translate(pattern)?;
        let regex = RegexBuilder::new(&syntax)
            .unicode(false)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| KverError::TooComplex(e.to_string()))?;
        Ok(KverPattern { regex })
    }

    /// Whether the pattern occurs anywhere in `version` (up to a NUL, as in
    /// C), as `regexec` answers.
    pub fn is_match(&self, version: &[u8]) -> bool {
        self.regex.is_match(super::lines::c_str(version))
    }
}

/// `pattern` rewritten in the `regex` crate's syntax (to be compiled with
/// Unicode off): the same language, with every literal byte escaped.
pub fn translate(pattern: &[u8]) -> Result<String, KverError> {
    if pattern.contains(&0) {
        return Err(KverError::Nul);
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(KverError::TooLong);
    }
    let mut parser = Parser {
        pattern,
        pos: 0,
        token: Token::End,
        groups: 0,
        completed: 0,
        backreference: false,
    };
    parser.advance();
    // The top level only stops at the end: an unmatched `)` is a literal.
    let tree = parser.alternation(0)?;
    if parser.backreference {
        return Err(KverError::Backreference);
    }
    let mut out = String::new();
    tree.emit(&mut out);
    Ok(out)
}

/// A set of bytes (what a bracket expression, `.` or `\w` matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet([0; 4]);

    fn range(lo: u8, hi: u8) -> ByteSet {
        let mut set = ByteSet::EMPTY;
        for b in lo..=hi {
            set.insert(b);
        }
        set
    }

    fn byte(b: u8) -> ByteSet {
        ByteSet::range(b, b)
    }

    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn union(mut self, other: ByteSet) -> ByteSet {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        self
    }

    fn complement(mut self) -> ByteSet {
        for a in &mut self.0 {
            *a = !*a;
        }
        self
    }

    /// The set as maximal runs of consecutive bytes.
    fn runs(&self) -> Vec<(u8, u8)> {
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
    fn class(name: &[u8]) -> Option<ByteSet> {
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
    fn word() -> ByteSet {
        ByteSet::class(b"alnum")
            .unwrap_or(ByteSet::EMPTY)
            .union(ByteSet::byte(b'_'))
    }

    /// `\s`: `[[:space:]]`.
    fn space() -> ByteSet {
        ByteSet::class(b"space").unwrap_or(ByteSet::EMPTY)
    }
}

/// Zero-width assertions. Without REG_NEWLINE, glibc's `^` and `$` are the
/// ends of the string only, like `` \` `` and `\'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assertion {
    Start,
    End,
    WordBoundary,
    NotWordBoundary,
    WordStart,
    WordEnd,
}

/// The parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// Matches the empty string: `()`, an empty alternative, `X{0}`.
    Empty,
    /// One byte from the set.
    Set(ByteSet),
    Assert(Assertion),
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    /// `max` None is unbounded.
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

impl Node {
    fn emit(&self, out: &mut String) {
        match self {
            Node::Empty => {}
            Node::Set(set) => emit_set(out, set),
            Node::Assert(a) => out.push_str(match a {
                Assertion::Start => r"\A",
                Assertion::End => r"\z",
                Assertion::WordBoundary => r"\b",
                Assertion::NotWordBoundary => r"\B",
                Assertion::WordStart => r"\b{start}",
                Assertion::WordEnd => r"\b{end}",
            }),
            Node::Concat(nodes) => nodes.iter().for_each(|n| n.emit(out)),
            Node::Alternation(nodes) => {
                out.push_str("(?:");
                for (i, n) in nodes.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    n.emit(out);
                }
                out.push(')');
            }
            Node::Repeat { node, min, max } => {
                // Always grouped: the regex crate rejects `a**`.
                out.push_str("(?:");
                node.emit(out);
                out.push(')');
                match (min, max) {
                    (0, None) => out.push('*'),
                    (1, None) => out.push('+'),
                    (0, Some(1)) => out.push('?'),
                    (m, None) => out.push_str(&format!("{{{m},}}")),
                    (m, Some(n)) if m == n => out.push_str(&format!("{{{m}}}")),
                    (m, Some(n)) => out.push_str(&format!("{{{m},{n}}}")),
                }
            }
        }
    }
}

fn emit_set(out: &mut String, set: &ByteSet) {
    let runs = set.runs();
    match runs[..] {
        [] => out.push_str(r"[^\x00-\xFF]"), // matches nothing
        [(lo, hi)] if lo == hi => emit_byte(out, lo),
        _ => {
            out.push('[');
            for (lo, hi) in runs {
                emit_byte(out, lo);
                if hi != lo {
                    out.push('-');
                    emit_byte(out, hi);
                }
            }
            out.push(']');
        }
    }
}

/// Letters and digits stand for themselves in and out of classes; anything
/// else is escaped, so no byte of the pattern is ever taken as syntax.
fn emit_byte(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() {
        out.push(char::from(b));
    } else {
        out.push_str(&format!(r"\x{b:02X}"));
    }
}

/// `X{min,max}` (glibc drops what `{0}` or `{0,0}` repeats), merging
/// stacked repetitions where that keeps the language: `(X+)*` is `X*`,
/// `(X{2}){3}` is `X{6}`. Returns whether it nested a new repetition.
fn repeat(node: Node, min: u32, max: Option<u32>) -> (Node, bool) {
    if max == Some(0) || node == Node::Empty {
        return (Node::Empty, false);
    }
    if (min, max) == (1, Some(1)) {
        return (node, false);
    }
    if let Node::Repeat {
        node: inner,
        min: a,
        max: b,
    } = &node
    {
        // (X{a,b}){c,d} is X{ac,bd} when the counts it allows leave no gap:
        // always when c = d; otherwise the k copies give [ka, kb] and the
        // gap between k and k+1 copies only shrinks as k grows, so it is
        // enough that a <= c(b-a) + 1.
        let (a, c) = (*a, min);
        let no_gap = max == Some(c)
            || match b {
                None => c >= 1 || a <= 1,
                Some(b) => u64::from(a) <= u64::from(c) * u64::from(b - a) + 1,
            };
        if no_gap {
            let merged = Node::Repeat {
                node: inner.clone(),
                min: a.saturating_mul(c),
                max: b.zip(max).map(|(b, d)| b.saturating_mul(d)),
            };
            return (merged, false);
        }
    }
    let node = Node::Repeat {
        node: Box::new(node),
        min,
        max,
    };
    (node, true)
}

/// glibc's tokens outside bracket expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    /// A byte that stands for itself, escaped or not.
    Char(u8),
    Dot,
    OpenBracket,
    OpenGroup,
    CloseGroup,
    Alternation,
    Star,
    Plus,
    Question,
    OpenBound,
    CloseBound,
    Assert(Assertion),
    /// `\w` `\W` `\s` `\S`.
    Set(ByteSet),
    Backreference(u8),
    /// A `\` that ends the pattern.
    TrailingBackslash,
}

/// glibc's tokens inside a bracket expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BracketToken {
    End,
    Char(u8),
    /// `-`: a range, or itself first or last.
    Hyphen,
    /// `]`: the end, or itself first.
    Close,
    /// `^`: negation first, itself elsewhere.
    Caret,
    /// `[.`, `[=`, `[:` (the byte is the delimiter).
    Open(u8),
}

/// One member of a bracket expression.
enum Member {
    Byte(u8),
    /// `[.x.]`
    Collating(Vec<u8>),
    /// `[=x=]`
    Equivalence(Vec<u8>),
    /// `[:name:]`
    Class(Vec<u8>),
}

impl Member {
    /// The byte a member stands for as a range end point. In the C locale
    /// collating elements and equivalence classes are single bytes.
    fn single(&self) -> Result<u8, SyntaxError> {
        match self {
            Member::Byte(b) => Ok(*b),
            Member::Collating(name) | Member::Equivalence(name) => match name[..] {
                [b] => Ok(b),
                _ => Err(SyntaxError::Collate),
            },
            Member::Class(_) => Err(SyntaxError::Range),
        }
    }
}

struct Parser<'p> {
    pattern: &'p [u8],
    /// Just after the current token.
    pos: usize,
    token: Token,
    /// Groups opened so far: the next one's number minus one.
    groups: usize,
    /// Bit n: group n+1 is closed, so `\n+1` may refer to it (glibc forgets
    /// the groups of other alternatives).
    completed: u16,
    /// A valid back-reference was seen.
    backreference: bool,
}

impl Parser<'_> {
    fn byte_at(&self, i: usize) -> Option<u8> {
        self.pattern.get(i).copied()
    }

    /// Reads the token at `pos` into `token`.
    fn advance(&mut self) {
        let Some(c) = self.byte_at(self.pos) else {
            self.token = Token::End;
            return;
        };
        self.pos += 1;
        self.token = match c {
            b'\\' => {
                let Some(c2) = self.byte_at(self.pos) else {
                    self.token = Token::TrailingBackslash;
                    return;
                };
                self.pos += 1;
                match c2 {
                    b'1'..=b'9' => Token::Backreference(c2 - b'0'),
                    b'<' => Token::Assert(Assertion::WordStart),
                    b'>' => Token::Assert(Assertion::WordEnd),
                    b'b' => Token::Assert(Assertion::WordBoundary),
                    b'B' => Token::Assert(Assertion::NotWordBoundary),
                    b'`' => Token::Assert(Assertion::Start),
                    b'\'' => Token::Assert(Assertion::End),
                    b'w' => Token::Set(ByteSet::word()),
                    b'W' => Token::Set(ByteSet::word().complement()),
                    b's' => Token::Set(ByteSet::space()),
                    b'S' => Token::Set(ByteSet::space().complement()),
                    // Everything else escaped is itself, `\{`, `\(`, `\|`
                    // included (their escaped forms are the BRE operators).
                    _ => Token::Char(c2),
                }
            }
            b'|' => Token::Alternation,
            b'*' => Token::Star,
            b'+' => Token::Plus,
            b'?' => Token::Question,
            b'{' => Token::OpenBound,
            b'}' => Token::CloseBound,
            b'(' => Token::OpenGroup,
            b')' => Token::CloseGroup,
            b'[' => Token::OpenBracket,
            b'.' => Token::Dot,
            // Anchors anywhere (RE_CONTEXT_INDEP_ANCHORS).
            b'^' => Token::Assert(Assertion::Start),
            b'$' => Token::Assert(Assertion::End),
            _ => Token::Char(c),
        };
    }

    /// Whether the current token ends a branch: `|`, the end, or inside a
    /// group its `)` (outside, an unmatched `)` is a literal).
    fn ends_branch(&self, nest: usize) -> bool {
        match self.token {
            Token::Alternation | Token::End => true,
            Token::CloseGroup => nest > 0,
            _ => false,
        }
    }

    /// Alternatives, any of them possibly empty.
    fn alternation(&mut self, nest: usize) -> Result<Node, KverError> {
        let before = self.completed;
        let mut branches = vec![self.branch(nest)?];
        while self.token == Token::Alternation {
            self.advance();
            if self.ends_branch(nest) {
                branches.push(Node::Empty);
                continue;
            }
            let so_far = self.completed;
            self.completed = before;
            branches.push(self.branch(nest)?);
            self.completed |= so_far;
        }
        Ok(match branches.len() {
            1 => branches.pop().unwrap_or(Node::Empty),
            _ => Node::Alternation(branches),
        })
    }

    fn branch(&mut self, nest: usize) -> Result<Node, KverError> {
        let mut items = vec![self.expression(nest)?];
        while !self.ends_branch(nest) {
            items.push(self.expression(nest)?);
        }
        items.retain(|n| *n != Node::Empty);
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    /// One atom and the repetition operators after it.
    fn expression(&mut self, nest: usize) -> Result<Node, KverError> {
        let atom = match self.token {
            // Only the first expression of a branch can meet these: the
            // branch is empty.
            Token::End | Token::Alternation => return Ok(Node::Empty),
            Token::Char(c) => Node::Set(ByteSet::byte(c)),
            // glibc (RE_UNMATCHED_RIGHT_PAREN_ORD, and a `}` that closes no
            // bound): themselves.
            Token::CloseGroup => Node::Set(ByteSet::byte(b')')),
            Token::CloseBound => Node::Set(ByteSet::byte(b'}')),
            // Any byte but NUL, newline included; the version has no NUL.
            Token::Dot => Node::Set(ByteSet::range(1, 255)),
            Token::Set(set) => Node::Set(set),
            Token::OpenBracket => Node::Set(self.bracket()?),
            Token::OpenGroup => self.group(nest + 1)?,
            Token::Backreference(n) => {
                if self.completed & (1 << (n - 1)) == 0 {
                    return Err(SyntaxError::Backreference.into());
                }
                self.backreference = true;
                Node::Empty
            }
            Token::Assert(a) => {
                // An anchor takes no repetition operator: one right after it
                // starts the next expression, where it is an error.
                self.advance();
                return Ok(Node::Assert(a));
            }
            // A repetition operator with nothing before it
            // (RE_CONTEXT_INVALID_OPS).
            Token::Star | Token::Plus | Token::Question | Token::OpenBound => {
                return Err(SyntaxError::BadRepetition.into());
            }
            Token::TrailingBackslash => return Err(SyntaxError::TrailingBackslash.into()),
        };
        self.advance();
        let mut node = atom;
        let mut stacked = 0;
        loop {
            let (min, max) = match self.token {
                Token::Star => (0, None),
                Token::Plus => (1, None),
                Token::Question => (0, Some(1)),
                Token::OpenBound => self.bound()?,
                _ => break,
            };
            self.advance();
            let (repeated, nested) = repeat(node, min, max);
            node = repeated;
            if nested {
                stacked += 1;
                if stacked > MAX_STACKED {
                    return Err(KverError::TooDeep);
                }
            }
        }
        Ok(node)
    }

    /// `( … )`, the current token being the `(`; leaves the `)` current.
    fn group(&mut self, nest: usize) -> Result<Node, KverError> {
        if nest > MAX_NESTING {
            return Err(KverError::TooDeep);
        }
        let number = self.groups;
        self.groups += 1;
        self.advance();
        let node = if self.token == Token::CloseGroup {
            Node::Empty
        } else {
            let node = self.alternation(nest)?;
            if self.token != Token::CloseGroup {
                return Err(SyntaxError::Paren.into());
            }
            node
        };
        if number < 9 {
            self.completed |= 1 << number;
        }
        Ok(node)
    }

    /// The bounds of `{m,n}`, the current token being the `{`; leaves the
    /// `}` current. The parts are read as tokens, as glibc does: `\,` is a
    /// comma there and `\0` a digit.
    fn bound(&mut self) -> Result<(u32, Option<u32>), KverError> {
        // `{,n}` is `{0,n}`; `{}` is an error.
        let min = match self.number() {
            Number::None if self.token == Token::Char(b',') => Number::Value(0),
            Number::None => return Err(SyntaxError::BadBound.into()),
            n => n,
        };
        let max = match (min, self.token) {
            (Number::Invalid, _) => Number::Invalid,
            (_, Token::CloseBound) => min,
            (_, Token::Char(b',')) => self.number(),
            _ => Number::Invalid,
        };
        let (min, max) = match (min, max) {
            (Number::Value(min), Number::Value(max)) => (min, Some(max)),
            (Number::Value(min), Number::None) => (min, None),
            _ if self.token == Token::End => return Err(SyntaxError::Brace.into()),
            _ => return Err(SyntaxError::BadBound.into()),
        };
        if max.is_some_and(|max| min > max) || self.token != Token::CloseBound {
            return Err(SyntaxError::BadBound.into());
        }
        if max.unwrap_or(min) > DUP_MAX {
            return Err(SyntaxError::BoundTooBig.into());
        }
        Ok((min, max))
    }

    /// Digits up to a `,` or `}` (which is left current). Anything else
    /// among them spoils the number; the end of the pattern is `Invalid`.
    fn number(&mut self) -> Number {
        let mut n = Number::None;
        loop {
            self.advance();
            let digit = match self.token {
                Token::End => return Number::Invalid,
                Token::CloseBound | Token::Char(b',') => return n,
                Token::Char(c @ b'0'..=b'9') => u32::from(c - b'0'),
                _ => {
                    n = Number::Invalid;
                    continue;
                }
            };
            n = match n {
                Number::None => Number::Value(digit),
                // Saturates just past the limit, to be refused.
                Number::Value(v) => Number::Value((v * 10 + digit).min(DUP_MAX + 1)),
                Number::Invalid => Number::Invalid,
            };
        }
    }

    /// A bracket expression, the current token being the `[`; `pos` is left
    /// after its `]`. Backslash is an ordinary member.
    fn bracket(&mut self) -> Result<ByteSet, KverError> {
        let mut set = ByteSet::EMPTY;
        let (mut token, mut len) = self.bracket_token();
        let negated = token == BracketToken::Caret;
        if negated {
            self.pos += len;
            (token, len) = self.bracket_token();
        }
        if token == BracketToken::End {
            return Err(SyntaxError::Bracket.into());
        }
        // A `]` first is a member.
        if token == BracketToken::Close {
            token = BracketToken::Char(b']');
        }
        let mut first = true;
        loop {
            let start = self.bracket_member(token, len, first)?;
            first = false;
            (token, len) = self.bracket_token();
            let mut range_end = None;
            // A class or equivalence class cannot start a range: a `-`
            // after one is read as the next member.
            if !matches!(start, Member::Class(_) | Member::Equivalence(_)) {
                if token == BracketToken::End {
                    return Err(SyntaxError::Bracket.into());
                }
                if token == BracketToken::Hyphen {
                    self.pos += len;
                    let (token2, len2) = self.bracket_token();
                    match token2 {
                        BracketToken::End => return Err(SyntaxError::Bracket.into()),
                        // `-]`: the `-` is a member, read next time round.
                        BracketToken::Close => {
                            self.pos -= len;
                            token = BracketToken::Char(b'-');
                        }
                        _ => {
                            range_end = Some(self.bracket_member(token2, len2, true)?);
                            (token, len) = self.bracket_token();
                        }
                    }
                }
            }
            match range_end {
                Some(end) => {
                    if matches!(end, Member::Class(_) | Member::Equivalence(_)) {
                        return Err(SyntaxError::Range.into());
                    }
                    // Byte order: the C locale.
                    let (lo, hi) = (start.single()?, end.single()?);
                    if lo > hi {
                        return Err(SyntaxError::Range.into());
                    }
                    set = set.union(ByteSet::range(lo, hi));
                }
                None => {
                    let members = match start {
                        Member::Byte(b) => ByteSet::byte(b),
                        Member::Collating(_) | Member::Equivalence(_) => {
                            ByteSet::byte(start.single()?)
                        }
                        Member::Class(name) => {
                            ByteSet::class(&name).ok_or(SyntaxError::CharClass)?
                        }
                    };
                    set = set.union(members);
                }
            }
            match token {
                BracketToken::End => return Err(SyntaxError::Bracket.into()),
                BracketToken::Close => break,
                _ => {}
            }
        }
        self.pos += len;
        Ok(if negated { set.complement() } else { set })
    }

    /// The bracket-expression token at `pos` and its length (not consumed).
    fn bracket_token(&self) -> (BracketToken, usize) {
        let Some(c) = self.byte_at(self.pos) else {
            return (BracketToken::End, 0);
        };
        match (c, self.byte_at(self.pos + 1)) {
            (b'[', Some(d @ (b'.' | b'=' | b':'))) => (BracketToken::Open(d), 2),
            (b'-', _) => (BracketToken::Hyphen, 1),
            (b']', _) => (BracketToken::Close, 1),
            (b'^', _) => (BracketToken::Caret, 1),
            _ => (BracketToken::Char(c), 1),
        }
    }

    /// Consumes one member, `token` (of `len` bytes) being its start. A `-`
    /// may be a member only first (`first`), as a range's end, or last.
    fn bracket_member(
        &mut self,
        token: BracketToken,
        len: usize,
        first: bool,
    ) -> Result<Member, KverError> {
        self.pos += len;
        Ok(match token {
            BracketToken::Open(delim) => {
                let name = self.bracket_name(delim)?;
                match delim {
                    b'.' => Member::Collating(name),
                    b'=' => Member::Equivalence(name),
                    _ => Member::Class(name),
                }
            }
            BracketToken::Hyphen => {
                if !first && self.bracket_token().0 != BracketToken::Close {
                    return Err(SyntaxError::Range.into());
                }
                Member::Byte(b'-')
            }
            BracketToken::Char(c) => Member::Byte(c),
            BracketToken::Caret => Member::Byte(b'^'),
            BracketToken::Close => Member::Byte(b']'),
            BracketToken::End => return Err(SyntaxError::Bracket.into()),
        })
    }

    /// The name in `[.name.]`, `[=name=]`, `[:name:]`, after the opening
    /// pair: up to the first `delim` followed by `]`, which must not end the
    /// pattern; at most 31 bytes.
    fn bracket_name(&mut self, delim: u8) -> Result<Vec<u8>, KverError> {
        let mut name = Vec::new();
        loop {
            if name.len() >= BRACKET_NAME_MAX || self.pos + 1 >= self.pattern.len() {
                return Err(SyntaxError::Bracket.into());
            }
            let c = self.pattern[self.pos];
            self.pos += 1;
            if c == delim && self.byte_at(self.pos) == Some(b']') {
                self.pos += 1;
                return Ok(name);
            }
            name.push(c);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    /// No digits.
    None,
    /// Not a number, or the pattern ended.
    Invalid,
    Value(u32),
}
