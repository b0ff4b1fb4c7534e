//! HS_PUBKEY (RSA / DSA / DH binary, IDIS PEM, SM2_PUB_KEY, SM9_PUB_KEY)
//! and HS_SECKEY value data through every key parser and verifier (see
//! `idnode_resolver::auth::fuzzing::auth_keys`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idnode_resolver::auth::fuzzing::auth_keys(data);
});
