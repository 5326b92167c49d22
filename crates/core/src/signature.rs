//! The signature appended to a module file, as `modinfo` shows it.
//!
//! A signed module ends with `[signer][key id][signature][12-byte header]`
//! followed by [`MAGIC`]. Modern kernels put everything in a PKCS#7
//! SignedData blob (the signer and key id regions are empty); the legacy id
//! types keep the three regions raw.
//!
//! Parity target: kmod built with OpenSSL (what distributions ship). That
//! build treats a PKCS#7 blob OpenSSL cannot decode as no signature at all,
//! so [`parse`] returns `None` for it, exactly like an unsigned module. To
//! stay byte-identical on odd inputs the PKCS#7 walk below follows OpenSSL's
//! decoder rather than a strict DER library: it accepts BER (indefinite and
//! non-minimal lengths, constructed strings), keeps SET OF elements in
//! encoding order (the "first" SignerInfo is the first one written), and
//! rejects what OpenSSL rejects in every field it decodes, not only in the
//! fields modinfo prints. `tests/data/signature/cases.tsv` pins these rules
//! to what kmod printed for ~250 crafted and real trailers.
//!
//! Known differences, all on blobs no signing tool produces:
//! * certificates and CRLs are only checked for shape (nothing here needs
//!   their contents), and so is enveloped, digested or encrypted content
//!   nested inside the SignedData;
//! * a BIT STRING name value makes kmod print past the end of an
//!   unterminated buffer; we stop at its end;
//! * digest OIDs are named from a table of the hash and signature OIDs
//!   OpenSSL 3.0 knows; any other OID OpenSSL knows prints dotted here.

use std::borrow::Cow;
use std::fmt;

/// The marker the kernel's `sign-file` writes after the signature.
pub const MAGIC: &[u8] = b"~Module signature appended~\n";

/// Size of `struct module_signature`, which precedes [`MAGIC`].
const HEADER_LEN: usize = 12;

/// Hash names for the legacy header's `hash` byte, indexed by its value.
const LEGACY_HASHES: [&str; 9] = [
    "md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3",
];

/// How the key that made the signature is identified (`sig_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    Pgp,
    X509,
    Pkcs7,
}

impl IdType {
    /// The `sig_id` value modinfo prints.
    pub fn name(self) -> &'static str {
        match self {
            IdType::Pgp => "PGP",
            IdType::X509 => "X509",
            IdType::Pkcs7 => "PKCS#7",
        }
    }
}

/// What modinfo prints about a signature. Byte fields borrow from the module
/// whenever the encoding allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInfo<'a> {
    /// `sig_id`.
    pub id_type: IdType,
    /// `signer`: raw bytes as kmod prints them, i.e. cut at the first NUL.
    /// Not necessarily UTF-8 (legacy regions and T61 names are arbitrary).
    pub signer: Cow<'a, [u8]>,
    /// `sig_key`: the legacy key id, or the PKCS#7 issuer serial number as
    /// an unsigned big-endian magnitude without leading zero bytes.
    pub key_id: Cow<'a, [u8]>,
    /// `sig_hashalgo`.
    pub hash_algo: HashAlgo,
    /// `signature`.
    pub signature: Cow<'a, [u8]>,
}

impl SignatureInfo<'_> {
    /// The `sig_id` value modinfo prints.
    pub fn id_type_name(&self) -> &'static str {
        self.id_type.name()
    }
}

/// A hash algorithm name: static for every name kmod knows, built only for
/// an OID spelled out in dotted form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashAlgo(Cow<'static, str>);

