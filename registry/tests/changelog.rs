//! The change log as followers (outbox, mirrors, a later store backend) see
//! it: every kind of change is logged with the documented key format
//! (docs/architecture.md "Change log"), only durable sequence numbers are
//! shown, consumer positions survive a reopen, and retention by age and by
//! size never removes what a registered consumer still needs.

use std::sync::Arc;

use idnode_registry::model::{Alias, ChangeOp, Enterprise, Identity, Prefix, Role, Template, Value};
use idnode_registry::store::{Retention, SledOptions, SledStore, Store, StoreError, StoreExt, WriteCtx};

const NOW: u64 = 1_767_225_600; // 2026-01-01

fn open(dir: &std::path::Path) -> SledStore {
    SledStore::open(SledOptions::new(dir).cache_capacity(8 << 20).now(NOW)).unwrap()
}

fn template(prefix: &str, version: &str, t: u64) -> Template {
    Template {
        id: 1,
        prefix: prefix.into(),
        version: version.into(),
        description: String::new(),
        industry_category: String::new(),
        industry_specific: String::new(),
        industry_trade: String::new(),
        industry_subclass: String::new(),
        object_type: 1,
        handle: None,
        items: Vec::new(),
        created: t,
        updated: t,
    }
}

#[test]
fn every_kind_of_change_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let ctx = WriteCtx::new(NOW, "alice");
    s.put_prefix(&Prefix::homed("88.1", NOW), &ctx).unwrap();
    s.create_record(b"88.1/A", vec![Value::new(1, "URL", "u")], false, &ctx).unwrap();
    s.put_enterprise(&Enterprise::new(7, "E", "C", NOW + 1)).unwrap();
    s.put_identity(&Identity::new("bob", Role::EnterpriseUser, "h", NOW + 2)).unwrap();
    s.put_template(&template("88.1.1", "1.0", NOW + 3)).unwrap();
    s.put_alias(&Alias { scheme: "oid".into(), code: "1.2".into(), target: "88.1/A".into(), created: NOW + 4 })
        .unwrap();
    s.delete_alias("oid", "1.2").unwrap();
    s.delete_template("88.1.1", "1.0").unwrap();
    s.delete_identity("bob").unwrap();
    s.delete_enterprise(7).unwrap();
    s.delete_record(b"88.1/A", &ctx).unwrap();
    s.delete_prefix("88.1", &ctx).unwrap();
    // A delete of something absent is refused and logs nothing.
    let before = s.last_seq();
    assert!(matches!(s.delete_identity("bob"), Err(StoreError::EntityNotFound { .. })));
    assert_eq!(s.last_seq(), before);

    let ch = s.changes_since(0, 100).unwrap();
    let got: Vec<(ChangeOp, Vec<u8>)> = ch.iter().map(|c| (c.op, c.key.clone())).collect();
    let want: Vec<(ChangeOp, Vec<u8>)> = vec![
        (ChangeOp::PrefixPut, b"88.1".to_vec()),
        (ChangeOp::Create, b"88.1/A".to_vec()),
        (ChangeOp::EnterprisePut, 7u64.to_be_bytes().to_vec()),
        (ChangeOp::IdentityPut, b"bob".to_vec()),
        (ChangeOp::TemplatePut, b"88.1.1\x001.0".to_vec()),
        (ChangeOp::AliasPut, b"oid\x001.2".to_vec()),
        (ChangeOp::AliasDelete, b"oid\x001.2".to_vec()),
        (ChangeOp::TemplateDelete, b"88.1.1\x001.0".to_vec()),
        (ChangeOp::IdentityDelete, b"bob".to_vec()),
        (ChangeOp::EnterpriseDelete, 7u64.to_be_bytes().to_vec()),
        (ChangeOp::Delete, b"88.1/A".to_vec()),
        (ChangeOp::PrefixDelete, b"88.1".to_vec()),
    ];
    assert_eq!(got, want);
    assert!(ch.windows(2).all(|w| w[1].seq == w[0].seq + 1), "gap-free");
    assert!(ch[2..10].windows(2).all(|w| w[1].time >= w[0].time), "entity times never go back");
    assert_eq!(ch[4].time, NOW + 3, "an entity put carries the entity's own time");
    assert_eq!(ch[6].time, NOW + 4, "a delete carries the latest time logged");
    assert_eq!(ch[0].actor, "alice");
    assert!(ch.iter().filter(|c| c.op.is_delete()).count() == 6);
    assert!(ch.iter().filter(|c| c.op.is_prefix()).count() == 2);
}

