//! Handle values as JSON (handle-protocol.md §8 "Value JSON"), both ways,
//! the way CNRI's `GsonUtility` writes and reads them.
//!
//! Output: `{"index","type","data":{"format","value"},["permissions"],"ttl",
//! ["timestamp"],["references"]}`; `data.format` is chosen by type —
//! `admin` (HS_ADMIN), `vlist` (HS_VLIST), `site` (HS_SITE, HS_SITE.PREFIX,
//! HS_NA_DELEGATE), `key` (HS_PUBKEY, RSA/DSA as JWK) when the bytes decode
//! as such — else `string` for UTF-8 text without control characters
//! (TAB, LF, CR allowed) and `base64` otherwise. `permissions` is omitted
//! when it is the default `1110`, `timestamp` when 0, `references` when
//! empty; `ttl` is a number (relative) or an ISO-8601 string (absolute).
//!
//! Input is lenient like CNRI's: `data` may be a bare string; `index` may be
//! a string of digits (pyhandle sends admin indexes that way); permissions
//! are read right-aligned, `*` = all; absent `ttl` = 86400, absent
//! `timestamp` = 0 (the store stamps it with the write time).
//!
//! Pure conversions: no I/O.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idnode_registry::model::site::{HsSite, Interface, SiteAttribute, SiteServer};
use idnode_registry::model::{AdminRecord, PublicKey, Reference, TtlType, Value, ValueList, perm};
use serde_json::{Map, Value as Json, json};

/// Largest `data` accepted in one value, in bytes (after decoding).
pub const MAX_DATA_BYTES: usize = 256 * 1024;

// ---------------------------------------------------------------- output

/// One value as a JSON tree: the reference form that [`ValueOut`] must
/// reproduce (the test below compares them).
#[cfg(test)]
pub fn value_to_json(v: &Value) -> Json {
    let mut o = Map::new();
    o.insert("index".into(), json!(v.index));
    o.insert("type".into(), Json::String(String::from_utf8_lossy(&v.value_type).into_owned()));
    o.insert("data".into(), data_to_json(&v.value_type, &v.data));
    if v.permissions & 0x0F != perm::DEFAULT {
        o.insert("permissions".into(), Json::String(permissions_string(v.permissions)));
    }
    o.insert(
        "ttl".into(),
        match v.ttl_type {
            TtlType::Relative => json!(v.ttl),
            TtlType::Absolute => Json::String(iso8601(i64::from(v.ttl as u32))),
        },
    );
    if v.timestamp != 0 {
        o.insert("timestamp".into(), Json::String(iso8601(i64::from(v.timestamp))));
    }
    if !v.references.is_empty() {
        o.insert("references".into(), Json::Array(v.references.iter().map(reference_to_json).collect()));
    }
    Json::Object(o)
}

/// `"AR AW PR PW"` as four bits, e.g. `1110`.
pub fn permissions_string(p: u8) -> String {
    [perm::ADMIN_READ, perm::ADMIN_WRITE, perm::PUBLIC_READ, perm::PUBLIC_WRITE]
        .iter()
        .map(|b| if p & b != 0 { '1' } else { '0' })
        .collect()
}

