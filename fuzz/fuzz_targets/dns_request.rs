//! Feeds arbitrary bytes to the DNS front's request path over UDP and TCP
//! (see `idnode_resolver::dns::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idnode_resolver::dns::fuzzing::request(data);
});
