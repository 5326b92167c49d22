//! The parsed pattern, shaped like glibc's own parse tree where that
//! changes an answer, and its rewriting for the `regex` crate.

use std::collections::HashMap;

use super::{ByteSet, KverError};

/// Zero-width assertions. Without REG_NEWLINE, glibc's `^` and `$` are the
/// ends of the string only, like `` \` `` and `\'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Assertion {
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
pub(super) enum Node {
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
pub(super) struct Kinds(u8);

impl Kinds {
    pub(super) fn of(kind: Assertion) -> Kinds {
        Kinds(1 << kind as u8)
    }

    pub(super) fn implies(self, kind: Assertion) -> bool {
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
pub(super) enum Walk {
    /// No path comes from an anchor with nothing read since.
    None,
    /// Some do; these anchors hold on all of those.
    Some(Kinds),
    /// All do; these anchors hold on all of them.
    All(Kinds),
}

impl Walk {
    /// Two ways to reach one point.
    pub(super) fn join(self, other: Walk) -> Walk {
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
pub(super) type Memo = HashMap<(usize, bool, Walk), Walk>;

/// Where an emitted node stands: whether glibc's next node after it is a
/// copy, and how it is reached.
#[derive(Clone, Copy)]
pub(super) struct At {
    pub(super) next_copy: bool,
    pub(super) walk: Walk,
}

impl Node {
    pub(super) fn set(set: ByteSet) -> Node {
        Node::Set { set, copy: false }
    }

    pub(super) fn byte(b: u8) -> Node {
        Node::set(ByteSet::byte(b))
    }

    pub(super) fn concat(mut nodes: Vec<Node>) -> Node {
        nodes.retain(|n| *n != Node::Empty);
        match nodes.len() {
            0 => Node::Empty,
            1 => nodes.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(nodes),
        }
    }

    pub(super) fn run(node: &Node, min: u32, max: u32) -> Node {
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
    pub(super) fn first_is_copy(&self) -> bool {
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
    pub(super) fn copied(&self) -> Node {
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

    pub(super) fn children(&self) -> &[Node] {
        match self {
            Node::Concat(nodes)
            | Node::Alternation {
                branches: nodes, ..
            } => nodes,
            Node::Repeat { node, .. } | Node::Run { node, .. } => std::slice::from_ref(node),
            _ => &[],
        }
    }

    pub(super) fn size(&self) -> usize {
        1 + self.children().iter().map(Node::size).sum::<usize>()
    }

    pub(super) fn depth(&self) -> usize {
        1 + self.children().iter().map(Node::depth).max().unwrap_or(0)
    }

    pub(super) fn has_assertion(&self) -> bool {
        matches!(self, Node::Assert { .. }) || self.children().iter().any(Node::has_assertion)
    }

    /// `X{min,max}` for an X without anchors (glibc drops what `{0}`
    /// repeats), merged with a repetition X already is where that keeps the
    /// language: `(X+)*` is `X*`, `(X{2}){3}` is `X{6}`. Returns whether it
    /// nested a new repetition.
    pub(super) fn repeat(self, min: u32, max: Option<u32>) -> (Node, bool) {
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
    pub(super) fn expand(
        self,
        min: u32,
        max: Option<u32>,
        budget: &mut usize,
    ) -> Result<Node, KverError> {
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
    pub(super) fn transfer(&self, at: At, memo: &mut Memo) -> Walk {
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
    pub(super) fn repeat_walks(&self, at: At, memo: &mut Memo) -> (At, Walk) {
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
    pub(super) fn run_walks(&self, walk: Walk, memo: &mut Memo) -> (Walk, Walk) {
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
    pub(super) fn emit(&self, out: &mut String, at: At, memo: &mut Memo) -> Result<(), KverError> {
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
pub(super) fn assertion(kind: Assertion, at: At) -> (Result<bool, KverError>, Walk) {
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

pub(super) fn push_counts(out: &mut String, min: u32, max: Option<u32>) {
    match (min, max) {
        (0, None) => out.push('*'),
        (1, None) => out.push('+'),
        (0, Some(1)) => out.push('?'),
        (m, None) => out.push_str(&format!("{{{m},}}")),
        (m, Some(n)) if m == n => out.push_str(&format!("{{{m}}}")),
        (m, Some(n)) => out.push_str(&format!("{{{m},{n}}}")),
    }
}

pub(super) fn emit_set(out: &mut String, set: &ByteSet) {
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
pub(super) fn emit_byte(out: &mut String, b: u8) {
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
pub(super) fn no_gap(a: u32, b: Option<u32>, c: u32, d: Option<u32>) -> bool {
    d == Some(c)
        || match b {
            None => c >= 1 || a <= 1,
            Some(b) => u64::from(a) <= u64::from(c) * u64::from(b.saturating_sub(a)) + 1,
        }
}
