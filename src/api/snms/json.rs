//! Lenient reading of SNMS request JSON (snms-api.md §1.2): numbers may
//! come as decimal strings and string codes as numbers; unknown fields are
//! ignored; `null` counts as absent. Every error names the field by its
//! path (`value[2].data.value`, `entBasicInfo.orgName`).

use idnode_registry::service::ServiceError;
use serde_json::{Map, Value};

/// An object being read, with the path of the object itself.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    base: &'a str,
}

pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ServiceError {
    ServiceError::Invalid { field: field.into(), reason: reason.into() }
}

pub fn mismatch(field: impl Into<String>, reason: impl Into<String>) -> ServiceError {
    ServiceError::TypeMismatch { field: field.into(), reason: reason.into() }
}

/// Joins a path and a key.
pub fn join(base: &str, key: &str) -> String {
    if base.is_empty() { key.to_owned() } else { format!("{base}.{key}") }
}

impl<'a> Fields<'a> {
    /// `v` must be an object (`base` names it; empty for the body).
    pub fn of(v: &'a Value, base: &'a str) -> Result<Self, ServiceError> {
        match v {
            Value::Object(obj) => Ok(Fields { obj, base }),
            _ => Err(invalid(if base.is_empty() { "body" } else { base }, "must be a JSON object")),
        }
    }

    pub fn path(&self, key: &str) -> String {
        join(self.base, key)
    }

    /// The raw value of `key`, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// The first present of several spellings (`username` / `userName`).
    pub fn get_any(&self, keys: &[&str]) -> Option<(&'a Value, String)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (v, self.path(k))))
    }

    /// A string (numbers and booleans are taken as their text) of at most
    /// `max` characters; `None` when absent.
    pub fn str_opt(&self, key: &str, max: usize) -> Result<Option<String>, ServiceError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => text(v, &self.path(key), max).map(Some),
        }
    }

    /// Like [`str_opt`](Self::str_opt) but required and non-empty.
    pub fn str_req(&self, key: &str, max: usize) -> Result<String, ServiceError> {
        match self.str_opt(key, max)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(invalid(self.path(key), "required")),
        }
    }

    /// An unsigned integer (JSON number or decimal string); empty string
    /// counts as absent.
    pub fn u64_opt(&self, key: &str) -> Result<Option<u64>, ServiceError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => integer(v, &self.path(key)),
        }
    }

    pub fn u64_req(&self, key: &str) -> Result<u64, ServiceError> {
        self.u64_opt(key)?.ok_or_else(|| invalid(self.path(key), "required"))
    }

    pub fn u32_opt(&self, key: &str) -> Result<Option<u32>, ServiceError> {
        match self.u64_opt(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| mismatch(self.path(key), format!("{n} is too large"))),
        }
    }

    pub fn u8_opt(&self, key: &str) -> Result<Option<u8>, ServiceError> {
        match self.u64_opt(key)? {
            None => Ok(None),
            Some(n) => u8::try_from(n).map(Some).map_err(|_| mismatch(self.path(key), format!("{n} is out of range"))),
        }
    }

    /// A boolean (`true`/`false`, `"true"`/`"false"`, 1/0).
    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>, ServiceError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(mismatch(self.path(key), format!("{s:?} is not a boolean"))),
            },
            Some(_) => Err(mismatch(self.path(key), "expected a boolean")),
        }
    }

    /// A nested object (`None` when absent).
    pub fn obj(&self, key: &'a str, path: &'a str) -> Result<Option<Fields<'a>>, ServiceError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Fields::of(v, path).map(Some),
        }
    }

    /// An array (`None` when absent).
    pub fn arr(&self, key: &str) -> Result<Option<&'a Vec<Value>>, ServiceError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(mismatch(self.path(key), "expected a JSON array")),
        }
    }

    /// The object itself (to keep it verbatim).
    pub fn raw(&self) -> &'a Map<String, Value> {
        self.obj
    }
}

/// Text of a scalar, at most `max` characters.
pub fn text(v: &Value, path: &str, max: usize) -> Result<String, ServiceError> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(mismatch(path, "expected a string")),
    };
    if s.len() > max {
        let n = s.chars().count();
        if n > max {
            return Err(invalid(path, format!("{n} characters exceeds the limit of {max}")));
        }
    }
    Ok(s)
}

/// An unsigned integer from a number or a decimal string (empty = absent).
pub fn integer(v: &Value, path: &str) -> Result<Option<u64>, ServiceError> {
    match v {
        Value::Number(n) => {
            n.as_u64().map(Some).ok_or_else(|| mismatch(path, format!("{n} is not a non-negative integer")))
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| mismatch(path, format!("{s:?} is not a non-negative integer"))),
        _ => Err(mismatch(path, "expected an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reading() {
        let v: Value = serde_json::json!({"a": "2000", "b": 7, "c": "", "d": true, "e": "x", "n": null, "o": {"k": 1}});
        let f = Fields::of(&v, "").unwrap();
        assert_eq!(f.u32_opt("a").unwrap(), Some(2000));
        assert_eq!(f.str_req("b", 10).unwrap(), "7");
        assert_eq!(f.u64_opt("c").unwrap(), None);
        assert_eq!(f.bool_opt("d").unwrap(), Some(true));
        assert!(matches!(f.u64_opt("e"), Err(ServiceError::TypeMismatch { .. })));
        assert!(f.str_req("n", 5).is_err());
        assert_eq!(f.str_req("e", 0).unwrap_err().to_string(), "e: 1 characters exceeds the limit of 0");
        let o = f.obj("o", "o").unwrap().unwrap();
        assert_eq!(o.path("k"), "o.k");
        assert!(Fields::of(&Value::Null, "x").is_err());
    }
}
