//! The appended module signature: the trailer, the legacy header and the
//! PKCS#7 SignedData walk over our BER reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modutils_core::signature;

fuzz_target!(|data: &[u8]| {
    let parsed = signature::try_parse(data);
    if let Ok(sig) = &parsed {
        // Every field borrows from, or was built from, bytes before the
        // marker; hex rendering must cope with any length.
        assert!(sig.key_id.len() <= data.len() || matches!(sig.key_id, std::borrow::Cow::Owned(_)));
        let _ = signature::hex_field(&sig.key_id);
        let _ = signature::hex_field(&sig.signature);
        let _ = sig.id_type_name();
    }
    assert_eq!(parsed.is_ok(), signature::parse(data).is_some());
});
