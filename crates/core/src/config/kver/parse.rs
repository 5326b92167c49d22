//! Reading a pattern by glibc's rules for POSIX extended expressions.

use super::tree::{Assertion, Node};
use super::{
    ByteSet, KverError, SyntaxError, BRACKET_NAME_MAX, DUP_MAX, MAX_DEPTH, MAX_NESTING, MAX_STACKED,
};

/// glibc's tokens outside bracket expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
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
pub(super) enum BracketToken {
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
pub(super) enum Member {
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
    pub(super) fn single(&self) -> Result<u8, SyntaxError> {
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

pub(super) struct Parser<'p> {
    pub(super) pattern: &'p [u8],
    /// Just after the current token.
    pub(super) pos: usize,
    pub(super) token: Token,
    /// Groups opened so far: the next one's number minus one.
    pub(super) groups: usize,
    /// Bit n: group n+1 is closed, so `\n+1` may refer to it (glibc forgets
    /// the groups of other alternatives).
    pub(super) completed: u16,
    /// A valid back-reference was seen.
    pub(super) backreference: bool,
    /// How many more nodes copies of anchors may take ([`Node::expand`]).
    pub(super) budget: usize,
}

impl Parser<'_> {
    pub(super) fn byte_at(&self, i: usize) -> Option<u8> {
        self.pattern.get(i).copied()
    }

    /// Reads the token at `pos` into `token`.
    pub(super) fn advance(&mut self) {
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
    pub(super) fn ends_branch(&self, nest: usize) -> bool {
        match self.token {
            Token::Alternation | Token::End => true,
            Token::CloseGroup => nest > 0,
            _ => false,
        }
    }

    /// Alternatives, any of them possibly empty.
    pub(super) fn alternation(&mut self, nest: usize) -> Result<Node, KverError> {
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
        let node = match branches.len() {
            1 => branches.pop().unwrap_or(Node::Empty),
            _ => Node::Alternation {
                branches,
                copy: false,
            },
        };
        check_depth(node)
    }

    pub(super) fn branch(&mut self, nest: usize) -> Result<Node, KverError> {
        let mut items = vec![self.expression(nest)?];
        while !self.ends_branch(nest) {
            items.push(self.expression(nest)?);
        }
        check_depth(Node::concat(items))
    }

    /// One atom and the repetition operators after it.
    pub(super) fn expression(&mut self, nest: usize) -> Result<Node, KverError> {
        let atom = match self.token {
            // Only the first expression of a branch can meet these: the
            // branch is empty.
            Token::End | Token::Alternation => return Ok(Node::Empty),
            Token::Char(c) => Node::byte(c),
            // glibc (RE_UNMATCHED_RIGHT_PAREN_ORD, and a `}` that closes no
            // bound): themselves.
            Token::CloseGroup => Node::byte(b')'),
            Token::CloseBound => Node::byte(b'}'),
            // Any byte but NUL, newline included; the version has no NUL.
            Token::Dot => Node::set(ByteSet::range(1, 255)),
            Token::Set(set) => Node::set(set),
            Token::OpenBracket => Node::set(self.bracket()?),
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
                return Ok(Node::Assert {
                    kind: a,
                    copy: false,
                });
            }
            // A repetition operator with nothing before it
            // (RE_CONTEXT_INVALID_OPS).
            Token::Star | Token::Plus | Token::Question | Token::OpenBound => {
                return Err(SyntaxError::BadRepetition.into());
            }
            Token::TrailingBackslash => return Err(SyntaxError::TrailingBackslash.into()),
        };
        self.advance();
        let anchored = atom.has_assertion();
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
            let nested;
            (node, nested) = if anchored {
                (node.expand(min, max, &mut self.budget)?, true)
            } else {
                node.repeat(min, max)
            };
            if nested {
                stacked += 1;
                if stacked > MAX_STACKED {
                    return Err(KverError::TooDeep);
                }
            }
            node = check_depth(node)?;
        }
        Ok(node)
    }

    /// `( … )`, the current token being the `(`; leaves the `)` current.
    pub(super) fn group(&mut self, nest: usize) -> Result<Node, KverError> {
        if nest > MAX_NESTING {
            return Err(KverError::TooDeep);
        }
        let number = self.groups;
        self.groups += 1;
        self.advance();
        let node = if self.token == Token::CloseGroup {
            Node::EmptyGroup
        } else {
            let node = self.alternation(nest)?;
            if self.token != Token::CloseGroup {
                return Err(SyntaxError::Paren.into());
            }
            // `(X{0})` is as empty as `()` for glibc.
            if node == Node::Empty {
                Node::EmptyGroup
            } else {
                node
            }
        };
        if number < 9 {
            self.completed |= 1 << number;
        }
        Ok(node)
    }

    /// The bounds of `{m,n}`, the current token being the `{`; leaves the
    /// `}` current. The parts are read as tokens, as glibc does: `\,` is a
    /// comma there and `\0` a digit.
    pub(super) fn bound(&mut self) -> Result<(u32, Option<u32>), KverError> {
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
    pub(super) fn number(&mut self) -> Number {
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
    pub(super) fn bracket(&mut self) -> Result<ByteSet, KverError> {
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
    pub(super) fn bracket_token(&self) -> (BracketToken, usize) {
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
    pub(super) fn bracket_member(
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
    pub(super) fn bracket_name(&mut self, delim: u8) -> Result<Vec<u8>, KverError> {
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

/// Refuses trees deeper than [`MAX_DEPTH`] (only ever one level deeper
/// than their parts, which were checked).
pub(super) fn check_depth(node: Node) -> Result<Node, KverError> {
    if node.depth() > MAX_DEPTH {
        return Err(KverError::TooDeep);
    }
    Ok(node)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Number {
    /// No digits.
    None,
    /// Not a number, or the pattern ended.
    Invalid,
    Value(u32),
}
