//! Files the node reads, chosen by the first byte (mod 3): 0 = the TOML
//! configuration (strict parse, environment overrides, validation),
//! 1 = JSON-lines import, 2 = CSV import (`handle,index,type,data`). The
//! rest of the input is the file. Nothing may panic; every problem must be
//! an error value.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/config.rs"]
#[allow(dead_code, reason = "only loading and validation are fuzzed")]
mod config;

/// The config validates CIDR lists with the Handle doors' own parser
/// (`crate::serve::limits::Cidr`).
#[path = "../../src/serve/limits.rs"]
#[allow(dead_code, reason = "only Cidr::parse is used by the config")]
mod limits;
mod serve {
    pub(crate) use super::limits;
}

fn toml_config(text: &str) {
    let env = [("IDNODE_HTTP__LIMITS__MAX_BODY_BYTES".to_owned(), "4096".to_owned())];
    for vars in [&[][..], &env[..]] {
        if let Ok(cfg) = config::Config::from_toml_with_env(text, "fuzz.toml", vars.iter().cloned()) {
            let _ = cfg.validate();
            // What loads serializes and loads again to the same settings.
            let again = toml::to_string(&cfg).expect("a loaded config serializes");
            let back = config::Config::from_toml_with_env(&again, "again.toml", Vec::new()).expect("and loads");
            assert_eq!(back, cfg);
        }
    }
}

fn json_lines(text: &str) {
    for line in text.lines().take(256) {
        let _ = idnode_registry::transfer::parse_json_line_stamped(line, 1_767_225_600);
    }
}

fn csv_rows(bytes: &[u8]) {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    for (i, row) in r.records().take(256).enumerate() {
        let Ok(row) = row else { continue };
        let fields: Vec<&str> = row.iter().collect();
        if i == 0 && idnode_registry::transfer::is_csv_header(&fields) {
            continue;
        }
        let _ = idnode_registry::transfer::csv_row_to_value(&fields);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(body) {
                toml_config(text);
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(body) {
                json_lines(text);
            }
        }
        _ => csv_rows(body),
    }
});