/// Unix seconds as `2001-11-21T16:21:35Z`.
pub fn iso8601(secs: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

fn reference_to_json(r: &Reference) -> Json {
    json!({"handle": String::from_utf8_lossy(&r.handle), "index": r.index})
}

fn typed(format: &str, value: Json) -> Json {
    json!({"format": format, "value": value})
}

fn is_type(t: &[u8], name: &str) -> bool {
    t.eq_ignore_ascii_case(name.as_bytes())
}

/// The `data` object of a value of type `ty`.
pub fn data_to_json(ty: &[u8], data: &[u8]) -> Json {
    if is_type(ty, "HS_ADMIN")
        && let Ok(a) = AdminRecord::from_bytes(data)
    {
        return typed("admin", admin_to_json(&a));
    }
    if is_type(ty, "HS_VLIST")
        && let Ok(l) = ValueList::from_bytes(data)
    {
        return typed("vlist", Json::Array(l.members.iter().map(reference_to_json).collect()));
    }
    if (is_type(ty, "HS_SITE") || is_type(ty, "HS_SITE.PREFIX") || is_type(ty, "HS_NA_DELEGATE"))
        && let Ok(s) = HsSite::from_bytes(data)
    {
        return typed("site", site_to_json(&s));
    }
    if is_type(ty, "HS_PUBKEY")
        && let Some(k) = key_to_jwk(data)
    {
        return typed("key", k);
    }
    bytes_to_json(data)
}

/// `string` when the bytes read as text, else `base64`.
pub fn bytes_to_json(data: &[u8]) -> Json {
    match std::str::from_utf8(data) {
        Ok(s) if !s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) => {
            typed("string", Json::String(s.to_owned()))
        }
        _ => typed("base64", Json::String(STANDARD.encode(data))),
    }
}

fn admin_to_json(a: &AdminRecord) -> Json {
    // 12 characters, leftmost = bit 11 (LIST_HANDLES).
    let perms: String = (0..12).rev().map(|bit| if a.permissions & (1 << bit) != 0 { '1' } else { '0' }).collect();
    let mut o = Map::new();
    o.insert("handle".into(), Json::String(String::from_utf8_lossy(&a.admin_handle).into_owned()));
    o.insert("index".into(), json!(a.admin_index));
    o.insert("permissions".into(), Json::String(perms));
    if a.legacy_trailer {
        o.insert("legacyByteLength".into(), Json::Bool(true));
    }
    Json::Object(o)
}

/// An HS_SITE record as CNRI's site JSON (also the body of `/api/site`).
pub fn site_to_json(s: &HsSite) -> Json {
    let mut o = Map::new();
    o.insert("version".into(), json!(s.data_format_version));
    o.insert("protocolVersion".into(), Json::String(format!("{}.{}", s.protocol_major, s.protocol_minor)));
    o.insert("serialNumber".into(), json!(s.serial_number));
    o.insert("primarySite".into(), Json::Bool(s.is_primary()));
    o.insert("multiPrimary".into(), Json::Bool(s.is_multi_primary()));
    if s.hash_option != idnode_registry::model::site::hash_option::BY_HANDLE {
        o.insert("hashOption".into(), json!(s.hash_option));
    }
    if !s.hash_filter.is_empty() {
        o.insert("hashFilter".into(), Json::String(String::from_utf8_lossy(&s.hash_filter).into_owned()));
    }
    o.insert(
        "attributes".into(),
        Json::Array(
            s.attributes
                .iter()
                .map(|a| json!({"name": String::from_utf8_lossy(&a.name), "value": String::from_utf8_lossy(&a.value)}))
                .collect(),
        ),
    );
    o.insert("servers".into(), Json::Array(s.servers.iter().map(server_to_json).collect()));
    Json::Object(o)
}

fn server_to_json(s: &SiteServer) -> Json {
    let key = match key_to_jwk(&s.public_key) {
        Some(k) => typed("key", k),
        None => typed("base64", Json::String(STANDARD.encode(&s.public_key))),
    };
    let interfaces: Vec<Json> = s
        .interfaces
        .iter()
        .map(|i| {
            let protocol = match i.protocol {
                0 => json!("UDP"),
                1 => json!("TCP"),
                2 => json!("HTTP"),
                3 => json!("HTTPS"),
                other => json!(other),
            };
            json!({"query": i.allows_query(), "admin": i.allows_admin(), "protocol": protocol, "port": i.port})
        })
        .collect();
    json!({"serverId": s.server_id, "address": s.ip().to_string(), "publicKey": key, "interfaces": interfaces})
}

/// Java `BigInteger` bytes without the sign byte (at least one byte).
fn unsigned(b: &[u8]) -> &[u8] {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    if zeros == b.len() { &b[b.len().saturating_sub(1)..] } else { &b[zeros..] }
}

