//! The codec against bytes captured from CNRI HANDLE.NET 9.2.0
//! (`conformance/vectors/`): every request and answer decodes, re-encodes
//! byte-identically, and the server-side builders reproduce the answers.

mod common;

use std::time::Instant;

use common::{BatchMessage, Vector, admin_batch, cnri_vectors, vector};
use idnode_registry::model::site::{interface_protocol, interface_type};
use idnode_registry::model::{AdminRecord, HsSite, PublicKey, admin_perm};
use idnode_resolver::wire::{
    Body, ChallengeResponse, DecodeError, DigestAlg, Envelope, Frame, Message, OpCode, OpFlags, ProtocolVersion,
    Reassembled, Reassembler, ReassemblyLimits, ReferralResponse, RequestDigest, ResolutionRequestRef, Responder,
    ResponseCode, ResponseHead, SiteInfoResponse, encode_error_response, encode_resolution_response_list,
    udp_fragments,
};

/// The whole message of a list of datagrams (TCP: the one buffer).
fn assemble(transport: &str, datagrams: &[Vec<u8>]) -> Vec<u8> {
    if transport == "tcp" {
        assert_eq!(datagrams.len(), 1);
        return datagrams[0].clone();
    }
    let mut r = Reassembler::new(ReassemblyLimits::default());
    let now = Instant::now();
    let mut done = None;
    for (i, d) in datagrams.iter().enumerate() {
        match r.push("peer", d, now).unwrap() {
            Reassembled::Complete(b) => done = Some(b.to_vec()),
            Reassembled::Assembled(b) => done = Some(b),
            Reassembled::Pending => assert!(i + 1 < datagrams.len(), "never completed"),
        }
    }
    done.expect("datagrams did not complete a message")
}