impl HashAlgo {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for HashAlgo {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lets a caller collect it among the other (byte) field values.
impl From<HashAlgo> for Vec<u8> {
    fn from(h: HashAlgo) -> Vec<u8> {
        h.0.into_owned().into_bytes()
    }
}

/// Why a module counts as unsigned. Callers that only print use [`parse`];
/// this exists for diagnostics and tests. It carries no file name because
/// it is about bytes the caller already holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no module signature marker at the end of the file")]
    NoMarker,
    #[error("file too short to hold a module signature header")]
    Truncated,
    #[error("unknown public-key algorithm {0} in the signature header")]
    BadAlgo(u8),
    #[error("unknown hash algorithm {0} in the signature header")]
    BadHash(u8),
    #[error("unknown key identifier type {0} in the signature header")]
    BadIdType(u8),
    #[error("signature length is zero")]
    EmptySignature,
    #[error("signature header claims {needed} bytes but only {available} precede it")]
    TooLong { needed: u64, available: u64 },
    #[error("PKCS#7 signature cannot be decoded: {0}")]
    Pkcs7(&'static str),
}

/// The signature of a (decompressed) module, or `None` where modinfo shows
/// no signature fields.
pub fn parse(file_bytes: &[u8]) -> Option<SignatureInfo<'_>> {
    try_parse(file_bytes).ok()
}

/// Like [`parse`], but says why a module counts as unsigned.
pub fn try_parse(file_bytes: &[u8]) -> Result<SignatureInfo<'_>, SignatureError> {
    let body = file_bytes
        .strip_suffix(MAGIC)
        .ok_or(SignatureError::NoMarker)?;
    let split = body
        .len()
        .checked_sub(HEADER_LEN)
        .ok_or(SignatureError::Truncated)?;
    let (before, header) = body.split_at(split);
    let [algo, hash, id_type, signer_len, key_id_len, _, _, _, l0, l1, l2, l3] = *header else {
        return Err(SignatureError::Truncated);
    };
    if algo >= 2 {
        return Err(SignatureError::BadAlgo(algo));
    }
    let legacy_hash = *LEGACY_HASHES
        .get(usize::from(hash))
        .ok_or(SignatureError::BadHash(hash))?;
    let id_type = match id_type {
        0 => IdType::Pgp,
        1 => IdType::X509,
        2 => IdType::Pkcs7,
        other => return Err(SignatureError::BadIdType(other)),
    };
    let sig_len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
    if sig_len == 0 {
        return Err(SignatureError::EmptySignature);
    }
    // kmod checks all three regions even for PKCS#7, where two are unused.
    let needed = sig_len as u64 + u64::from(signer_len) + u64::from(key_id_len);
    if needed > before.len() as u64 {
        return Err(SignatureError::TooLong {
            needed,
            available: before.len() as u64,
        });
    }
    let (rest, signature) = before.split_at(before.len() - sig_len);
    if id_type == IdType::Pkcs7 {
        let fields = pkcs7::parse(signature).map_err(SignatureError::Pkcs7)?;
        return Ok(SignatureInfo {
            id_type,
            signer: fields.signer,
            key_id: fields.serial,
            hash_algo: HashAlgo(fields.digest),
            signature: fields.signature,
        });
    }
    let (rest, key_id) = rest.split_at(rest.len() - usize::from(key_id_len));
    let signer = &rest[rest.len() - usize::from(signer_len)..];
    Ok(SignatureInfo {
        id_type,
        signer: Cow::Borrowed(until_nul(signer)),
        key_id: Cow::Borrowed(key_id),
        hash_algo: HashAlgo(Cow::Borrowed(legacy_hash)),
        signature: Cow::Borrowed(signature),
    })
}

/// Bytes as modinfo shows `sig_key` and `signature`: `AB:CD:...`, with a
/// line break and two tabs after every 20th byte's colon when more follow.
pub fn hex_field(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3 + bytes.len() / 20 * 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
            if i % 20 == 0 {
                out.push_str("\n\t\t");
            }
        }
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// kmod hands these values to printf("%s"), so nothing past a NUL shows.
fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or(bytes)
}

/// The PKCS#7 walk, shaped after the structures OpenSSL's `d2i_PKCS7` decodes.
mod pkcs7 {
    use super::ber::{self, Tlv, Walk, CONTEXT};
    use super::{oid, until_nul};
    use std::borrow::Cow;

    type Res<T> = Result<T, &'static str>;