/// HS_PUBKEY data as a JWK (RSA / DSA only).
pub fn key_to_jwk(data: &[u8]) -> Option<Json> {
    let b64 = |x: &[u8]| Json::String(URL_SAFE_NO_PAD.encode(unsigned(x)));
    match PublicKey::from_bytes(data).ok()? {
        PublicKey::Rsa { exponent, modulus, .. } => {
            Some(json!({"kty": "RSA", "n": b64(&modulus), "e": b64(&exponent)}))
        }
        PublicKey::Dsa { q, p, g, y, .. } => {
            Some(json!({"kty": "DSA", "y": b64(&y), "p": b64(&p), "q": b64(&q), "g": b64(&g)}))
        }
        _ => None,
    }
}

// ----------------------------------------------------------------- input

/// Parses one value object. Errors name the field.
pub fn value_from_json(j: &Json) -> Result<Value, String> {
    let o = j.as_object().ok_or("a handle value must be a JSON object")?;
    let index = match o.get("index") {
        Some(i) => int_field(i, "index")?,
        None => return Err("value without \"index\"".into()),
    };
    let ty = match o.get("type") {
        Some(Json::String(t)) => t.clone(),
        Some(_) => return Err(format!("value {index}: \"type\" must be a string")),
        None => return Err(format!("value {index}: missing \"type\"")),
    };
    if ty.len() > 1024 {
        return Err(format!("value {index}: type longer than 1024 bytes"));
    }
    let data = match o.get("data") {
        Some(d) => data_from_json(d).map_err(|e| format!("value {index} ({ty}): data: {e}"))?,
        None => return Err(format!("value {index}: missing \"data\"")),
    };
    if data.len() > MAX_DATA_BYTES {
        return Err(format!("value {index}: data of {} bytes exceeds {MAX_DATA_BYTES}", data.len()));
    }
    let mut v = Value::new(index, ty.into_bytes(), data);
    if let Some(p) = o.get("permissions") {
        v.permissions = permissions_from_json(p).map_err(|e| format!("value {index}: permissions: {e}"))?;
    }
    match o.get("ttl") {
        None | Some(Json::Null) => {}
        Some(Json::Number(n)) => {
            v.ttl = n
                .as_i64()
                .and_then(|x| i32::try_from(x).ok())
                .ok_or_else(|| format!("value {index}: ttl {n} is not a 32-bit integer"))?;
        }
        Some(Json::String(s)) => {
            v.ttl_type = TtlType::Absolute;
            let t = parse_time(s).map_err(|e| format!("value {index}: ttl: {e}"))?;
            v.ttl = u32::try_from(t).map_err(|_| format!("value {index}: ttl {s} out of range"))? as i32;
        }
        Some(_) => return Err(format!("value {index}: ttl must be a number or an ISO-8601 time")),
    }
    match o.get("timestamp") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) => {
            let t = parse_time(s).map_err(|e| format!("value {index}: timestamp: {e}"))?;
            v.timestamp = u32::try_from(t).map_err(|_| format!("value {index}: timestamp {s} out of range"))?;
        }
        Some(_) => return Err(format!("value {index}: timestamp must be an ISO-8601 string")),
    }
    match o.get("references") {
        None | Some(Json::Null) => {}
        Some(Json::Array(a)) => {
            for r in a {
                v.references.push(reference_from_json(r).map_err(|e| format!("value {index}: references: {e}"))?);
            }
        }
        Some(_) => return Err(format!("value {index}: references must be an array")),
    }
    Ok(v)
}

fn int_field(j: &Json, what: &str) -> Result<u32, String> {
    match j {
        Json::Number(n) => n.as_u64().and_then(|x| u32::try_from(x).ok()),
        Json::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{what} {j} is not an unsigned 32-bit integer"))
}

fn parse_time(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("{s:?} is not an ISO-8601 time: {e}"))
}

