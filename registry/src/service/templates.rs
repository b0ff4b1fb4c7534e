//! Metadata templates (snms-api.md §3): create, read, edit by version,
//! delete. Item indexes start at 2000 (1000, 1001, 1999 and everything
//! below 2000 are reserved); versions are immutable; items are never
//! deleted, only disabled (`state` 0). Decisions from the spec: `state`
//! absent on an edited item keeps it, on a new item means enabled; a new
//! item without `idIndex` gets the lowest free index >= 2000; an entry whose
//! `idIndex` exists with another `idType` is refused [I8]; a template still
//! used by an identifier is not deleted [G3].

use super::access;
use super::identifiers::TEMPLATE_TYPE;
use super::{Actor, Registrar, ServiceError, check_len, check_required};
use crate::ident;
use crate::model::template::{
    FIRST_ITEM_INDEX, MAX_SNMS_VALUE_CHARS, MAX_TYPE_CHARS, MAX_VERSION_CHARS, TEMPLATE_INDEX,
};
use crate::model::{ItemMetadata, Template, TemplateItem};

/// Longest item name / industry code accepted.
const MAX_NAME_CHARS: usize = 128;

/// One item as sent by a client (create or edit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemInput {
    pub name: String,
    pub id_type: String,
    pub id_index: Option<u32>,
    pub required: Option<bool>,
    /// 0 disabled, 1 enabled.
    pub state: Option<u8>,
    /// `metadata.type` (any case of `string`; `None` = `string`).
    pub data_type: Option<String>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
}

/// A template as sent by a client (create or edit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateInput {
    pub prefix: String,
    pub version: String,
    pub description: Option<String>,
    pub industry_category: Option<String>,
    pub industry_specific: Option<String>,
    pub industry_trade: Option<String>,
    pub industry_subclass: Option<String>,
    /// `type`: 1 or 2.
    pub object_type: Option<u8>,
    pub items: Vec<ItemInput>,
}

fn check_prefix_field(prefix: &str) -> Result<(), ServiceError> {
    ident::check_snms_prefix(prefix).map_err(|e| ServiceError::invalid("prefix", e.to_string()))
}

fn check_metadata(i: usize, it: &ItemInput, create: bool) -> Result<ItemMetadata, ServiceError> {
    let f = |s: &str| format!("items[{i}].metadata.{s}");
    let reference =
        it.data_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(crate::model::link::TEMPLATE_DATA_TYPE));
    if let Some(t) = &it.data_type
        && !t.is_empty()
        && !t.eq_ignore_ascii_case("string")
        && !reference
    {
        return Err(ServiceError::invalid(
            f("type"),
            format!("{t:?} is not supported (only \"string\" or \"reference\")"),
        ));
    }
    if create && it.min_length.is_none() {
        return Err(ServiceError::invalid(f("minLength"), "required"));
    }
    if create && it.max_length.is_none() {
        return Err(ServiceError::invalid(f("maxLength"), "required"));
    }
    if let Some(max) = it.max_length
        && max as usize > MAX_SNMS_VALUE_CHARS
    {
        return Err(ServiceError::invalid(f("maxLength"), format!("{max} exceeds {MAX_SNMS_VALUE_CHARS}")));
    }
    if let (Some(min), Some(max)) = (it.min_length, it.max_length)
        && min > max
    {
        return Err(ServiceError::invalid(f("minLength"), format!("{min} is greater than maxLength {max}")));
    }
    let data_type = if reference { crate::model::link::TEMPLATE_DATA_TYPE } else { "string" };
    Ok(ItemMetadata { data_type: data_type.into(), min_length: it.min_length, max_length: it.max_length })
}

fn check_item_names(i: usize, it: &ItemInput) -> Result<(), ServiceError> {
    check_required(&format!("items[{i}].name"), &it.name, MAX_NAME_CHARS)?;
    check_required(&format!("items[{i}].idType"), &it.id_type, MAX_TYPE_CHARS)?;
    if let Some(s) = it.state
        && s > 1
    {
        return Err(ServiceError::invalid(format!("items[{i}].state"), format!("{s} (expected 0 or 1)")));
    }
    if let Some(idx) = it.id_index
        && idx < FIRST_ITEM_INDEX
    {
        return Err(ServiceError::invalid(
            format!("items[{i}].idIndex"),
            format!("{idx} is reserved; item indexes start at {FIRST_ITEM_INDEX} (1000, 1001, 1999 are reserved)"),
        ));
    }
    Ok(())
}

