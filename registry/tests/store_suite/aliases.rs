//! Store suite cases about aliases and the resolution reads built on them:
//! entities and aliases, stamped resolution reads, the sled alias filter.

use idnode_registry::model::{Alias, RecordBytes};
use idnode_registry::store::{ReadStamp, Resolution};

use super::*;

pub(crate) fn entities_and_aliases(f: Fixture) {
    let s = &f.store;
    let id1 = s.next_id().unwrap();
    let id2 = s.next_id().unwrap();
    assert!(id1 > 0 && id2 > id1);
    for id in [id1, id2] {
        s.put_enterprise(&Enterprise::new(id, format!("E{id}"), "code", NOW)).unwrap();
    }
    assert_eq!(s.get_enterprise(id1).unwrap().unwrap().name, format!("E{id1}"));
    assert_eq!(s.list_enterprises(0, 10).unwrap().len(), 2);
    assert_eq!(s.list_enterprises(id1, 10).unwrap()[0].id, id2);
    s.delete_enterprise(id1).unwrap();
    assert!(matches!(s.delete_enterprise(id1), Err(StoreError::EntityNotFound { what: "enterprise", .. })));

    for u in ["bob", "alice", "carol"] {
        s.put_identity(&Identity::new(u, Role::EnterpriseUser, "$argon2id$x", NOW)).unwrap();
    }
    let names: Vec<String> = s.list_identities(None, 10).unwrap().into_iter().map(|i| i.username).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(s.list_identities(Some("alice"), 1).unwrap()[0].username, "bob");
    s.delete_identity("bob").unwrap();
    assert!(s.get_identity("bob").unwrap().is_none());

    let seed = idnode_registry::seed::seed_demo(&**s, "88.118.8", NOW).unwrap();
    let t = s.get_template("88.118.8.1001", "1.0.0").unwrap().unwrap();
    assert_eq!(t.items.len(), 3);
    assert_eq!(s.list_templates(Some("88.118.8.1001")).unwrap().len(), 1);
    assert_eq!(s.list_templates(Some("88.118.8.100")).unwrap().len(), 0);
    assert_eq!(seed.identifiers[0], "88.118.8.1001/LOT2026-000451");
    let rec = s.get_record(b"88.118.8.1001/LOT2026-000451").unwrap().unwrap();
    assert_eq!(rec.find(1).unwrap().value_type, b"URL");
    // the template validates the sample's 2000+ fields
    let fields: Vec<Value> = rec.values().unwrap().into_iter().filter(|v| v.index >= 2000).collect();
    t.validate_values(&fields).unwrap();
    s.delete_template("88.118.8.1001", "1.0.0").unwrap();

    for code in ["1.2.156.3", "1.2.156.1", "1.2.156.2"] {
        s.put_alias(&Alias { scheme: "oid".into(), code: code.into(), target: format!("88.1/{code}"), created: NOW })
            .unwrap();
    }
    s.put_alias(&Alias { scheme: "ecode".into(), code: "1".into(), target: "88.1/e".into(), created: NOW }).unwrap();
    assert_eq!(s.get_alias("oid", "1.2.156.2").unwrap().unwrap().target, "88.1/1.2.156.2");
    let oids = s.list_aliases("oid", None, 10).unwrap();
    assert_eq!(oids.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["1.2.156.1", "1.2.156.2", "1.2.156.3"]);
    assert_eq!(s.list_aliases("oid", Some("1.2.156.1"), 1).unwrap()[0].code, "1.2.156.2");
    // The resolution read (`alias_target`, cached by some backends) sees
    // every rebind, batch write and delete at once.
    assert_eq!(s.alias_target("oid", "1.2.156.1").unwrap().as_deref(), Some("88.1/1.2.156.1"));
    s.put_alias(&Alias { scheme: "oid".into(), code: "1.2.156.1".into(), target: "88.1/moved".into(), created: NOW })
        .unwrap();
    assert_eq!(s.alias_target("oid", "1.2.156.1").unwrap().as_deref(), Some("88.1/moved"));
    s.put_aliases(&[Alias {
        scheme: "oid".into(),
        code: "1.2.156.1".into(),
        target: "88.1/again".into(),
        created: NOW,
    }])
    .unwrap();
    assert_eq!(s.alias_target("oid", "1.2.156.1").unwrap().as_deref(), Some("88.1/again"));
    assert_eq!(s.alias_target("oid", "1.2.156.9").unwrap(), None);
    s.delete_alias("oid", "1.2.156.1").unwrap();
    assert_eq!(s.alias_target("oid", "1.2.156.1").unwrap(), None);
    assert!(s.delete_alias("oid", "1.2.156.1").is_err());
    assert!(matches!(s.put_identity(&Identity::new("", Role::EnterpriseUser, "h", NOW)), Err(StoreError::Invalid(_))));
    assert!(s.delete_template("88.118.8.1001", "1.0.0").is_err());
    assert_eq!(s.get_alias("ecode", "1").unwrap().unwrap().target, "88.1/e");
}

