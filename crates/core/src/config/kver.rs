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
//! the yes/no answer matters (REG_NOSUB). It is glibc's for every pattern
//! glibc compiles in reasonable time — glibc's quirks included: an anchor in
//! a repeated group is ignored in the copies glibc makes of the group
//! (`(^a){2}` matches `aa`; see `Node`) — with these deliberate
//! exceptions, all of which match nothing:
//!
//! * a back-reference (`\1`..`\9`) that glibc would accept: the `regex` crate
//!   has none, and no real KVER pattern needs one (glibc would match, e.g.,
//!   `(6)\.\1` against `6.6`);
//! * an anchor in such a copy that glibc applies on some paths through the
//!   pattern and ignores on others (`(\<a\>){1,3}`: the copied `\<` counts
//!   right after the first `\>` only; see `Walk`);
//! * a pattern whose automaton passes [`SIZE_LIMIT`]: `a{32767}`, or nested
//!   bounded repetitions such as `(a{1,255}){1,255}` — the kind that makes
//!   glibc blow up, too;
//! * a pattern longer than [`MAX_PATTERN_LEN`], nested deeper than
//!   [`MAX_NESTING`] groups or [`MAX_DEPTH`] levels, with more than
//!   [`MAX_STACKED`] repetition operators in a row that cannot be merged
//!   (`a{2}?{2}?…`), or whose copies of anchors pass [`MAX_COPIES`] nodes;
//! * a pattern containing a NUL byte (a C string would end there).
//!
//! `crates/core/tests/kver_glibc.rs` and the `kver` fuzz target compare the
//! answers with glibc's.

use std::collections::HashMap;

use regex::bytes::{Regex, RegexBuilder};

/// Bytes of compiled automaton the `regex` crate may build for one pattern
/// (and the lazy DFA's cache): a pattern needing more matches nothing.
pub const SIZE_LIMIT: usize = 1 << 20;

/// Longer patterns match nothing without being parsed: a bound on our own
/// work (real KVER patterns are a few dozen bytes).
pub const MAX_PATTERN_LEN: usize = 32 * 1024;

/// How deep groups may nest. It keeps the parser's recursion bounded.
pub const MAX_NESTING: usize = 100;

/// How deep the parsed tree may be. It keeps our recursion bounded, and the
/// `regex` crate's nesting (at most two levels a node) under its limit.
pub const MAX_DEPTH: usize = 100;

/// How many nodes glibc-style copies of repeated anchors may take. Each
/// repetition of a group with an anchor copies it up to five times, so this
/// only stops stacked or nested ones: `(^a)+++…`.
pub const MAX_COPIES: usize = 10_000;

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
    /// An anchor in a repeated group that glibc would apply on some paths
    /// through the pattern and ignore on others (see the module
    /// documentation).
    #[error("an anchor in a repeated group that glibc applies only in part")]
    CopiedAnchor,
    /// Past our limits: an automaton over [`SIZE_LIMIT`] (the `regex`
    /// crate's refusal), or copies of anchors over [`MAX_COPIES`] nodes.
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
        budget: MAX_COPIES,
    };
    parser.advance();
    // The top level only stops at the end: an unmatched `)` is a literal.
    let tree = parser.alternation(0)?;
    if parser.backreference {
        return Err(KverError::Backreference);
    }
    let mut out = String::new();
    // What follows the pattern in glibc is its end node, no copy; nothing
    // before it is an anchor.
    let at = At {
        next_copy: false,
        walk: Walk::None,
    };
    tree.emit(&mut out, at, &mut Memo::new())?;
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

/// The parsed pattern, in the shape of glibc's own parse tree wherever that
/// changes an answer.
///
/// That is the case for anchors (`^ $ \b \B \< \> \` \'`). glibc compiles a
/// repetition by copying what it repeats (`X{3}` is X X X, `X+` is X X*),
/// and marks the copies. An anchor takes effect by passing its condition on
/// to the nodes after it, which glibc skips when the node right after the
/// anchor is a copy. So an anchor inside a copy is ignored — `(^a){2}` is
/// `^aa`, `(a$){2}` is `aa$` — unless the path got there from an anchor that
/// does take effect with no byte read since (see [`Walk`]). To give the same
/// answers, a repetition of something holding an anchor is expanded here
/// into glibc's copies ([`Node::expand`]); one without anchors stays a
/// single repetition for the `regex` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// Nothing at all: an empty alternative, `X{0}` (glibc has no node).
    Empty,
    /// `()`: matches the empty string. glibc gives it two nodes made after
    /// all copying, so they are never copies.
    EmptyGroup,
    /// One byte from the set.
    Set {
        set: ByteSet,
        copy: bool,
    },
    Assert {
        kind: Assertion,
        copy: bool,
    },
    /// Never empty, and never holding `Empty`.
    Concat(Vec<Node>),
    Alternation {
        branches: Vec<Node>,
        copy: bool,
    },
    /// `max` None is unbounded. With an anchor inside, only `*` and `?`:
    /// the rest is expanded.
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        copy: bool,
    },
    /// `min` to `max` glibc copies in a row, each followed by another copy.
    Run {
        node: Box<Node>,
        min: u32,
        max: u32,
    },
}

