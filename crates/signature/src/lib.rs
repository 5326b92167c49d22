//! The signature appended to a module file, as `modinfo` shows it.
//!
//! Why hand-written: the RustCrypto `cms` crate was evaluated. It parses all
//! 4,023 real Debian 6.1 module signatures, but it re-sorts SET OF elements
//! (kmod reports the first signer as written) and rejects BER encodings that
//! kmod, through OpenSSL, accepts (indefinite and non-minimal lengths,
//! constructed strings). Matching kmod on crafted signatures therefore needs
//! our own reader; the crafted cases in `tests/data/signature/cases.tsv` were
//! produced by running kmod.
//!
//! A signed module ends with `[signer][key id][signature][12-byte header]`
//! followed by [`MAGIC`]. Modern kernels put everything in a PKCS#7
//! SignedData blob (the signer and key id regions are empty); the legacy id
//! types keep the three regions raw. This file reads the trailer and the
//! header; `pkcs7` walks the SignedData over the `ber` reader, and `oid`
//! names the digest algorithm.
//!
//! Parity target: kmod built with OpenSSL (what distributions ship). That
//! build treats a PKCS#7 blob OpenSSL cannot decode as no signature at all,
//! so [`parse`] returns `None` for it, exactly like an unsigned module. To
//! stay byte-identical on odd inputs the PKCS#7 walk follows OpenSSL's
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

#![warn(missing_docs)]

mod ber;
mod oid;
mod pkcs7;

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
    /// A PGP key (legacy header, regions kept raw).
    Pgp,
    /// An X.509 certificate's key (legacy header, regions kept raw).
    X509,
    /// PKCS#7 SignedData, what the kernel's `sign-file` writes today; signer and key id come
    /// from inside it.
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
    /// The name modinfo prints as `sig_hashalgo`.
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
    /// The file does not end with the signature marker: it was never signed, or the signature was
    /// stripped.
    #[error("no module signature marker at the end of the file")]
    NoMarker,
    /// The marker is there but the 12-byte header before it is not.
    #[error("file too short to hold a module signature header")]
    Truncated,
    /// The header's algorithm byte is neither of the two the kernel defined.
    #[error("unknown public-key algorithm {0} in the signature header")]
    BadAlgo(u8),
    /// The header's hash byte is past the table of hashes the kernel defined.
    #[error("unknown hash algorithm {0} in the signature header")]
    BadHash(u8),
    /// The header's id type byte is not PGP, X.509 or PKCS#7.
    #[error("unknown key identifier type {0} in the signature header")]
    BadIdType(u8),
    /// The header announces a signature of zero bytes.
    #[error("signature length is zero")]
    EmptySignature,
    /// The header's three regions are longer than the bytes before it.
    #[error("signature header claims {needed} bytes but only {available} precede it")]
    TooLong {
        /// Bytes the header's lengths add up to.
        needed: u64,
        /// Bytes the file holds before the header.
        available: u64,
    },
    /// The PKCS#7 blob is not one OpenSSL would decode; the text says which part failed.
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
    // Bytes first: a signature is hundreds of them, and pushing chars
    // checks each for UTF-8.
    let mut out = Vec::with_capacity(bytes.len() * 3 + bytes.len() / 20 * 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b':');
            if i % 20 == 0 {
                out.extend_from_slice(b"\n\t\t");
            }
        }
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// kmod hands these values to printf("%s"), so nothing past a NUL shows.
fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or(bytes)
}