    pub(super) struct Fields<'a> {
        pub signer: Cow<'a, [u8]>,
        pub serial: Cow<'a, [u8]>,
        pub digest: Cow<'static, str>,
        pub signature: Cow<'a, [u8]>,
    }

    const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    const SIGNED_AND_ENVELOPED: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x04];
    const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    /// OpenSSL gives up on names longer than this (X509_NAME_MAX).
    const NAME_MAX: usize = 1 << 20;
    /// Bound on SignedData nested as the content of another SignedData.
    const MAX_NESTING: u32 = 8;

    pub(super) fn parse(blob: &[u8]) -> Res<Fields<'_>> {
        // Bytes after the first complete object are ignored, as OpenSSL's
        // BIO reader does.
        let outer = ber::read_outermost(blob)?;
        let first = content_info(outer, 0)?.ok_or("no SignerInfo")?;
        let signer = signer_info(first)?;
        Ok(Fields {
            digest: oid::name(signer.digest_oid).ok_or("digest OID too long to print")?,
            signer: signer.signer,
            serial: signer.serial,
            signature: signer.signature,
        })
    }

    /// ContentInfo; returns the first SignerInfo when the content has some.
    fn content_info(t: Tlv<'_>, depth: u32) -> Res<Option<Tlv<'_>>> {
        let mut w = Walk::sequence(t)?;
        let kind = ber::oid(w.next()?)?;
        let content = w.optional(CONTEXT, 0)?;
        w.end()?;
        let Some(content) = content else {
            return Ok(None);
        };
        let mut explicit = Walk::constructed(content)?;
        let inner = explicit.next()?;
        explicit.end()?;
        match kind {
            SIGNED_DATA => signed_data(inner, depth),
            SIGNED_AND_ENVELOPED => signed_and_enveloped(inner),
            DATA => ber::octet_string(inner).map(|_| None),
            _ => ber::any(inner).map(|_| None),
        }
    }

    fn signed_data(t: Tlv<'_>, depth: u32) -> Res<Option<Tlv<'_>>> {
        if depth >= MAX_NESTING {
            return Err("SignedData nested too deeply");
        }
        let mut w = Walk::sequence(t)?;
        ber::integer(w.next()?)?;
        set_of(w.next()?, |alg| ber::algorithm(alg).map(drop))?;
        content_info(w.next()?, depth + 1)?;
        certificates_and_crls(&mut w)?;
        let signers = w.next()?;
        w.end()?;
        signer_infos(signers)
    }

    fn signed_and_enveloped(t: Tlv<'_>) -> Res<Option<Tlv<'_>>> {
        let mut w = Walk::sequence(t)?;
        ber::integer(w.next()?)?;
        set_of(w.next()?, recipient_info)?;
        set_of(w.next()?, |alg| ber::algorithm(alg).map(drop))?;
        encrypted_content(w.next()?)?;
        certificates_and_crls(&mut w)?;
        let signers = w.next()?;
        w.end()?;
        signer_infos(signers)
    }

    /// Every SignerInfo must decode, but only the first one is reported.
    fn signer_infos(t: Tlv<'_>) -> Res<Option<Tlv<'_>>> {
        let mut first = None;
        set_of(t, |si| {
            signer_info(si)?;
            first.get_or_insert(si);
            Ok(())
        })?;
        Ok(first)
    }

    /// `[0] certificates` and `[1] crls`: both are SIGNED{...} envelopes.
    fn certificates_and_crls(w: &mut Walk<'_>) -> Res<()> {
        for tag in [0, 1] {
            if let Some(list) = w.optional(CONTEXT, tag)? {
                let mut items = Walk::constructed(list)?;
                while !items.is_empty() {
                    let mut signed = Walk::sequence(items.next()?)?;
                    Walk::sequence(signed.next()?)?;
                    ber::algorithm(signed.next()?)?;
                    ber::bit_string(signed.next()?)?;
                    signed.end()?;
                }
            }
        }
        Ok(())
    }

    fn recipient_info(t: Tlv<'_>) -> Res<()> {
        let mut w = Walk::sequence(t)?;
        ber::integer(w.next()?)?;
        issuer_and_serial(w.next()?)?;
        ber::algorithm(w.next()?)?;
        ber::octet_string(w.next()?)?;
        w.end()
    }

    fn encrypted_content(t: Tlv<'_>) -> Res<()> {
        let mut w = Walk::sequence(t)?;
        ber::oid(w.next()?)?;
        ber::algorithm(w.next()?)?;
        if let Some(data) = w.optional(CONTEXT, 0)? {
            ber::string(data)?;
        }
        w.end()
    }

    struct Signer<'a> {
        signer: Cow<'a, [u8]>,
        serial: Cow<'a, [u8]>,
        digest_oid: &'a [u8],
        signature: Cow<'a, [u8]>,
    }

    fn signer_info(t: Tlv<'_>) -> Res<Signer<'_>> {
        let mut w = Walk::sequence(t)?;
        ber::integer(w.next()?)?;
        let (signer, serial) = issuer_and_serial(w.next()?)?;
        let digest_oid = ber::algorithm(w.next()?)?;
        if let Some(attrs) = w.optional(CONTEXT, 0)? {
            attributes(attrs)?;
        }
        ber::algorithm(w.next()?)?;
        let signature = ber::octet_string(w.next()?)?;
        if let Some(attrs) = w.optional(CONTEXT, 1)? {
            attributes(attrs)?;
        }
        w.end()?;
        Ok(Signer {
            signer,
            serial: ber::magnitude(serial),
            digest_oid,
            signature,
        })
    }

    fn issuer_and_serial(t: Tlv<'_>) -> Res<(Cow<'_, [u8]>, &[u8])> {
        let mut w = Walk::sequence(t)?;
        let signer = name(w.next()?)?;
        let serial = ber::integer(w.next()?)?;
        w.end()?;
        Ok((signer, serial))
    }

    /// kmod's signer: the first commonName, or else the last attribute of any
    /// type (its search loop leaves the last entry behind), or else nothing.
    fn name(t: Tlv<'_>) -> Res<Cow<'_, [u8]>> {
        if t.raw.len() > NAME_MAX {
            return Err("name too long");
        }
        let mut chosen: Option<Cow<'_, [u8]>> = None;
        let mut found_cn = false;
        let mut rdns = Walk::sequence(t)?;
        while !rdns.is_empty() {
            set_of(rdns.next()?, |entry| {
                let mut w = Walk::sequence(entry)?;
                let kind = ber::oid(w.next()?)?;
                let value = ber::directory_string(w.next()?)?;
                w.end()?;
                if !found_cn {
                    found_cn = kind == COMMON_NAME;
                    chosen = Some(value);
                }
                Ok(())
            })?;
        }
        Ok(match chosen {
            Some(Cow::Borrowed(b)) => Cow::Borrowed(until_nul(b)),
            Some(Cow::Owned(b)) => Cow::Owned(until_nul(&b).to_vec()),
            None => Cow::Borrowed(&[]),
        })
    }

    /// `SEQUENCE { type OID, values SET OF ANY }` items of an implicit list.
    fn attributes(t: Tlv<'_>) -> Res<()> {
        let mut list = Walk::constructed(t)?;
        while !list.is_empty() {
            let mut w = Walk::sequence(list.next()?)?;
            ber::oid(w.next()?)?;
            set_of(w.next()?, |v| ber::any(v).map(drop))?;
            w.end()?;
        }
        Ok(())
    }

    fn set_of<'a>(t: Tlv<'a>, mut each: impl FnMut(Tlv<'a>) -> Res<()>) -> Res<()> {
        let mut w = Walk::set(t)?;
        while !w.is_empty() {
            each(w.next()?)?;
        }
        Ok(())
    }
}

/// A BER reader with OpenSSL's tolerances (see the module documentation).
/// Every length is checked against the bytes actually present.
mod ber {
    use std::borrow::Cow;

    type Res<T> = Result<T, &'static str>;

    pub const UNIVERSAL: u8 = 0x00;
    pub const CONTEXT: u8 = 0x80;
    const BOOLEAN: u32 = 1;
    const INTEGER: u32 = 2;
    const BIT_STRING: u32 = 3;
    const OCTET_STRING: u32 = 4;
    const NULL: u32 = 5;
    const OID: u32 = 6;
    const ENUMERATED: u32 = 10;
    const UTF8_STRING: u32 = 12;
    const SEQUENCE: u32 = 16;
    const SET: u32 = 17;
    const UNIVERSAL_STRING: u32 = 28;
    const BMP_STRING: u32 = 30;
    /// How deep constructed strings may nest inside a constructed string.
    const MAX_STRING_NEST: u32 = 5;
    /// OpenSSL reads the outermost header from an 8-byte window.
    const OUTER_HEADER_WINDOW: usize = 8;

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
    /// does: its header must fit the reader's first 8-byte read.
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

    fn primitive(t: Tlv<'_>, tag: u32) -> Res<&[u8]> {
        if !t.is(UNIVERSAL, tag) {
            return Err("unexpected tag");
        }
        if t.constructed {
            return Err("expected a primitive element");
        }
        Ok(t.body)
    }

    /// INTEGER contents, refusing what OpenSSL refuses (empty, padded).
    pub fn integer(t: Tlv<'_>) -> Res<&[u8]> {
        let body = primitive(t, INTEGER)?;
        check_integer(body)?;
        Ok(body)
    }

    fn check_integer(body: &[u8]) -> Res<()> {
        let padded = match body {
            [] => return Err("empty INTEGER"),
            [_] => false,
            [0, ..] => true,
            // 0xFF then only zeros is the most negative value of its length.
            [0xff, rest @ ..] => rest.iter().any(|&b| b != 0),
            _ => false,
        };
        // A pad byte must carry a sign the next byte could not.
        if padded && body[0] & 0x80 == body[1] & 0x80 {
            return Err("padded INTEGER");
        }
        Ok(())
    }

    /// The unsigned magnitude of a valid INTEGER without leading zeros, which
    /// is what OpenSSL's BN_bn2bin produces for a serial number.
    pub fn magnitude(body: &[u8]) -> Cow<'_, [u8]> {
        if body.first().is_some_and(|&b| b & 0x80 != 0) {
            // Two's complement negation: invert, then add one.
            let mut out: Vec<u8> = body.iter().map(|&b| !b).collect();
            for byte in out.iter_mut().rev() {
                let (sum, carry) = byte.overflowing_add(1);
                *byte = sum;
                if !carry {
                    break;
                }
            }
            let zeros = out.iter().take_while(|&&b| b == 0).count();
            out.drain(..zeros);
            Cow::Owned(out)
        } else {
            let zeros = body.iter().take_while(|&&b| b == 0).count();
            Cow::Borrowed(&body[zeros..])
        }
    }

    pub fn oid(t: Tlv<'_>) -> Res<&[u8]> {
        let body = primitive(t, OID)?;
        check_oid(body)?;
        Ok(body)
    }

    fn check_oid(body: &[u8]) -> Res<()> {
        let ends_cleanly = body.last().is_some_and(|&b| b & 0x80 == 0);
        // A sub-identifier may not start with a 0x80 (zero-valued) group.
        let padded = body
            .iter()
            .enumerate()
            .any(|(i, &b)| b == 0x80 && (i == 0 || body[i - 1] & 0x80 == 0));
        if ends_cleanly && !padded {
            Ok(())
        } else {
            Err("malformed OBJECT IDENTIFIER")
        }
    }

    /// `SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`; returns the OID.
    pub fn algorithm(t: Tlv<'_>) -> Res<&[u8]> {
        let mut w = Walk::sequence(t)?;
        let id = oid(w.next()?)?;
        if !w.is_empty() {
            any(w.next()?)?;
        }
        w.end()?;
        Ok(id)
    }

    pub fn octet_string(t: Tlv<'_>) -> Res<Cow<'_, [u8]>> {
        if !t.is(UNIVERSAL, OCTET_STRING) {
            return Err("expected an OCTET STRING");
        }
        string(t)
    }

    pub fn bit_string(t: Tlv<'_>) -> Res<Cow<'_, [u8]>> {
        if !t.is(UNIVERSAL, BIT_STRING) {
            return Err("expected a BIT STRING");
        }
        any(t)
    }

    /// String contents; a constructed (BER) string is the concatenation of
    /// its pieces, whatever their tags, as in OpenSSL.
    pub fn string(t: Tlv<'_>) -> Res<Cow<'_, [u8]>> {
        if !t.constructed {
            return Ok(Cow::Borrowed(t.body));
        }
        let mut out = Vec::new();
        collect(t, 0, &mut out)?;
        Ok(Cow::Owned(out))
    }

    fn collect(t: Tlv<'_>, depth: u32, out: &mut Vec<u8>) -> Res<()> {
        let mut w = Walk::constructed(t)?;
        while !w.is_empty() {
            let piece = w.next()?;
            if piece.constructed {
                if depth + 1 > MAX_STRING_NEST {
                    return Err("constructed string nested too deeply");
                }
                collect(piece, depth + 1, out)?;
            } else {
                out.extend_from_slice(piece.body);
            }
        }
        Ok(())
    }

    /// A value of any type, checked and converted the way OpenSSL stores it
    /// in an ASN1_STRING; returns that stored data.
    pub fn any(t: Tlv<'_>) -> Res<Cow<'_, [u8]>> {
        if t.class != UNIVERSAL || t.tag == SEQUENCE || t.tag == SET {
            // Kept in encoded form; only SEQUENCE and SET must be constructed.
            if t.class == UNIVERSAL && !t.constructed {
                return Err("SEQUENCE or SET not constructed");
            }
            return Ok(Cow::Borrowed(t.raw));
        }
        if t.constructed && matches!(t.tag, BOOLEAN | INTEGER | NULL | OID | ENUMERATED) {
            return Err("expected a primitive element");
        }
        let data = string(t)?;
        match t.tag {
            BOOLEAN if data.len() != 1 => Err("BOOLEAN of wrong length"),
            NULL if !data.is_empty() => Err("NULL with contents"),
            INTEGER | ENUMERATED => check_integer(&data).map(|()| data),
            OID => check_oid(&data).map(|()| data),
            BIT_STRING => bit_string_data(data),
            BMP_STRING if data.len() % 2 != 0 => Err("odd-length BMPString"),
            UNIVERSAL_STRING if data.len() % 4 != 0 => Err("UniversalString length"),
            _ => Ok(data),
        }
    }

    /// Drops the unused-bits count byte and clears the unused bits.
    fn bit_string_data(data: Cow<'_, [u8]>) -> Res<Cow<'_, [u8]>> {
        let (&unused, bits) = data.split_first().ok_or("empty BIT STRING")?;
        if unused > 7 {
            return Err("BIT STRING unused-bits count above 7");
        }
        let needs_mask = bits.last().is_some_and(|&b| b & !(0xffu8 << unused) != 0);
        Ok(match data {
            Cow::Borrowed(d) if !needs_mask => Cow::Borrowed(&d[1..]),
            _ => {
                let mut v = bits.to_vec();
                if let Some(last) = v.last_mut() {
                    *last &= 0xffu8 << unused;
                }
                Cow::Owned(v)
            }
        })
    }

    /// A name attribute value (OpenSSL's DirectoryString-like multi-string):
    /// only some universal types are allowed, and the text types must
    /// convert to UTF-8, because OpenSSL builds a canonical form of every
    /// name it decodes.
    pub fn directory_string(t: Tlv<'_>) -> Res<Cow<'_, [u8]>> {
        // The universal tags OpenSSL's "printable" multi-string mask admits
        // (found by trying every tag against kmod).
        let admitted = matches!(t.tag, 3 | 7..=9 | 11..=16 | 18..=20 | 22 | 28..=30);
        if t.class != UNIVERSAL || !admitted {
            return Err("name attribute of a type OpenSSL refuses");
        }
        let data = any(t)?;
        let converts = match t.tag {
            UTF8_STRING => std::str::from_utf8(&data).is_ok(),
            BMP_STRING => data
                .chunks_exact(2)
                .all(|c| char::from_u32(u32::from(u16::from_be_bytes([c[0], c[1]]))).is_some()),
            UNIVERSAL_STRING => data
                .chunks_exact(4)
                .all(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).is_some()),
            _ => true,
        };
        if converts {
            Ok(data)
        } else {
            Err("name attribute does not convert to UTF-8")
        }
    }
}

/// Names for digest OIDs, as OpenSSL's OBJ_obj2txt(.., 0) prints them:
/// the long name of an OID it knows, otherwise the dotted form.
mod oid {
    use std::borrow::Cow;
    use std::fmt::Write;

    /// OIDs plausible in a digest field, with OpenSSL's long names.
    const KNOWN: &[(&[u64], &str)] = &[
        (&[1, 2, 840, 113549, 2, 2], "md2"),
        (&[1, 2, 840, 113549, 2, 4], "md4"),
        (&[1, 2, 840, 113549, 2, 5], "md5"),
        (&[1, 3, 14, 3, 2, 26], "sha1"),
        (&[1, 3, 14, 3, 2, 18], "sha"),
        (&[1, 3, 36, 3, 2, 1], "ripemd160"),
        (&[2, 5, 8, 3, 101], "mdc2"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 1], "sha256"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 2], "sha384"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 3], "sha512"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 4], "sha224"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 5], "sha512-224"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 6], "sha512-256"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 7], "sha3-224"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 8], "sha3-256"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 9], "sha3-384"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 10], "sha3-512"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 11], "shake128"),
        (&[2, 16, 840, 1, 101, 3, 4, 2, 12], "shake256"),
        (&[1, 2, 156, 10197, 1, 401], "sm3"),
        (&[1, 0, 10118, 3, 0, 55], "whirlpool"),
        (&[1, 3, 6, 1, 4, 1, 1722, 12, 2, 1, 16], "blake2b512"),
        (&[1, 3, 6, 1, 4, 1, 1722, 12, 2, 2, 8], "blake2s256"),
        (&[1, 2, 643, 2, 2, 9], "GOST R 34.11-94"),
        (
            &[1, 2, 643, 7, 1, 1, 2, 2],
            "GOST R 34.11-2012 with 256 bit hash",
        ),
        (
            &[1, 2, 643, 7, 1, 1, 2, 3],
            "GOST R 34.11-2012 with 512 bit hash",
        ),
        (&[1, 2, 840, 113549, 2, 7], "hmacWithSHA1"),
        (&[1, 2, 840, 113549, 2, 9], "hmacWithSHA256"),
        // Signature and key OIDs, in case a signer put one in the digest field.
        (&[1, 2, 840, 113549, 1, 1, 1], "rsaEncryption"),
        (&[1, 2, 840, 113549, 1, 1, 4], "md5WithRSAEncryption"),
        (&[1, 2, 840, 113549, 1, 1, 5], "sha1WithRSAEncryption"),
        (&[1, 2, 840, 113549, 1, 1, 10], "rsassaPss"),
        (&[1, 2, 840, 113549, 1, 1, 11], "sha256WithRSAEncryption"),
        (&[1, 2, 840, 113549, 1, 1, 12], "sha384WithRSAEncryption"),
        (&[1, 2, 840, 113549, 1, 1, 13], "sha512WithRSAEncryption"),
        (&[1, 2, 840, 113549, 1, 1, 14], "sha224WithRSAEncryption"),
        (&[1, 2, 840, 10045, 2, 1], "id-ecPublicKey"),
        (&[1, 2, 840, 10045, 4, 1], "ecdsa-with-SHA1"),
        (&[1, 2, 840, 10045, 4, 3, 1], "ecdsa-with-SHA224"),
        (&[1, 2, 840, 10045, 4, 3, 2], "ecdsa-with-SHA256"),
        (&[1, 2, 840, 10045, 4, 3, 3], "ecdsa-with-SHA384"),
        (&[1, 2, 840, 10045, 4, 3, 4], "ecdsa-with-SHA512"),
        (&[1, 2, 840, 10040, 4, 1], "dsaEncryption"),
        (&[1, 2, 840, 10040, 4, 3], "dsaWithSHA1"),
        (&[2, 16, 840, 1, 101, 3, 4, 3, 2], "dsa_with_SHA256"),
        (&[1, 3, 101, 112], "ED25519"),
        (&[1, 3, 101, 113], "ED448"),
        (&[1, 2, 156, 10197, 1, 501], "SM2-with-SM3"),
        (&[1, 2, 156, 10197, 1, 504], "sm3WithRSAEncryption"),
    ];

    /// OpenSSL refuses to print OIDs longer than this (a DoS guard).
    const MAX_PRINTABLE: usize = 586;

    /// The name of a validly encoded OID, or `None` where OpenSSL fails.
    pub fn name(body: &[u8]) -> Option<Cow<'static, str>> {
        let mut arcs = [0u64; 16];
        let mut count = 0;
        let mut fits = true;
        for_each_arc(body, |arc| {
            match (arc, arcs.get_mut(count)) {
                (Arc::Small(v), Some(slot)) => *slot = v,
                _ => fits = false,
            }
            count += 1;
        });
        if fits {
            if let Some((_, name)) = KNOWN.iter().find(|(k, _)| *k == &arcs[..count]) {
                return Some(Cow::Borrowed(name));
            }
        }
        if body.len() > MAX_PRINTABLE {
            return None;
        }
        let mut out = String::with_capacity(body.len() * 3);
        for_each_arc(body, |arc| {
            if !out.is_empty() {
                out.push('.');
            }
            match arc {
                Arc::Small(v) => {
                    let _ = write!(out, "{v}");
                }
                Arc::Big(groups, minus) => out.push_str(&big_decimal(groups, minus)),
            }
        });
        Some(Cow::Owned(out))
    }

    /// An arc, or a sub-identifier too big for u64 (its base-128 groups and
    /// a value to subtract, which only the first sub-identifier needs).
    enum Arc<'a> {
        Small(u64),
        Big(&'a [u8], u64),
    }

    /// Splits the first sub-identifier into the first two arcs, as X.690 says.
    fn for_each_arc<'a>(body: &'a [u8], mut f: impl FnMut(Arc<'a>)) {
        let mut first = true;
        for sub in body.split_inclusive(|&b| b & 0x80 == 0) {
            let small = (sub.len() <= 9).then(|| {
                sub.iter()
                    .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7f))
            });
            if first {
                first = false;
                match small {
                    Some(v) if v < 80 => {
                        f(Arc::Small(v / 40));
                        f(Arc::Small(v % 40));
                    }
                    Some(v) => {
                        f(Arc::Small(2));
                        f(Arc::Small(v - 80));
                    }
                    None => {
                        f(Arc::Small(2));
                        f(Arc::Big(sub, 80));
                    }
                }
            } else {
                match small {
                    Some(v) => f(Arc::Small(v)),
                    None => f(Arc::Big(sub, 0)),
                }
            }
        }
    }

    /// Decimal text of a base-128 number, less `minus` (never underflows:
    /// such numbers exceed u64).
    fn big_decimal(groups: &[u8], minus: u64) -> String {
        const BASE: u64 = 1_000_000_000;
        // Little-endian base-10^9 limbs.
        let mut limbs: Vec<u64> = vec![0];
        for &g in groups {
            let mut carry = u64::from(g & 0x7f);
            for limb in limbs.iter_mut() {
                let v = *limb * 128 + carry;
                *limb = v % BASE;
                carry = v / BASE;
            }
            if carry > 0 {
                limbs.push(carry);
            }
        }
        let mut borrow = minus;
        for limb in limbs.iter_mut() {
            if borrow == 0 {
                break;
            }
            let take = borrow % BASE;
            borrow /= BASE;
            if *limb >= take {
                *limb -= take;
            } else {
                *limb = *limb + BASE - take;
                borrow += 1;
            }
        }
        while limbs.len() > 1 && limbs.last() == Some(&0) {
            limbs.pop();
        }
        let mut out = String::new();
        let mut iter = limbs.iter().rev();
        if let Some(top) = iter.next() {
            let _ = write!(out, "{top}");
        }
        for limb in iter {
            let _ = write!(out, "{limb:09}");
        }
        out
    }
}
