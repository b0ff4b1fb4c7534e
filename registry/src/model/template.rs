//! SNMS metadata templates (snms-api.md §3.1) and the validation of
//! identifier values against them (§4.9 rule 3 and 4). Pure functions.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::stored::Stored;
use super::value::Value;

/// First index a template item may use.
pub const FIRST_ITEM_INDEX: u32 = 2000;
/// Index of the system `TEMPLATE_ID` value.
pub const TEMPLATE_ID_INDEX: u32 = 1000;
/// Index of the system `TEMPLATE` value (template version); clients may not write it.
pub const TEMPLATE_INDEX: u32 = 1001;
/// Longest `data.value` the SNMS API accepts, in characters.
pub const MAX_SNMS_VALUE_CHARS: usize = 255;
/// Longest template version, in characters.
pub const MAX_VERSION_CHARS: usize = 128;
/// Longest value type, in characters.
pub const MAX_TYPE_CHARS: usize = 128;

/// Value constraints of an item. Only `string` exists in the SNMS API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMetadata {
    /// Always `string` once validated (any letter case is accepted on input).
    pub data_type: String,
    /// Minimum length in characters.
    pub min_length: Option<u32>,
    /// Maximum length in characters.
    pub max_length: Option<u32>,
}

impl Default for ItemMetadata {
    fn default() -> Self {
        ItemMetadata { data_type: "string".into(), min_length: None, max_length: None }
    }
}

/// One attribute of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateItem {
    /// Display name (usually Chinese); unique in the template.
    pub name: String,
    /// English name; the value `type` of identifier values; unique.
    pub id_type: String,
    /// The value index; >= [`FIRST_ITEM_INDEX`]; unique.
    pub id_index: u32,
    pub required: bool,
    /// `state`: true = 1 enabled, false = 0 disabled.
    pub enabled: bool,
    /// Server id of the item (`metadataId`).
    pub metadata_id: u64,
    pub metadata: ItemMetadata,
}

/// A template, keyed by (prefix, version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Server id (`id`).
    pub id: u64,
    pub prefix: String,
    pub version: String,
    pub description: String,
    pub industry_category: String,
    pub industry_specific: String,
    pub industry_trade: String,
    pub industry_subclass: String,
    /// `type`: 1 active identifier carrier, 2 other.
    pub object_type: u8,
    /// The template's own identifier, if any.
    pub handle: Option<String>,
    pub items: Vec<TemplateItem>,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub updated: u64,
}

impl Stored for Template {}

/// A template or a value set that breaks the rules, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct TemplateViolation {
    /// The offending field, e.g. `value[2].index`, `items[0].idIndex`, or
    /// an item's `idType` for a missing required attribute.
    pub field: String,
    pub reason: String,
}

fn violation(field: impl Into<String>, reason: impl Into<String>) -> TemplateViolation {
    TemplateViolation { field: field.into(), reason: reason.into() }
}

impl Template {
    /// The item using `index`.
    pub fn item_by_index(&self, index: u32) -> Option<&TemplateItem> {
        self.items.iter().find(|i| i.id_index == index)
    }

