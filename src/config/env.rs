//! `IDNODE_<SECTION>__<KEY>` environment overrides: which variables apply,
//! and how a raw string becomes a typed TOML value at its path. Pure: the
//! caller passes the environment.

use super::{ConfigError, ENV_PREFIX};

/// `(variable, path, raw value)` of each `IDNODE_A__B` variable, sorted by
/// variable name so the result does not depend on environment order.
pub(super) fn collect_overrides<I>(env: I) -> Result<Vec<(String, Vec<String>, String)>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut out = Vec::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env { var, message: "empty name between '__' separators".to_owned() });
        }
        out.push((var, path, raw));
    }
    out.sort();
    Ok(out)
}

/// Converts the raw text of an override to the TOML type the default of the
/// same setting has: strings stay strings (so `88` is a prefix, not a number).
pub(super) fn typed_override(defaults: &toml::Table, path: &[String], raw: &str) -> Result<toml::Value, String> {
    let dotted = path.join(".");
    let mut table = defaults;
    let (last, parents) = path.split_last().expect("path is not empty");
    for seg in parents {
        match table.get(seg) {
            Some(toml::Value::Table(t)) => table = t,
            _ => return Err(format!("unknown setting `{dotted}`")),
        }
    }
    // Optional settings (`Option<_>`, no default) are absent from the
    // defaults; they are paths or text, so pass the raw string and let the
    // strict deserialization accept it or name the unknown key.
    let Some(template) = table.get(last) else {
        return Ok(toml::Value::String(raw.to_owned()));
    };
    Ok(match template {
        toml::Value::String(_) => toml::Value::String(raw.to_owned()),
        toml::Value::Integer(_) => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| format!("`{dotted}` expects an integer, got {raw:?}"))?)
        }
        toml::Value::Float(_) => {
            toml::Value::Float(raw.trim().parse().map_err(|_| format!("`{dotted}` expects a number, got {raw:?}"))?)
        }
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(format!("`{dotted}` expects true or false, got {raw:?}")),
        }),
        toml::Value::Array(_) => {
            let t = raw.trim();
            if t.starts_with('[') {
                let doc: toml::Table =
                    toml::from_str(&format!("v = {t}")).map_err(|e| format!("`{dotted}`: not a TOML array: {e}"))?;
                doc["v"].clone()
            } else {
                // Comma-separated list of strings; empty = empty list.
                toml::Value::Array(
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                )
            }
        }
        toml::Value::Table(_) => {
            return Err(format!("`{dotted}` is a section; set one of its keys"));
        }
        toml::Value::Datetime(_) => {
            return Err(format!("`{dotted}` cannot be overridden from the environment"));
        }
    })
}

pub(super) fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path is not empty");
    let mut t = table;
    for seg in parents {
        let entry = t.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match entry {
            toml::Value::Table(inner) => inner,
            _ => return Err(format!("`{seg}` in the file is not a section")),
        };
    }
    t.insert(last.clone(), value);
    Ok(())
}
