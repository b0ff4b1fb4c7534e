//! Feeds arbitrary bytes to the session setup (OC 400) body decoder, the
//! DH key parser and the server side of the key exchange (see
//! `idnode_resolver::engine::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idnode_resolver::engine::fuzzing::session_setup(data);
});