#[test]
fn followers_see_only_durable_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let ctx = WriteCtx::new(NOW, "w");
                for i in 0..200 {
                    let r = s.create_record(format!("88.1/{t}-{i}").as_bytes(), vec![], false, &ctx).unwrap();
                    // Acknowledged means durable, and durable_seq says so.
                    assert!(s.durable_seq() >= r.seq);
                }
            })
        })
        .collect();
    let mut after = 0u64;
    let mut seen = 0usize;
    while seen < 800 {
        let batch = s.changes_since(after, 50).unwrap();
        let durable = s.durable_seq();
        for c in &batch {
            assert!(c.seq <= durable, "shown seq {} beyond durable {durable}", c.seq);
            assert_eq!(c.seq, after + 1, "in order, gap-free");
            after = c.seq;
            seen += 1;
        }
        if batch.is_empty() {
            std::thread::yield_now();
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(s.durable_seq(), s.last_seq());
}

#[test]
fn consumer_positions_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        assert_eq!(s.consumer_position("outbox").unwrap(), None);
        s.set_consumer_position("outbox", 5, NOW).unwrap();
        s.set_consumer_position("mirror:b", 3, NOW).unwrap();
        s.set_consumer_position("outbox", 9, NOW + 1).unwrap();
        assert!(matches!(s.set_consumer_position("", 1, NOW), Err(StoreError::Invalid(_))));
    }
    let s = open(dir.path());
    assert_eq!(s.consumer_position("outbox").unwrap(), Some(9));
    let all: Vec<(String, u64)> = s.consumers().unwrap().into_iter().map(|c| (c.name, c.position)).collect();
    assert_eq!(all, [("mirror:b".to_owned(), 3), ("outbox".to_owned(), 9)]);
    s.remove_consumer("mirror:b").unwrap();
    assert!(matches!(s.remove_consumer("mirror:b"), Err(StoreError::EntityNotFound { .. })));
    assert_eq!(s.consumers().unwrap().len(), 1);
}

#[test]
fn retention_by_age_and_size_respects_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // 10 changes a day apart.
    for day in 0..10u64 {
        let ctx = WriteCtx::new(NOW + day * 86_400, "t");
        s.create_record(format!("88.1/d{day}").as_bytes(), vec![Value::new(1, "URL", "x")], false, &ctx).unwrap();
    }
    let now = NOW + 9 * 86_400;
    assert_eq!(s.first_seq().unwrap(), 1);

    // A consumer at 3 holds everything after it.
    s.set_consumer_position("outbox", 3, now).unwrap();
    let r = s.prune_changelog(&Retention { max_age_secs: Some(2 * 86_400), max_bytes: None }, now).unwrap();
    assert_eq!(r.removed, 3, "{r:?}");
    assert_eq!(r.kept, 7);
    assert!(r.held_for_consumers > 0);
    assert_eq!(s.first_seq().unwrap(), 4);

    // The consumer moves on: age retention keeps the last 3 days (days 7, 8, 9).
    s.set_consumer_position("outbox", 10, now).unwrap();
    let r = s.prune_changelog(&Retention { max_age_secs: Some(2 * 86_400), max_bytes: None }, now).unwrap();
    assert_eq!((r.removed, r.kept, r.held_for_consumers), (4, 3, 0), "{r:?}");
    assert_eq!(s.changes_since(0, 100).unwrap().iter().map(|c| c.seq).collect::<Vec<_>>(), [8, 9, 10]);

    // Size: keep at most what one entry takes.
    let one = r.kept_bytes / 3;
    let r = s.prune_changelog(&Retention { max_age_secs: None, max_bytes: Some(one) }, now).unwrap();
    assert_eq!((r.removed, r.kept), (2, 1), "{r:?}");
    assert!(r.kept_bytes <= one);
    assert_eq!(s.first_seq().unwrap(), 10);

    // No limits: nothing to do.
    let r = s.prune_changelog(&Retention::default(), now).unwrap();
    assert_eq!((r.removed, r.kept), (0, 1));
    // The sequence continues after pruning and a reopen.
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.last_seq(), 10);
    let w = s.create_record(b"88.1/after", vec![], false, &WriteCtx::new(now, "t")).unwrap();
    assert_eq!(w.seq, 11);
}
