//! Diffie–Hellman key agreement of session setup (handle-protocol.md §6.3,
//! key exchange mode 4, what the reference admin tools send).
//!
//! The client sends an HS_PUBKEY `DH_PUB_KEY` (`y`, `p`, `g`); the server
//! answers with its own `DH_PUB_KEY` over the same group, and both sides take
//! the session key from the shared secret the way the reference
//! implementation does for its AES mode: the secret written big-endian at the
//! length of `p`, leading zero bytes skipped (while at least 32 bytes remain),
//! then the first 32 bytes. That key MACs the session's messages
//! (HMAC-SHA256, §6.2).
//!
//! Arithmetic is the `rsa` crate's big integers (`num-bigint-dig`); nothing is
//! hand-rolled beyond one modular exponentiation per side. Group sizes are
//! bounded so an unauthenticated client cannot make us exponentiate huge
//! numbers. No I/O.

use idnode_registry::model::PublicKey;
use rand::RngCore;
use rsa::BigUint;

use super::AuthError;

/// Smallest accepted prime, in bits.
pub const MIN_P_BITS: usize = 1024;
/// Largest accepted prime, in bits (bounds the work of one setup).
pub const MAX_P_BITS: usize = 4096;
/// Bits of the server's random private exponent.
const PRIVATE_BITS: usize = 384;
/// Length of the derived session key (AES mode).
pub const SESSION_KEY_LEN: usize = 32;

/// The reference implementation's code of the AES session cipher, written in
/// front of the server's DH key in the setup answer.
pub const ENCRYPT_ALG_AES: u32 = 3;

/// The outcome of the server side of the exchange.
#[derive(Clone)]
pub struct DhExchange {
    /// HS_PUBKEY encoding of the server's `DH_PUB_KEY` (same `p`, `g`).
    pub server_public: Vec<u8>,
    /// The session key both sides derive.
    pub session_key: [u8; SESSION_KEY_LEN],
}

impl std::fmt::Debug for DhExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhExchange").field("server_public_len", &self.server_public.len()).finish_non_exhaustive()
    }
}

