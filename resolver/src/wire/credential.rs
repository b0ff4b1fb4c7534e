//! The message credential section (handle-protocol.md §2, §6.2): the
//! signature or session MAC that may follow the body. Pure codec; verifying
//! signatures and MACs is the auth module's job. No I/O.

use idnode_registry::model::wire::{MAX_HANDLE_LEN, Reader, WireError, WriteExt};

use super::envelope::{Envelope, ProtocolVersion};

/// `credentialType` values (§6.2).
pub mod credential_type {
    /// Public-key signature (certified responses, session setup).
    pub const HS_SIGNED: &[u8] = b"HS_SIGNED";
    /// MAC with a session key.
    pub const HS_MAC: &[u8] = b"HS_MAC";
    /// Deprecated name of HS_SIGNED.
    pub const HS_DSAPUBKEY: &[u8] = b"HS_DSAPUBKEY";
}

/// The parsed credential (§6.2): `u8 version`, `u8 reserved`, `u16 flags`,
/// `bytes signer`, `u32 sessionCounter`, `bytes credentialType`, then a
/// `bytes` section that normally holds `bytes hashAlgId` + `bytes
/// signatureOrMac` (see [`CredentialParts::signature`]).
///
/// Example (admin-batch vector): `00 00 0000 00000000 00000001
/// 00000006 "HS_MAC" 00000033 [0000000b "HMAC-SHA256" 00000020 <32 bytes>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialParts {
    pub version: u8,
    pub reserved: u8,
    pub flags: u16,
    /// CNRI writes it empty.
    pub signer: Vec<u8>,
    /// Replay counter inside a session (RFC: signer index).
    pub session_counter: u32,
    /// One of [`credential_type`].
    pub credential_type: Vec<u8>,
    /// The content of the length-prefixed signed-data section.
    pub signed_data: Vec<u8>,
}

impl CredentialParts {
    /// A credential with `hashAlgId` and `signature` packed into the
    /// signed-data section the way CNRI does.
    pub fn new(credential_type: &[u8], session_counter: u32, hash_alg_id: &[u8], signature: &[u8]) -> Self {
        let mut signed_data = Vec::with_capacity(8 + hash_alg_id.len() + signature.len());
        signed_data.put_bytes(hash_alg_id);
        signed_data.put_bytes(signature);
        CredentialParts {
            version: 0,
            reserved: 0,
            flags: 0,
            signer: Vec::new(),
            session_counter,
            credential_type: credential_type.to_vec(),
            signed_data,
        }
    }

    /// `(hashAlgId, signatureOrMac)` when the signed-data section holds
    /// exactly those two `bytes`.
    pub fn signature(&self) -> Option<(&[u8], &[u8])> {
        let mut r = Reader::new(&self.signed_data);
        let alg = r.bytes("credential hash algorithm").ok()?;
        let sig = r.bytes("credential signature").ok()?;
        r.finish("credential section").ok()?;
        Some((alg, sig))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.version);
        out.put_u8(self.reserved);
        out.put_u16(self.flags);
        out.put_bytes(&self.signer);
        out.put_u32(self.session_counter);
        out.put_bytes(&self.credential_type);
        out.put_bytes(&self.signed_data);
    }

    fn parse(raw: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(raw);
        let version = r.u8()?;
        let reserved = r.u8()?;
        let flags = r.u16()?;
        let signer = r.bytes_limited("credential signer", MAX_HANDLE_LEN + 8)?.to_vec();
        let session_counter = r.u32()?;
        let credential_type = r.bytes("credential type")?.to_vec();
        let signed_data = r.bytes("credential section")?.to_vec();
        r.finish("credential")?;
        Ok(CredentialParts { version, reserved, flags, signer, session_counter, credential_type, signed_data })
    }
}

/// A non-empty credential section: the raw bytes (after the u32 length) and,
/// when they follow §6.2, the parsed [`CredentialParts`]. A credential that
/// does not parse is kept raw rather than failing the message (its MAC or
/// signature simply cannot verify).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Credential {
    raw: Vec<u8>,
    parts: Option<CredentialParts>,
}

