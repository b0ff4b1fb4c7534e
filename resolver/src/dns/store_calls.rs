//! Which store calls a DNS question costs, counted through a
//! [`Store`] that reads from a real sled store and refuses every write (the
//! front only reads; an attempt would show in the calls). No timing: a hit reads the alias index
//! and then the record; a well-formed name that is not bound stops after the
//! one alias probe; a malformed name, a name outside every zone and the zone
//! apex never reach the store. Over a store that stamps its reads, a name
//! asked again (a hit or an NXDOMAIN) is answered from the answer cache with
//! one stamp check and no read, until a write makes the stamp stale. The timing side is
//! `benches/dns.rs`.

use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use idnode_registry::model::{
    Alias, AuditEntry, Change, DayCounters, Enterprise, Identity, Prefix, RecordBytes, Template, Value,
};
use idnode_registry::store::{
    ConsumerPosition, PrefixMatch, PruneReport, RecordOp, Retention, SledStore, Store, StoreError, StoreMeta, Version,
    WriteCtx, WriteReceipt,
};

use idnode_registry::service::{Actor, Limits, Registrar};

use super::*;

/// Every call is logged by name, then passed to `inner`.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<&'static str>>,
    /// Pass stamped resolution reads on to `inner`; otherwise resolve
    /// through the logged plain reads and give no stamp.
    stamped: bool,
}