/// Decodes, re-encodes, compares bytes; for UDP also re-fragments.
fn round_trip(what: &str, transport: &str, datagrams: &[Vec<u8>]) -> Message {
    let bytes = assemble(transport, datagrams);
    let m = Message::decode(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let again = m.encode();
    assert_eq!(hex::encode(&again), hex::encode(&bytes), "{what}: re-encoding differs");
    if transport == "udp" {
        let tc = m.envelope.flags & 0x20 != 0;
        let frags: Vec<Vec<u8>> = udp_fragments(&again, tc).map(|f| f.to_vec()).collect();
        assert_eq!(frags, datagrams, "{what}: datagrams differ");
    }
    m
}

fn summary_matches(v: &Vector, m: &Message) {
    let (minor, sugg_minor, opcode, rc, flags) = v.summary.as_ref().unwrap()[0];
    assert_eq!(m.envelope.version.minor, minor, "{}", v.name);
    assert_eq!(m.envelope.suggested_version().minor, sugg_minor, "{}", v.name);
    assert_eq!(m.header.op_code.0, opcode, "{}", v.name);
    assert_eq!(m.header.response_code.0, rc, "{}", v.name);
    assert_eq!(m.header.op_flags.0, flags, "{}", v.name);
}

#[test]
fn every_cnri_vector_round_trips() {
    let vectors = cnri_vectors();
    assert_eq!(vectors.len(), 17);
    for v in &vectors {
        let answer = round_trip(&format!("{} response", v.name), &v.transport, &v.response);
        match &v.summary {
            Some(_) => {
                let req = round_trip(&format!("{} request", v.name), &v.transport, &v.request);
                assert!(!req.header.is_response(), "{}", v.name);
                assert_eq!(req.envelope.request_id, answer.envelope.request_id, "{}", v.name);
                assert_eq!(req.header.op_code, answer.header.op_code, "{}", v.name);
                summary_matches(v, &answer);
            }
            None => {
                // Malformed request: the decoder refuses it, with the very
                // text the CNRI server sent back.
                let err = Message::decode(&v.request[0]).unwrap_err();
                assert!(matches!(err, DecodeError::Incomplete { expected: 48, .. }), "{err:?}");
                let Body::Error(e) = &answer.body else { panic!("{}: {:?}", v.name, answer.body) };
                assert_eq!(err.to_string().as_bytes(), e.message.as_slice(), "{}", v.name);
                assert_eq!(answer.header.response_code, ResponseCode::PROTOCOL_ERROR);
            }
        }
    }
}

#[test]
fn malformed_requests_are_errors() {
    for name in ["tcp-truncated-body", "tcp-garbage"] {
        let v = vector(name);
        assert!(Message::decode(&v.request[0]).is_err(), "{name}");
        assert!(Frame::parse(&v.request[0]).is_err(), "{name}");
        assert!(ResolutionRequestRef::decode(&v.request[0]).is_err(), "{name}");
        // The envelope alone is fine: a listener can still read it.
        assert_eq!(Envelope::decode(&v.request[0]).unwrap().message_length, 48);
    }
    // A complete frame of 0xff garbage is also refused (bodyLength too big).
    let mut g = hex::decode("020a020b00000000000099990000000000000030").unwrap();
    g.extend([0xff; 48]);
    assert!(matches!(Message::decode(&g), Err(DecodeError::BodyLength { .. })));
}

#[test]
fn decoded_bodies_have_the_expected_content() {
    let m = round_trip("all", "udp", &vector("udp-resolve-all").response);
    let Body::ResolutionResponse(r) = &m.body else { panic!() };
    assert_eq!(r.handle, b"TEST/abc");
    assert!(r.digest.is_none());
    assert_eq!(r.values.iter().map(|v| v.index).collect::<Vec<_>>(), [100, 1]);
    assert_eq!(r.values[1].data, b"http://example.org/abc");

    let req = round_trip("filtered", "tcp", &vector("tcp-resolve-filtered").request);
    let Body::Resolution(q) = &req.body else { panic!() };
    assert_eq!((q.indexes.as_slice(), q.types.as_slice()), (&[1][..], &[b"URL".to_vec()][..]));
    assert_eq!(q.auth_token, None);
    assert_eq!(req.header.op_flags, OpFlags::PO);

    let m = round_trip("case", "tcp", &vector("tcp-resolve-case").response);
    let Body::ResolutionResponse(r) = &m.body else { panic!() };
    assert_eq!(r.handle, b"test/ABC", "echoed as asked");

    let m = round_trip("301", "tcp", &vector("tcp-not-homed").response);
    let Body::Error(e) = &m.body else { panic!() };
    assert_eq!(e.message, b"That prefix doesn't live here");

    for name in ["tcp-not-found", "tcp-values-not-found"] {
        let m = round_trip(name, "tcp", &vector(name).response);
        let Body::Error(e) = &m.body else { panic!() };
        assert!(e.message.is_empty());
    }

    let m = round_trip("303", "udp", &vector("udp-prefix-referral").response);
    let Body::Referral(r) = &m.body else { panic!() };
    assert!(r.handle.is_empty());
    let values = r.values.as_ref().unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].value_type, b"HS_SITE.PREFIX");
    assert_eq!(values[0].index, 2);
    HsSite::from_bytes(&values[0].data).unwrap();

    let m = round_trip("old", "udp", &vector("udp-prefix-old-client").response);
    assert_eq!(m.envelope.version, ProtocolVersion::COMPAT);
    assert_eq!(m.header.response_code, ResponseCode::ERROR);

    let m = round_trip("402", "tcp", &vector("tcp-delete-challenge").response);
    assert_eq!(m.envelope.session_id, 2);
    let Body::Challenge(c) = &m.body else { panic!() };
    assert_eq!(c.nonce.len(), 16);
    assert_eq!(c.digest.alg(), DigestAlg::Sha256);

    let m = round_trip("types", "udp", &vector("udp-type-subtypes").response);
    let Body::ResolutionResponse(r) = &m.body else { panic!() };
    let types: Vec<&[u8]> = r.values.iter().map(|v| v.value_type.as_slice()).collect();
    assert_eq!(types, [&b"HS_SITE"[..], b"HS_SITE.PREFIX"]);
}

/// Digest tests: SHA-256 of the request's header+body (§2).
#[test]
fn request_digests_match_the_server() {
    for name in ["udp-resolve-digest", "tcp-resolve-nonpublic", "tcp-delete-challenge"] {
        let v = vector(name);
        let frame = Frame::parse(&v.request[0]).unwrap();
        let want = Sha256Hex::of(frame.header_and_body);
        let m = Message::decode(&assemble(&v.transport, &v.response)).unwrap();
        let d = m.body.digest().unwrap();
        assert_eq!(d.alg(), DigestAlg::Sha256, "{name}");
        assert_eq!(hex::encode(d.as_bytes()), want, "{name}");
        assert_eq!(frame.response_digest(), *d, "{name}");
        assert!(d.matches(frame.header_and_body));
        // The zero-copy decoder computes the same one when RD is set.
        if let Ok(r) = ResolutionRequestRef::decode(&v.request[0]) {
            assert_eq!(r.response_digest().is_some(), r.header.op_flags.contains(OpFlags::RD));
        }
    }
    let v = vector("udp-resolve-digest");
    let r = ResolutionRequestRef::decode(&v.request[0]).unwrap();
    let m = Message::decode(&v.response[0]).unwrap();
    assert_eq!(r.response_digest().as_ref(), m.body.digest());
    assert_eq!(
        hex::encode(m.body.digest().unwrap().as_bytes()),
        "f631c1a32e3aac19d993721c8ee4e3d4c802e6f19492f4f80d3ab73f2d361171"
    );
}

