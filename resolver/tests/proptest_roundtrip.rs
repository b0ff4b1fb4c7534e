//! Property tests: decode(encode(m)) == m for every message type and for
//! the HS_SITE / HS_ADMIN / HS_VLIST / HS_PUBKEY records; decoding arbitrary
//! bytes never panics.

use idnode_registry::model::site::{Interface, SiteAttribute, SiteServer};
use idnode_registry::model::{AdminRecord, HsSite, PublicKey, Reference, TtlType, Value, ValueList};
use idnode_resolver::wire::{
    Body, ChallengeAnswer, ChallengeResponse, CreateResponse, Credential, CredentialParts, DigestAlg, DigestField,
    Envelope, ErrorResponse, HandleBody, HandleListResponse, HandleValues, Header, LoginRequest, Message, OpCode,
    OpFlags, ProtocolVersion, ReferralResponse, RemoveValues, RequestDigest, ResolutionRequest, ResolutionRequestRef,
    ResolutionResponse, ResponseCode, SessionSetupRequest, SessionSetupResponse, SiteInfoResponse, SuccessResponse,
    VerifyChallengeRequest, VerifyChallengeResponse, fuzzing,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn handle() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(b"TEST/abc".to_vec()), Just(b"0.NA/88.118.8".to_vec()), bytes(40),]
}

fn type_name() -> impl Strategy<Value = Vec<u8>> {
    "[A-Z_.0-9]{0,14}".prop_map(String::into_bytes)
}

fn value() -> impl Strategy<Value = Value> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        any::<i32>(),
        any::<u8>(),
        type_name(),
        bytes(64),
        vec((bytes(20), any::<u32>()), 0..3),
    )
        .prop_map(|(index, timestamp, abs, ttl, permissions, value_type, data, refs)| Value {
            index,
            timestamp,
            ttl_type: if abs { TtlType::Absolute } else { TtlType::Relative },
            ttl,
            permissions,
            value_type,
            data,
            references: refs.into_iter().map(|(handle, index)| Reference { handle, index }).collect(),
        })
}

fn values() -> impl Strategy<Value = Vec<Value>> {
    vec(value(), 0..4)
}

fn typed_digest() -> impl Strategy<Value = RequestDigest> {
    (prop_oneof![Just(DigestAlg::Md5), Just(DigestAlg::Sha1), Just(DigestAlg::Sha256)], bytes(64))
        .prop_map(|(alg, input)| RequestDigest::compute(alg, &input))
}

fn opt_digest() -> impl Strategy<Value = Option<RequestDigest>> {
    option::of(typed_digest())
}

fn op(codes: &'static [u32]) -> impl Strategy<Value = OpCode> {
    proptest::sample::select(codes).prop_map(OpCode)
}

/// `(op code, response code, body)` consistent with each other.
fn request_case() -> impl Strategy<Value = (OpCode, ResponseCode, Body)> {
    let rc0 = ResponseCode::RESERVED;
    prop_oneof![
        (handle(), vec(any::<u32>(), 0..4), vec(type_name(), 0..4), option::of(bytes(40))).prop_map(
            move |(handle, indexes, types, auth_token)| (
                OpCode::RESOLUTION,
                rc0,
                Body::Resolution(ResolutionRequest { handle, indexes, types, auth_token })
            )
        ),
        (op(&[2, 101, 105, 300, 301, 302, 401]), handle()).prop_map(move |(op, handle)| {
            let b = HandleBody { handle };
            let body = match op.0 {
                2 => Body::GetSiteInfo(b),
                101 => Body::DeleteHandle(b),
                105 => Body::ListHandles(b),
                300 => Body::HomeNa(b),
                301 => Body::UnhomeNa(b),
                302 => Body::ListHomedNas(b),
                _ => Body::SessionTerminate(b),
            };
            (op, rc0, body)
        }),
        (op(&[100, 102, 104]), handle(), values()).prop_map(move |(op, handle, values)| {
            let b = HandleValues { handle, values };
            let body = match op.0 {
                100 => Body::CreateHandle(b),
                102 => Body::AddValue(b),
                _ => Body::ModifyValue(b),
            };
            (op, rc0, body)
        }),
        (handle(), vec(any::<u32>(), 0..5)).prop_map(move |(handle, indexes)| (
            OpCode::REMOVE_VALUE,
            rc0,
            Body::RemoveValue(RemoveValues { handle, indexes })
        )),
        (bytes(12), handle(), any::<u32>(), bytes(80)).prop_map(move |(a, h, i, s)| (
            OpCode::RESPONSE_TO_CHALLENGE,
            rc0,
            Body::ChallengeAnswer(ChallengeAnswer {
                auth_type: a,
                identity_handle: h,
                identity_index: i,
                signed_response: s
            })
        )),
        (
            handle(),
            any::<u32>(),
            bytes(20),
            prop_oneof![bytes(40).prop_map(DigestField::LengthPrefixed), typed_digest().prop_map(DigestField::Typed)],
            bytes(40)
        )
            .prop_map(move |(h, i, nonce, d, s)| (
                OpCode::VERIFY_CHALLENGE,
                rc0,
                Body::VerifyChallenge(VerifyChallengeRequest {
                    identity_handle: h,
                    identity_index: i,
                    nonce,
                    request_digest: d,
                    signed_response: s
                })
            )),
        (any::<u16>(), any::<u32>(), handle(), any::<u32>(), bytes(60)).prop_map(move |(mode, timeout, h, i, x)| (
            OpCode::SESSION_SETUP,
            rc0,
            Body::SessionSetup(SessionSetupRequest {
                key_exchange_mode: mode,
                timeout,
                identity_handle: h,
                identity_index: i,
                exchange_data: x
            })
        )),
        bytes(60).prop_map(move |b| (OpCode::SESSION_EXCHANGEKEY, rc0, Body::SessionExchangeKey(b))),
        (handle(), any::<u32>()).prop_map(move |(h, i)| (
            OpCode::LOGIN_ID_SYSTEM,
            rc0,
            Body::LoginIdSystem(LoginRequest { identity_handle: h, identity_index: i })
        )),
        (op(&[1000, 1001, 1002, 1003]), bytes(60)).prop_map(move |(op, b)| (op, rc0, Body::Replication(b))),
        (op(&[0, 3, 106, 999, 2000, 70000]), bytes(60)).prop_map(move |(op, b)| (op, rc0, Body::Unknown(b))),
    ]
}