impl Counting {
    fn called(&self, name: &'static str) {
        self.calls.lock().unwrap().push(name);
    }
    /// A write: the DNS front never writes, so the wrapper refuses (and
    /// records the attempt) instead of passing it on to the store.
    fn refused(&self, name: &'static str) -> StoreError {
        self.called(name);
        StoreError::Unavailable(format!("{name}: the DNS front must not write"))
    }
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Store for Counting {
    fn get_record(&self, key: &[u8]) -> Result<Option<RecordBytes>, StoreError> {
        self.called("get_record");
        self.inner.get_record(key)
    }
    fn contains_record(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.called("contains_record");
        self.inner.contains_record(key)
    }
    fn write(&self, _op: RecordOp, _ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        Err(self.refused("write"))
    }
    fn write_batch(
        &self,
        _ops: Vec<RecordOp>,
        _ctx: &WriteCtx,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        Err(self.refused("write_batch"))
    }
    fn scan_records(
        &self,
        prefix: Option<&str>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, RecordBytes)>, StoreError> {
        self.called("scan_records");
        self.inner.scan_records(prefix, after, limit)
    }
    fn scan_keys(&self, prefix: Option<&str>, after: Option<&[u8]>, limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        self.called("scan_keys");
        self.inner.scan_keys(prefix, after, limit)
    }
    fn count_records(&self, prefix: Option<&str>) -> Result<u64, StoreError> {
        self.called("count_records");
        self.inner.count_records(prefix)
    }
    fn put_prefix(&self, _p: &Prefix, _ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        Err(self.refused("put_prefix"))
    }
    fn get_prefix(&self, prefix: &str) -> Result<Option<Prefix>, StoreError> {
        self.called("get_prefix");
        self.inner.get_prefix(prefix)
    }
    fn delete_prefix(&self, _prefix: &str, _ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        Err(self.refused("delete_prefix"))
    }
    fn list_prefixes(&self) -> Result<Vec<Prefix>, StoreError> {
        self.called("list_prefixes");
        self.inner.list_prefixes()
    }
    fn home_prefix(&self, _prefix: &str, _ctx: &WriteCtx) -> Result<Prefix, StoreError> {
        Err(self.refused("home_prefix"))
    }
    fn unhome_prefix(&self, _prefix: &str, _ctx: &WriteCtx) -> Result<(), StoreError> {
        Err(self.refused("unhome_prefix"))
    }
    fn is_homed(&self, prefix: &[u8]) -> bool {
        self.called("is_homed");
        self.inner.is_homed(prefix)
    }
    fn longest_homed(&self, prefix: &[u8]) -> Option<PrefixMatch> {
        self.called("longest_homed");
        self.inner.longest_homed(prefix)
    }
    fn longest_known(&self, prefix: &[u8]) -> Option<PrefixMatch> {
        self.called("longest_known");
        self.inner.longest_known(prefix)
    }
    fn homed_prefixes(&self) -> Vec<Arc<Prefix>> {
        self.called("homed_prefixes");
        self.inner.homed_prefixes()
    }
    fn get_prefix_versioned(&self, prefix: &str) -> Result<Option<(Prefix, Version)>, StoreError> {
        self.called("get_prefix_versioned");
        self.inner.get_prefix_versioned(prefix)
    }
    fn put_prefix_if(&self, _p: &Prefix, _expected: Version, _ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        Err(self.refused("put_prefix_if"))
    }
    fn next_id(&self) -> Result<u64, StoreError> {
        Err(self.refused("next_id"))
    }
    fn put_enterprise(&self, _e: &Enterprise) -> Result<(), StoreError> {
        Err(self.refused("put_enterprise"))
    }
    fn get_enterprise(&self, id: u64) -> Result<Option<Enterprise>, StoreError> {
        self.called("get_enterprise");
        self.inner.get_enterprise(id)
    }
    fn delete_enterprise(&self, _id: u64) -> Result<(), StoreError> {
        Err(self.refused("delete_enterprise"))
    }
    fn list_enterprises(&self, after: u64, limit: usize) -> Result<Vec<Enterprise>, StoreError> {
        self.called("list_enterprises");
        self.inner.list_enterprises(after, limit)
    }
    fn get_enterprise_versioned(&self, id: u64) -> Result<Option<(Enterprise, Version)>, StoreError> {
        self.called("get_enterprise_versioned");
        self.inner.get_enterprise_versioned(id)
    }
    fn put_enterprise_if(&self, _e: &Enterprise, _expected: Version) -> Result<(), StoreError> {
        Err(self.refused("put_enterprise_if"))
    }
    fn put_identity(&self, _i: &Identity) -> Result<(), StoreError> {
        Err(self.refused("put_identity"))
    }
    fn get_identity(&self, username: &str) -> Result<Option<Identity>, StoreError> {
        self.called("get_identity");
        self.inner.get_identity(username)
    }
    fn delete_identity(&self, _username: &str) -> Result<(), StoreError> {
        Err(self.refused("delete_identity"))
    }
    fn list_identities(&self, after: Option<&str>, limit: usize) -> Result<Vec<Identity>, StoreError> {
        self.called("list_identities");
        self.inner.list_identities(after, limit)
    }
    fn get_identity_versioned(&self, username: &str) -> Result<Option<(Identity, Version)>, StoreError> {
        self.called("get_identity_versioned");
        self.inner.get_identity_versioned(username)
    }
    fn put_identity_if(&self, _i: &Identity, _expected: Version) -> Result<(), StoreError> {
        Err(self.refused("put_identity_if"))
    }
    fn put_template(&self, _t: &Template) -> Result<(), StoreError> {
        Err(self.refused("put_template"))
    }
    fn get_template(&self, prefix: &str, version: &str) -> Result<Option<Template>, StoreError> {
        self.called("get_template");
        self.inner.get_template(prefix, version)
    }
    fn delete_template(&self, _prefix: &str, _version: &str) -> Result<(), StoreError> {
        Err(self.refused("delete_template"))
    }
    fn list_templates(&self, prefix: Option<&str>) -> Result<Vec<Template>, StoreError> {
        self.called("list_templates");
        self.inner.list_templates(prefix)
    }
    fn put_alias(&self, _a: &Alias) -> Result<(), StoreError> {
        Err(self.refused("put_alias"))
    }
    fn get_alias(&self, scheme: &str, code: &str) -> Result<Option<Alias>, StoreError> {
        self.called("get_alias");
        self.inner.get_alias(scheme, code)
    }
    fn delete_alias(&self, _scheme: &str, _code: &str) -> Result<(), StoreError> {
        Err(self.refused("delete_alias"))
    }
    fn list_aliases(&self, scheme: &str, after: Option<&str>, limit: usize) -> Result<Vec<Alias>, StoreError> {
        self.called("list_aliases");
        self.inner.list_aliases(scheme, after, limit)
    }
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        self.called("changes_since");
        self.inner.changes_since(after, limit)
    }
    fn last_seq(&self) -> u64 {
        self.called("last_seq");
        self.inner.last_seq()
    }
    fn durable_seq(&self) -> u64 {
        self.called("durable_seq");
        self.inner.durable_seq()
    }
    fn first_seq(&self) -> Result<u64, StoreError> {
        self.called("first_seq");
        self.inner.first_seq()
    }
    fn consumer_position(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.called("consumer_position");
        self.inner.consumer_position(name)
    }
    fn set_consumer_position(&self, _name: &str, _position: u64, _now: u64) -> Result<(), StoreError> {
        Err(self.refused("set_consumer_position"))
    }
    fn remove_consumer(&self, _name: &str) -> Result<(), StoreError> {
        Err(self.refused("remove_consumer"))
    }
    fn consumers(&self) -> Result<Vec<ConsumerPosition>, StoreError> {
        self.called("consumers");
        self.inner.consumers()
    }
    fn prune_changelog(&self, _r: &Retention, _now: u64) -> Result<PruneReport, StoreError> {
        Err(self.refused("prune_changelog"))
    }
    fn count_resolution(&self, prefix: &[u8], day: u32, n: u64) {
        self.called("count_resolution");
        self.inner.count_resolution(prefix, day, n)
    }
    fn count_registrations(&self, prefix: &[u8], day: u32, n: u64) {
        self.called("count_registrations");
        self.inner.count_registrations(prefix, day, n)
    }
    fn persist_counters(&self) -> Result<(), StoreError> {
        Err(self.refused("persist_counters"))
    }
    fn counters(&self, prefix: &str, from: u32, to: u32) -> Result<Vec<(u32, DayCounters)>, StoreError> {
        self.called("counters");
        self.inner.counters(prefix, from, to)
    }
    fn append_audit(&self, _e: AuditEntry) -> Result<u64, StoreError> {
        Err(self.refused("append_audit"))
    }
    fn read_audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.called("read_audit");
        self.inner.read_audit(after, limit)
    }
    fn meta(&self) -> StoreMeta {
        self.called("meta");
        self.inner.meta()
    }
    fn flush(&self) -> Result<(), StoreError> {
        Err(self.refused("flush"))
    }
    fn canonical_key(&self, handle: &[u8]) -> Vec<u8> {
        self.called("canonical_key");
        self.inner.canonical_key(handle)
    }
    fn resolve_stamped(&self, via: Resolution<'_>) -> Result<(Option<RecordBytes>, Option<ReadStamp>), StoreError> {
        if self.stamped {
            self.called("resolve_stamped");
            return self.inner.resolve_stamped(via);
        }
        Ok((idnode_registry::store::resolve_plain(self, via)?, None))
    }
    fn stamp_is_current(&self, stamp: &ReadStamp) -> bool {
        self.called("stamp_is_current");
        self.stamped && self.inner.stamp_is_current(stamp)
    }
}