/// The anchors whose conditions hold at a point, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Kinds(u8);

impl Kinds {
    fn of(kind: Assertion) -> Kinds {
        Kinds(1 << kind as u8)
    }

    fn implies(self, kind: Assertion) -> bool {
        let has = |k: Assertion| self.0 & Kinds::of(k).0 != 0;
        has(kind)
            || (kind == Assertion::WordBoundary
                && (has(Assertion::WordStart) || has(Assertion::WordEnd)))
    }
}

/// How a point of the pattern is reached. glibc applies the anchor
/// conditions met on the way from an anchor that takes effect, through
/// empty steps only (no byte read since), to the nodes after them — the
/// ignored anchors among them too. So an ignored anchor counts when every
/// path reaches it that way (`All`), and changes nothing when it holds
/// wherever the others do (`\<` after `\<`); anything else depends on the
/// path, and is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Walk {
    /// No path comes from an anchor with nothing read since.
    None,
    /// Some do; these anchors hold on all of those.
    Some(Kinds),
    /// All do; these anchors hold on all of them.
    All(Kinds),
}

impl Walk {
    /// Two ways to reach one point.
    fn join(self, other: Walk) -> Walk {
        match (self, other) {
            (Walk::None, Walk::None) => Walk::None,
            (Walk::All(a), Walk::All(b)) => Walk::All(Kinds(a.0 & b.0)),
            (Walk::None, Walk::Some(k) | Walk::All(k))
            | (Walk::Some(k) | Walk::All(k), Walk::None) => Walk::Some(k),
            (Walk::Some(a) | Walk::All(a), Walk::Some(b) | Walk::All(b)) => {
                Walk::Some(Kinds(a.0 & b.0))
            }
        }
    }
}

/// Transfers already computed, by node address, next node and walk.
type Memo = HashMap<(usize, bool, Walk), Walk>;

/// Where an emitted node stands: whether glibc's next node after it is a
/// copy, and how it is reached.
#[derive(Clone, Copy)]
struct At {
    next_copy: bool,
    walk: Walk,
}

impl Node {
    fn set(set: ByteSet) -> Node {
        Node::Set { set, copy: false }
    }

    fn byte(b: u8) -> Node {
        Node::set(ByteSet::byte(b))
    }

    fn concat(mut nodes: Vec<Node>) -> Node {
        nodes.retain(|n| *n != Node::Empty);
        match nodes.len() {
            0 => Node::Empty,
            1 => nodes.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(nodes),
        }
    }

    fn run(node: &Node, min: u32, max: u32) -> Node {
        match max {
            0 => Node::Empty,
            _ => Node::Run {
                node: Box::new(node.clone()),
                min,
                max,
            },
        }
    }

    /// Whether glibc's first node of this subtree is a copy.
    fn first_is_copy(&self) -> bool {
        match self {
            Node::Empty | Node::EmptyGroup => false,
            Node::Set { copy, .. } | Node::Assert { copy, .. } => *copy,
            Node::Alternation { copy, .. } => *copy,
            Node::Concat(nodes) => nodes.first().is_some_and(Node::first_is_copy),
            // `X*` and `X{0,n}` start with a node of their own; `X{m,n}`
            // with X.
            Node::Repeat {
                node, min, copy, ..
            } => {
                if *min == 0 {
                    *copy
                } else {
                    node.first_is_copy()
                }
            }
            // Copies, and followed by copies.
            Node::Run { node, .. } => node.first_is_copy(),
        }
    }

