//! The PKCS#7 walk, shaped after the structures OpenSSL's `d2i_PKCS7` decodes.

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

/// `[0] certificates` and `[1] crls`: both are SIGNED{...} envelopes, checked
/// only for shape because nothing modinfo prints comes from them.
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

/// Signed or unsigned attributes. Nothing in them is reported, but OpenSSL
/// decodes each `SEQUENCE { type OID, values SET OF ANY }`, so one it refuses
/// makes the module count as unsigned.
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

/// Each element of a SET OF in encoding order: OpenSSL does not re-sort, so
/// the first SignerInfo is the first one written.
fn set_of<'a>(t: Tlv<'a>, mut each: impl FnMut(Tlv<'a>) -> Res<()>) -> Res<()> {
    let mut w = Walk::set(t)?;
    while !w.is_empty() {
        each(w.next()?)?;
    }
    Ok(())
}
