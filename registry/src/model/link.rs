//! Typed references between identifiers ("links"): the value type that says
//! "this identifier relates to that one" (issue 12, traceability).
//!
//! **Encoding.** A link is an ordinary Handle value whose type is
//! `REF.<relation>` and whose data is the target identifier as UTF-8 text,
//! e.g. index 2100, type `REF.batch`, data `88.118.8.1001/LOT2026-000451`.
//! Any Handle client shows it as readable text; a record may hold many links
//! (one index each). The relation is lower-case ASCII letters, digits, `_`
//! and `-`, 1–64 characters: the well-known ones are [`WELL_KNOWN`]; an
//! enterprise may use its own.
//!
//! **Direction.** A link on record A with target B is the edge A → B
//! ("A's batch is B", "A has component B", "A travelled in shipment B").
//! A trace `down` follows these edges, `up` follows them backwards (who
//! points at me, the reverse index of `service::refs`).
//!
//! **Templates.** A template item whose metadata type is `reference` (and
//! whose idType therefore starts with `REF.`) requires its value to be a
//! valid link ([`crate::model::Template::validate_values`]).
//!
//! Pure: no store access here. Whether a target exists is checked by
//! `service::refs::check_links`.

use thiserror::Error;

use super::value::Value;
use crate::ident::Identifier;

/// Value types of links start with this.
pub const TYPE_PREFIX: &str = "REF.";
/// Longest relation name, in bytes (ASCII only).
pub const MAX_RELATION: usize = 64;
/// The metadata type of a template item that holds a link.
pub const TEMPLATE_DATA_TYPE: &str = "reference";
/// Relations every node understands (others are allowed).
pub const WELL_KNOWN: [&str; 5] = ["batch", "component", "shipment", "produced_by", "inspected_by"];

/// One typed reference: `relation` and target identifier (as written).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    pub relation: String,
    pub target: String,
}

/// Why a `REF.*` value is not a valid link.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LinkError {
    #[error("relation {0:?} must be 1-64 characters of a-z, 0-9, '_' or '-'")]
    Relation(String),
    #[error("target is not UTF-8 text")]
    NotUtf8,
    #[error("target {target:?} is not a valid identifier: {reason}")]
    Target { target: String, reason: String },
}

/// True when `value_type` is a link type (`REF.` in any ASCII case).
pub fn is_link_type(value_type: &[u8]) -> bool {
    value_type.len() >= TYPE_PREFIX.len()
        && value_type[..TYPE_PREFIX.len()].eq_ignore_ascii_case(TYPE_PREFIX.as_bytes())
}

/// Checks a relation name.
pub fn check_relation(r: &str) -> Result<(), LinkError> {
    let ok = !r.is_empty()
        && r.len() <= MAX_RELATION
        && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(LinkError::Relation(r.to_owned())) }
}

impl Link {
    /// A link (not validated; see [`Link::validate`]).
    pub fn new(relation: impl Into<String>, target: impl Into<String>) -> Self {
        Link { relation: relation.into(), target: target.into() }
    }

    /// The value type, `REF.<relation>`.
    pub fn value_type(&self) -> String {
        format!("{TYPE_PREFIX}{}", self.relation)
    }

    /// The Handle value carrying this link at `index`.
    pub fn to_value(&self, index: u32) -> Value {
        Value::new(index, self.value_type(), self.target.as_bytes().to_vec())
    }

    /// The link a value carries: `None` when the value is not of a `REF.`
    /// type, an error when it is but is malformed.
    pub fn from_value(v: &Value) -> Option<Result<Link, LinkError>> {
        Self::from_parts(&v.value_type, &v.data)
    }

    /// Like [`from_value`](Self::from_value) over raw type and data bytes.
    pub fn from_parts(value_type: &[u8], data: &[u8]) -> Option<Result<Link, LinkError>> {
        if !is_link_type(value_type) {
            return None;
        }
        Some((|| {
            let relation = std::str::from_utf8(&value_type[TYPE_PREFIX.len()..])
                .map_err(|_| LinkError::Relation(String::from_utf8_lossy(value_type).into_owned()))?;
            let target = std::str::from_utf8(data).map_err(|_| LinkError::NotUtf8)?;
            let link = Link::new(relation, target);
            link.validate()?;
            Ok(link)
        })())
    }

    /// Syntax only: relation name and target identifier grammar (HTTP
    /// length limit, no control characters, non-empty prefix and suffix).
    pub fn validate(&self) -> Result<(), LinkError> {
        check_relation(&self.relation)?;
        Identifier::parse_http(&self.target)
            .map_err(|e| LinkError::Target { target: self.target.clone(), reason: e.to_string() })?;
        Ok(())
    }
}

/// The valid links among `values`, in value order (malformed ones skipped:
/// they were refused on write, or predate this check).
pub fn links_of(values: &[Value]) -> Vec<Link> {
    values.iter().filter_map(|v| Link::from_value(v).and_then(Result::ok)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let l = Link::new("batch", "88.1.1/LOT-1");
        let v = l.to_value(2100);
        assert_eq!(v.type_str(), "REF.batch");
        assert_eq!(Link::from_value(&v), Some(Ok(l)));
        assert_eq!(Link::from_value(&Value::new(1, "URL", "http://x")), None);
        assert!(is_link_type(b"ref.component"));
    }

    #[test]
    fn refused() {
        let bad = |t: &str, d: &str| Link::from_value(&Value::new(1, t, d)).unwrap().unwrap_err();
        assert!(matches!(bad("REF.", "88.1/x"), LinkError::Relation(_)));
        assert!(matches!(bad("REF.Batch", "88.1/x"), LinkError::Relation(_)));
        assert!(matches!(bad("REF.a b", "88.1/x"), LinkError::Relation(_)));
        assert!(matches!(bad("REF.batch", ""), LinkError::Target { .. }));
        assert!(matches!(bad("REF.batch", "/x"), LinkError::Target { .. }));
        assert!(matches!(bad("REF.batch", "88.1/a\nb"), LinkError::Target { .. }));
        assert!(matches!(
            Link::from_value(&Value::new(1, "REF.batch", vec![0xff])).unwrap().unwrap_err(),
            LinkError::NotUtf8
        ));
        assert_eq!(links_of(&[Value::new(1, "REF.batch", "88.1/x"), Value::new(2, "REF.x", "")]).len(), 1);
    }
}
