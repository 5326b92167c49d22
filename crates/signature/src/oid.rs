//! Names for digest OIDs, as OpenSSL's OBJ_obj2txt(.., 0) prints them:
//! the long name of an OID it knows, otherwise the dotted form.

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
