//! The generic store conformance suite: the same cases, run against every
//! backend of `trait Store` — sled always, PostgreSQL with the `postgres`
//! feature (a throwaway server started by `support/pg.rs`, one database per
//! case). Covers records CRUD, batches, scans, compare-and-swap conflicts
//! (also under concurrent writers), the change log (gap-free and ordered
//! under concurrency), consumers and retention, prefixes and homing,
//! entities, aliases, audit, counters, and `kill -9` of a child process in
//! the middle of acknowledged writes.

#[cfg(feature = "postgres")]
#[path = "support/pg.rs"]
mod pg;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use idnode_registry::model::{
    Alias, AuditEntry, ChangeOp, DayCounters, Enterprise, Identity, Prefix, PrefixState, Role, Value, day_of,
};
use idnode_registry::store::{
    ABSENT, RecordOp, Retention, SledOptions, SledStore, Store, StoreError, StoreExt, WriteCtx,
};

const NOW: u64 = 1_767_225_600;

fn ctx() -> WriteCtx {
    WriteCtx::new(NOW, "suite")
}

fn v(i: u32, t: &str, d: &str) -> Value {
    Value::new(i, t, d)
}

/// A store under test plus whatever keeps it alive.
struct Fixture {
    store: Arc<dyn Store>,
    reopen: Box<dyn Fn() -> Arc<dyn Store>>,
    _dir: Option<tempfile::TempDir>,
}

fn sled_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_path_buf();
    let open = move || -> Arc<dyn Store> {
        Arc::new(SledStore::open(SledOptions::new(&p).cache_capacity(16 << 20).read_cache_entries(1000)).unwrap())
    };
    Fixture { store: open(), reopen: Box::new(open), _dir: Some(dir) }
}

#[cfg(feature = "postgres")]
fn pg_options(db: &str) -> idnode_registry::store::postgres::PgOptions {
    let srv = pg::shared();
    let mut o = idnode_registry::store::postgres::PgOptions::new(srv.conninfo(db));
    o.password = Some(pg::PG_PASSWORD.to_owned());
    o.pool_size = 8;
    o.read_cache_entries = 1000;
    o.node_id = "suite".into();
    o.now = NOW;
    o
}

#[cfg(feature = "postgres")]
fn pg_fixture() -> Fixture {
    use idnode_registry::store::postgres::PgStore;
    let db = pg::shared().create_db("suite");
    let o = pg_options(&db);
    let open = move || -> Arc<dyn Store> { Arc::new(PgStore::open(o.clone()).unwrap()) };
    Fixture { store: open(), reopen: Box::new(open), _dir: None }
}

// ------------------------------------------------------------------ cases