fn gs1_config() -> DnsConfig {
    DnsConfig {
        zones: vec![super::tests::zone(ZoneScheme::Gs1, "gs1.test")],
        max_udp_payload: 1232,
        answer_cache_entries: 100,
    }
}

fn ask(front: &DnsFront, name: &str) -> u16 {
    ask_answer(front, name).0
}

/// The rcode and the first NAPTR answer's regexp.
fn ask_answer(front: &DnsFront, name: &str) -> (u16, Option<String>) {
    let mut q = Message::query();
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::NAPTR));
    let mut out = Vec::new();
    let rc = front.answer(&q.to_vec().unwrap(), Transport::Udp, &mut out).rcode.expect("answered");
    let regexp = Message::from_vec(&out).unwrap().answers.first().and_then(|r| match &r.data {
        RData::NAPTR(n) => Some(String::from_utf8_lossy(&n.regexp).into_owned()),
        _ => None,
    });
    (rc, regexp)
}

#[test]
fn misses_and_malformed_names_never_reach_the_record_path() {
    let dir = tempfile::tempdir().unwrap();
    let sled: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("s")).unwrap());
    let ctx = WriteCtx::new(1, "test");
    sled.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
    let codes = ["06901234567892", "06901234567885", "06901234567878"];
    let aliases: Vec<Alias> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            sled.write(
                RecordOp::Create {
                    key: format!("88.1/G{i}").into_bytes(),
                    values: vec![Value::new(1, "URL", format!("https://example.org/p/{i}"))],
                    overwrite: false,
                },
                &ctx,
            )
            .unwrap();
            Alias { scheme: "gs1".into(), code: (*c).into(), target: format!("88.1/G{i}"), created: 1 }
        })
        .collect();
    sled.put_aliases(&aliases).unwrap();
    let store = Arc::new(Counting { inner: sled, calls: Mutex::new(Vec::new()), stamped: false });
    let cfg = gs1_config();
    let front = DnsFront::new(&cfg, store.clone()).unwrap();
    assert!(store.take().is_empty(), "building the front reads nothing");

    // A hit: the alias index, then the record.
    assert_eq!(ask(&front, "0.8.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test."), 0);
    let hit = store.take();
    assert_eq!(hit.iter().filter(|c| **c == "get_alias").count(), 1, "{hit:?}");
    assert_eq!(hit.iter().filter(|c| **c == "get_record").count(), 1, "{hit:?}");

    // A well-formed GTIN nobody bound: one alias probe, no record read.
    assert_eq!(ask(&front, "0.7.1.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test."), 3);
    assert_eq!(store.take(), vec!["get_alias"]);

    // Malformed for the zone (too many digits, a letter, a wrong layout),
    // the apex and a foreign name: nothing reaches the store.
    for name in [
        "0.2.9.8.7.6.5.4.3.2.1.0.9.6.6.gtin.gs1.test.",
        "0.a.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test.",
        "www.gs1.test.",
        "x.gtin.gs1.test.",
        "0.0.8.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test.",
        "gs1.test.",
        "www.example.com.",
    ] {
        let rc = ask(&front, name);
        assert!(rc == 3 || rc == 0 || rc == 5, "{name}: rcode {rc}");
        assert_eq!(store.take(), Vec::<&str>::new(), "{name} reached the store");
    }
    // Sanity: the counting store is on the path at all (a hit again).
    assert_eq!(ask(&front, "0.9.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test."), 0);
    assert!(store.take().contains(&"get_record"));
}

