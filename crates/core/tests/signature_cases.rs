//! Hermetic tests of the appended-signature reader.
//!
//! `data/signature/cases.tsv` holds ~250 signature trailers (crafted ones,
//! ones made by `openssl cms` the way sign-file makes them, and the trailer
//! of a real Debian 6.1 module) with the fields kmod's modinfo printed for
//! each; `generate.py` beside it says how they were obtained and which rows
//! deliberately follow kmod 34.2 rather than the kmod 30 that produced them.

use modutils_core::signature::{self, hex_field, IdType, SignatureError, MAGIC};

const CASES: &str = include_str!("data/signature/cases.tsv");

/// sig_id, signer, key id, hash algorithm, signature.
type Fields = (&'static str, Vec<u8>, Vec<u8>, String, Vec<u8>);

struct Case {
    name: &'static str,
    trailer: Vec<u8>,
    /// `None`: modinfo shows no signature.
    expected: Option<Fields>,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn cases() -> Vec<Case> {
    CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let expected = match cols[3..] {
                ["unsigned"] => None,
                [id, signer, key, algo, sig] => {
                    Some((id, unhex(signer), unhex(key), algo.to_string(), unhex(sig)))
                }
                _ => panic!("bad row {}", cols[0]),
            };
            Case {
                name: cols[0],
                trailer: unhex(cols[2]),
                expected,
            }
        })
        .collect()
}

