//! (being written) Placeholder with the interface modinfo uses.

pub struct SignatureInfo {
    pub signer: Vec<u8>,
    pub key_id: Vec<u8>,
    pub hash_algo: Vec<u8>,
    pub signature: Vec<u8>,
}

impl SignatureInfo {
    pub fn id_type_name(&self) -> &'static str {
        "PKCS#7"
    }
}

pub fn parse(_bytes: &[u8]) -> Option<SignatureInfo> {
    None
}

pub fn hex_field(_bytes: &[u8]) -> String {
    String::new()
}