    /// A copy as glibc makes it: every node marked.
    fn copied(&self) -> Node {
        match self {
            Node::Empty => Node::Empty,
            Node::EmptyGroup => Node::EmptyGroup,
            Node::Set { set, .. } => Node::Set {
                set: *set,
                copy: true,
            },
            Node::Assert { kind, .. } => Node::Assert {
                kind: *kind,
                copy: true,
            },
            Node::Concat(nodes) => Node::Concat(nodes.iter().map(Node::copied).collect()),
            Node::Alternation { branches, .. } => Node::Alternation {
                branches: branches.iter().map(Node::copied).collect(),
                copy: true,
            },
            Node::Repeat { node, min, max, .. } => Node::Repeat {
                node: Box::new(node.copied()),
                min: *min,
                max: *max,
                copy: true,
            },
            Node::Run { node, min, max } => Node::Run {
                node: Box::new(node.copied()),
                min: *min,
                max: *max,
            },
        }
    }

    fn children(&self) -> &[Node] {
        match self {
            Node::Concat(nodes)
            | Node::Alternation {
                branches: nodes, ..
            } => nodes,
            Node::Repeat { node, .. } | Node::Run { node, .. } => std::slice::from_ref(node),
            _ => &[],
        }
    }

    fn size(&self) -> usize {
        1 + self.children().iter().map(Node::size).sum::<usize>()
    }

    fn depth(&self) -> usize {
        1 + self.children().iter().map(Node::depth).max().unwrap_or(0)
    }

    fn has_assertion(&self) -> bool {
        matches!(self, Node::Assert { .. }) || self.children().iter().any(Node::has_assertion)
    }

    /// `X{min,max}` for an X without anchors (glibc drops what `{0}`
    /// repeats), merged with a repetition X already is where that keeps the
    /// language: `(X+)*` is `X*`, `(X{2}){3}` is `X{6}`. Returns whether it
    /// nested a new repetition.
    fn repeat(self, min: u32, max: Option<u32>) -> (Node, bool) {
        if max == Some(0) || self == Node::Empty {
            return (Node::Empty, false);
        }
        if (min, max) == (1, Some(1)) {
            return (self, false);
        }
        match self {
            Node::Repeat {
                node,
                min: a,
                max: b,
                copy,
            } if no_gap(a, b, min, max) => {
                let merged = Node::Repeat {
                    node,
                    min: a.saturating_mul(min),
                    max: b.zip(max).map(|(b, d)| b.saturating_mul(d)),
                    copy,
                };
                (merged, false)
            }
            node => {
                let node = Node::Repeat {
                    node: Box::new(node),
                    min,
                    max,
                    copy: false,
                };
                (node, true)
            }
        }
    }

    /// `X{min,max}` for an X with anchors, as glibc builds it: X itself,
    /// copies up to `min`, then for `{m,}` a starred copy, for `{m,n}` the
    /// other n-m copies as `((A?A)?…A)?` — here written flat, as the same
    /// ε|A|AA|…: `(A{0,n-m-1}A)?`, the last copy apart since what follows it
    /// is not a copy of X. `budget` is how many more nodes copies may take.
    fn expand(self, min: u32, max: Option<u32>, budget: &mut usize) -> Result<Node, KverError> {
        if max == Some(0) || self == Node::Empty {
            return Ok(Node::Empty);
        }
        if (min, max) == (1, Some(1)) {
            return Ok(self);
        }
        let optional = |node| Node::Repeat {
            node: Box::new(node),
            min: 0,
            max: Some(1),
            copy: false,
        };
        let star = |node| Node::Repeat {
            node: Box::new(node),
            min: 0,
            max: None,
            copy: false,
        };
        // At most five copies of X below, whatever the counts.
        *budget = budget
            .checked_sub(5 * self.size())
            .ok_or_else(|| KverError::TooComplex("too many copies of anchors".into()))?;
        let a = self.copied();
        Ok(match (min, max) {
            (0, None) => star(self),
            (0, Some(1)) => optional(self),
            // ((X?A)?…A)?: ε, the last copy after any number of the
            // others, or X first when all copies are there.
            (0, Some(n)) => {
                let first = Node::Alternation {
                    branches: vec![
                        Node::concat(vec![self, Node::run(&a, n - 2, n - 2)]),
                        Node::run(&a, 0, n - 2),
                    ],
                    copy: false,
                };
                optional(Node::concat(vec![first, a]))
            }
            (m, max) => {
                let mut parts = vec![self];
                if m >= 2 {
                    parts.push(Node::run(&a, m - 2, m - 2));
                    parts.push(a.clone());
                }
                match max {
                    None => parts.push(star(a)),
                    Some(n) if n == m => {}
                    Some(n) => {
                        parts.push(optional(Node::concat(vec![Node::run(&a, 0, n - m - 1), a])))
                    }
                }
                Node::concat(parts)
            }
        })
    }