    /// Checks the template itself: version present and <= 128 chars; item
    /// indexes >= 2000 and unique; names and idTypes non-empty and unique;
    /// metadata type `string` (any case; normalised by [`normalize`](Self::normalize));
    /// minLength <= maxLength.
    pub fn validate(&self) -> Result<(), TemplateViolation> {
        if self.version.is_empty() {
            return Err(violation("version", "must not be empty"));
        }
        if self.version.chars().count() > MAX_VERSION_CHARS {
            return Err(violation("version", format!("longer than {MAX_VERSION_CHARS} characters")));
        }
        if self.prefix.is_empty() {
            return Err(violation("prefix", "must not be empty"));
        }
        for (i, it) in self.items.iter().enumerate() {
            if it.id_index < FIRST_ITEM_INDEX {
                return Err(violation(
                    format!("items[{i}].idIndex"),
                    format!("{} is reserved; item indexes start at {FIRST_ITEM_INDEX}", it.id_index),
                ));
            }
            if it.name.is_empty() {
                return Err(violation(format!("items[{i}].name"), "must not be empty"));
            }
            if it.id_type.is_empty() {
                return Err(violation(format!("items[{i}].idType"), "must not be empty"));
            }
            if it.id_type.chars().count() > MAX_TYPE_CHARS {
                return Err(violation(
                    format!("items[{i}].idType"),
                    format!("longer than {MAX_TYPE_CHARS} characters"),
                ));
            }
            if it.metadata.data_type == super::link::TEMPLATE_DATA_TYPE {
                if !super::link::is_link_type(it.id_type.as_bytes()) {
                    return Err(violation(
                        format!("items[{i}].idType"),
                        format!("a reference item's idType must start with {:?}", super::link::TYPE_PREFIX),
                    ));
                }
            } else if !it.metadata.data_type.eq_ignore_ascii_case("string") {
                return Err(violation(
                    format!("items[{i}].metadata.type"),
                    format!("{:?} is not supported (only \"string\")", it.metadata.data_type),
                ));
            }
            if let (Some(min), Some(max)) = (it.metadata.min_length, it.metadata.max_length)
                && min > max
            {
                return Err(violation(format!("items[{i}].metadata"), format!("minLength {min} > maxLength {max}")));
            }
            for (j, other) in self.items[..i].iter().enumerate() {
                if other.id_index == it.id_index {
                    return Err(violation(
                        format!("items[{i}].idIndex"),
                        format!("{} repeats items[{j}]", it.id_index),
                    ));
                }
                if other.id_type == it.id_type {
                    return Err(violation(
                        format!("items[{i}].idType"),
                        format!("{:?} repeats items[{j}]", it.id_type),
                    ));
                }
                if other.name == it.name {
                    return Err(violation(format!("items[{i}].name"), format!("{:?} repeats items[{j}]", it.name)));
                }
            }
        }
        Ok(())
    }

    /// Stores metadata types as lowercase `string`.
    pub fn normalize(&mut self) {
        for it in &mut self.items {
            if it.metadata.data_type.eq_ignore_ascii_case("string") || it.metadata.data_type.is_empty() {
                it.metadata.data_type = "string".into();
            }
        }
    }