impl Credential {
    /// Wraps credential bytes as received; never fails.
    pub fn from_raw(raw: Vec<u8>) -> Self {
        let parts = CredentialParts::parse(&raw).ok();
        Credential { raw, parts }
    }

    /// Encodes `parts`.
    pub fn from_parts(parts: CredentialParts) -> Self {
        let mut raw = Vec::new();
        parts.encode(&mut raw);
        Credential { raw, parts: Some(parts) }
    }

    /// The bytes after the u32 credential length.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The parsed structure, if the bytes follow §6.2.
    pub fn parts(&self) -> Option<&CredentialParts> {
        self.parts.as_ref()
    }
}

/// Appends the bytes a message credential signs or MACs (§6.2) for a message
/// with envelope `env` and header+body `header_and_body`:
/// ≥ 2.8: the 4 version bytes (major, minor, suggested major, suggested
/// minor) + `i32 sessionId` + `i32 requestId` + `i32 sessionCounter` +
/// header+body; 2.7: the same without the suggested bytes; < 2.6:
/// header+body only. Returns `false` (and appends nothing) for 2.6, whose
/// buggy layout we do not reproduce.
pub fn signed_input(env: &Envelope, session_counter: u32, header_and_body: &[u8], out: &mut Vec<u8>) -> bool {
    let v = env.version;
    if v >= ProtocolVersion::V2_7 {
        out.put_u8(v.major);
        out.put_u8(v.minor);
        if v.signs_suggested_version() {
            let s = env.suggested_version();
            out.put_u8(s.major);
            out.put_u8(s.minor);
        }
        out.put_i32(env.session_id);
        out.put_i32(env.request_id);
        out.put_u32(session_counter);
    } else if v == ProtocolVersion::new(2, 6) {
        return false;
    }
    out.extend_from_slice(header_and_body);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_mac_credential() {
        // From the admin-batch vector (create request), after the u32 length.
        let raw = hex::decode(concat!(
            "0000000000000000000000010000000648535f4d4143000000330000000b484d41432d534841323536",
            "00000020109697972da904d6d350472873a0884f4b1ca4c474ebc0b9f2f1d023855e4934"
        ))
        .unwrap();
        let c = Credential::from_raw(raw.clone());
        let p = c.parts().unwrap();
        assert_eq!(p.credential_type, credential_type::HS_MAC);
        assert_eq!(p.session_counter, 1);
        let (alg, sig) = p.signature().unwrap();
        assert_eq!(alg, b"HMAC-SHA256");
        assert_eq!(sig.len(), 32);
        let rebuilt = CredentialParts::new(credential_type::HS_MAC, 1, alg, sig);
        assert_eq!(Credential::from_parts(rebuilt).raw(), raw.as_slice());
    }

    #[test]
    fn malformed_kept_raw() {
        let c = Credential::from_raw(vec![1, 2, 3]);
        assert!(c.parts().is_none());
        assert_eq!(c.raw(), &[1, 2, 3]);
    }

    #[test]
    fn signed_input_layouts() {
        let mut env = Envelope::request(ProtocolVersion::new(2, 10), 7);
        env.session_id = 3;
        let mut out = Vec::new();
        assert!(signed_input(&env, 1, b"HB", &mut out));
        assert_eq!(hex::encode(&out), "020a020b0000000300000007000000014842");
        env.version = ProtocolVersion::new(2, 7);
        out.clear();
        assert!(signed_input(&env, 1, b"HB", &mut out));
        assert_eq!(hex::encode(&out), "02070000000300000007000000014842");
        env.version = ProtocolVersion::new(2, 6);
        out.clear();
        assert!(!signed_input(&env, 1, b"HB", &mut out));
        env.version = ProtocolVersion::new(2, 5);
        assert!(signed_input(&env, 1, b"HB", &mut out));
        assert_eq!(out, b"HB");
    }
}
