//! Pure conversions for export and import, shared by the CLI (`idnode id
//! import/export`) and the HTTP admin API. No I/O here.
//!
//! **JSON lines** — one record per line:
//!
//! ```text
//! {"handle":"88.118.8.1001/LOT2026-000451","values":[
//!   {"index":1,"type":"URL","data":"https://example.com/p/1","ttl":86400,"permissions":14},
//!   {"index":5,"type":"BLOB","data":{"format":"base64","value":"AAEC"},"ttl":86400,"permissions":14,
//!    "timestamp":1767225600,"ttl_type":1,"references":[{"handle":"0.NA/X","index":300}]}]}
//! ```
//!
//! `data` is a JSON string when the bytes are UTF-8, else
//! `{"format":"base64","value":...}` (`{"format":"string","value":...}` is
//! accepted too). `ttl` defaults to 86400, `permissions` to 14 (0x0E),
//! `timestamp` to "now" (a present `timestamp`, 0 included, is kept by
//! [`parse_json_line_stamped`] so an export re-imports losslessly), `ttl_type` to 0 (relative),
//! `references` to none. Export writes every field needed for a lossless
//! round trip.
//!
//! **CSV** — one value per row: `handle,index,type,data` (data as text);
//! consecutive rows with the same handle form one record. A first row whose
//! second column is literally `index` is a header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ident::{IdentError, Identifier};
use crate::model::value::DEFAULT_TTL;
use crate::model::wire::WireError;
use crate::model::{RecordBytes, Reference, TtlType, Value, perm};

/// Why a line or row could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TransferError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid handle: {0}")]
    Handle(#[from] IdentError),
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("stored record undecodable: {0}")]
    Wire(#[from] WireError),
}

fn field(field: impl Into<String>, reason: impl Into<String>) -> TransferError {
    TransferError::Field { field: field.into(), reason: reason.into() }
}

/// `data` in JSON: a plain string or `{format, value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JsonData {
    Text(String),
    Encoded { format: String, value: String },
}

/// A reference in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonRef {
    pub handle: String,
    pub index: u32,
}

fn default_ttl() -> i32 {
    DEFAULT_TTL
}
fn default_perm() -> u8 {
    perm::DEFAULT
}
fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

/// One value in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonValue {
    pub index: u32,
    #[serde(rename = "type")]
    pub value_type: String,
    pub data: JsonData,
    #[serde(default = "default_ttl")]
    pub ttl: i32,
    #[serde(default = "default_perm")]
    pub permissions: u8,
    /// Absent: the writer stamps "now"; present (0 included): kept as is
    /// when the write keeps timestamps (import). Export always writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u32>,
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub ttl_type: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<JsonRef>,
}

/// One record in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonRecord {
    pub handle: String,
    pub values: Vec<JsonValue>,
}

impl JsonValue {
    /// From a stored value.
    pub fn from_value(v: &Value) -> Self {
        let data = match std::str::from_utf8(&v.data) {
            Ok(s) => JsonData::Text(s.to_owned()),
            Err(_) => JsonData::Encoded { format: "base64".into(), value: B64.encode(&v.data) },
        };
        JsonValue {
            index: v.index,
            value_type: String::from_utf8_lossy(&v.value_type).into_owned(),
            data,
            ttl: v.ttl,
            permissions: v.permissions,
            timestamp: Some(v.timestamp),
            ttl_type: v.ttl_type.to_wire(),
            references: v
                .references
                .iter()
                .map(|r| JsonRef { handle: String::from_utf8_lossy(&r.handle).into_owned(), index: r.index })
                .collect(),
        }
    }

    /// To a value; `at` names the value in errors (e.g. `values[2]`).
    pub fn to_value(&self, at: &str) -> Result<Value, TransferError> {
        let data = match &self.data {
            JsonData::Text(s) => s.as_bytes().to_vec(),
            JsonData::Encoded { format, value } => match format.to_ascii_lowercase().as_str() {
                "base64" => {
                    B64.decode(value).map_err(|e| field(format!("{at}.data.value"), format!("bad base64: {e}")))?
                }
                "hex" => hex::decode(value).map_err(|e| field(format!("{at}.data.value"), format!("bad hex: {e}")))?,
                "string" => value.as_bytes().to_vec(),
                other => return Err(field(format!("{at}.data.format"), format!("unknown format {other:?}"))),
            },
        };
        if self.permissions > 0x0F {
            return Err(field(
                format!("{at}.permissions"),
                format!("{} is not a 4-bit permission set", self.permissions),
            ));
        }
        let ttl_type = TtlType::from_wire(self.ttl_type).map_err(|e| field(format!("{at}.ttl_type"), e.to_string()))?;
        Ok(Value {
            index: self.index,
            timestamp: self.timestamp.unwrap_or(0),
            ttl_type,
            ttl: self.ttl,
            permissions: self.permissions,
            value_type: self.value_type.as_bytes().to_vec(),
            data,
            references: self
                .references
                .iter()
                .map(|r| Reference { handle: r.handle.as_bytes().to_vec(), index: r.index })
                .collect(),
        })
    }
}

/// Appends the JSON line (with `\n`) of a stored record to `out`.
pub fn write_json_line(key: &[u8], rec: &RecordBytes, out: &mut Vec<u8>) -> Result<(), TransferError> {
    let values = rec.values()?;
    let jr = JsonRecord {
        handle: String::from_utf8_lossy(key).into_owned(),
        values: values.iter().map(JsonValue::from_value).collect(),
    };
    serde_json::to_writer(&mut *out, &jr).map_err(|e| TransferError::Json(e.to_string()))?;
    out.push(b'\n');
    Ok(())
}