    /// Checks client-supplied identifier values (snms-api.md §4.9 rules 3–4):
    /// index 1001 forbidden; every index names an **enabled** item; type
    /// equals the item's `idType`; data is UTF-8, <= 255 characters and
    /// within minLength..=maxLength; no index repeated; every required
    /// enabled item present.
    pub fn validate_values(&self, values: &[Value]) -> Result<(), TemplateViolation> {
        for (i, v) in values.iter().enumerate() {
            if v.index == TEMPLATE_INDEX {
                return Err(violation(format!("value[{i}].index"), "index 1001 is reserved and may not be written"));
            }
            if values[..i].iter().any(|o| o.index == v.index) {
                return Err(violation(format!("value[{i}].index"), format!("index {} repeated", v.index)));
            }
            let Some(item) = self.item_by_index(v.index) else {
                return Err(violation(
                    format!("value[{i}].index"),
                    format!("index {} does not exist in the template", v.index),
                ));
            };
            if !item.enabled {
                return Err(violation(
                    format!("value[{i}].index"),
                    format!("template item {} ({}) is disabled", v.index, item.id_type),
                ));
            }
            if v.value_type != item.id_type.as_bytes() {
                return Err(violation(
                    format!("value[{i}].type"),
                    format!("{:?} does not match the template's idType {:?}", v.type_str(), item.id_type),
                ));
            }
            let Ok(text) = std::str::from_utf8(&v.data) else {
                return Err(violation(format!("value[{i}].data.value"), "not UTF-8 text"));
            };
            if item.metadata.data_type == super::link::TEMPLATE_DATA_TYPE
                && let Some(Err(e)) = super::link::Link::from_parts(&v.value_type, &v.data)
            {
                return Err(violation(format!("value[{i}].data.value"), e.to_string()));
            }
            let n = text.chars().count();
            if n > MAX_SNMS_VALUE_CHARS {
                return Err(violation(
                    format!("value[{i}].data.value"),
                    format!("{n} characters exceeds the limit of {MAX_SNMS_VALUE_CHARS}"),
                ));
            }
            if let Some(min) = item.metadata.min_length
                && n < min as usize
            {
                return Err(violation(
                    format!("value[{i}].data.value"),
                    format!("{n} characters is below minLength {min}"),
                ));
            }
            if let Some(max) = item.metadata.max_length
                && n > max as usize
            {
                return Err(violation(
                    format!("value[{i}].data.value"),
                    format!("{n} characters exceeds maxLength {max}"),
                ));
            }
        }
        for item in self.items.iter().filter(|it| it.required && it.enabled) {
            if !values.iter().any(|v| v.index == item.id_index) {
                return Err(violation(
                    item.id_type.clone(),
                    format!("required attribute (index {}) is missing", item.id_index),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpl() -> Template {
        let item = |name: &str, t: &str, idx, required, enabled, min, max| TemplateItem {
            name: name.into(),
            id_type: t.into(),
            id_index: idx,
            required,
            enabled,
            metadata_id: 0,
            metadata: ItemMetadata { data_type: "String".into(), min_length: min, max_length: max },
        };
        Template {
            id: 1,
            prefix: "88.100.1".into(),
            version: "1.0.0".into(),
            description: String::new(),
            industry_category: "C".into(),
            industry_specific: "34".into(),
            industry_trade: "341".into(),
            industry_subclass: "3411".into(),
            object_type: 1,
            handle: None,
            items: vec![
                item("型号", "model", 2000, true, true, Some(1), Some(8)),
                item("批次", "batch", 2001, false, false, None, None),
                item("颜色", "color", 2002, false, true, None, None),
            ],
            created: 0,
            updated: 0,
        }
    }

    #[test]
    fn values_checked() {
        let t = tpl();
        t.validate().unwrap();
        t.validate_values(&[Value::new(2000, "model", "X1")]).unwrap();
        t.validate_values(&[Value::new(2000, "model", "型号八个字八个字")]).unwrap();
        let err = |vals: &[Value]| t.validate_values(vals).unwrap_err();
        assert_eq!(err(&[]).field, "model");
        assert_eq!(err(&[Value::new(2000, "model", "X"), Value::new(1001, "TEMPLATE", "1")]).field, "value[1].index");
        assert!(err(&[Value::new(2000, "model", "X"), Value::new(2001, "batch", "b")]).reason.contains("disabled"));
        assert_eq!(err(&[Value::new(2000, "MODEL", "X")]).field, "value[0].type");
        assert!(err(&[Value::new(2000, "model", "")]).reason.contains("minLength"));
        assert!(err(&[Value::new(2000, "model", "123456789")]).reason.contains("maxLength"));
        assert!(err(&[Value::new(2000, "model", "X"), Value::new(2000, "model", "Y")]).reason.contains("repeated"));
        assert!(
            err(&[Value::new(2000, "model", "X"), Value::new(1000, "TEMPLATE_ID", "Y")])
                .reason
                .contains("does not exist")
        );
        assert!(
            err(&[Value::new(2000, "model", "X"), Value::new(2002, "color", "x".repeat(256))]).reason.contains("255")
        );
    }

    #[test]
    fn template_checked() {
        let mut t = tpl();
        t.items[1].id_index = 1999;
        assert_eq!(t.validate().unwrap_err().field, "items[1].idIndex");
        let mut t = tpl();
        t.items[2].id_type = "model".into();
        assert_eq!(t.validate().unwrap_err().field, "items[2].idType");
        let mut t = tpl();
        t.items[0].metadata.data_type = "int".into();
        assert!(t.validate().is_err());
        let mut t = tpl();
        t.normalize();
        assert_eq!(t.items[0].metadata.data_type, "string");
    }
}
