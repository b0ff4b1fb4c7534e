//! Handle TCP framing and UDP reassembly: see
//! `idnode_resolver::wire::fuzzing::tcp_framing_and_udp_reassembly`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idnode_resolver::wire::fuzzing::tcp_framing_and_udp_reassembly(data);
});