fn records_crud(f: Fixture) {
    let s = &f.store;
    let c = ctx();
    assert!(s.get_record(b"88.1/a").unwrap().is_none());
    s.create_record(b"88.1/a", vec![v(1, "URL", "http://a"), v(2, "EMAIL", "x@y")], false, &c).unwrap();
    assert!(matches!(s.create_record(b"88.1/a", vec![], false, &c), Err(StoreError::AlreadyExists)));
    let r = s.get_record(b"88.1/a").unwrap().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r.find(1).unwrap().data, b"http://a");
    assert_eq!(r.find(1).unwrap().timestamp as u64, NOW, "timestamp 0 becomes now");
    assert!(s.contains_record(b"88.1/a").unwrap());
    s.add_values(b"88.1/a", vec![v(3, "DESC", "d")], false, &c).unwrap();
    assert!(matches!(s.add_values(b"88.1/a", vec![v(3, "DESC", "e")], false, &c), Err(StoreError::ValueExists(3))));
    s.modify_values(b"88.1/a", vec![v(3, "DESC", "e")], &c).unwrap();
    assert!(matches!(s.modify_values(b"88.1/a", vec![v(9, "X", "")], &c), Err(StoreError::ValueNotFound(9))));
    assert!(matches!(s.remove_values(b"88.1/a", vec![2, 2], &c), Err(StoreError::DuplicateIndex(2))));
    s.remove_values(b"88.1/a", vec![2], &c).unwrap();
    let r = s.get_record(b"88.1/a").unwrap().unwrap();
    assert_eq!(r.iter().map(|x| x.index).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(r.find(3).unwrap().data, b"e", "the read cache saw the modify");
    s.replace_record(b"88.1/a", vec![v(7, "URL", "z")], &c).unwrap();
    assert_eq!(s.get_record(b"88.1/a").unwrap().unwrap().len(), 1);
    assert!(matches!(s.replace_record(b"88.1/none", vec![], &c), Err(StoreError::NotFound)));
    assert!(matches!(
        s.create_record(b"88.1/d", vec![v(1, "A", ""), v(1, "B", "")], false, &c),
        Err(StoreError::DuplicateIndex(1))
    ));
    s.delete_record(b"88.1/a", &c).unwrap();
    assert!(s.get_record(b"88.1/a").unwrap().is_none());
    assert!(matches!(s.delete_record(b"88.1/a", &c), Err(StoreError::NotFound)));
    // Stored bytes are the wire encoding behind one version byte.
    s.create_record(b"88.1/w", vec![v(1, "URL", "u")], false, &c).unwrap();
    let r = s.get_record(b"88.1/w").unwrap().unwrap();
    assert_eq!(r.stored(), idnode_registry::model::encode_record(&r.values().unwrap()).as_slice());
}

fn batches_and_scans(f: Fixture) {
    let s = &f.store;
    let c = ctx();
    let before = s.last_seq();
    let ops = vec![
        RecordOp::Create { key: b"88.1/b1".to_vec(), values: vec![v(1, "URL", "1")], overwrite: false },
        RecordOp::Create { key: b"88.1/b1".to_vec(), values: vec![], overwrite: false }, // fails: exists (earlier op)
        RecordOp::AddValues { key: b"88.1/b1".to_vec(), values: vec![v(2, "X", "2")], overwrite: false },
        RecordOp::Delete { key: b"88.1/none".to_vec() }, // fails
        RecordOp::Create { key: b"88.2/c".to_vec(), values: vec![], overwrite: false },
    ];
    let r = s.write_batch(ops, &c).unwrap();
    assert!(r[0].is_ok() && r[2].is_ok() && r[4].is_ok());
    assert!(matches!(r[1], Err(StoreError::AlreadyExists)));
    assert!(matches!(r[3], Err(StoreError::NotFound)));
    let seqs: Vec<u64> = r.iter().filter_map(|x| x.as_ref().ok().map(|w| w.seq)).collect();
    assert_eq!(seqs, [before + 1, before + 2, before + 3], "one seq per applied op, gap-free");
    assert_eq!(s.get_record(b"88.1/b1").unwrap().unwrap().len(), 2);
    for i in 0..25 {
        s.create_record(format!("88.1/k{i:02}").as_bytes(), vec![], false, &c).unwrap();
    }
    assert_eq!(s.count_records(Some("88.1")).unwrap(), 26);
    assert_eq!(s.count_records(None).unwrap(), 27);
    let mut after: Option<Vec<u8>> = None;
    let mut seen = Vec::new();
    loop {
        let page = s.scan_records(Some("88.1"), after.as_deref(), 10).unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().0.clone());
        seen.extend(page.into_iter().map(|(k, _)| k));
    }
    assert_eq!(seen.len(), 26);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "key order");
    assert_eq!(s.scan_keys(Some("88.2"), None, 10).unwrap(), [b"88.2/c".to_vec()]);
    assert_eq!(s.scan_keys(None, Some(b"88.1/k24"), 10).unwrap(), [b"88.2/c".to_vec()]);
    assert!(s.write_batch(Vec::new(), &c).unwrap().is_empty());
}