/// Value permissions: 4-character bit string read right-aligned
/// (PW, PR, AW, AR), or `*`.
fn permissions_from_json(j: &Json) -> Result<u8, String> {
    let s = j.as_str().ok_or("must be a string such as \"1110\"")?;
    if s == "*" {
        return Ok(0x0F);
    }
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b == b'0' || b == b'1') {
        return Err(format!("{s:?} is not 1 to 4 characters of 0 and 1"));
    }
    // Right-aligned: the last character is PUBLIC_WRITE; missing leading
    // characters keep the default bits.
    let mut p = perm::DEFAULT;
    for (bit, c) in s.bytes().rev().enumerate() {
        let mask = 1u8 << bit;
        if c == b'1' { p |= mask } else { p &= !mask }
    }
    Ok(p)
}

fn reference_from_json(j: &Json) -> Result<Reference, String> {
    let o = j.as_object().ok_or("a reference must be an object {handle, index}")?;
    let handle = o.get("handle").and_then(Json::as_str).ok_or("reference without a string \"handle\"")?;
    if handle.len() > idnode_registry::ident::MAX_HANDLE_BYTES {
        return Err("reference handle too long".into());
    }
    let index = int_field(o.get("index").ok_or("reference without \"index\"")?, "index")?;
    Ok(Reference { handle: handle.as_bytes().to_vec(), index })
}

/// The bytes of a `data` field: a bare string, or `{format, value}`.
pub fn data_from_json(j: &Json) -> Result<Vec<u8>, String> {
    let (format, value) = match j {
        Json::String(s) => return Ok(s.as_bytes().to_vec()),
        Json::Object(o) => {
            let f = o.get("format").and_then(Json::as_str).ok_or("object without a string \"format\"")?;
            (f.to_ascii_lowercase(), o.get("value").ok_or("object without \"value\"")?)
        }
        _ => return Err("must be a string or {\"format\", \"value\"}".into()),
    };
    let text = || value.as_str().ok_or_else(|| format!("{format} value must be a string"));
    match format.as_str() {
        "string" => Ok(text()?.as_bytes().to_vec()),
        "base64" => STANDARD
            .decode(text()?.trim())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text().unwrap_or_default().trim()))
            .map_err(|e| format!("invalid base64: {e}")),
        "hex" => hex::decode(text()?.trim()).map_err(|e| format!("invalid hex: {e}")),
        "admin" => admin_from_json(value).map(|a| a.to_bytes()),
        "vlist" => {
            let a = value.as_array().ok_or("vlist value must be an array")?;
            let members = a.iter().map(reference_from_json).collect::<Result<Vec<_>, _>>()?;
            Ok(ValueList::new(members).to_bytes())
        }
        "site" => site_from_json(value).map(|s| s.to_bytes()),
        "key" => key_from_jwk(value),
        other => Err(format!("unknown format {other:?} (string, base64, hex, admin, vlist, site, key)")),
    }
}

fn admin_from_json(j: &Json) -> Result<AdminRecord, String> {
    let o = j.as_object().ok_or("admin value must be an object {handle, index, permissions}")?;
    let handle = o.get("handle").and_then(Json::as_str).ok_or("admin value without a string \"handle\"")?;
    if handle.is_empty() || handle.len() > idnode_registry::ident::MAX_HANDLE_BYTES {
        return Err("admin handle empty or too long".into());
    }
    let index = int_field(o.get("index").ok_or("admin value without \"index\"")?, "admin index")?;
    let permissions = admin_perms_from_json(o.get("permissions"))?;
    let mut a = AdminRecord::new(permissions, handle.as_bytes().to_vec(), index);
    a.legacy_trailer = o.get("legacyByteLength").and_then(Json::as_bool).unwrap_or(false);
    Ok(a)
}