fn response_case() -> impl Strategy<Value = (OpCode, ResponseCode, Body)> {
    let ok = ResponseCode::SUCCESS;
    prop_oneof![
        (opt_digest(), handle(), values()).prop_map(move |(digest, handle, values)| (
            OpCode::RESOLUTION,
            ok,
            Body::ResolutionResponse(ResolutionResponse { digest, handle, values })
        )),
        (opt_digest(), bytes(80)).prop_map(move |(digest, site)| (
            OpCode::GET_SITE_INFO,
            ok,
            Body::SiteInfoResponse(SiteInfoResponse { digest, site })
        )),
        (opt_digest(), option::of(handle())).prop_map(move |(digest, handle)| (
            OpCode::CREATE_HANDLE,
            ok,
            Body::CreateResponse(CreateResponse { digest, handle })
        )),
        (op(&[101, 102, 103, 104, 300, 301, 401, 2001]), opt_digest()).prop_map(move |(op, digest)| (
            op,
            ok,
            Body::Success(SuccessResponse { digest })
        )),
        (op(&[105, 302]), opt_digest(), vec(handle(), 0..4)).prop_map(move |(op, digest, handles)| (
            op,
            ok,
            Body::HandleList(HandleListResponse { digest, handles })
        )),
        (opt_digest(), any::<u8>()).prop_map(move |(digest, result)| (
            OpCode::VERIFY_CHALLENGE,
            ok,
            Body::VerifyResponse(VerifyChallengeResponse { digest, result })
        )),
        (opt_digest(), any::<u16>(), bytes(60)).prop_map(move |(digest, mode, x)| (
            OpCode::SESSION_SETUP,
            ok,
            Body::SessionSetupResponse(SessionSetupResponse { digest, key_exchange_mode: mode, exchange_data: x })
        )),
        (op(&[1000, 1001, 1002, 1003]), bytes(60)).prop_map(move |(op, b)| (op, ok, Body::Replication(b))),
        (op(&[0, 200, 402, 2000, 106]), bytes(60)).prop_map(move |(op, b)| (op, ok, Body::Unknown(b))),
        (any::<u32>(), prop_oneof![Just(302u32), Just(303)], opt_digest(), handle(), option::of(values())).prop_map(
            |(op, rc, digest, handle, values)| (
                OpCode(op),
                ResponseCode(rc),
                Body::Referral(ReferralResponse { digest, handle, values })
            )
        ),
        (any::<u32>(), typed_digest(), bytes(20)).prop_map(|(op, digest, nonce)| (
            OpCode(op),
            ResponseCode::AUTHENTICATION_NEEDED,
            Body::Challenge(ChallengeResponse { digest, nonce })
        )),
        (
            any::<u32>(),
            proptest::sample::select(&[2u32, 3, 4, 5, 6, 100, 101, 200, 202, 301, 401, 500, 9999][..]),
            opt_digest(),
            bytes(40)
        )
            .prop_map(|(op, rc, digest, message)| (
                OpCode(op),
                ResponseCode(rc),
                Body::Error(ErrorResponse { digest, message })
            )),
    ]
}