fn cas_conflicts(f: Fixture) {
    let s = &f.store;
    let c = ctx();
    let mut i = Identity::new("alice", Role::EnterpriseUser, "$argon2id$x", NOW);
    s.put_identity_if(&i, ABSENT).unwrap();
    assert!(matches!(s.put_identity_if(&i, ABSENT), Err(StoreError::Conflict { .. })), "create-only");
    let (_, v1) = s.get_identity_versioned("alice").unwrap().unwrap();
    i.email = "a@x".into();
    s.put_identity_if(&i, v1).unwrap();
    i.email = "b@x".into();
    assert!(matches!(s.put_identity_if(&i, v1), Err(StoreError::Conflict { .. })), "stale version");
    assert_eq!(s.get_identity("alice").unwrap().unwrap().email, "a@x");

    let e = Enterprise::new(7, "E", "code", NOW);
    s.put_enterprise_if(&e, ABSENT).unwrap();
    let (_, ev) = s.get_enterprise_versioned(7).unwrap().unwrap();
    assert_ne!(ev, ABSENT);
    s.update_enterprise(7, &mut |cur| {
        let mut e = cur.unwrap();
        e.name = "E2".into();
        Ok(e)
    })
    .unwrap();
    assert!(matches!(s.put_enterprise_if(&e, ev), Err(StoreError::Conflict { .. })));

    let p = Prefix::new("88.5", PrefixState::Enabled, NOW);
    s.put_prefix_if(&p, ABSENT, &c).unwrap();
    assert!(matches!(s.put_prefix_if(&p, ABSENT, &c), Err(StoreError::Conflict { .. })));

    // Concurrent read-modify-write: no increment is lost.
    s.put_identity(&Identity::new("counter", Role::EnterpriseUser, "h", NOW)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = f.store.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    s.update_identity("counter", &mut |cur| {
                        let mut i = cur.unwrap();
                        let n: u32 = i.mobile.parse().unwrap_or(0);
                        i.mobile = (n + 1).to_string();
                        Ok(i)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.get_identity("counter").unwrap().unwrap().mobile, "40");
}

fn changelog_gap_free_concurrent(f: Fixture) {
    let s = f.store.clone();
    let start = s.last_seq();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for i in 0..25 {
                    let key = format!("88.1/t{t}-{i}");
                    let r = if i % 5 == 0 {
                        let ops = (0..3)
                            .map(|j| RecordOp::Create {
                                key: format!("{key}-{j}").into_bytes(),
                                values: vec![],
                                overwrite: false,
                            })
                            .collect();
                        s.write_batch(ops, &ctx()).unwrap().into_iter().map(|r| r.unwrap().seq).collect::<Vec<_>>()
                    } else {
                        vec![s.create_record(key.as_bytes(), vec![], false, &ctx()).unwrap().seq]
                    };
                    got.extend(r);
                    if i == 12 {
                        s.home_prefix(&format!("88.{}", 10 + t), &ctx()).unwrap();
                    }
                }
                got
            })
        })
        .collect();
    let mut acked: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    acked.sort_unstable();
    let log = s.changes_since(start, 100_000).unwrap();
    let seqs: Vec<u64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (start + 1..=start + seqs.len() as u64).collect::<Vec<_>>(), "gap-free and ordered");
    assert_eq!(seqs.len(), 4 * (20 + 5 * 3) + 4);
    let record_seqs: HashSet<u64> = log.iter().filter(|c| c.op == ChangeOp::Create).map(|c| c.seq).collect();
    assert!(acked.iter().all(|a| record_seqs.contains(a)), "every receipt names its change");
    assert_eq!(s.last_seq(), start + seqs.len() as u64);
    assert_eq!(s.durable_seq(), s.last_seq());
    assert!(s.first_seq().unwrap() >= 1);
    assert_eq!(s.changes_since(start, 3).unwrap().len(), 3);
    assert!(s.changes_since(s.last_seq(), 10).unwrap().is_empty());
}

