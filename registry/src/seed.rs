//! Bootstrap helpers: [`init_store`] homes this node's prefix;
//! [`seed_demo`] adds a demo enterprise, prefix, template and a few sample
//! identifiers (for `idnode init --demo`, tests and benchmarks).

use crate::ident::{CasePolicy, canonical_key_into};
use crate::model::admin::{AdminRecord, admin_perm};
use crate::model::template::{ItemMetadata, TemplateItem};
use crate::model::{Enterprise, EnterpriseStatus, HostingState, Prefix, PrefixState, Template, Value, perm};
use crate::store::{RecordOp, Store, StoreError, WriteCtx};

/// Homes `node_prefix` (enabled, hosted) with `policy` for suffixes.
/// Idempotent: an existing prefix is marked homed and keeps its other fields.
pub fn init_store(store: &dyn Store, node_prefix: &str, policy: CasePolicy, now: u64) -> Result<Prefix, StoreError> {
    let ctx = WriteCtx::new(now, "init");
    let p = match store.get_prefix(node_prefix)? {
        Some(mut p) => {
            p.homed = true;
            p
        }
        None => {
            let mut p = Prefix::homed(node_prefix, now);
            p.case_policy = policy;
            p.description = "node prefix".into();
            p
        }
    };
    store.put_prefix(&p, &ctx)?;
    Ok(p)
}

/// What [`seed_demo`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub enterprise_prefix: String,
    pub enterprise_id: u64,
    pub template_version: String,
    /// The sample identifiers, as written.
    pub identifiers: Vec<String>,
}

/// Demo data under `node_prefix` (e.g. `88.118.8`): enterprise prefix
/// `<node_prefix>.1001` (homed, hosted), enterprise "示例装备有限公司",
/// template `1.0.0` (model/batch/production date), and identifiers such as
/// `<node_prefix>.1001/LOT2026-000451` with URL, EMAIL, HS_ADMIN, TEMPLATE
/// and template fields. Existing identifiers are overwritten.
pub fn seed_demo(store: &dyn Store, node_prefix: &str, now: u64) -> Result<SeedReport, StoreError> {
    let ctx = WriteCtx::new(now, "seed");
    init_store(store, node_prefix, CasePolicy::CaseSensitive, now)?;
    let ent_prefix = format!("{node_prefix}.1001");

    let ent_id = match store.get_prefix(&ent_prefix)?.and_then(|p| p.enterprise_id) {
        Some(id) => id,
        None => store.next_id()?,
    };
    let mut ent = Enterprise::new(ent_id, "示例装备有限公司", "91110000EXAMPLE000", now);
    ent.nature = 2;
    ent.address = "示例路1号".into();
    ent.region = vec!["110000".into(), "110100".into(), "110105".into()];
    ent.website = "www.example.com".into();
    ent.industry = "C34".into();
    ent.contact.name = "联系人".into();
    ent.contact.email = "contact@example.com".into();
    ent.contact.phone = "13800000001".into();
    ent.status = EnterpriseStatus::Approved;
    ent.extra.insert("legalName".into(), "法人代表".into());
    store.put_enterprise(&ent)?;

    let mut p = Prefix::new(&ent_prefix, PrefixState::Enabled, now);
    p.homed = true;
    p.hosting = HostingState::Hosted;
    p.enterprise_id = Some(ent_id);
    p.description = "demo enterprise prefix".into();
    store.put_prefix(&p, &ctx)?;

    let item = |name: &str, t: &str, idx: u32, required: bool, max: u32| TemplateItem {
        name: name.into(),
        id_type: t.into(),
        id_index: idx,
        required,
        enabled: true,
        metadata_id: u64::from(idx),
        metadata: ItemMetadata { data_type: "string".into(), min_length: Some(1), max_length: Some(max) },
    };
    let tpl = Template {
        id: store.next_id()?,
        prefix: ent_prefix.clone(),
        version: "1.0.0".into(),
        description: "pump product template".into(),
        industry_category: "C".into(),
        industry_specific: "34".into(),
        industry_trade: "341".into(),
        industry_subclass: "3411".into(),
        object_type: 1,
        handle: Some(format!("{ent_prefix}/tpl-1.0.0")),
        items: vec![
            item("型号", "model", 2000, true, 64),
            item("批次", "batch", 2001, false, 32),
            item("生产日期", "production_date", 2002, false, 10),
        ],
        created: now,
        updated: now,
    };
    store.put_template(&tpl)?;

    let admin = AdminRecord::new(admin_perm::ALL, format!("0.NA/{}", ent_prefix.to_ascii_uppercase()), 200).to_bytes();
    let samples = [
        ("LOT2026-000451", "CP-200", "2026-03-01"),
        ("LOT2026-000452", "CP-200", "2026-03-02"),
        ("SN-Pump-0001", "CP-300", "2026-02-14"),
    ];
    let mut ops = Vec::new();
    let mut identifiers = Vec::new();
    for (suffix, model, date) in samples {
        let handle = format!("{ent_prefix}/{suffix}");
        let values = vec![
            Value::new(1, "URL", format!("https://www.example.com/p/{suffix}")),
            Value::new(2, "EMAIL", "contact@example.com"),
            Value::new(100, "HS_ADMIN", admin.clone()).with_permissions(perm::DEFAULT),
            Value::new(1001, "TEMPLATE", "1.0.0"),
            Value::new(2000, "model", model),
            Value::new(2001, "batch", suffix),
            Value::new(2002, "production_date", date),
        ];
        let mut key = Vec::new();
        canonical_key_into(handle.as_bytes(), p.case_policy, &mut key);
        ops.push(RecordOp::Create { key, values, overwrite: true });
        identifiers.push(handle);
    }
    for r in store.write_batch(ops, &ctx)? {
        r?;
    }
    Ok(SeedReport { enterprise_prefix: ent_prefix, enterprise_id: ent_id, template_version: tpl.version, identifiers })
}