/// HS_ADMIN permissions: 12-character string (leftmost = bit 11), `*`,
/// boolean, integer (its binary digits) or an array of 12 truthy values
/// (element 0 = bit 0).
fn admin_perms_from_json(j: Option<&Json>) -> Result<u16, String> {
    let from_bits = |s: &str| -> Result<u16, String> {
        if s == "*" {
            return Ok(0x0FFF);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("permissions {s:?} must be a string of 0 and 1"));
        }
        Ok(s.bytes().rev().take(12).enumerate().filter(|(_, c)| *c == b'1').fold(0u16, |acc, (i, _)| acc | (1 << i)))
    };
    match j {
        None | Some(Json::Null) => Ok(0),
        Some(Json::Bool(b)) => Ok(if *b { 0x0FFF } else { 0 }),
        Some(Json::String(s)) => from_bits(s),
        Some(Json::Number(n)) => {
            let x = n.as_u64().ok_or("permissions number must be a non-negative integer")?;
            from_bits(&format!("{x:b}"))
        }
        Some(Json::Array(a)) => {
            Ok(a.iter().take(12).enumerate().filter(|(_, v)| truthy(v)).fold(0, |acc, (i, _)| acc | (1 << i)))
        }
        Some(Json::Object(_)) => Err("permissions must not be an object".into()),
    }
}

fn truthy(j: &Json) -> bool {
    match j {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::String(s) => !s.is_empty(),
        Json::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        _ => true,
    }
}

fn site_from_json(j: &Json) -> Result<HsSite, String> {
    let o = j.as_object().ok_or("site value must be an object")?;
    let u = |k: &str, max: u64, default: u64| -> Result<u64, String> {
        match o.get(k) {
            None => Ok(default),
            Some(v) => v.as_u64().filter(|x| *x <= max).ok_or_else(|| format!("site {k} must be an integer <= {max}")),
        }
    };
    let (major, minor) = match o.get("protocolVersion").and_then(Json::as_str) {
        Some(v) => {
            let (a, b) = v.split_once('.').ok_or("protocolVersion must look like \"2.10\"")?;
            (a.parse::<u8>().map_err(|_| "bad protocolVersion")?, b.parse::<u8>().map_err(|_| "bad protocolVersion")?)
        }
        None => (2, 10),
    };
    let flag = |k: &str| o.get(k).and_then(Json::as_bool).unwrap_or(false);
    let mut primary_mask = 0u8;
    if flag("primarySite") {
        primary_mask |= idnode_registry::model::site::primary_mask::PRIMARY;
    }
    if flag("multiPrimary") {
        primary_mask |= idnode_registry::model::site::primary_mask::MULTI_PRIMARY;
    }
    let attributes = match o.get("attributes") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(a)) => a
            .iter()
            .map(|x| {
                let name = x.get("name").and_then(Json::as_str).ok_or("attribute without a string name")?;
                let value = x.get("value").and_then(Json::as_str).ok_or("attribute without a string value")?;
                Ok(SiteAttribute { name: name.as_bytes().to_vec(), value: value.as_bytes().to_vec() })
            })
            .collect::<Result<_, String>>()?,
        Some(Json::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let value = v.as_str().ok_or("attribute values must be strings")?;
                Ok(SiteAttribute { name: k.as_bytes().to_vec(), value: value.as_bytes().to_vec() })
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("site attributes must be an array".into()),
    };
    let servers = match o.get("servers") {
        Some(Json::Array(a)) => a.iter().map(server_from_json).collect::<Result<_, _>>()?,
        None | Some(Json::Null) => Vec::new(),
        Some(_) => return Err("site servers must be an array".into()),
    };
    Ok(HsSite {
        data_format_version: u("version", u64::from(u16::MAX), 1)? as u16,
        protocol_major: major,
        protocol_minor: minor,
        serial_number: u("serialNumber", u64::from(u16::MAX), 1)? as u16,
        primary_mask,
        hash_option: u("hashOption", 255, u64::from(idnode_registry::model::site::hash_option::BY_HANDLE))? as u8,
        hash_filter: o.get("hashFilter").and_then(Json::as_str).unwrap_or("").as_bytes().to_vec(),
        attributes,
        servers,
    })
}