struct Sha256Hex;
impl Sha256Hex {
    fn of(b: &[u8]) -> String {
        hex::encode(RequestDigest::compute(DigestAlg::Sha256, b).as_bytes())
    }
}

#[test]
fn admin_batch_round_trips() {
    let msgs = admin_batch();
    assert_eq!(msgs.len(), 19);
    let mut udp = Reassembler::new(ReassemblyLimits::default());
    let now = Instant::now();
    let mut decoded: Vec<(BatchMessage, Message, Vec<u8>)> = Vec::new();
    let mut first_of_pending: Option<BatchMessage> = None;
    let mut datagrams: Vec<Vec<u8>> = Vec::new();
    for m in msgs {
        let whole = if m.transport == "udp" {
            datagrams.push(m.bytes.clone());
            let key = (m.client_port, m.from_client);
            match udp.push(key, &m.bytes, now).unwrap() {
                Reassembled::Complete(b) => Some((m.clone(), b.to_vec())),
                Reassembled::Assembled(b) => Some((first_of_pending.take().unwrap(), b)),
                Reassembled::Pending => {
                    first_of_pending.get_or_insert(m.clone());
                    None
                }
            }
        } else {
            Some((m.clone(), m.bytes.clone()))
        };
        let Some((meta, bytes)) = whole else { continue };
        let frags = std::mem::take(&mut datagrams);
        let transport = meta.transport.clone();
        let msg = round_trip(
            &format!("{:?} {:?}", meta.opcode, meta.rc),
            &transport,
            if transport == "udp" { &frags } else { std::slice::from_ref(&bytes) },
        );
        assert_eq!(Some(msg.header.op_code.0), meta.opcode);
        assert_eq!(Some(msg.header.response_code.0), meta.rc);
        assert_eq!(Some(msg.header.op_flags.0), meta.opflags);
        assert_eq!(msg.envelope.session_id, meta.session_id);
        assert_eq!(msg.header.is_response(), !meta.from_client);
        decoded.push((meta, msg, bytes));
    }
    assert_eq!(decoded.len(), 18, "19 captures, one continuation datagram");
    let by_op = |op: u32, rc: u32| decoded.iter().find(|(m, _, _)| m.opcode == Some(op) && m.rc == Some(rc)).unwrap();

    // Session setup request: identity 300:0.NA/TEST, DH key exchange.
    let (_, setup, setup_bytes) = by_op(400, 0);
    let Body::SessionSetup(s) = &setup.body else { panic!() };
    assert_eq!((s.key_exchange_mode, s.timeout), (4, 86400));
    assert_eq!((s.identity_handle.as_slice(), s.identity_index), (&b"0.NA/TEST"[..], 300));
    let key = PublicKey::from_bytes(s.exchange_key().unwrap()).unwrap();
    let PublicKey::Dh { g, p, .. } = &key else { panic!("{key:?}") };
    assert_eq!((g.as_slice(), p.len()), (&[2u8][..], 129));
    // Its two-datagram answer carries the setup request's digest and a
    // signed credential.
    let (_, setup_answer, _) = by_op(400, 1);
    let Body::SessionSetupResponse(sr) = &setup_answer.body else { panic!() };
    assert_eq!(sr.key_exchange_mode, 4);
    let setup_frame = Frame::parse(setup_bytes).unwrap();
    assert_eq!(sr.digest.as_ref(), Some(&setup_frame.response_digest()));
    let cred = setup_answer.credential.as_ref().unwrap().parts().unwrap();
    assert_eq!(cred.credential_type, b"HS_SIGNED");
    assert_eq!(cred.signature().unwrap().0, b"SHA-256");

    // Create with a session MAC, answered by a 402 carrying its digest.
    let (_, create, create_bytes) = by_op(100, 0);
    let Body::CreateHandle(c) = &create.body else { panic!() };
    assert_eq!(c.handle, b"TEST/cap1");
    assert_eq!(c.values.len(), 2);
    let admin = AdminRecord::from_bytes(&c.values[0].data).unwrap();
    assert_eq!(admin, AdminRecord::new(admin_perm::ALL, "0.NA/TEST", 300));
    let mac = create.credential.as_ref().unwrap().parts().unwrap();
    assert_eq!((mac.credential_type.as_slice(), mac.session_counter), (&b"HS_MAC"[..], 1));
    let (_, challenge, _) = by_op(100, 402);
    let Body::Challenge(ch) = &challenge.body else { panic!() };
    assert_eq!(ch.digest, Frame::parse(create_bytes).unwrap().response_digest());

    // The OC 200 answer on a new connection.
    let (_, answer, _) = by_op(200, 0);
    let Body::ChallengeAnswer(a) = &answer.body else { panic!() };
    assert_eq!(a.auth_type, b"HS_PUBKEY");
    assert_eq!((a.identity_handle.as_slice(), a.identity_index), (&b"0.NA/TEST"[..], 300));
    let (alg, sig) = a.pubkey_signature().unwrap();
    assert_eq!((alg, sig.len()), (&b"SHA-256"[..], 256));
    // ... answered with the original op code, success, no digest.
    let (_, done, _) = by_op(100, 1);
    let Body::CreateResponse(s) = &done.body else { panic!("{:?}", done.body) };
    assert!(s.digest.is_none());
    assert_eq!(s.handle.as_deref(), Some(&b"TEST/cap1"[..]), "CNRI names the created handle");
    assert_eq!(done.envelope.request_id, answer.envelope.request_id);

    let (_, remove, _) = by_op(103, 0);
    let Body::RemoveValue(r) = &remove.body else { panic!() };
    assert_eq!(r.indexes, [2]);
    let (_, delete, _) = by_op(101, 0);
    assert!(matches!(&delete.body, Body::DeleteHandle(h) if h.handle == b"TEST/cap1"));
    for op in [102, 104] {
        let (_, m, _) = by_op(op, 0);
        assert!(matches!(&m.body, Body::AddValue(_) | Body::ModifyValue(_)));
    }
}

