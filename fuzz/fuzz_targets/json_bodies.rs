//! The JSON bodies the HTTP APIs decode, chosen by the first byte (mod 3):
//! 0 = Handle REST values (`PUT /api/handles/...`: an array of value JSON,
//! or one value), 1 = SNMS bodies (the field readers every SNMS handler
//! uses: strings, numbers-or-strings, nested objects and arrays),
//! 2 = admin API records (`PUT /admin/v1/records/...`, import lines: the
//! export format). The rest of the input is the body. Decoders must never
//! panic; a decoded REST value must serialize back to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/api/rest/json.rs"]
#[allow(dead_code, reason = "only the decoders are fuzzed")]
mod rest_json;

#[path = "../../src/api/snms/json.rs"]
#[allow(dead_code, reason = "only the readers are fuzzed")]
mod snms_json;

fn rest(body: &serde_json::Value) {
    let items: Vec<&serde_json::Value> = match body {
        serde_json::Value::Array(a) => a.iter().collect(),
        serde_json::Value::Object(o) => match o.get("values") {
            Some(serde_json::Value::Array(a)) => a.iter().collect(),
            _ => vec![body],
        },
        _ => vec![body],
    };
    for item in items {
        if let Ok(v) = rest_json::value_from_json(item) {
            // The answer side: what was stored serializes, and its JSON is
            // read again without a panic (formats such as `admin` may
            // normalise the bytes, so only the index must survive).
            let back = serde_json::to_value(rest_json::ValueOut(&v)).expect("a value serializes");
            if let Ok(again) = rest_json::value_from_json(&back) {
                assert_eq!(again.index, v.index);
            }
        }
        if let Some(d) = item.get("data") {
            let _ = rest_json::data_from_json(d);
        }
    }
}

fn snms(body: &serde_json::Value) {
    let Ok(f) = snms_json::Fields::of(body, "") else { return };
    for key in ["handle", "templateVersion", "username", "userName", "password", "prefix", "orgName", "value"] {
        let _ = f.str_opt(key, 255);
        let _ = f.u64_opt(key);
        let _ = f.u32_opt(key);
        let _ = f.u8_opt(key);
        let _ = f.bool_opt(key);
        let _ = f.get_any(&[key, "idIndex"]);
        if let Ok(Some(items)) = f.arr(key) {
            for item in items {
                let _ = snms_json::text(item, key, 255);
                let _ = snms_json::integer(item, key);
                if let Ok(inner) = snms_json::Fields::of(item, key) {
                    let _ = inner.str_opt("data", 4096);
                    let _ = inner.obj("data", "data");
                }
            }
        }
    }
}

fn admin(text: &str) {
    for line in text.lines().take(64) {
        if let Ok((id, values)) = idnode_registry::transfer::parse_json_line(line) {
            // What the admin API stores re-exports as a line that parses again.
            let again = idnode_registry::transfer::to_json_line(&id.to_string(), &values);
            idnode_registry::transfer::parse_json_line(&again).expect("an exported line parses");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 3 {
        0 | 1 => {
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return };
            if which % 3 == 0 { rest(&json) } else { snms(&json) }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body) {
                admin(text);
            }
        }
    }
});