fn server_from_json(j: &Json) -> Result<SiteServer, String> {
    let o = j.as_object().ok_or("site server must be an object")?;
    let server_id = o
        .get("serverId")
        .and_then(Json::as_u64)
        .and_then(|x| u32::try_from(x).ok())
        .ok_or("server without serverId")?;
    let ip: IpAddr = o
        .get("address")
        .and_then(Json::as_str)
        .ok_or("server without address")?
        .parse()
        .map_err(|_| "server address is not an IP address")?;
    let public_key = match o.get("publicKey") {
        None | Some(Json::Null) => Vec::new(),
        Some(k) => data_from_json(k).map_err(|e| format!("server publicKey: {e}"))?,
    };
    let interfaces = match o.get("interfaces") {
        Some(Json::Array(a)) => a
            .iter()
            .map(|i| {
                let b = |k: &str| i.get(k).and_then(Json::as_bool).unwrap_or(false);
                let kind = match (b("query"), b("admin")) {
                    (true, true) => 3,
                    (true, false) => 2,
                    (false, true) => 1,
                    (false, false) => 0,
                };
                let protocol = match i.get("protocol") {
                    Some(Json::String(p)) => match p.as_str() {
                        "UDP" => 0,
                        "TCP" => 1,
                        "HTTP" => 2,
                        "HTTPS" => 3,
                        _ => return Err(format!("unknown interface protocol {p:?}")),
                    },
                    Some(Json::Number(n)) => n.as_u64().filter(|x| *x <= 255).ok_or("bad interface protocol")? as u8,
                    _ => return Err("interface without protocol".into()),
                };
                let port = i
                    .get("port")
                    .and_then(Json::as_u64)
                    .and_then(|x| u32::try_from(x).ok())
                    .ok_or("interface without port")?;
                Ok(Interface { kind, protocol, port })
            })
            .collect::<Result<_, String>>()?,
        None | Some(Json::Null) => Vec::new(),
        Some(_) => return Err("server interfaces must be an array".into()),
    };
    Ok(SiteServer { server_id, address: SiteServer::address_bytes(ip), public_key, interfaces })
}

