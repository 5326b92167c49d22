//! A BER reader with OpenSSL's tolerances (see the `signature` module
//! documentation): element headers, definite and indefinite lengths, and
//! walking the elements inside a constructed one. Every length is checked
//! against the bytes actually present. What a typed element may contain is
//! in `value`.

mod value;

pub use value::{
    algorithm, any, bit_string, directory_string, integer, magnitude, octet_string, oid, string,
};

type Res<T> = Result<T, &'static str>;

pub const UNIVERSAL: u8 = 0x00;
pub const CONTEXT: u8 = 0x80;
const SEQUENCE: u32 = 16;
const SET: u32 = 17;
/// OpenSSL's BIO reader decodes the outermost header from a fixed-size first
/// read. Since libssl3 3.0.22 (a Debian 12 security update; 3.0.19 read 8
/// bytes) the window holds a one-byte tag with up to 8 length octets and the
/// byte after them; kmod's modinfo shows whatever that OpenSSL accepts.
const OUTER_HEADER_WINDOW: usize = 11;

/// One element: its class, form and tag number, its whole encoding and
/// its contents (for indefinite lengths, without the end-of-contents).
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub class: u8,
    pub constructed: bool,
    pub tag: u32,
    pub raw: &'a [u8],
    pub body: &'a [u8],
}

impl Tlv<'_> {
    fn is(&self, class: u8, tag: u32) -> bool {
        self.class == class && self.tag == tag
    }
}

struct Header {
    class: u8,
    constructed: bool,
    tag: u32,
    len: usize,
    /// `None` for the indefinite form.
    body_len: Option<usize>,
}

fn header(input: &[u8]) -> Res<Header> {
    let (&first, mut rest) = input.split_first().ok_or("truncated tag")?;
    let mut tag = u32::from(first & 0x1f);
    if tag == 0x1f {
        tag = 0;
        loop {
            let (&b, r) = rest.split_first().ok_or("truncated tag")?;
            rest = r;
            tag = (tag << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
            if tag > (i32::MAX as u32 >> 7) {
                return Err("tag number too large");
            }
        }
    }
    let constructed = first & 0x20 != 0;
    let (&len0, mut rest) = rest.split_first().ok_or("truncated length")?;
    let body_len = if len0 == 0x80 {
        if !constructed {
            return Err("indefinite length on a primitive");
        }
        None
    } else if len0 & 0x80 == 0 {
        Some(usize::from(len0))
    } else {
        let count = usize::from(len0 & 0x7f);
        // OpenSSL wants one byte beyond the length octets.
        if rest.len() < count + 1 {
            return Err("truncated length");
        }
        let (octets, r) = rest.split_at(count);
        rest = r;
        let significant = &octets[octets.iter().take_while(|&&b| b == 0).count()..];
        if significant.len() > 8 {
            return Err("length too large");
        }
        let value = significant
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if value > i64::MAX as u64 {
            return Err("length too large");
        }
        Some(usize::try_from(value).map_err(|_| "length too large")?)
    };
    Ok(Header {
        class: first & 0xc0,
        constructed,
        tag,
        len: input.len() - rest.len(),
        body_len,
    })
}

pub fn read(input: &[u8]) -> Res<Tlv<'_>> {
    let h = header(input)?;
    let after = &input[h.len..];
    let (body_len, total) = match h.body_len {
        Some(n) if n <= after.len() => (n, h.len + n),
        Some(_) => return Err("length runs past the data"),
        None => {
            let n = indefinite_body_len(after)?;
            (n, h.len + n + 2)
        }
    };
    Ok(Tlv {
        class: h.class,
        constructed: h.constructed,
        tag: h.tag,
        raw: &input[..total],
        body: &after[..body_len],
    })
}

/// The first object of a PKCS#7 blob, read the way OpenSSL's BIO reader
/// does: its header must fit the reader's first read.
pub fn read_outermost(input: &[u8]) -> Res<Tlv<'_>> {
    header(&input[..input.len().min(OUTER_HEADER_WINDOW)])?;
    read(input)
}

/// Contents length of an indefinite-length element: up to the matching
/// end-of-contents, counting nested indefinite elements without recursion.
fn indefinite_body_len(input: &[u8]) -> Res<usize> {
    let mut pos = 0;
    let mut open = 1usize;
    loop {
        let rest = &input[pos..];
        if rest.starts_with(&[0, 0]) {
            open -= 1;
            if open == 0 {
                return Ok(pos);
            }
            pos += 2;
            continue;
        }
        let h = header(rest)?;
        pos += h.len;
        match h.body_len {
            Some(n) if n <= input.len() - pos => pos += n,
            Some(_) => return Err("length runs past the data"),
            None => open += 1,
        }
    }
}

/// The elements inside a constructed element, in encoding order.
pub struct Walk<'a> {
    rest: &'a [u8],
}

impl<'a> Walk<'a> {
    pub fn constructed(t: Tlv<'a>) -> Res<Self> {
        if !t.constructed {
            return Err("expected a constructed element");
        }
        Ok(Walk { rest: t.body })
    }

    pub fn sequence(t: Tlv<'a>) -> Res<Self> {
        if !t.is(UNIVERSAL, SEQUENCE) {
            return Err("expected a SEQUENCE");
        }
        Self::constructed(t)
    }

    pub fn set(t: Tlv<'a>) -> Res<Self> {
        if !t.is(UNIVERSAL, SET) {
            return Err("expected a SET");
        }
        Self::constructed(t)
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn next(&mut self) -> Res<Tlv<'a>> {
        if self.rest.is_empty() {
            return Err("missing element");
        }
        // Only an indefinite length may end with end-of-contents, and
        // `body` already excludes that one.
        if self.rest.starts_with(&[0, 0]) {
            return Err("unexpected end-of-contents");
        }
        let t = read(self.rest)?;
        self.rest = &self.rest[t.raw.len()..];
        Ok(t)
    }

    /// The next element if it carries this tag (an OPTIONAL field).
    pub fn optional(&mut self, class: u8, tag: u32) -> Res<Option<Tlv<'a>>> {
        if self.rest.is_empty() || self.rest.starts_with(&[0, 0]) {
            return Ok(None);
        }
        let h = header(self.rest)?;
        if h.class != class || h.tag != tag {
            return Ok(None);
        }
        self.next().map(Some)
    }

    pub fn end(&self) -> Res<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err("unexpected trailing element")
        }
    }
}