fn consumers_and_retention(f: Fixture) {
    let s = &f.store;
    for i in 0..10 {
        s.create_record(format!("88.1/r{i}").as_bytes(), vec![], false, &WriteCtx::new(NOW + i, "suite")).unwrap();
    }
    let last = s.last_seq();
    s.set_consumer_position("mirror:a", 3, NOW).unwrap();
    s.set_consumer_position("outbox", 6, NOW).unwrap();
    assert_eq!(s.consumer_position("mirror:a").unwrap(), Some(3));
    assert_eq!(s.consumers().unwrap().len(), 2);
    // Everything is "too old", but the slowest consumer holds the log.
    let rep = s.prune_changelog(&Retention { max_age_secs: Some(1), max_bytes: None }, NOW + 10_000).unwrap();
    assert!(rep.removed >= 1 && rep.removed <= 3, "{rep:?}");
    assert!(rep.held_for_consumers > 0, "{rep:?}");
    let first = s.first_seq().unwrap();
    assert!(first <= 4, "the change after the slowest consumer's position stays: first {first}");
    assert_eq!(s.changes_since(3, 100).unwrap().len() as u64, last - 3);
    s.remove_consumer("mirror:a").unwrap();
    assert!(matches!(s.remove_consumer("mirror:a"), Err(StoreError::EntityNotFound { .. })));
    s.remove_consumer("outbox").unwrap();
    let rep = s.prune_changelog(&Retention { max_age_secs: Some(1), max_bytes: None }, NOW + 10_000).unwrap();
    assert_eq!(rep.held_for_consumers, 0);
    assert!(s.changes_since(0, 100).unwrap().len() as u64 <= 1, "all but possibly a trailing group removed");
    // Sequence numbers continue after pruning.
    let r = s.create_record(b"88.1/after", vec![], false, &ctx()).unwrap();
    assert_eq!(r.seq, last + 1);
}

fn prefixes_and_homing(f: Fixture) {
    let s = &f.store;
    let c = ctx();
    assert!(!s.is_homed(b"88.118.8"));
    s.home_prefix("88.118.8", &c).unwrap();
    assert!(s.is_homed(b"88.118.8"));
    let m = s.longest_homed(b"88.118.8.1001").unwrap();
    assert_eq!(m.matched, "88.118.8".len());
    assert!(s.longest_homed(b"88.119").is_none());
    assert_eq!(s.homed_prefixes().len(), 1);
    let p = Prefix::new("88.118.8.1001", PrefixState::Enabled, NOW);
    s.put_prefix(&p, &c).unwrap();
    assert!(s.longest_known(b"88.118.8.1001").is_some());
    assert_eq!(s.list_prefixes().unwrap().len(), 2);
    assert_eq!(s.get_prefix("88.118.8.1001").unwrap().unwrap().prefix, "88.118.8.1001");
    s.unhome_prefix("88.118.8", &c).unwrap();
    assert!(!s.is_homed(b"88.118.8"));
    assert!(s.get_prefix("88.118.8").unwrap().is_some());
    s.delete_prefix("88.118.8.1001", &c).unwrap();
    assert!(matches!(s.delete_prefix("88.118.8.1001", &c), Err(StoreError::EntityNotFound { .. })));
    assert!(s.longest_known(b"88.118.8.1001").is_some_and(|m| m.matched == "88.118.8".len()));
    assert!(matches!(s.unhome_prefix("99.none", &c), Err(StoreError::EntityNotFound { .. })));
    let log = s.changes_since(0, 100).unwrap();
    assert!(log.iter().any(|ch| ch.op == ChangeOp::PrefixDelete && ch.key == b"88.118.8.1001"));
    assert!(matches!(
        s.put_prefix(&Prefix::new("bad prefix", PrefixState::Enabled, NOW), &c),
        Err(StoreError::Invalid(_))
    ));
}

