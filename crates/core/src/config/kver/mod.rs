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
//! * a pattern containing a NUL byte (a C string would end there);
//! * a pattern with an anchor that counts (`^`, `$`, `` \` ``, `\'`), in a
//!   version that contains a newline. glibc lets a `^` hold right after a
//!   newline the match has read, and a `$` right before one it reads next,
//!   even without `REG_NEWLINE` (`\n^` matches `.\n`), and makes `` \` ``
//!   and `\'` differ from them there. A kernel release has no newline.
//!
//! `crates/core/tests/kver_glibc.rs` and the `kver` fuzz target compare the
//! answers with glibc's.

use regex::bytes::{Regex, RegexBuilder};

mod byteset;
mod parse;
mod tree;

use byteset::ByteSet;
use parse::{Parser, Token};
use tree::{At, Memo, Walk};

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
    /// The pattern has a NUL byte, where glibc would see the C string end.
    #[error("the pattern contains a NUL byte")]
    Nul,
    /// The pattern is longer than [`MAX_PATTERN_LEN`].
    #[error("the pattern is longer than {MAX_PATTERN_LEN} bytes")]
    TooLong,
    /// Groups nest deeper than [`MAX_NESTING`] or the tree is deeper than [`MAX_DEPTH`].
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
    /// `[[.x.]]` or `[[=x=]]` names something other than a single byte.
    #[error("Invalid collation character")]
    Collate,
    /// `[[:name:]]` names no class the C locale has.
    #[error("Invalid character class name")]
    CharClass,
    /// The pattern ends with a lone backslash.
    #[error("Trailing backslash")]
    TrailingBackslash,
    /// A back-reference to a group that does not exist (yet).
    #[error("Invalid back reference")]
    Backreference,
    /// A `[` is never closed.
    #[error("Unmatched [, [^, [:, [., or [=")]
    Bracket,
    /// A `(` or `)` has no partner.
    #[error("Unmatched ( or \\(")]
    Paren,
    /// A `{` is never closed.
    #[error("Unmatched \\{{")]
    Brace,
    /// A `{m,n}` bound is not numbers, or its minimum exceeds its maximum.
    #[error("Invalid content of \\{{\\}}")]
    BadBound,
    /// A range's end comes before its start, or an end is a class.
    #[error("Invalid range end")]
    Range,
    /// A repetition operator with nothing to repeat.
    #[error("Invalid preceding regular expression")]
    BadRepetition,
    /// A repetition bound above glibc's `RE_DUP_MAX` (32767).
    #[error("Regular expression too big")]
    BoundTooBig,
}

/// A compiled KVER pattern.
#[derive(Debug, Clone)]
pub struct KverPattern {
    regex: Regex,
    /// The rewritten pattern holds a start or end anchor.
    anchored: bool,
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
        Ok(KverPattern {
            anchored: has_anchor(&syntax),
            regex,
        })
    }

    /// Whether the pattern occurs anywhere in `version` (up to a NUL, as in
    /// C), as `regexec` answers; never for a version it [refuses](Self::refuses).
    pub fn is_match(&self, version: &[u8]) -> bool {
        let version = super::lines::c_str(version);
        !self.refuses(version) && self.regex.is_match(version)
    }

    /// Whether this is a version the pattern matches nothing in whatever
    /// glibc says: one with a newline, for a pattern with an anchor (see
    /// the module documentation).
    pub fn refuses(&self, version: &[u8]) -> bool {
        self.anchored && super::lines::c_str(version).contains(&b'\n')
    }
}

/// Whether the `regex` crate's pattern `syntax`, as [`translate`] writes
/// it, has a `\A` or `\z`.
fn has_anchor(syntax: &str) -> bool {
    let mut chars = syntax.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.next(), Some('A' | 'z')) {
            return true;
        }
    }
    false
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
