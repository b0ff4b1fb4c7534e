//! Writes N synthetic identifier records as JSON lines (the `idnode id
//! import` / `export` format) to stdout, for import benchmarks:
//!
//! ```text
//! cargo run --release -p idnode-registry --example gen_jsonl -- 1000000 88.118.8.1001 > /tmp/ids.jsonl
//! ```

use std::io::Write;

use idnode_registry::model::Value;
use idnode_registry::transfer::to_json_line;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let prefix = args.next().unwrap_or_else(|| "88.118.8.1001".to_owned());
    let out = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    for i in 0..n {
        let suffix = format!("LOT2026-{i:07}");
        let values = [
            Value::new(1, "URL", format!("https://www.example.com/p/{suffix}")),
            Value::new(2, "EMAIL", "contact@example.com"),
            Value::new(1001, "TEMPLATE", "1.0.0"),
            Value::new(2000, "model", format!("CP-{}", 100 + i % 400)),
            Value::new(2001, "batch", format!("B{:05}", i / 1000)),
            Value::new(2002, "production_date", format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
        ];
        writeln!(out, "{}", to_json_line(&format!("{prefix}/{suffix}"), &values)).unwrap();
    }
    out.flush().unwrap();
}
