//! What a client sends to authenticate: message credential sections,
//! OC 200 challenge answers, OC 2001 / 2000 IDIS login bodies and
//! `signedResponse` fields (see
//! `idnode_resolver::auth::fuzzing::auth_answers`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idnode_resolver::auth::fuzzing::auth_answers(data);
});