/// A JWK (RSA or DSA) as HS_PUBKEY data, integers in Java's signed form.
fn key_from_jwk(j: &Json) -> Result<Vec<u8>, String> {
    let o = j.as_object().ok_or("key value must be a JWK object")?;
    let part = |k: &str| -> Result<Vec<u8>, String> {
        let s = o.get(k).and_then(Json::as_str).ok_or_else(|| format!("JWK without {k:?}"))?;
        let raw = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(s))
            .map_err(|e| format!("JWK {k:?}: {e}"))?;
        let mag = unsigned(&raw);
        let mut out = Vec::with_capacity(mag.len() + 1);
        if mag.first().is_some_and(|b| b & 0x80 != 0) {
            out.push(0);
        }
        out.extend_from_slice(mag);
        Ok(out)
    };
    match o.get("kty").and_then(Json::as_str).map(str::to_ascii_uppercase).as_deref() {
        Some("RSA") => Ok(PublicKey::rsa(part("e")?, part("n")?).to_bytes()),
        Some("DSA") => Ok(PublicKey::Dsa {
            flags: 0,
            q: part("q")?,
            p: part("p")?,
            g: part("g")?,
            y: part("y")?,
            extra: Vec::new(),
        }
        .to_bytes()),
        other => Err(format!("unsupported JWK kty {other:?} (RSA, DSA)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::model::admin_perm;

    #[test]
    fn output_shape() {
        let v = Value::new(1, "URL", "http://x").with_timestamp(1_006_359_695);
        assert_eq!(
            value_to_json(&v),
            json!({"index":1,"type":"URL","data":{"format":"string","value":"http://x"},"ttl":86400,"timestamp":"2001-11-21T16:21:35Z"})
        );
        let secret = Value::new(300, "HS_SECKEY", vec![0xff, 0]).with_permissions(perm::SECRET);
        let j = value_to_json(&secret);
        assert_eq!(j["permissions"], "1100");
        assert_eq!(j["data"], json!({"format":"base64","value":"/wA="}));
        assert!(j.get("timestamp").is_none());
        let admin = Value::new(100, "HS_ADMIN", AdminRecord::new(0x07FF, "0.NA/TEST", 300).to_bytes());
        assert_eq!(
            value_to_json(&admin)["data"],
            json!({"format":"admin","value":{"handle":"0.NA/TEST","index":300,"permissions":"011111111111"}})
        );
    }

    #[test]
    fn lenient_input() {
        // pyhandle's create body.
        let admin = json!({"index":100,"type":"HS_ADMIN","data":{"format":"admin","value":{"index":"200","handle":"0.NA/TEST","permissions":"011111110011"}}});
        let v = value_from_json(&admin).unwrap();
        let a = AdminRecord::from_bytes(&v.data).unwrap();
        assert_eq!((a.admin_index, a.permissions, &a.admin_handle[..]), (200, 0b0111_1111_0011, &b"0.NA/TEST"[..]));
        assert_eq!((v.ttl, v.timestamp, v.permissions), (86_400, 0, perm::DEFAULT));
        let v = value_from_json(
            &json!({"index":"2","type":"URL","data":"http://y","permissions":"0","ttl":"2030-01-01T00:00:00Z"}),
        )
        .unwrap();
        assert_eq!(v.index, 2);
        assert_eq!(v.data, b"http://y");
        assert_eq!(v.permissions, 0x0E & !0x01);
        assert_eq!(v.ttl_type, TtlType::Absolute);
        assert_eq!(admin_perms_from_json(Some(&json!("*"))).unwrap(), admin_perm::ALL);
        assert_eq!(admin_perms_from_json(Some(&json!(true))).unwrap(), admin_perm::ALL);
        assert_eq!(admin_perms_from_json(Some(&json!([true, 0, 1]))).unwrap(), 0b101);
        assert_eq!(admin_perms_from_json(Some(&json!(5))).unwrap(), 0b101);
        assert_eq!(permissions_from_json(&json!("*")).unwrap(), 0x0F);
        assert!(permissions_from_json(&json!("11111")).is_err());
        for bad in [
            json!({"type":"URL","data":"x"}),
            json!({"index":1,"data":"x"}),
            json!({"index":1,"type":"URL"}),
            json!({"index":-1,"type":"URL","data":"x"}),
            json!({"index":1,"type":"URL","data":{"format":"nope","value":"x"}}),
            json!({"index":1,"type":"URL","data":{"format":"base64","value":"!!"}}),
        ] {
            assert!(value_from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_by_format() {
        let site = HsSite {
            data_format_version: 1,
            protocol_major: 2,
            protocol_minor: 10,
            serial_number: 3,
            primary_mask: 0x80,
            hash_option: 2,
            hash_filter: vec![],
            attributes: vec![SiteAttribute { name: b"desc".to_vec(), value: b"x".to_vec() }],
            servers: vec![SiteServer {
                server_id: 1,
                address: SiteServer::address_bytes("127.0.0.1".parse().unwrap()),
                public_key: PublicKey::rsa(vec![1, 0, 1], vec![0, 0xa0, 0x77]).to_bytes(),
                interfaces: vec![Interface { kind: 3, protocol: 1, port: 2641 }],
            }],
        };
        let key = PublicKey::rsa(vec![1, 0, 1], vec![0, 0xa0, 0x77]).to_bytes();
        let vl = ValueList::new(vec![Reference { handle: b"0.NA/X".to_vec(), index: 300 }]).to_bytes();
        for (ty, data) in [
            ("HS_SITE", site.to_bytes()),
            ("HS_PUBKEY", key),
            ("HS_VLIST", vl),
            ("HS_ADMIN", AdminRecord::new(0x0FFF, "0.NA/X", 300).to_bytes()),
            ("URL", b"line1\nline2".to_vec()),
            ("BIN", vec![0, 1, 2, 255]),
        ] {
            let v = Value::new(7, ty, data.clone()).with_timestamp(5);
            let back = value_from_json(&value_to_json(&v)).unwrap();
            assert_eq!(back, v, "{ty}");
        }
        assert_eq!(site_to_json(&site)["servers"][0]["interfaces"][0]["protocol"], "TCP");
        assert_eq!(site_to_json(&site)["servers"][0]["publicKey"]["value"]["e"], "AQAB");
    }
}

/// A value serialised straight from its fields, the same JSON as
/// [`value_to_json`] (keys in the same, alphabetical, order) without building
/// a `serde_json::Value` tree first: the resolution answer is the REST door's
/// hot path (docs/performance.md).
#[derive(Debug, Clone, Copy)]
pub struct ValueOut<'a>(pub &'a Value);

/// `{"format": ..., "value": ...}` for the plain formats.
struct Typed<'a> {
    format: &'static str,
    value: &'a str,
}

impl serde::Serialize for Typed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("format", self.format)?;
        m.serialize_entry("value", self.value)?;
        m.end()
    }
}

/// Types whose `data` has a structured JSON form.
fn structured(ty: &[u8]) -> bool {
    ["HS_ADMIN", "HS_VLIST", "HS_SITE", "HS_SITE.PREFIX", "HS_NA_DELEGATE", "HS_PUBKEY"].iter().any(|n| is_type(ty, n))
}

impl serde::Serialize for ValueOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let v = self.0;
        let mut m = s.serialize_map(None)?;
        // data
        if structured(&v.value_type) {
            m.serialize_entry("data", &data_to_json(&v.value_type, &v.data))?;
        } else {
            match std::str::from_utf8(&v.data) {
                Ok(text) if !text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) => {
                    m.serialize_entry("data", &Typed { format: "string", value: text })?;
                }
                _ => {
                    let b64 = STANDARD.encode(&v.data);
                    m.serialize_entry("data", &Typed { format: "base64", value: &b64 })?;
                }
            }
        }
        m.serialize_entry("index", &v.index)?;
        if v.permissions & 0x0F != perm::DEFAULT {
            m.serialize_entry("permissions", &permissions_string(v.permissions))?;
        }
        if !v.references.is_empty() {
            let refs: Vec<Json> = v.references.iter().map(reference_to_json).collect();
            m.serialize_entry("references", &refs)?;
        }
        if v.timestamp != 0 {
            m.serialize_entry("timestamp", &iso8601(i64::from(v.timestamp)))?;
        }
        match v.ttl_type {
            TtlType::Relative => m.serialize_entry("ttl", &v.ttl)?,
            TtlType::Absolute => m.serialize_entry("ttl", &iso8601(i64::from(v.ttl as u32)))?,
        }
        m.serialize_entry("type", &String::from_utf8_lossy(&v.value_type))?;
        m.end()
    }
}