fn credential() -> impl Strategy<Value = Option<Credential>> {
    prop_oneof![
        Just(None),
        vec(any::<u8>(), 1..40).prop_map(|raw| Some(Credential::from_raw(raw))),
        (bytes(10), any::<u32>(), bytes(12), bytes(40))
            .prop_map(|(t, c, a, s)| Some(Credential::from_parts(CredentialParts::new(&t, c, &a, &s)))),
    ]
}

fn message_from(case: impl Strategy<Value = (OpCode, ResponseCode, Body)>) -> impl Strategy<Value = Message> {
    (
        (1u8..=11, 0u8..=3, any::<u8>(), any::<u8>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<u32>(), any::<u16>(), any::<u8>(), any::<u32>()),
        case,
        credential(),
    )
        .prop_map(
            |((minor, smaj, smin, flags), (sid, rid, seq), (fl, serial, rec, exp), (op, rc, body), credential)| {
                // RC 303 is a referral only in messages ≥ 2.5.
                let minor = if rc == ResponseCode::PREFIX_REFERRAL { minor.max(5) } else { minor };
                Message {
                    envelope: Envelope {
                        version: ProtocolVersion::new(2, minor),
                        flags: flags & 0x3c, // never CP / EC
                        suggested: ProtocolVersion::new(smaj, smin),
                        session_id: sid,
                        request_id: rid,
                        sequence_number: seq,
                        message_length: 0,
                    },
                    header: Header {
                        op_code: op,
                        response_code: rc,
                        op_flags: OpFlags(fl),
                        site_info_serial: serial,
                        recursion_count: rec,
                        expiration_time: exp,
                    },
                    body,
                    credential,
                }
            },
        )
}

/// What the decoder must return for `m`: the computed lengths and the RD
/// bit the encoder derives from the body.
fn normalized(m: &Message, encoded: &[u8]) -> Message {
    let mut n = m.clone();
    n.envelope.message_length = (encoded.len() - 20) as u32;
    n.envelope.flags &= 0xfc;
    n.header.op_flags = m.effective_op_flags();
    n
}