fn check_header(t: &TemplateInput, create: bool) -> Result<(), ServiceError> {
    check_prefix_field(&t.prefix)?;
    check_required("version", &t.version, MAX_VERSION_CHARS)?;
    for (name, v) in [
        ("industryCategory", &t.industry_category),
        ("industrySpecific", &t.industry_specific),
        ("industryTrade", &t.industry_trade),
        ("industrySubclass", &t.industry_subclass),
    ] {
        match v {
            Some(v) => check_len(name, v, MAX_NAME_CHARS)?,
            None if create => return Err(ServiceError::invalid(name, "required")),
            None => {}
        }
    }
    match t.object_type {
        Some(1 | 2) => {}
        Some(other) => return Err(ServiceError::invalid("type", format!("{other} (expected 1 or 2)"))),
        None if create => return Err(ServiceError::invalid("type", "required")),
        None => {}
    }
    if let Some(d) = &t.description {
        check_len("description", d, 1024)?;
    }
    if create && t.items.is_empty() {
        return Err(ServiceError::invalid("items", "at least one item is required"));
    }
    Ok(())
}

fn to_violation(e: crate::model::TemplateViolation) -> ServiceError {
    ServiceError::Invalid { field: e.field, reason: e.reason }
}

impl Registrar {
    fn template_access(&self, actor: &Actor, prefix: &str, write: bool) -> Result<(), ServiceError> {
        let g = access::governing(self.store(), prefix)?;
        if write { access::check_write(actor, &g) } else { access::check_read(actor, &g) }
    }