/// §12: the peer's HS_SITE record, inside the site-info answer.
#[test]
fn peer_site_record_is_byte_exact() {
    let m = Message::decode(&vector("tcp-site-info").response[0]).unwrap();
    let Body::SiteInfoResponse(si) = &m.body else { panic!() };
    assert!(si.digest.is_none());
    let site = si.site().unwrap();
    assert_eq!(site.to_bytes(), si.site, "HS_SITE re-encoding differs");
    assert_eq!(site.encoded_len(), si.site.len());
    assert_eq!(site.data_format_version, 1);
    assert_eq!((site.protocol_major, site.protocol_minor), (2, 10));
    assert_eq!(site.serial_number, 1);
    assert!(site.is_primary() && !site.is_multi_primary());
    assert_eq!(site.hash_option, 2);
    assert!(site.hash_filter.is_empty());
    assert_eq!(site.attribute(b"desc"), Some(&b"CNRI 9.2.0 peer on loopback"[..]));
    assert_eq!(site.servers.len(), 1);
    let s = &site.servers[0];
    assert_eq!(s.server_id, 1);
    assert_eq!(s.ip().to_string(), "127.0.0.1");
    let ifs: Vec<(u8, u8, u32)> = s.interfaces.iter().map(|i| (i.kind, i.protocol, i.port)).collect();
    assert_eq!(
        ifs,
        [
            (interface_type::ADMIN_AND_QUERY, interface_protocol::TCP, 22641),
            (interface_type::QUERY, interface_protocol::UDP, 22641)
        ]
    );
    let key = s.public_key().unwrap();
    assert_eq!(key.to_bytes(), s.public_key);
    let PublicKey::Rsa { flags, exponent, modulus, extra } = key else { panic!("not RSA") };
    assert_eq!((flags, exponent.as_slice(), extra.as_slice()), (0, &[1u8, 0, 1][..], &[0u8; 4][..]));
    assert_eq!((modulus.len(), modulus[0], modulus[1]), (257, 0x00, 0xa0));
    // The same record is the HS_SITE value of 0.NA/88.118.8 (multi-datagram).
    let m = Message::decode(&assemble("udp", &vector("udp-multipacket").response)).unwrap();
    let Body::ResolutionResponse(r) = &m.body else { panic!() };
    assert_eq!(r.values[1].data, si.site);
}