proptest! {
    #[test]
    fn requests_round_trip(m in message_from(request_case())) {
        let b = m.encode();
        let d = Message::decode(&b).unwrap();
        prop_assert_eq!(&d, &normalized(&m, &b));
        prop_assert_eq!(d.encode(), b.clone());
        if let Body::Resolution(r) = &m.body {
            let fast = ResolutionRequestRef::decode(&b).unwrap();
            prop_assert_eq!(&fast.to_request(), r);
            prop_assert_eq!(fast.handle, r.handle.as_slice());
            prop_assert_eq!(fast.indexes().collect::<Vec<_>>(), r.indexes.clone());
        } else {
            prop_assert!(ResolutionRequestRef::decode(&b).is_err());
        }
    }

    #[test]
    fn responses_round_trip(m in message_from(response_case())) {
        let b = m.encode();
        let d = Message::decode(&b).unwrap();
        prop_assert_eq!(&d, &normalized(&m, &b));
        prop_assert_eq!(d.encode(), b);
    }

    #[test]
    fn legacy_digest_round_trips(input in bytes(40), msg in bytes(20)) {
        let mut m = Message::error_response(
            &Envelope::request(ProtocolVersion::new(2, 0), 1),
            &Header::request(OpCode::RESOLUTION, OpFlags::RD, 0),
            ResponseCode::HANDLE_NOT_FOUND,
            &idnode_resolver::wire::Responder { site_serial: 1, primary: true, expiration: 0 },
            Some(RequestDigest::compute(DigestAlg::LegacyMd5, &input)),
            msg,
        );
        m.envelope.version = ProtocolVersion::new(2, 0);
        m.envelope.suggested = ProtocolVersion::new(0, 0);
        let b = m.encode();
        prop_assert_eq!(m.envelope.version, ProtocolVersion::new(2, 0));
        let d = Message::decode(&b).unwrap();
        prop_assert_eq!(&d, &normalized(&m, &b));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(700)) {
        fuzzing::decode_message(&data);
    }

    /// Random bodies inside a well-formed frame reach the body decoders.
    #[test]
    fn random_bodies_never_panic(
        op in op(&[1, 2, 100, 101, 102, 103, 104, 105, 200, 201, 300, 302, 400, 401, 402, 1000, 2001, 7]),
        rc in proptest::sample::select(&[0u32, 1, 2, 100, 302, 303, 402][..]),
        flags in any::<u32>(),
        minor in 0u8..12,
        body in bytes(120),
        cred in option::of(bytes(30)),
    ) {
        let mut msg = Vec::new();
        msg.extend_from_slice(&[2, minor, 2, 11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        msg.extend_from_slice(&op.0.to_be_bytes());
        msg.extend_from_slice(&rc.to_be_bytes());
        msg.extend_from_slice(&flags.to_be_bytes());
        msg.extend_from_slice(&[0xff, 0xff, 0, 0, 0x6b, 0, 0, 0]);
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes());
        msg.extend_from_slice(&body);
        if let Some(c) = cred {
            msg.extend_from_slice(&(c.len() as u32).to_be_bytes());
            msg.extend_from_slice(&c);
        }
        let len = (msg.len() - 20) as u32;
        msg[16..20].copy_from_slice(&len.to_be_bytes());
        fuzzing::decode_message(&msg);
    }
}

fn site() -> impl Strategy<Value = HsSite> {
    let server = (any::<u32>(), any::<[u8; 16]>(), bytes(40), vec((any::<u8>(), any::<u8>(), any::<u32>()), 0..4))
        .prop_map(|(server_id, address, public_key, ifs)| SiteServer {
            server_id,
            address,
            public_key,
            interfaces: ifs.into_iter().map(|(kind, protocol, port)| Interface { kind, protocol, port }).collect(),
        });
    (
        (any::<u16>(), any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>(), any::<u8>()),
        bytes(10),
        vec((bytes(10), bytes(20)), 0..4),
        vec(server, 0..4),
    )
        .prop_map(|((dfv, maj, min, serial, pm, ho), hash_filter, attrs, servers)| HsSite {
            data_format_version: dfv,
            protocol_major: maj,
            protocol_minor: min,
            serial_number: serial,
            primary_mask: pm,
            hash_option: ho,
            hash_filter,
            attributes: attrs.into_iter().map(|(name, value)| SiteAttribute { name, value }).collect(),
            servers,
        })
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    prop_oneof![
        (any::<u16>(), bytes(8), bytes(40), bytes(6))
            .prop_map(|(flags, exponent, modulus, extra)| { PublicKey::Rsa { flags, exponent, modulus, extra } }),
        (any::<u16>(), bytes(8), bytes(20), bytes(8), bytes(20), bytes(6))
            .prop_map(|(flags, q, p, g, y, extra)| PublicKey::Dsa { flags, q, p, g, y, extra }),
        (any::<u16>(), bytes(20), bytes(20), bytes(2), bytes(6)).prop_map(|(flags, y, p, g, extra)| PublicKey::Dh {
            flags,
            y,
            p,
            g,
            extra
        }),
        "[A-Za-z0-9+/=\r\n]{0,60}"
            .prop_map(|body| PublicKey::Pem(format!("-----BEGIN PUBLIC KEY-----\r\n{body}").into_bytes())),
        ("[A-Z0-9_]{0,12}", bytes(30))
            .prop_filter("known key types decode to their own variant", |(t, _)| {
                !["RSA_PUB_KEY", "DSA_PUB_KEY", "DH_PUB_KEY"].contains(&t.as_str())
            })
            .prop_map(|(t, rest)| PublicKey::Other { key_type: t.into_bytes(), rest }),
    ]
}

proptest! {
    #[test]
    fn hs_site_round_trips(s in site()) {
        let b = s.to_bytes();
        prop_assert_eq!(b.len(), s.encoded_len());
        prop_assert_eq!(HsSite::from_bytes(&b).unwrap(), s);
    }

    #[test]
    fn hs_admin_round_trips(p in any::<u16>(), h in bytes(60), i in any::<u32>(), legacy in any::<bool>()) {
        let a = AdminRecord { permissions: p, admin_handle: h, admin_index: i, legacy_trailer: legacy };
        let b = a.to_bytes();
        prop_assert_eq!(b.len(), a.encoded_len());
        prop_assert_eq!(AdminRecord::from_bytes(&b).unwrap(), a);
    }

    #[test]
    fn hs_vlist_round_trips(members in vec((bytes(30), any::<u32>()), 0..6)) {
        let v = ValueList::new(members.into_iter().map(|(handle, index)| Reference { handle, index }).collect());
        let b = v.to_bytes();
        prop_assert_eq!(b.len(), v.encoded_len());
        prop_assert_eq!(ValueList::from_bytes(&b).unwrap(), v);
    }

    #[test]
    fn hs_pubkey_round_trips(k in public_key()) {
        let b = k.to_bytes();
        prop_assert_eq!(PublicKey::from_bytes(&b).unwrap(), k);
    }

    #[test]
    fn record_decoders_never_panic(data in bytes(300)) {
        let _ = HsSite::from_bytes(&data);
        let _ = AdminRecord::from_bytes(&data);
        let _ = ValueList::from_bytes(&data);
        let _ = PublicKey::from_bytes(&data);
    }
}