#[cfg(test)]
mod value_out_tests {
    use super::*;
    use idnode_registry::model::{AdminRecord, Reference, TtlType, Value};

    #[test]
    fn direct_serialisation_equals_the_value_tree() {
        let admin = AdminRecord::new(0x0FFF, "0.NA/88.118.8", 300).to_bytes();
        let mut abs = Value::new(7, "DESC", "x").with_timestamp(1_700_000_000);
        abs.ttl_type = TtlType::Absolute;
        abs.ttl = 1_800_000_000;
        abs.references.push(Reference { handle: b"88.1/r".to_vec(), index: 3 });
        let cases = vec![
            Value::new(1, "URL", "https://example.org/a?b=\"c\""),
            Value::new(2, "BLOB", vec![0u8, 1, 2, 255]),
            Value::new(100, "HS_ADMIN", admin),
            Value::new(300, "HS_SECKEY", "s").with_permissions(perm::SECRET).with_timestamp(5),
            abs,
            Value::new(3, "中文", "数据\t行"),
        ];
        for v in &cases {
            let tree = serde_json::to_string(&value_to_json(v)).unwrap();
            let direct = serde_json::to_string(&ValueOut(v)).unwrap();
            assert_eq!(direct, tree, "value {}", v.index);
        }
    }
}