/// Over a store that stamps its reads (sled with its read caches, as the
/// daemon opens it): a hit asked again, in any case, costs one stamp check
/// and no read; each write that changes the answer (the record replaced,
/// the alias rebound) makes the next query read again and answer anew.
#[test]
fn a_hit_asked_again_is_answered_from_the_answer_cache_until_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let sled = super::tests::cached_store(dir.path());
    let ctx = WriteCtx::new(1, "test");
    sled.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
    // Every write below goes through the one write path, as the node's.
    let reg = Registrar::new(sled.clone(), Limits::default());
    let admin = Actor::admin("test", "test");
    let write = |op: RecordOp| {
        reg.write_record(&admin, op, &ctx).unwrap();
    };
    for (key, url) in [("88.1/G0", "https://example.org/zero"), ("88.1/G1", "https://example.org/one")] {
        write(RecordOp::Create { key: key.into(), values: vec![Value::new(1, "URL", url)], overwrite: false });
    }
    let bind = |target: &str| {
        reg.bind_alias(&admin, "gs1", "06901234567892", target, 1).unwrap();
    };
    bind("88.1/G0");
    let store = Arc::new(Counting { inner: sled.clone(), calls: Mutex::new(Vec::new()), stamped: true });
    let front = DnsFront::new(&gs1_config(), store.clone()).unwrap();
    let name = "0.9.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test.";
    let regexp = |url: &str| Some(format!("!^.*$!{url}!"));

    assert_eq!(ask_answer(&front, name), (0, regexp("https://example.org/zero")));
    assert_eq!(store.take(), vec!["resolve_stamped"], "first sight: read");
    for again in [name, "0.9.8.7.6.5.4.3.2.1.0.9.6.GTIN.Gs1.TEST."] {
        assert_eq!(ask_answer(&front, again), (0, regexp("https://example.org/zero")));
        assert_eq!(store.take(), vec!["stamp_is_current"], "{again}: from the answer cache");
    }

    write(RecordOp::Replace {
        key: b"88.1/G0".to_vec(),
        values: vec![Value::new(1, "URL", "https://example.org/zero-v2")],
    });
    assert_eq!(ask_answer(&front, name), (0, regexp("https://example.org/zero-v2")));
    assert_eq!(store.take(), vec!["stamp_is_current", "resolve_stamped"], "record replaced: read again");

    bind("88.1/G1");
    assert_eq!(ask_answer(&front, name), (0, regexp("https://example.org/one")));
    assert_eq!(store.take(), vec!["stamp_is_current", "resolve_stamped"], "alias rebound: read again");
    assert_eq!(ask_answer(&front, name), (0, regexp("https://example.org/one")));
    assert_eq!(store.take(), vec!["stamp_is_current"]);

    reg.unbind_alias(&admin, "gs1", "06901234567892", 1).unwrap();
    assert_eq!(ask_answer(&front, name), (3, None), "alias deleted: NXDOMAIN");
    assert_eq!(store.take(), vec!["stamp_is_current", "resolve_stamped"]);
    // Now known absent: NXDOMAIN from the cache, until the alias is written.
    assert_eq!(ask_answer(&front, name), (3, None));
    assert_eq!(store.take(), vec!["stamp_is_current"], "NXDOMAIN from the answer cache");
    bind("88.1/G0");
    assert_eq!(ask_answer(&front, name), (0, regexp("https://example.org/zero-v2")));
    assert_eq!(store.take(), vec!["stamp_is_current", "resolve_stamped"], "alias bound again: read");
    // A well-formed name never bound: read once, then known absent.
    let unbound = "7.8.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test.";
    assert_eq!(ask(&front, unbound), 3);
    assert_eq!(store.take(), vec!["resolve_stamped"]);
    assert_eq!(ask(&front, unbound), 3);
    assert_eq!(store.take(), vec!["stamp_is_current"]);
}