/// Java `BigInteger.toByteArray()`: big-endian, minimal, with a leading 0x00
/// when the top bit is set.
pub fn java_integer(n: &BigUint) -> Vec<u8> {
    let mut b = n.to_bytes_be();
    if b.first().is_some_and(|&x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    b
}

/// The public half `g^x mod p` as an HS_PUBKEY `DH_PUB_KEY`.
pub fn encode_public(y: &BigUint, p: &BigUint, g: &BigUint) -> Vec<u8> {
    PublicKey::Dh { flags: 0, y: java_integer(y), p: java_integer(p), g: java_integer(g), extra: Vec::new() }.to_bytes()
}

/// Parses a client `DH_PUB_KEY` and checks the group is usable.
pub fn parse_public(key: &[u8]) -> Result<(BigUint, BigUint, BigUint), AuthError> {
    let key = PublicKey::from_bytes(key).map_err(|e| AuthError::Malformed(format!("DH key: {e}")))?;
    let PublicKey::Dh { y, p, g, .. } = key else {
        return Err(AuthError::UnsupportedKey(String::from_utf8_lossy(key.key_type()).into_owned()));
    };
    let (y, p, g) = (BigUint::from_bytes_be(&y), BigUint::from_bytes_be(&p), BigUint::from_bytes_be(&g));
    let bits = p.bits();
    if !(MIN_P_BITS..=MAX_P_BITS).contains(&bits) {
        return Err(AuthError::Malformed(format!("DH prime of {bits} bits (accepted {MIN_P_BITS}..={MAX_P_BITS})")));
    }
    let one = BigUint::from(1u32);
    let p_minus_1 = &p - &one;
    if g <= one || g >= p_minus_1 {
        return Err(AuthError::Malformed("DH generator out of range".into()));
    }
    // y in (1, p-1): rejects the degenerate values that force the secret.
    if y <= one || y >= p_minus_1 {
        return Err(AuthError::Malformed("DH public value out of range".into()));
    }
    Ok((y, p, g))
}

/// The session key from a shared secret `z` in a group of prime `p`.
pub fn session_key(z: &BigUint, p: &BigUint) -> [u8; SESSION_KEY_LEN] {
    let width = p.bits().div_ceil(8);
    let raw = z.to_bytes_be();
    let mut secret = vec![0u8; width.saturating_sub(raw.len())];
    secret.extend_from_slice(&raw);
    let mut i = 0;
    while i + SESSION_KEY_LEN < secret.len() && secret[i] == 0 {
        i += 1;
    }
    let mut key = [0u8; SESSION_KEY_LEN];
    let take = &secret[i..secret.len().min(i + SESSION_KEY_LEN)];
    key[..take.len()].copy_from_slice(take);
    key
}

/// A random private exponent.
pub fn random_private() -> BigUint {
    let mut x = [0u8; PRIVATE_BITS / 8];
    rand::rng().fill_bytes(&mut x);
    x[0] |= 0x80;
    BigUint::from_bytes_be(&x)
}

/// One side's key pair over `(p, g)`: `(x, g^x mod p)`.
pub fn key_pair(p: &BigUint, g: &BigUint) -> (BigUint, BigUint) {
    let x = random_private();
    let y = g.modpow(&x, p);
    (x, y)
}

/// The server side: given the client's `DH_PUB_KEY`, make our key pair over
/// the same group and derive the session key.
pub fn server_exchange(client_key: &[u8]) -> Result<DhExchange, AuthError> {
    let (yc, p, g) = parse_public(client_key)?;
    let (x, ys) = key_pair(&p, &g);
    let z = yc.modpow(&x, &p);
    Ok(DhExchange { server_public: encode_public(&ys, &p, &g), session_key: session_key(&z, &p) })
}

/// The client side (tests, load generator): derive the key from the
/// server's `DH_PUB_KEY` with our private exponent `x`.
pub fn client_key(server_key: &[u8], x: &BigUint) -> Result<[u8; SESSION_KEY_LEN], AuthError> {
    let (ys, p, _) = parse_public(server_key)?;
    Ok(session_key(&ys.modpow(x, &p), &p))
}

/// The 1024-bit MODP group the reference client offers (RFC 2409 group 2),
/// as `(p, g)`; used by our own client and tests.
pub fn oakley_group2() -> (BigUint, BigUint) {
    let p = BigUint::parse_bytes(
        b"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
        16,
    )
    .expect("constant prime");
    (p, BigUint::from(2u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree() {
        let (p, g) = oakley_group2();
        let (xc, yc) = key_pair(&p, &g);
        let ex = server_exchange(&encode_public(&yc, &p, &g)).unwrap();
        assert_eq!(client_key(&ex.server_public, &xc).unwrap(), ex.session_key);
    }

    #[test]
    fn captured_client_key_parses() {
        // The DH key of the reference client's session setup (admin-batch vector, message 2).
        let hex = concat!(
            "0000000a44485f5055425f4b45590000000000810097675f737bcfbad941bd1f94294515ff8068ce7d9b349fed915640b072f1cac2b41716a02b1941529a6d1d456392189fa98582969aa0be76608b972f8f1f264a9e8c7cf900398f24a8dd768988af65272d258e83d7ce08e26714cca6c9f29f674e4eb52dd371e87f285fbb6b4df155c46e920cb38cd95297bf324bdda8865c79",
            "0000008100ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff0000000102"
        );
        let key = hex::decode(hex).unwrap();
        let (_, p, g) = parse_public(&key).unwrap();
        assert_eq!((p, g), oakley_group2());
        assert!(server_exchange(&key).is_ok());
    }

    #[test]
    fn bad_groups_are_refused() {
        let (p, g) = oakley_group2();
        let one = BigUint::from(1u32);
        assert!(server_exchange(&encode_public(&one, &p, &g)).is_err());
        assert!(server_exchange(&encode_public(&(&p - &one), &p, &g)).is_err());
        let small = BigUint::from(23u32);
        assert!(server_exchange(&encode_public(&BigUint::from(5u32), &small, &g)).is_err());
        assert!(server_exchange(b"junk").is_err());
    }

    #[test]
    fn key_skips_leading_zeros() {
        let (p, _) = oakley_group2();
        let z = BigUint::from_bytes_be(&[0xAB; 40]);
        let k = session_key(&z, &p);
        assert_eq!(k, [0xAB; 32]);
    }
}