/// The JSON line of a record (without the newline).
pub fn to_json_line(handle: &str, values: &[Value]) -> String {
    let jr = JsonRecord { handle: handle.to_owned(), values: values.iter().map(JsonValue::from_value).collect() };
    serde_json::to_string(&jr).unwrap_or_default()
}

/// Parses one JSON line into the identifier (as written) and its values.
/// Like [`parse_json_line`], stamping values without a `timestamp` with
/// `now` and keeping the others exactly (write them with
/// `WriteCtx::keeping_timestamps`).
pub fn parse_json_line_stamped(line: &str, now: u32) -> Result<(Identifier, Vec<Value>), TransferError> {
    let rec: JsonRecord = serde_json::from_str(line).map_err(|e| TransferError::Json(e.to_string()))?;
    let id = Identifier::parse(&rec.handle)?;
    let values = rec
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut value = v.to_value(&format!("values[{i}]"))?;
            if v.timestamp.is_none() {
                value.timestamp = now;
            }
            Ok(value)
        })
        .collect::<Result<Vec<_>, TransferError>>()?;
    Ok((id, values))
}

/// One JSON line to an identifier and its values (absent timestamps are 0).
pub fn parse_json_line(line: &str) -> Result<(Identifier, Vec<Value>), TransferError> {
    let jr: JsonRecord = serde_json::from_str(line).map_err(|e| TransferError::Json(e.to_string()))?;
    let id = Identifier::parse(&jr.handle)?;
    let values = jr
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| v.to_value(&format!("values[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((id, values))
}

/// True when a CSV row is the `handle,index,type,data` header.
pub fn is_csv_header<S: AsRef<str>>(fields: &[S]) -> bool {
    fields.len() >= 2 && fields[1].as_ref().trim().eq_ignore_ascii_case("index")
}

/// Converts one CSV row `handle,index,type,data` into (identifier, value).
/// Extra columns are refused so that shifted data is not imported silently.
pub fn csv_row_to_value<S: AsRef<str>>(fields: &[S]) -> Result<(Identifier, Value), TransferError> {
    if fields.len() != 4 {
        return Err(field("row", format!("expected 4 columns handle,index,type,data, got {}", fields.len())));
    }
    let id = Identifier::parse(fields[0].as_ref())?;
    let index: u32 = fields[1]
        .as_ref()
        .trim()
        .parse()
        .map_err(|_| field("index", format!("{:?} is not an unsigned 32-bit number", fields[1].as_ref())))?;
    let t = fields[2].as_ref();
    if t.is_empty() {
        return Err(field("type", "empty"));
    }
    Ok((id, Value::new(index, t, fields[3].as_ref())))
}

/// Parses a CLI value spec `index:type:data` (data may contain `:`).
pub fn parse_value_spec(spec: &str) -> Result<Value, TransferError> {
    let mut it = spec.splitn(3, ':');
    let (Some(i), Some(t), Some(d)) = (it.next(), it.next(), it.next()) else {
        return Err(field("value", format!("{spec:?} is not index:type:data")));
    };
    let index: u32 = i.parse().map_err(|_| field("value.index", format!("{i:?} is not an unsigned 32-bit number")))?;
    if t.is_empty() {
        return Err(field("value.type", "empty"));
    }
    Ok(Value::new(index, t, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let mut blob = Value::new(5, "BLOB", vec![0u8, 0xff, 2]).with_timestamp(9);
        blob.ttl_type = TtlType::Absolute;
        blob.references.push(Reference { handle: b"0.NA/X".to_vec(), index: 300 });
        let values = vec![Value::new(1, "URL", "http://x/é"), blob];
        let rb = RecordBytes::from_values(&values);
        let mut out = Vec::new();
        write_json_line(b"88.1/Ab", &rb, &mut out).unwrap();
        let line = std::str::from_utf8(&out).unwrap();
        assert!(line.ends_with('\n'));
        assert!(line.contains("\"format\":\"base64\""));
        let (id, back) = parse_json_line(line.trim_end()).unwrap();
        assert_eq!(id.as_str(), "88.1/Ab");
        assert_eq!(back, values);
    }

    #[test]
    fn json_defaults_and_errors() {
        let (_, v) = parse_json_line(r#"{"handle":"88.1/a","values":[{"index":1,"type":"URL","data":"x"}]}"#).unwrap();
        assert_eq!(v[0], Value::new(1, "URL", "x"));
        assert!(matches!(parse_json_line("{"), Err(TransferError::Json(_))));
        assert!(matches!(
            parse_json_line(r#"{"handle":"/a","values":[]}"#),
            Err(TransferError::Handle(IdentError::EmptyPrefix))
        ));
        let e = parse_json_line(
            r#"{"handle":"88.1/a","values":[{"index":1,"type":"X","data":{"format":"base64","value":"!"}}]}"#,
        )
        .unwrap_err();
        assert!(matches!(e, TransferError::Field { ref field, .. } if field == "values[0].data.value"), "{e}");
    }

    #[test]
    fn csv_and_spec() {
        assert!(is_csv_header(&["handle", "index", "type", "data"]));
        let (id, v) = csv_row_to_value(&["88.1/a", "2000", "model", "X,1"]).unwrap();
        assert_eq!(id.as_str(), "88.1/a");
        assert_eq!(v, Value::new(2000, "model", "X,1"));
        assert!(csv_row_to_value(&["88.1/a", "x", "model", "X"]).is_err());
        assert!(csv_row_to_value(&["88.1/a", "1", "URL"]).is_err());
        assert_eq!(parse_value_spec("1:URL:http://x:80/").unwrap(), Value::new(1, "URL", "http://x:80/"));
        assert!(parse_value_spec("1:URL").is_err());
    }
}