    /// The walk at the exit of this node, entered at `at`.
    fn transfer(&self, at: At, memo: &mut Memo) -> Walk {
        let key = (self as *const Node as usize, at.next_copy, at.walk);
        if let Some(&w) = memo.get(&key) {
            return w;
        }
        let walk = at.walk;
        let exit = match self {
            Node::Empty | Node::EmptyGroup => walk,
            Node::Set { .. } => Walk::None,
            Node::Assert { kind, .. } => assertion(*kind, at).1,
            Node::Concat(nodes) => {
                let mut walk = walk;
                for (i, n) in nodes.iter().enumerate() {
                    let next_copy = nodes.get(i + 1).map_or(at.next_copy, Node::first_is_copy);
                    walk = n.transfer(At { next_copy, walk }, memo);
                }
                walk
            }
            Node::Alternation { branches, .. } => branches
                .iter()
                .map(|b| b.transfer(at, memo))
                .reduce(Walk::join)
                .unwrap_or(walk),
            Node::Repeat { .. } => self.repeat_walks(at, memo).1,
            Node::Run { .. } => self.run_walks(walk, memo).1,
        };
        memo.insert(key, exit);
        exit
    }

    /// For a `Repeat`: where its body stands, and the walk at its exit.
    fn repeat_walks(&self, at: At, memo: &mut Memo) -> (At, Walk) {
        let Node::Repeat {
            node,
            min,
            max,
            copy,
        } = self
        else {
            return (at, at.walk);
        };
        match max {
            // glibc's `*` node loops back to itself: the body is entered
            // from before and from its own end; that is also the exit.
            None => {
                let body = |walk| At {
                    next_copy: *copy,
                    walk,
                };
                let mut start = at.walk;
                if *min > 0 {
                    start = node.transfer(body(start), memo);
                }
                let mut walk = start;
                for _ in 0..64 {
                    let next = start.join(node.transfer(body(walk), memo));
                    if next == walk {
                        break;
                    }
                    walk = next;
                }
                (body(walk), walk)
            }
            // Without anchors inside, crossing the body twice is as crossing
            // it once; with anchors, only `?` is left.
            Some(_) => {
                let once = node.transfer(at, memo);
                (at, if *min == 0 { at.walk.join(once) } else { once })
            }
        }
    }

    /// For a `Run`: the walk its copies are entered with (all of them), and
    /// the walk at its exit.
    fn run_walks(&self, walk: Walk, memo: &mut Memo) -> (Walk, Walk) {
        let Node::Run { node, min, max } = self else {
            return (walk, walk);
        };
        let next_copy = node.first_is_copy();
        let (mut entered, mut exit) = (None::<Walk>, None::<Walk>);
        let mut w = walk;
        for i in 0..=*max {
            if i >= *min {
                exit = Some(exit.map_or(w, |e| e.join(w)));
            }
            if i == *max {
                break;
            }
            entered = Some(entered.map_or(w, |e| e.join(w)));
            w = node.transfer(At { next_copy, walk: w }, memo);
        }
        (entered.unwrap_or(walk), exit.unwrap_or(walk))
    }

