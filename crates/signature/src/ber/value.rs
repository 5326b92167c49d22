//! The contents of typed elements, checked and converted the way OpenSSL's
//! decoder does, because kmod treats a blob OpenSSL refuses as unsigned.

use super::{Res, Tlv, Walk, SEQUENCE, SET, UNIVERSAL};
use std::borrow::Cow;

const BOOLEAN: u32 = 1;
const INTEGER: u32 = 2;
const BIT_STRING: u32 = 3;
const OCTET_STRING: u32 = 4;
const NULL: u32 = 5;
const OID: u32 = 6;
const ENUMERATED: u32 = 10;
const UTF8_STRING: u32 = 12;
const UNIVERSAL_STRING: u32 = 28;
const BMP_STRING: u32 = 30;
/// How deep constructed strings may nest inside a constructed string.
const MAX_STRING_NEST: u32 = 5;

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