/// A stamped resolution read answers like the plain reads, and its stamp
/// (where the backend gives one: sled always, with its read caches) stays
/// current until a write that could change the answer: the record's
/// replacement or deletion, the alias's rebinding or deletion, a prefix
/// write (case policy).
pub(crate) fn stamped_resolution(f: Fixture) {
    let s = &f.store;
    let url = |r: Option<RecordBytes>| r.map(|r| r.values().unwrap()[0].data.clone());
    s.create_record(b"88.1/A", vec![Value::new(1, "URL", "one")], false, &ctx()).unwrap();
    s.create_record(b"88.1/b", vec![Value::new(1, "URL", "bee")], false, &ctx()).unwrap();
    let alias = |target: &str| Alias { scheme: "gs1".into(), code: "0123".into(), target: target.into(), created: NOW };
    s.put_alias(&alias("88.1/A")).unwrap();
    let via = Resolution::Alias { scheme: "gs1", code: "0123" };
    let read = |via| {
        let (rec, stamp) = s.resolve_stamped(via).unwrap();
        if s.backend_name() == "sled" {
            assert!(stamp.is_some(), "sled stamps its resolution reads, absent ones too");
        }
        (url(rec), stamp)
    };
    let (r, stamp) = read(via);
    assert_eq!(r, Some(b"one".to_vec()));
    let current = |st: Option<ReadStamp>| st.is_some_and(|st| s.stamp_is_current(&st));
    assert_eq!(current(stamp), stamp.is_some(), "nothing written: still current");
    assert_eq!(read(Resolution::Handle(b"88.1/A")).0, Some(b"one".to_vec()));
    // Absent, and stale once the alias is written.
    let (r, absent) = read(Resolution::Alias { scheme: "gs1", code: "999" });
    assert_eq!(r, None);
    assert_eq!(current(absent), absent.is_some());
    s.put_alias(&Alias { scheme: "gs1".into(), code: "999".into(), target: "88.1/b".into(), created: NOW }).unwrap();
    assert!(!current(absent), "the absent alias was written: stale");
    assert_eq!(read(Resolution::Alias { scheme: "gs1", code: "999" }).0, Some(b"bee".to_vec()));

    // Each write below makes the stamp taken before it stale.
    /// What is written, the write, the URL the alias then resolves to.
    type Step<'a> = (&'a str, Box<dyn Fn() + 'a>, Option<&'a [u8]>);
    let writes: Vec<Step> = vec![
        (
            "record replaced",
            Box::new(|| {
                s.replace_record(b"88.1/A", vec![Value::new(1, "URL", "two")], &ctx()).unwrap();
            }),
            Some(b"two"),
        ),
        ("alias rebound", Box::new(|| s.put_alias(&alias("88.1/b")).unwrap()), Some(b"bee")),
        ("alias rebound in a batch", Box::new(|| s.put_aliases(&[alias("88.1/A")]).unwrap()), Some(b"two")),
        ("prefix written", Box::new(|| drop(s.home_prefix("88.1", &ctx()).unwrap())), Some(b"two")),
        (
            "record deleted",
            Box::new(|| {
                s.delete_record(b"88.1/A", &ctx()).unwrap();
            }),
            None,
        ),
        ("alias deleted", Box::new(|| s.delete_alias("gs1", "0123").unwrap()), None),
    ];
    for (what, write, after) in writes {
        let (_, stamp) = read(via);
        let (_, handle_stamp) = read(Resolution::Handle(b"88.1/A"));
        write();
        assert!(!current(stamp), "{what}: the stamp went stale");
        if what.starts_with("record") || what.starts_with("prefix") {
            assert!(!current(handle_stamp), "{what}: the handle's stamp went stale");
        }
        assert_eq!(read(via).0, after.map(<[u8]>::to_vec), "{what}: the read sees it");
    }
}

/// The sled store's alias filter (`key_filter.rs`): after the scan at
/// open, every stored alias still resolves (no false "absent"), including
/// one written after the scan and one written while it ran; a deleted and
/// an unknown alias resolve to nothing.
#[test]
fn sled_alias_filter_never_hides_an_alias() {
    let dir = tempfile::tempdir().unwrap();
    let open =
        || SledStore::open(SledOptions::new(dir.path()).alias_cache_entries(1000).read_cache_entries(1000)).unwrap();
    let alias =
        |i: u32| Alias { scheme: "gs1".into(), code: format!("{i:014}"), target: format!("88.1/{i}"), created: NOW };
    let s = open();
    s.put_aliases(&(0..3000).map(alias).collect::<Vec<_>>()).unwrap();
    drop(s);
    let s = open();
    s.put_alias(&alias(5000)).unwrap(); // possibly while the scan runs
    assert!(s.wait_alias_filter(), "the scan at open ends");
    s.put_alias(&alias(5001)).unwrap();
    s.delete_alias("gs1", &format!("{:014}", 7)).unwrap();
    for i in (0..3000).chain([5000, 5001]).filter(|i| *i != 7) {
        assert_eq!(s.alias_target("gs1", &format!("{i:014}")).unwrap().as_deref(), Some(format!("88.1/{i}").as_str()));
    }
    assert_eq!(s.alias_target("gs1", &format!("{:014}", 7)).unwrap(), None);
    assert_eq!(s.alias_target("gs1", "99999999999999").unwrap(), None);
}