fn entities_and_aliases(f: Fixture) {
    let s = &f.store;
    let id1 = s.next_id().unwrap();
    let id2 = s.next_id().unwrap();
    assert!(id1 > 0 && id2 > id1);
    for id in [id1, id2] {
        s.put_enterprise(&Enterprise::new(id, format!("E{id}"), "code", NOW)).unwrap();
    }
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
    assert!(matches!(s.put_identity(&Identity::new("", Role::EnterpriseUser, "h", NOW)), Err(StoreError::Invalid(_))));

    idnode_registry::seed::seed_demo(&**s, "88.118.8", NOW).unwrap();
    assert!(s.get_template("88.118.8.1001", "1.0.0").unwrap().is_some());
    assert_eq!(s.list_templates(Some("88.118.8.1001")).unwrap().len(), 1);
    assert_eq!(s.list_templates(Some("88.118.8.100")).unwrap().len(), 0);
    s.delete_template("88.118.8.1001", "1.0.0").unwrap();
    assert!(s.delete_template("88.118.8.1001", "1.0.0").is_err());

    for code in ["1.2.156.3", "1.2.156.1", "1.2.156.2"] {
        s.put_alias(&Alias { scheme: "oid".into(), code: code.into(), target: format!("88.1/{code}"), created: NOW })
            .unwrap();
    }
    s.put_alias(&Alias { scheme: "ecode".into(), code: "1".into(), target: "88.1/e".into(), created: NOW }).unwrap();
    let oids = s.list_aliases("oid", None, 10).unwrap();
    assert_eq!(oids.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["1.2.156.1", "1.2.156.2", "1.2.156.3"]);
    assert_eq!(s.list_aliases("oid", Some("1.2.156.1"), 1).unwrap()[0].code, "1.2.156.2");
    s.delete_alias("oid", "1.2.156.1").unwrap();
    assert!(s.delete_alias("oid", "1.2.156.1").is_err());
    assert_eq!(s.get_alias("ecode", "1").unwrap().unwrap().target, "88.1/e");
}