    /// Writes the `regex` crate's form of this node, entered at `at`.
    fn emit(&self, out: &mut String, at: At, memo: &mut Memo) -> Result<(), KverError> {
        match self {
            Node::Empty | Node::EmptyGroup => {}
            Node::Set { set, .. } => emit_set(out, set),
            Node::Assert { kind, .. } => match assertion(*kind, at) {
                (Ok(true), _) => out.push_str(match kind {
                    Assertion::Start => r"\A",
                    Assertion::End => r"\z",
                    Assertion::WordBoundary => r"\b",
                    Assertion::NotWordBoundary => r"\B",
                    Assertion::WordStart => r"\b{start}",
                    Assertion::WordEnd => r"\b{end}",
                }),
                (Ok(false), _) => {}
                (Err(e), _) => return Err(e),
            },
            Node::Concat(nodes) => {
                let mut walk = at.walk;
                for (i, n) in nodes.iter().enumerate() {
                    let next_copy = nodes.get(i + 1).map_or(at.next_copy, Node::first_is_copy);
                    let here = At { next_copy, walk };
                    n.emit(out, here, memo)?;
                    walk = n.transfer(here, memo);
                }
            }
            Node::Alternation { branches, .. } => {
                out.push_str("(?:");
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    b.emit(out, at, memo)?;
                }
                out.push(')');
            }
            Node::Repeat { node, min, max, .. } => {
                let (body, _) = self.repeat_walks(at, memo);
                // Always grouped: the regex crate rejects `a**`.
                out.push_str("(?:");
                node.emit(out, body, memo)?;
                out.push(')');
                push_counts(out, *min, *max);
            }
            Node::Run { node, min, max } => {
                let (walk, _) = self.run_walks(at.walk, memo);
                let body = At {
                    next_copy: node.first_is_copy(),
                    walk,
                };
                out.push_str("(?:");
                node.emit(out, body, memo)?;
                out.push(')');
                push_counts(out, *min, Some(*max));
            }
        }
        Ok(())
    }
}

/// Whether an anchor of this kind, entered at `at`, takes effect (or the
/// error when that depends on the path), and the walk after it.
fn assertion(kind: Assertion, at: At) -> (Result<bool, KverError>, Walk) {
    let this = Kinds::of(kind);
    match (at.next_copy, at.walk) {
        // Followed by no copy: it counts, and starts a walk of its own
        // (paths that come from another anchor carry both).
        (false, Walk::All(k)) => (Ok(true), Walk::All(Kinds(k.0 | this.0))),
        (false, _) => (Ok(true), Walk::All(this)),
        // Followed by a copy: ignored, but passed on by a walk through it.
        (true, Walk::None) => (Ok(false), Walk::None),
        (true, Walk::All(k)) => (Ok(true), Walk::All(Kinds(k.0 | this.0))),
        (true, Walk::Some(k)) if k.implies(kind) => (Ok(false), Walk::Some(k)),
        (true, Walk::Some(k)) => (Err(KverError::CopiedAnchor), Walk::Some(k)),
    }
}

fn push_counts(out: &mut String, min: u32, max: Option<u32>) {
    match (min, max) {
        (0, None) => out.push('*'),
        (1, None) => out.push('+'),
        (0, Some(1)) => out.push('?'),
        (m, None) => out.push_str(&format!("{{{m},}}")),
        (m, Some(n)) if m == n => out.push_str(&format!("{{{m}}}")),
        (m, Some(n)) => out.push_str(&format!("{{{m},{n}}}")),
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

/// Whether the counts `(X{a,b}){c,d}` allows leave no gap, so that it is
/// `X{ac,bd}`: always when c = d; otherwise c..=d copies give the ranges
/// [ka, kb], and the gap between k and k+1 copies only shrinks as k grows,
/// so it is enough that a <= c(b-a) + 1.
fn no_gap(a: u32, b: Option<u32>, c: u32, d: Option<u32>) -> bool {
    d == Some(c)
        || match b {
            None => c >= 1 || a <= 1,
            Some(b) => u64::from(a) <= u64::from(c) * u64::from(b.saturating_sub(a)) + 1,
        }
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
    /// How many more nodes copies of anchors may take ([`Node::expand`]).
    budget: usize,
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
        let node = match branches.len() {
            1 => branches.pop().unwrap_or(Node::Empty),
            _ => Node::Alternation {
                branches,
                copy: false,
            },
        };
        check_depth(node)
    }

    fn branch(&mut self, nest: usize) -> Result<Node, KverError> {
        let mut items = vec![self.expression(nest)?];
        while !self.ends_branch(nest) {
            items.push(self.expression(nest)?);
        }
        check_depth(Node::concat(items))
    }

    /// One atom and the repetition operators after it.
    fn expression(&mut self, nest: usize) -> Result<Node, KverError> {
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
    fn group(&mut self, nest: usize) -> Result<Node, KverError> {
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

/// Refuses trees deeper than [`MAX_DEPTH`] (only ever one level deeper
/// than their parts, which were checked).
fn check_depth(node: Node) -> Result<Node, KverError> {
    if node.depth() > MAX_DEPTH {
        return Err(KverError::TooDeep);
    }
    Ok(node)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    /// No digits.
    None,
    /// Not a number, or the pattern ended.
    Invalid,
    Value(u32),
}