    /// `GET /snms/api/v5/template`.
    pub fn template_get(&self, actor: &Actor, prefix: &str, version: &str) -> Result<Template, ServiceError> {
        check_prefix_field(prefix)?;
        check_required("version", version, MAX_VERSION_CHARS)?;
        self.template_access(actor, prefix, false)?;
        self.store()
            .get_template(prefix, version)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "模板", key: format!("{prefix} {version}") })
    }

    /// `POST /snms/api/v5/template` (and v3, whose caller numbers the items
    /// 2000, 2001, ... in order).
    pub fn template_create(&self, actor: &Actor, t: &TemplateInput, now: u64) -> Result<Template, ServiceError> {
        access::check_writer(actor)?;
        check_header(t, true)?;
        self.template_access(actor, &t.prefix, true)?;
        let mut items = Vec::with_capacity(t.items.len());
        for (i, it) in t.items.iter().enumerate() {
            check_item_names(i, it)?;
            let Some(id_index) = it.id_index else {
                return Err(ServiceError::invalid(format!("items[{i}].idIndex"), "required"));
            };
            items.push(TemplateItem {
                name: it.name.clone(),
                id_type: it.id_type.clone(),
                id_index,
                required: it.required.unwrap_or(false),
                enabled: true,
                metadata_id: self.store().next_id()?,
                metadata: check_metadata(i, it, true)?,
            });
        }
        if self.store().get_template(&t.prefix, &t.version)?.is_some() {
            return Err(ServiceError::rejected(format!("模板版本{}已存在 (template version exists)", t.version)));
        }
        let mut tpl = Template {
            id: self.store().next_id()?,
            prefix: t.prefix.clone(),
            version: t.version.clone(),
            description: t.description.clone().unwrap_or_default(),
            industry_category: t.industry_category.clone().unwrap_or_default(),
            industry_specific: t.industry_specific.clone().unwrap_or_default(),
            industry_trade: t.industry_trade.clone().unwrap_or_default(),
            industry_subclass: t.industry_subclass.clone().unwrap_or_default(),
            object_type: t.object_type.unwrap_or(2),
            handle: Some(format!("{}/tpl-{}", t.prefix, t.version)),
            items,
            created: now,
            updated: now,
        };
        tpl.validate().map_err(to_violation)?;
        tpl.normalize();
        self.store().put_template(&tpl)?;
        self.audit(actor, "template.create", format!("{} {}", t.prefix, t.version), "ok", now)?;
        Ok(tpl)
    }

    /// `PUT /snms/api/v5/template`: incremental item edit (see module docs).
    pub fn template_edit(&self, actor: &Actor, t: &TemplateInput, now: u64) -> Result<Template, ServiceError> {
        access::check_writer(actor)?;
        check_header(t, false)?;
        self.template_access(actor, &t.prefix, true)?;
        let mut tpl = self.store().get_template(&t.prefix, &t.version)?.ok_or_else(|| {
            ServiceError::EntityNotFound { what: "模板", key: format!("{} {}", t.prefix, t.version) }
        })?;
        if let Some(v) = &t.description {
            tpl.description = v.clone();
        }
        for (dst, src) in [
            (&mut tpl.industry_category, &t.industry_category),
            (&mut tpl.industry_specific, &t.industry_specific),
            (&mut tpl.industry_trade, &t.industry_trade),
            (&mut tpl.industry_subclass, &t.industry_subclass),
        ] {
            if let Some(v) = src {
                *dst = v.clone();
            }
        }
        if let Some(ty) = t.object_type {
            tpl.object_type = ty;
        }
        for (i, it) in t.items.iter().enumerate() {
            check_item_names(i, it)?;
            let meta = check_metadata(i, it, false)?;
            let existing = it.id_index.and_then(|idx| tpl.items.iter().position(|x| x.id_index == idx));
            match existing {
                Some(pos) => {
                    let cur = &mut tpl.items[pos];
                    if cur.id_type != it.id_type {
                        return Err(ServiceError::invalid(
                            format!("items[{i}].idIndex"),
                            format!("index {} belongs to idType {:?}, not {:?}", cur.id_index, cur.id_type, it.id_type),
                        ));
                    }
                    cur.name = it.name.clone();
                    if let Some(r) = it.required {
                        cur.required = r;
                    }
                    if let Some(s) = it.state {
                        cur.enabled = s == 1;
                    }
                    if it.min_length.is_some() || it.max_length.is_some() {
                        cur.metadata = meta;
                    }
                }
                None => {
                    let id_index = match it.id_index {
                        Some(idx) => idx,
                        None => (FIRST_ITEM_INDEX..)
                            .find(|n| !tpl.items.iter().any(|x| x.id_index == *n))
                            .expect("a free index exists"),
                    };
                    if id_index == TEMPLATE_INDEX {
                        return Err(ServiceError::invalid(format!("items[{i}].idIndex"), "1001 is reserved"));
                    }
                    tpl.items.push(TemplateItem {
                        name: it.name.clone(),
                        id_type: it.id_type.clone(),
                        id_index,
                        required: it.required.unwrap_or(false),
                        enabled: it.state.is_none_or(|s| s == 1),
                        metadata_id: self.store().next_id()?,
                        metadata: meta,
                    });
                }
            }
        }
        tpl.validate().map_err(to_violation)?;
        tpl.normalize();
        tpl.updated = now;
        self.store().put_template(&tpl)?;
        self.audit(actor, "template.edit", format!("{} {}", t.prefix, t.version), "ok", now)?;
        Ok(tpl)
    }

    /// `DELETE /snms/api/v5/template`: refused while an identifier under the
    /// prefix still names the version.
    pub fn template_delete(&self, actor: &Actor, prefix: &str, version: &str, now: u64) -> Result<(), ServiceError> {
        access::check_writer(actor)?;
        check_prefix_field(prefix)?;
        check_required("version", version, MAX_VERSION_CHARS)?;
        self.template_access(actor, prefix, true)?;
        if self.store().get_template(prefix, version)?.is_none() {
            return Err(ServiceError::EntityNotFound { what: "模板", key: format!("{prefix} {version}") });
        }
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.store().scan_records(Some(prefix), after.as_deref(), 1000)?;
            for (k, rec) in &page {
                if let Some(v) = rec.find(TEMPLATE_INDEX)
                    && v.value_type == TEMPLATE_TYPE.as_bytes()
                    && v.data == version.as_bytes()
                {
                    return Err(ServiceError::rejected(format!(
                        "模板{version}仍被标识{}使用，不能删除 (template in use)",
                        String::from_utf8_lossy(k)
                    )));
                }
            }
            match page.last() {
                Some((k, _)) if page.len() == 1000 => after = Some(k.clone()),
                _ => break,
            }
        }
        self.store().delete_template(prefix, version)?;
        self.audit(actor, "template.delete", format!("{prefix} {version}"), "ok", now)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Limits;
    use crate::service::identifiers::{IdInput, IdValue};
    use crate::service::testutil::*;

    fn it(name: &str, t: &str, idx: Option<u32>) -> ItemInput {
        ItemInput {
            name: name.into(),
            id_type: t.into(),
            id_index: idx,
            data_type: Some("String".into()),
            min_length: Some(1),
            max_length: Some(32),
            ..Default::default()
        }
    }

    fn input(version: &str, items: Vec<ItemInput>) -> TemplateInput {
        TemplateInput {
            prefix: "88.1.1".into(),
            version: version.into(),
            industry_category: Some("C".into()),
            industry_specific: Some("34".into()),
            industry_trade: Some("341".into()),
            industry_subclass: Some("3411".into()),
            object_type: Some(1),
            items,
            ..Default::default()
        }
    }

    #[test]
    fn lifecycle() {
        let f = fixture(Limits::default());
        let t = f.reg.template_create(&user(1), &input("2.0", vec![it("型号", "model", Some(2000))]), NOW).unwrap();
        assert_eq!(t.items[0].metadata.data_type, "string");
        assert!(f.reg.template_create(&user(1), &input("2.0", vec![it("a", "a", Some(2000))]), NOW).is_err());
        let e = f.reg.template_create(&user(1), &input("3.0", vec![it("a", "a", Some(1999))]), NOW).unwrap_err();
        assert!(matches!(e, ServiceError::Invalid { ref field, .. } if field == "items[0].idIndex"));
        let e = f.reg.template_create(&user(2), &input("3.0", vec![it("a", "a", Some(2000))]), NOW).unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)));
        // Edit: disable 2000, add two without index, refuse a mismatched idType.
        let mut dis = it("型号", "model", Some(2000));
        dis.state = Some(0);
        let t = f
            .reg
            .template_edit(
                &user(1),
                &input("2.0", vec![dis, it("批次", "batch", None), it("产地", "origin", None)]),
                NOW,
            )
            .unwrap();
        assert_eq!(t.items.iter().map(|i| i.id_index).collect::<Vec<_>>(), vec![2000, 2001, 2002]);
        assert!(!t.items[0].enabled && t.items[1].enabled);
        let e = f.reg.template_edit(&user(1), &input("2.0", vec![it("x", "other", Some(2001))]), NOW).unwrap_err();
        assert!(e.to_string().contains("items[0].idIndex"));
        // In use -> refused; unused -> deleted.
        let id = IdInput {
            handle: "88.1.1/t1".into(),
            template_version: "2.0".into(),
            values: vec![IdValue { index: 2001, value_type: "batch".into(), auth: String::new(), data: "b".into() }],
        };
        f.reg.create_identifiers(&user(1), &[id], NOW).unwrap()[0].as_ref().unwrap();
        assert!(f.reg.template_delete(&user(1), "88.1.1", "2.0", NOW).is_err());
        f.reg.delete_identifiers(&user(1), &["88.1.1/t1".into()], NOW).unwrap();
        f.reg.template_delete(&user(1), "88.1.1", "2.0", NOW).unwrap();
        assert!(f.reg.template_get(&auditor(), "88.1.1", "2.0").is_err());
        assert_eq!(f.reg.template_get(&auditor(), "88.1.1", "1.0.0").unwrap().items.len(), 3);
    }
}