fn audit_and_counters(f: Fixture) {
    let s = &f.store;
    s.home_prefix("88.1", &ctx()).unwrap();
    let day = day_of(NOW);
    s.count_resolution(b"88.1", day, 2);
    s.count_resolution(b"99.unknown", day, 100);
    s.create_record(b"88.1/a", vec![], false, &ctx()).unwrap();
    assert_eq!(s.counters("88.1", day, day).unwrap(), [(day, DayCounters { registrations: 1, resolutions: 2 })]);
    s.persist_counters().unwrap();
    s.count_resolution(b"88.1", day, 1);
    s.persist_counters().unwrap();
    assert_eq!(s.counters("88.1", day, day).unwrap(), [(day, DayCounters { registrations: 1, resolutions: 3 })]);
    assert!(s.counters("99.unknown", 0, u32::MAX).unwrap().is_empty());
    for i in 0..3 {
        let e = AuditEntry {
            seq: 0,
            time: NOW + i,
            actor: "admin".into(),
            action: "login".into(),
            target: "admin".into(),
            outcome: "ok".into(),
            detail: String::new(),
        };
        assert_eq!(s.append_audit(e).unwrap(), i + 1);
    }
    assert_eq!(s.read_audit(1, 10).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
}

fn reopen_keeps_everything(f: Fixture) {
    let c = ctx();
    f.store.home_prefix("88.7", &c).unwrap();
    f.store.create_record(b"88.7/x", vec![v(1, "URL", "u")], false, &c).unwrap();
    let last = f.store.last_seq();
    let meta = f.store.meta();
    drop(f.store);
    let s = (f.reopen)();
    assert!(s.is_homed(b"88.7"));
    assert!(s.get_record(b"88.7/x").unwrap().is_some());
    assert_eq!(s.last_seq(), last);
    assert_eq!(s.meta(), meta);
}

// ------------------------------------------------------- crash (kill -9)

const CHILD_ENV: &str = "IDNODE_SUITE_CHILD";

/// Writes until killed, printing `ACK <key>` after each acknowledged write.
fn crash_child(store: Arc<dyn Store>) {
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..200_000u32 {
                    let keys: Vec<String> = (0..5).map(|j| format!("88.1/t{t}-{i}-{j}")).collect();
                    let ops = keys
                        .iter()
                        .map(|k| RecordOp::Create {
                            key: k.clone().into_bytes(),
                            values: vec![v(1, "URL", k)],
                            overwrite: false,
                        })
                        .collect();
                    for r in store.write_batch(ops, &ctx()).unwrap() {
                        r.unwrap();
                    }
                    let mut out = std::io::stdout().lock();
                    for k in keys {
                        writeln!(out, "ACK {k}").unwrap();
                    }
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Runs the child (`mode` names the backend and its location) and kills it
/// with SIGKILL after `acks` acknowledged writes; returns the acknowledged keys.
fn run_and_kill(test: &str, mode: &str, acks: usize) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(i) = line.find("ACK ") {
            got.push(line[i + 4..].trim().to_owned());
        }
        if got.len() >= acks {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(got.len() >= acks, "child stopped early after {} acks", got.len());
    got
}

fn check_after_crash(s: &dyn Store, acked: &[String]) {
    for k in acked {
        assert!(s.get_record(k.as_bytes()).unwrap().is_some(), "acknowledged {k} lost");
    }
    let log = s.changes_since(0, 10_000_000).unwrap();
    let seqs: Vec<u64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "log gap-free after the crash");
    assert_eq!(s.last_seq(), seqs.len() as u64);
    assert_eq!(s.count_records(None).unwrap(), seqs.len() as u64, "one change per record, none half-written");
}

#[test]
fn sled_kill_9_keeps_acknowledged_writes() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        if let Some(p) = mode.strip_prefix("sled:") {
            crash_child(Arc::new(SledStore::open(SledOptions::new(p).cache_capacity(16 << 20)).unwrap()));
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let acked = run_and_kill("sled_kill_9_keeps_acknowledged_writes", &format!("sled:{}", dir.path().display()), 300);
    let s = SledStore::open(SledOptions::new(dir.path())).unwrap();
    check_after_crash(&s, &acked);
}

#[cfg(feature = "postgres")]
#[test]
fn pg_kill_9_keeps_acknowledged_writes() {
    use idnode_registry::store::postgres::PgStore;
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        if let Some(rest) = mode.strip_prefix("pg:") {
            let (conn, pw) = rest.split_once('\u{1}').unwrap();
            let mut o = idnode_registry::store::postgres::PgOptions::new(conn);
            o.password = Some(pw.to_owned());
            crash_child(Arc::new(PgStore::open(o).unwrap()));
        }
        return;
    }
    let srv = pg::shared();
    let db = srv.create_db("crash");
    let mode = format!("pg:{}\u{1}{}", srv.conninfo(&db), pg::PG_PASSWORD);
    let acked = run_and_kill("pg_kill_9_keeps_acknowledged_writes", &mode, 300);
    let s = PgStore::open(pg_options(&db)).unwrap();
    check_after_crash(&s, &acked);
}

// ------------------------------------------------------ one test per case

macro_rules! suite {
    ($backend:ident, $fixture:path, [$($case:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    super::$case($fixture());
                }
            )*
        }
    };
}

suite!(
    sled,
    super::sled_fixture,
    [
        records_crud,
        batches_and_scans,
        cas_conflicts,
        changelog_gap_free_concurrent,
        consumers_and_retention,
        prefixes_and_homing,
        entities_and_aliases,
        audit_and_counters,
        reopen_keeps_everything,
    ]
);

#[cfg(feature = "postgres")]
suite!(
    postgres,
    super::pg_fixture,
    [
        records_crud,
        batches_and_scans,
        cas_conflicts,
        changelog_gap_free_concurrent,
        consumers_and_retention,
        prefixes_and_homing,
        entities_and_aliases,
        audit_and_counters,
        reopen_keeps_everything,
    ]
);

