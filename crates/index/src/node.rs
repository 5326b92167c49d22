//! Parsing one node of an index file, trusting nothing in it.

use super::{Corruption, CHILD_LIMIT, FLAG_CHILDS, FLAG_PREFIX, FLAG_VALUES, OFFSET_MASK};

/// A parsed node; its values are read on demand.
pub(super) struct Node<'a> {
    pub offset: u32,
    pub prefix: &'a [u8],
    /// Child range; `first > last` when there are no children.
    pub first: u8,
    pub last: u8,
    children: &'a [u8],
    pub value_count: u32,
    values: &'a [u8],
}

impl<'a> Node<'a> {
    /// The node a node word points to in `data`; None for "no node".
    pub fn parse(data: &'a [u8], word: u32) -> Result<Option<Node<'a>>, Corruption> {
        let offset = word & OFFSET_MASK;
        if offset == 0 {
            return Ok(None);
        }
        let mut node = Node {
            offset,
            prefix: &[],
            first: 1,
            last: 0,
            children: &[],
            value_count: 0,
            values: &[],
        };
        // A node without fields occupies no bytes (the root of an empty
        // index sits at the very end of the file).
        if word & (FLAG_PREFIX | FLAG_CHILDS | FLAG_VALUES) == 0 {
            return Ok(Some(node));
        }
        let mut rest = data
            .get(offset as usize..)
            .filter(|rest| !rest.is_empty())
            .ok_or(Corruption::OffsetPastEnd)?;
        if word & FLAG_PREFIX != 0 {
            let (prefix, after) = split_cstr(rest).ok_or(Corruption::Unterminated)?;
            node.prefix = prefix;
            rest = after;
        }
        if word & FLAG_CHILDS != 0 {
            let [first, last, ..] = *rest else {
                return Err(Corruption::Truncated);
            };
            if first > last || last >= CHILD_LIMIT {
                return Err(Corruption::BadChildRange { first, last });
            }
            let table_len = 4 * (usize::from(last - first) + 1);
            node.children = rest.get(2..2 + table_len).ok_or(Corruption::Truncated)?;
            node.first = first;
            node.last = last;
            rest = &rest[2 + table_len..];
        }
        if word & FLAG_VALUES != 0 {
            node.value_count = be32(rest, 0).ok_or(Corruption::Truncated)?;
            node.values = &rest[4..];
        }
        Ok(Some(node))
    }

    pub fn has_children(&self) -> bool {
        self.first <= self.last
    }

    /// The node word for edge byte `ch`, 0 if there is none.
    pub fn child_word(&self, ch: u8) -> u32 {
        if ch < self.first || ch > self.last {
            return 0;
        }
        be32(self.children, 4 * usize::from(ch - self.first)).unwrap_or(0)
    }

    /// The stored (priority, value) pairs, in file order.
    pub fn values(&self) -> Values<'a> {
        Values {
            rest: self.values,
            remaining: self.value_count,
        }
    }
}

/// Iterator over a node's values. Each value takes at least 5 bytes, so a
/// bogus count ends in an error at the end of the file, after which the
/// iterator stops.
pub(super) struct Values<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for Values<'a> {
    type Item = Result<(u32, &'a [u8]), Corruption>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let parsed = be32(self.rest, 0)
            .ok_or(Corruption::Truncated)
            .and_then(|priority| {
                let (text, after) = split_cstr(&self.rest[4..]).ok_or(Corruption::Unterminated)?;
                self.rest = after;
                Ok((priority, text))
            });
        if parsed.is_err() {
            self.remaining = 0;
        }
        Some(parsed)
    }
}

pub(super) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(word.try_into().ok()?))
}

/// Splits a NUL-terminated string off the front of `bytes`.
fn split_cstr(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == 0)?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// A key as C sees it: up to the first NUL.
pub(super) fn until_nul(bytes: &[u8]) -> &[u8] {
    split_cstr(bytes).map_or(bytes, |(head, _)| head)
}
