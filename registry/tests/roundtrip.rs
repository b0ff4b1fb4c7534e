//! Property tests: decode(encode(x)) == x for every stored type, and
//! parse(display(id)) == id for identifiers.

use std::collections::BTreeMap;

use idnode_registry::ident::{CasePolicy, Identifier, canonical_key_into};
use idnode_registry::model::template::ItemMetadata;
use idnode_registry::model::{
    Alias, AuditEntry, Change, ChangeOp, Contact, DayCounters, Enterprise, EnterpriseStatus, HostingState, Identity,
    Prefix, PrefixState, Quota, Record, RecordBytes, Reference, Role, Stored, Template, TemplateItem, TokenHash,
    TtlType, Value, encode_record,
};
use idnode_registry::store::StoreMeta;
use idnode_registry::transfer::{parse_json_line, to_json_line};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

prop_compose! {
    fn value()(
        index in any::<u32>(), timestamp in any::<u32>(), abs in any::<bool>(), ttl in any::<i32>(),
        permissions in 0u8..16, value_type in "[A-Za-z_.0-9]{0,12}|\\PC{0,6}",
        data in proptest::collection::vec(any::<u8>(), 0..48),
        refs in proptest::collection::vec(("\\PC{0,12}".prop_map(String::into_bytes), any::<u32>()), 0..3),
    ) -> Value {
        Value {
            index, timestamp, ttl, permissions,
            ttl_type: if abs { TtlType::Absolute } else { TtlType::Relative },
            value_type: value_type.into_bytes(), data,
            references: refs.into_iter().map(|(handle, index)| Reference { handle, index }).collect(),
        }
    }
}

fn values() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(value(), 0..8)
}

fn prefix_state() -> impl Strategy<Value = PrefixState> {
    (0u8..=5).prop_map(|c| PrefixState::from_code(c).unwrap())
}

fn hosting() -> impl Strategy<Value = HostingState> {
    (1u8..=4).prop_map(|c| HostingState::from_code(c).unwrap())
}

fn policy() -> impl Strategy<Value = CasePolicy> {
    prop_oneof![Just(CasePolicy::CaseSensitive), Just(CasePolicy::CaseInsensitive)]
}

prop_compose! {
    fn prefix()(
        prefix in "[0-9a-zA-Z]{1,4}(\\.[0-9a-zA-Z]{1,5}){0,4}", state in prefix_state(), hosting in hosting(),
        homed in any::<bool>(), enterprise_id in any::<Option<u64>>(), case_policy in policy(),
        created in any::<u64>(), updated in any::<u64>(),
        site in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        max_registrations in any::<Option<u64>>(), daily_requests in any::<Option<u64>>(),
        proxy_server_id in any::<Option<u64>>(), description in text(),
    ) -> Prefix {
        Prefix { prefix, state, hosting, homed, enterprise_id, case_policy, created, updated, site,
            quota: Quota { max_registrations, daily_requests }, proxy_server_id, description }
    }
}

prop_compose! {
    fn enterprise()(
        id in any::<u64>(), name in text(), credit_code in text(), nature in 0u8..6, address in text(),
        region in proptest::collection::vec(text(), 0..3), website in text(), industry in text(),
        description in text(), contact in (text(), text(), text()), status in 0usize..4,
        created in any::<u64>(), updated in any::<u64>(),
        extra in proptest::collection::btree_map(text(), text(), 0..4),
    ) -> Enterprise {
        let status = [EnterpriseStatus::Pending, EnterpriseStatus::Approved, EnterpriseStatus::Rejected,
            EnterpriseStatus::Disabled][status];
        Enterprise { id, name, credit_code, nature, address, region, website, industry, description,
            contact: Contact { name: contact.0, email: contact.1, phone: contact.2 }, status, created, updated,
            extra: extra.into_iter().collect::<BTreeMap<_, _>>() }
    }
}

prop_compose! {
    fn identity()(
        username in text(), role in 0usize..3, enterprise_id in any::<Option<u64>>(), password_hash in text(),
        tokens in proptest::collection::vec((text(), "[0-9a-f]{64}", text(), any::<u64>(), any::<Option<u64>>()), 0..3),
        email in text(), mobile in text(), handle_identity in proptest::option::of(text()),
        created in any::<u64>(), disabled in any::<bool>(),
    ) -> Identity {
        Identity {
            username, role: [Role::PlatformAdmin, Role::EnterpriseUser, Role::Auditor][role], enterprise_id,
            password_hash,
            api_tokens: tokens.into_iter().map(|(id, hash, label, created, expires)| TokenHash { id, hash, label, created, expires }).collect(),
            email, mobile, handle_identity, created, disabled, snms_v1_verifier: None,
        }
    }
}

prop_compose! {
    fn item()(
        name in text(), id_type in text(), id_index in any::<u32>(), required in any::<bool>(), enabled in any::<bool>(),
        metadata_id in any::<u64>(), data_type in text(), min_length in any::<Option<u32>>(), max_length in any::<Option<u32>>(),
    ) -> TemplateItem {
        TemplateItem { name, id_type, id_index, required, enabled, metadata_id,
            metadata: ItemMetadata { data_type, min_length, max_length } }
    }
}