/// TLS to the database: rustls (ring) verifying the server against the
/// configured CA; the same store cases pass over it, and a wrong CA is
/// refused.
#[cfg(feature = "postgres")]
#[test]
fn postgres_over_tls() {
    use idnode_registry::store::postgres::{PgOptions, PgStore};
    let srv = pg::PgServer::start_tls();
    let db = srv.create_db("tls");
    let mut o = PgOptions::new(srv.tls_conninfo(&db));
    o.password = Some(pg::PG_PASSWORD.to_owned());
    o.tls_ca_pem = Some(srv.tls.as_ref().unwrap().1.clone());
    o.now = NOW;
    let s: Arc<dyn Store> = Arc::new(PgStore::open(o.clone()).unwrap());
    records_crud(Fixture { store: s.clone(), reopen: Box::new(move || s.clone()), _dir: None });
    // A server whose certificate does not chain to the configured CA.
    let other = pg::PgServer::start_tls();
    o.tls_ca_pem = Some(other.tls.as_ref().unwrap().1.clone());
    let e = PgStore::open(o).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate") || matches!(e, StoreError::Unavailable(_)), "{e}");
}

/// `store copy` both ways: sled -> PostgreSQL (COPY loads) -> sled, with an
/// interruption (resume from the last committed key), verified by counts
/// and checksums.
#[cfg(feature = "postgres")]
#[test]
fn copy_sled_to_postgres_and_back() {
    use idnode_registry::store::copy;
    let src = sled_fixture();
    let c = ctx();
    src.store.home_prefix("88.1", &c).unwrap();
    src.store.put_identity(&Identity::new("alice", Role::EnterpriseUser, "h", NOW)).unwrap();
    let ops: Vec<RecordOp> = (0..1234)
        .map(|i| RecordOp::Create {
            key: format!("88.1/c{i:05}").into_bytes(),
            values: vec![v(1, "URL", &format!("https://e/{i}")).with_timestamp(1_700_000_000 + i)],
            overwrite: false,
        })
        .collect();
    src.store.write_batch(ops, &c).unwrap();
    let pg = pg_fixture();
    copy::copy_entities(&*src.store, &*pg.store, &c).unwrap();
    // Interrupted after the first two batches of 500 ...
    let mut cursor = None;
    let mut batches = 0;
    let r = copy::copy_records(&*src.store, &*pg.store, None, 500, &c, &mut |k, _| {
        cursor = Some(k.to_vec());
        batches += 1;
    });
    assert_eq!(r.unwrap(), 1234);
    assert_eq!(batches, 3);
    // ... simulate the interruption by resuming after the second batch's key.
    let resume = Some(format!("88.1/c{:05}", 999).into_bytes());
    let again = copy::copy_records(&*src.store, &*pg.store, resume, 500, &c, &mut |_, _| {}).unwrap();
    assert_eq!(again, 234, "resume copies only what follows the cursor");
    let (sn, ss) = copy::checksum(&*src.store).unwrap();
    let (pn, ps) = copy::checksum(&*pg.store).unwrap();
    assert_eq!((sn, &ss), (pn, &ps), "counts and checksum match");
    assert!(pg.store.is_homed(b"88.1"));
    assert!(pg.store.get_identity("alice").unwrap().is_some());
    // And back to a fresh sled store.
    let back = sled_fixture();
    copy::copy_entities(&*pg.store, &*back.store, &c).unwrap();
    copy::copy_records(&*pg.store, &*back.store, None, 700, &c, &mut |_, _| {}).unwrap();
    assert_eq!(copy::checksum(&*back.store).unwrap(), (sn, ss));
    // A differing target is detected.
    back.store.modify_values(b"88.1/c00007", vec![v(1, "URL", "changed")], &c).unwrap();
    assert_ne!(copy::checksum(&*back.store).unwrap().1, copy::checksum(&*pg.store).unwrap().1);
}