#[test]
fn every_case_matches_kmod() {
    let cases = cases();
    assert!(cases.len() > 200, "cases.tsv looks truncated");
    let mut wrong = Vec::new();
    for case in &cases {
        let got = signature::parse(&case.trailer).map(|s| {
            (
                s.id_type_name(),
                s.signer.into_owned(),
                s.key_id.into_owned(),
                s.hash_algo.to_string(),
                s.signature.into_owned(),
            )
        });
        let want = case.expected.clone();
        if got != want {
            wrong.push(format!("{}: got {got:x?}\n  want {want:x?}", case.name));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// Builds a trailer: regions, then the 12-byte header, then the marker.
fn trailer(header: [u8; 5], sig_len: u32, regions: &[u8]) -> Vec<u8> {
    let mut out = regions.to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&sig_len.to_be_bytes());
    out.extend_from_slice(MAGIC);
    out
}

#[test]
fn unsigned_and_truncated_inputs() {
    assert_eq!(
        signature::try_parse(b"").unwrap_err(),
        SignatureError::NoMarker
    );
    assert_eq!(
        signature::try_parse(b"\x7fELF plain module").unwrap_err(),
        SignatureError::NoMarker
    );
    // A marker with less than a whole header before it.
    assert_eq!(
        signature::try_parse(MAGIC).unwrap_err(),
        SignatureError::Truncated
    );
    let mut short = vec![0u8; 11];
    short.extend_from_slice(MAGIC);
    assert_eq!(
        signature::try_parse(&short).unwrap_err(),
        SignatureError::Truncated
    );
    // The marker cut by one byte.
    assert!(signature::parse(&MAGIC[..MAGIC.len() - 1]).is_none());
}

#[test]
fn header_checks() {
    let sig = [0xaa; 4];
    let ok = trailer([1, 4, 0, 0, 0], 4, &sig);
    assert!(signature::parse(&ok).is_some());
    let err = |t: Vec<u8>| signature::try_parse(&t).unwrap_err();
    assert_eq!(
        err(trailer([2, 4, 0, 0, 0], 4, &sig)),
        SignatureError::BadAlgo(2)
    );
    assert_eq!(
        err(trailer([1, 9, 0, 0, 0], 4, &sig)),
        SignatureError::BadHash(9)
    );
    assert_eq!(
        err(trailer([1, 4, 3, 0, 0], 4, &sig)),
        SignatureError::BadIdType(3)
    );
    assert_eq!(
        err(trailer([1, 4, 0, 0, 0], 0, &sig)),
        SignatureError::EmptySignature
    );
    assert_eq!(
        err(trailer([1, 4, 0, 0, 0], 5, &sig)),
        SignatureError::TooLong {
            needed: 5,
            available: 4
        }
    );
    assert_eq!(
        err(trailer([1, 4, 0, 0, 0], u32::MAX, &sig)),
        SignatureError::TooLong {
            needed: u64::from(u32::MAX),
            available: 4
        }
    );
    // PKCS#7 ignores the signer and key id regions but kmod still counts them.
    assert_eq!(
        err(trailer([1, 4, 2, 200, 100], 4, &sig)),
        SignatureError::TooLong {
            needed: 304,
            available: 4
        }
    );
}

#[test]
fn legacy_pgp_layout() {
    let mut regions = b"Signer Name".to_vec();
    regions.extend_from_slice(&[0x01, 0x02, 0x03]);
    regions.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let t = trailer([1, 2, 0, 11, 3], 4, &regions);
    let info = signature::parse(&t).expect("legacy signature");
    assert_eq!(info.id_type, IdType::Pgp);
    assert_eq!(info.id_type_name(), "PGP");
    assert_eq!(&*info.signer, b"Signer Name");
    assert_eq!(&*info.key_id, &[1, 2, 3]);
    assert_eq!(info.hash_algo.as_str(), "sha1");
    assert_eq!(&*info.signature, &[0xde, 0xad, 0xbe, 0xef]);
}

#[test]
fn garbage_pkcs7_counts_as_unsigned() {
    // kmod built with OpenSSL drops every signature field when d2i fails.
    let t = trailer([1, 4, 2, 0, 0], 5, b"\x30\x04\x06\x02\x2a");
    assert!(matches!(
        signature::try_parse(&t),
        Err(SignatureError::Pkcs7(_))
    ));
}

#[test]
fn hex_field_layout() {
    assert_eq!(hex_field(&[]), "");
    assert_eq!(hex_field(&[0x0a]), "0A");
    assert_eq!(hex_field(&[0xde, 0xad]), "DE:AD");
    let twenty: Vec<u8> = (0..20).collect();
    assert!(!hex_field(&twenty).contains('\n'));
    let twenty_one: Vec<u8> = (0..21).collect();
    assert!(hex_field(&twenty_one).ends_with("12:13:\n\t\t14"));
    let forty_one: Vec<u8> = (0..41).collect();
    let text = hex_field(&forty_one);
    assert_eq!(text.matches("\n\t\t").count(), 2);
    assert!(text.ends_with(":\n\t\t28"));
    // No break after the last byte, even on a multiple of 20.
    let forty: Vec<u8> = (0..40).collect();
    assert!(hex_field(&forty).ends_with("26:27"));
}

/// Every single-byte corruption and every truncation of real trailers must
/// come back cleanly (the library never panics on input).
#[test]
fn corrupted_trailers_never_panic() {
    let cases = cases();
    for name in [
        "debian_af_key",
        "openssl_with_cert",
        "openssl_stream",
        "openssl_signed_attrs",
    ] {
        let case = cases.iter().find(|c| c.name == name).expect(name);
        let original = &case.trailer;
        let mut bytes = original.clone();
        for i in 0..bytes.len() {
            for v in [0x00, 0xff, 0x80, 0x7f, original[i] ^ 0x01] {
                bytes[i] = v;
                let _ = signature::parse(&bytes);
            }
            bytes[i] = original[i];
        }
        // Truncate the DER blob itself, keeping a consistent header.
        let sig_len = u32::from_be_bytes(
            original[original.len() - 32..original.len() - 28]
                .try_into()
                .unwrap(),
        );
        let der = &original[original.len() - 40 - sig_len as usize..original.len() - 40];
        for cut in 0..der.len() {
            let t = trailer([1, 4, 2, 0, 0], cut as u32, &der[..cut]);
            let _ = signature::parse(&t);
        }
    }
}

#[test]
fn deep_nesting_is_bounded() {
    // Indefinite-length SEQUENCEs nested a hundred thousand deep: found by an
    // iterative scan, refused without recursion.
    let depth = 100_000;
    let mut der = [0x30, 0x80].repeat(depth);
    der.extend(std::iter::repeat_n([0u8, 0u8], depth).flatten());
    let t = trailer([1, 4, 2, 0, 0], der.len() as u32, &der);
    assert!(signature::parse(&t).is_none());
}