/// §4.4: `0fff 00000009 "0.NA/TEST" 0000012c`.
#[test]
fn hs_admin_golden() {
    let m = Message::decode(&vector("udp-resolve-all").response[0]).unwrap();
    let Body::ResolutionResponse(r) = &m.body else { panic!() };
    let v = &r.values[0];
    assert_eq!((v.index, v.value_type.as_slice()), (100, &b"HS_ADMIN"[..]));
    assert_eq!(hex::encode(&v.data), "0fff00000009302e4e412f544553540000012c");
    let a = AdminRecord::from_bytes(&v.data).unwrap();
    assert_eq!(a.permissions, 0x0fff);
    assert_eq!(a.admin_handle, b"0.NA/TEST");
    assert_eq!(a.admin_index, 300);
    assert_eq!(a.to_bytes(), v.data);
}

fn responder_of(m: &Message) -> Responder {
    Responder {
        site_serial: m.header.site_info_serial,
        primary: m.header.op_flags.contains(OpFlags::AT),
        expiration: m.header.expiration_time,
    }
}

/// The server's answers rebuilt with the fast path equal the captures
/// (with the captured expiration time).
#[test]
fn fast_path_rebuilds_captured_answers() {
    let mut checked = 0;
    for v in cnri_vectors() {
        let Ok(req) = ResolutionRequestRef::decode(&v.request[0]) else {
            continue;
        };
        let captured = assemble(&v.transport, &v.response);
        let answer = Message::decode(&captured).unwrap();
        let responder = responder_of(&answer);
        let head = ResponseHead { envelope: answer.envelope, header: answer.header };
        let mut out = vec![0xAA]; // appends after existing bytes
        match &answer.body {
            Body::ResolutionResponse(r) => {
                let raw: Vec<Vec<u8>> = r.values.iter().map(|v| v.to_bytes()).collect();
                let n = req.encode_response(&mut out, &responder, &raw).unwrap();
                assert_eq!(n as usize, raw.len());
                assert_eq!(hex::encode(&out[1..]), hex::encode(&captured), "{}", v.name);
                // The head derived from the request is the captured one.
                assert_eq!(
                    req.response_head(ResponseCode::SUCCESS, &responder).envelope.version,
                    answer.envelope.version
                );
                let mut list = Vec::new();
                list.extend_from_slice(&(raw.len() as u32).to_be_bytes());
                raw.iter().for_each(|r| list.extend_from_slice(r));
                let mut out2 = Vec::new();
                encode_resolution_response_list(&mut out2, &head, r.digest.as_ref(), req.handle, &list).unwrap();
                assert_eq!(out2, captured, "{}", v.name);
            }
            Body::Error(e) => {
                let built = req.response_head(answer.header.response_code, &responder);
                let mut want = head;
                want.envelope.message_length = 0;
                assert_eq!(built, want, "{}", v.name);
                encode_error_response(&mut out, &built, e.digest.as_ref(), &e.message).unwrap();
                assert_eq!(out[1..], captured, "{}", v.name);
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} answers rebuilt");
}

/// Server-side builders (`Message::response_to` and friends) reproduce the
/// captured answers from the decoded requests.
#[test]
fn builders_reproduce_captured_answers() {
    // 402 challenge to the unauthenticated delete.
    let v = vector("tcp-delete-challenge");
    let req = Frame::parse(&v.request[0]).unwrap();
    let cap = Message::decode(&v.response[0]).unwrap();
    let Body::Challenge(c) = &cap.body else { panic!() };
    let mut m = Message::response_to(
        &req.envelope,
        &req.header,
        ResponseCode::AUTHENTICATION_NEEDED,
        &responder_of(&cap),
        Body::Challenge(ChallengeResponse { digest: req.response_digest(), nonce: c.nonce.clone() }),
    );
    m.envelope.session_id = 2;
    m.header.op_flags |= OpFlags::RD;
    assert_eq!(m.encode(), v.response[0]);

    // Site info.
    let v = vector("tcp-site-info");
    let req = Frame::parse(&v.request[0]).unwrap();
    let cap = Message::decode(&v.response[0]).unwrap();
    let Body::SiteInfoResponse(si) = &cap.body else { panic!() };
    let site: HsSite = si.site().unwrap();
    let m = Message::response_to(
        &req.envelope,
        &req.header,
        ResponseCode::SUCCESS,
        &responder_of(&cap),
        Body::SiteInfoResponse(SiteInfoResponse { digest: None, site: site.to_bytes() }),
    );
    assert_eq!(m.encode(), v.response[0]);

    // 303 prefix referral for a 2.10+ client; RC 2 for the 2.3 client.
    let v = vector("udp-prefix-referral");
    let req = Frame::parse(&v.request[0]).unwrap();
    assert!(req.envelope.accepts_prefix_referral());
    let cap = Message::decode(&v.response[0]).unwrap();
    let Body::Referral(r) = &cap.body else { panic!() };
    let m = Message::response_to(
        &req.envelope,
        &req.header,
        ResponseCode::PREFIX_REFERRAL,
        &responder_of(&cap),
        Body::Referral(ReferralResponse { digest: None, handle: vec![], values: r.values.clone() }),
    );
    assert_eq!(m.encode(), v.response[0]);
    let v = vector("udp-prefix-old-client");
    let req = Frame::parse(&v.request[0]).unwrap();
    assert!(!req.envelope.accepts_prefix_referral());
    let cap = Message::decode(&v.response[0]).unwrap();
    let Body::Error(e) = &cap.body else { panic!() };
    let m = Message::error_response(
        &req.envelope,
        &req.header,
        ResponseCode::ERROR,
        &responder_of(&cap),
        None,
        e.message.clone(),
    );
    assert_eq!(m.encode(), v.response[0]);

    // The answer to an undecodable request.
    for name in ["tcp-truncated-body", "tcp-garbage"] {
        let v = vector(name);
        let err = Message::decode(&v.request[0]).unwrap_err();
        let cap = Message::decode(&v.response[0]).unwrap();
        let m = Message::undecodable_request_error(err.to_string(), cap.header.expiration_time);
        assert_eq!(m.encode(), v.response[0], "{name}");
    }
}

/// idis-extensions.md §1.2 and §2.6 examples: the resolution trailer, a
/// 2001 login without a credential section, its challenge and success.
#[test]
fn idis_examples() {
    let req = hex::decode(
        concat!(
            "020a020b000000000000000500000000 0000003d",
            "000000010000000019000000ffff00006b01998700000021",
            "0000001138382e3838382e313032342f61646d696e",
            "000000000000000000000000",
            "00000000"
        )
        .replace(' ', ""),
    )
    .unwrap();
    let m = Message::decode(&req).unwrap();
    let Body::Resolution(r) = &m.body else { panic!() };
    assert_eq!(r.handle, b"88.888.1024/admin");
    assert_eq!(r.auth_token.as_deref(), Some(&[][..]));
    assert_eq!(m.encode(), req);
    let fast = ResolutionRequestRef::decode(&req).unwrap();
    assert_eq!(fast.auth_token, Some(&[][..]));
    assert!(fast.is_unfiltered());
    assert_eq!(m.header.op_flags, OpFlags::REC | OpFlags::CA | OpFlags::PO);

    // 2001 without the credential length (71 bytes).
    let login = hex::decode(
        concat!(
            "020a020b000027110000000200000000 00000033",
            "000007d10000000010800000ffff00006b0199870000001b",
            "0000001338382e3838382e313032342f736d3275736572",
            "0000012c"
        )
        .replace(' ', ""),
    )
    .unwrap();
    let frame = Frame::parse(&login).unwrap();
    assert_eq!(frame.credential, None);
    assert_eq!(
        hex::encode(frame.response_digest().as_bytes()),
        "1d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5"
    );
    let m = frame.to_message().unwrap();
    assert_eq!(m.header.op_code, OpCode::LOGIN_ID_SYSTEM);
    let Body::LoginIdSystem(l) = &m.body else { panic!() };
    assert_eq!((l.identity_handle.as_slice(), l.identity_index), (&b"88.888.1024/sm2user"[..], 300));
    // We always write the credential length: 4 bytes more.
    assert_eq!(m.encode().len(), login.len() + 4);

    let challenge = hex::decode(concat!(
        "020b020b00000007000000020000000000000051",
        "000007d10000019290800000000100006b01998700000035",
        "031d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5",
        "00000010000102030405060708090a0b0c0d0e0f",
        "00000000"
    ))
    .unwrap();
    let c = Message::decode(&challenge).unwrap();
    assert_eq!(c.body.digest(), Some(&frame.response_digest()));
    assert_eq!(c.encode(), challenge);
    let success = hex::decode(concat!(
        "020b020b0000000700000003000000000000003d",
        "000007d10000000190800000000100006b01998700000021",
        "031d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5",
        "00000000"
    ))
    .unwrap();
    let s = Message::decode(&success).unwrap();
    assert!(matches!(&s.body, Body::Success(b) if b.digest.is_some()));
    assert_eq!(s.encode(), success);
}
