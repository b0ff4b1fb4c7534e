//! Feeds arbitrary bytes to every decoder of the Handle codec and checks
//! the round-trip invariants (see `idnode_resolver::wire::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idnode_resolver::wire::fuzzing::decode_message(data);
});
