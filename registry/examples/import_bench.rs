//! Import throughput harness: the same pipeline as `idnode id import`
//! (a parser thread feeding batches of `RecordOp::Create` to
//! `Store::write_batch`, one transaction + one flush per batch), without the
//! CLI around it. Uses mimalloc like the daemon should: with glibc malloc,
//! sled's allocation churn halves the rate (measured ~31k vs ~60k records/s).
//!
//! ```text
//! cargo run --release -p idnode-registry --example gen_jsonl -- 1000000 > /tmp/ids.jsonl
//! cargo run --release -p idnode-registry --example import_bench -- /tmp/ids.jsonl /tmp/import-bench [batch]
//! ```
//! The store directory is deleted and recreated.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::BufRead;
use std::sync::Arc;
use std::time::Instant;

use idnode_registry::store::{RecordOp, SledOptions, SledStore, Store, WriteCtx};

fn main() {
    let mut a = std::env::args().skip(1);
    let (Some(file), Some(dir)) = (a.next(), a.next()) else {
        eprintln!("usage: import_bench FILE.jsonl STORE_DIR [BATCH]");
        std::process::exit(64);
    };
    let batch: usize = a.next().and_then(|x| x.parse().ok()).unwrap_or(5000);
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SledStore::open(SledOptions::new(&dir)).unwrap());
    idnode_registry::seed::init_store(&*store, "88.118.8", Default::default(), 0).unwrap();
    let t0 = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RecordOp>>(2);
    let s2 = store.clone();
    let parser = std::thread::spawn(move || {
        let r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
        let mut ops = Vec::with_capacity(batch);
        for line in r.lines() {
            let line = line.unwrap();
            let (id, values) = idnode_registry::transfer::parse_json_line(&line).unwrap();
            ops.push(RecordOp::Create { key: s2.canonical_key(id.as_bytes()), values, overwrite: false });
            if ops.len() >= batch {
                tx.send(std::mem::replace(&mut ops, Vec::with_capacity(batch))).unwrap();
            }
        }
        tx.send(ops).unwrap();
    });
    let ctx = WriteCtx::new(1_767_225_600, "bench");
    let (mut ok, mut failed) = (0usize, 0usize);
    for ops in rx {
        for r in store.write_batch(ops, &ctx).unwrap() {
            if r.is_ok() { ok += 1 } else { failed += 1 }
        }
    }
    parser.join().unwrap();
    let s = t0.elapsed().as_secs_f64();
    println!("imported {ok} records, {failed} failed, in {s:.2}s ({:.0} records/s)", ok as f64 / s);
}