prop_compose! {
    fn template()(
        id in any::<u64>(), prefix in text(), version in text(), description in text(),
        industry in (text(), text(), text(), text()), object_type in any::<u8>(),
        handle in proptest::option::of(text()), items in proptest::collection::vec(item(), 0..4),
        created in any::<u64>(), updated in any::<u64>(),
    ) -> Template {
        Template { id, prefix, version, description, industry_category: industry.0, industry_specific: industry.1,
            industry_trade: industry.2, industry_subclass: industry.3, object_type, handle, items, created, updated }
    }
}

fn change_op() -> impl Strategy<Value = ChangeOp> {
    prop_oneof![
        Just(ChangeOp::Create),
        Just(ChangeOp::Delete),
        Just(ChangeOp::AddValues),
        Just(ChangeOp::ModifyValues),
        Just(ChangeOp::RemoveValues),
        Just(ChangeOp::Replace),
        Just(ChangeOp::PrefixPut),
        Just(ChangeOp::PrefixDelete),
    ]
}

fn round_trip<T: Stored + PartialEq + std::fmt::Debug>(x: &T) {
    let b = x.to_stored();
    assert_eq!(b[0], 1, "schema-version byte");
    assert_eq!(&T::from_stored(&b).unwrap(), x);
}

proptest! {
    #[test]
    fn record_round_trip(vs in values()) {
        let stored = encode_record(&vs);
        prop_assert_eq!(stored[0], 1);
        prop_assert_eq!(&Record::decode(&stored).unwrap().values, &vs);
        let rb = RecordBytes::new(stored.clone()).unwrap();
        prop_assert_eq!(rb.len(), vs.len());
        prop_assert_eq!(&rb.values().unwrap(), &vs);
        // The zero-copy views are exactly the wire encodings, in order.
        let mut concat = Vec::new();
        for (view, v) in rb.iter().zip(&vs) {
            prop_assert_eq!(view.index, v.index);
            prop_assert_eq!(view.raw, &v.to_bytes()[..]);
            concat.extend_from_slice(view.raw);
        }
        prop_assert_eq!(&rb.value_list()[4..], &concat[..]);
        // Any truncation is refused, never a panic.
        if !stored.is_empty() {
            let cut = stored.len() / 2;
            prop_assert!(RecordBytes::new(stored[..cut].to_vec()).is_err() || cut == 0);
        }
    }

    #[test]
    fn json_line_round_trip(vs in values()) {
        let line = to_json_line("88.1/x", &vs);
        let (id, back) = parse_json_line(&line).unwrap();
        prop_assert_eq!(id.as_str(), "88.1/x");
        prop_assert_eq!(back, vs);
    }

    #[test]
    fn entities_round_trip(p in prefix(), e in enterprise(), i in identity(), t in template()) {
        round_trip(&p);
        round_trip(&e);
        round_trip(&i);
        round_trip(&t);
    }

    #[test]
    fn log_types_round_trip(
        seq in any::<u64>(), time in any::<u64>(), op in change_op(), key in proptest::collection::vec(any::<u8>(), 0..40),
        actor in text(), regs in any::<u64>(), res in any::<u64>(), strings in (text(), text(), text(), text()),
    ) {
        round_trip(&Change { seq, time, op, key, actor: actor.clone() });
        round_trip(&DayCounters { registrations: regs, resolutions: res });
        round_trip(&AuditEntry { seq, time, actor: actor.clone(), action: strings.0.clone(), target: strings.1.clone(),
            outcome: strings.2.clone(), detail: strings.3.clone() });
        round_trip(&Alias { scheme: strings.0, code: strings.1, target: strings.2, created: time });
        round_trip(&StoreMeta { schema: res as u32, node_id: actor, created: time });
    }

    #[test]
    fn identifier_parse_display(prefix in "[0-9A-Za-z._-]{1,20}", suffix in proptest::option::of("\\PC{1,40}")) {
        let s = match &suffix { Some(x) => format!("{prefix}/{x}"), None => prefix.clone() };
        let id = Identifier::parse(&s).unwrap();
        prop_assert_eq!(Identifier::parse(&id.to_string()).unwrap(), id.clone());
        prop_assert_eq!(Identifier::from_bytes(s.as_bytes()).unwrap(), id.clone());
        prop_assert_eq!(id.as_str(), s.as_str());
        prop_assert_eq!(id.prefix(), prefix.as_str());
        prop_assert_eq!(id.suffix(), suffix.as_deref());
        let mut k = Vec::new();
        canonical_key_into(s.as_bytes(), CasePolicy::CaseSensitive, &mut k);
        match &suffix {
            Some(x) if !prefix.eq_ignore_ascii_case("0.NA") => {
                prop_assert_eq!(&k, &format!("{}/{x}", prefix.to_ascii_uppercase()).into_bytes());
            }
            Some(_) => prop_assert_eq!(&k, &s.to_ascii_uppercase().into_bytes()),
            None => prop_assert_eq!(&k, &format!("0.NA/{}", prefix.to_ascii_uppercase()).into_bytes()),
        }
        canonical_key_into(s.as_bytes(), CasePolicy::CaseInsensitive, &mut k);
        if suffix.is_some() {
            prop_assert_eq!(k, s.to_ascii_uppercase().into_bytes());
        }
    }
}
