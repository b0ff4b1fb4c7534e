//! Cross-process tests: the directory lock seen from another process, and
//! `kill -9` in the middle of concurrent writes — every write acknowledged
//! before the kill must be there after reopening.
//!
//! The child processes are this test binary re-invoked with
//! `IDNODE_REGISTRY_CHILD` set, running the `child_entry` test.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use idnode_registry::model::Value;
use idnode_registry::store::{SledOptions, SledStore, Store, StoreError, StoreExt, WriteCtx};

const CHILD_ENV: &str = "IDNODE_REGISTRY_CHILD";
const DIR_ENV: &str = "IDNODE_REGISTRY_CHILD_DIR";

fn spawn_child(mode: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The key of an `ACK <key>` line (libtest may put its own text in front).
fn ack(line: &str) -> Option<String> {
    line.find("ACK ").map(|i| line[i + 4..].trim().to_owned())
}

fn value_for(key: &str) -> Value {
    Value::new(1, "URL", format!("https://example.com/{key}"))
}

/// Does nothing unless started by a parent test with `IDNODE_REGISTRY_CHILD`.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else { return };
    let dir = std::env::var(DIR_ENV).unwrap();
    let store = SledStore::open(SledOptions::new(&dir).cache_capacity(16 << 20).read_snapshot(true)).unwrap();
    match mode.as_str() {
        "hold" => {
            println!("READY");
            // Hold the store until the parent closes our stdin.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        "ackwriter" => {
            let store = std::sync::Arc::new(store);
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        let ctx = WriteCtx::new(1_767_225_600, "ackwriter");
                        for i in 0..1_000_000u32 {
                            let key = format!("88.1/t{t}-{i}");
                            store.create_record(key.as_bytes(), vec![value_for(&key)], false, &ctx).unwrap();
                            // Acknowledge only after the write returned (durable).
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ACK {key}").unwrap();
                            out.flush().unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                let _ = t.join();
            }
        }
        "follower" => {
            // Writers that acknowledge nothing, and a follower of the change
            // log that reports every sequence number it was shown.
            let store = std::sync::Arc::new(store);
            for t in 0..3 {
                let store = store.clone();
                std::thread::spawn(move || {
                    let ctx = WriteCtx::new(1_767_225_600, "writer");
                    for i in 0..1_000_000u32 {
                        let key = format!("88.1/f{t}-{i}");
                        store.create_record(key.as_bytes(), vec![value_for(&key)], false, &ctx).unwrap();
                    }
                });
            }
            let mut after = 0u64;
            loop {
                let batch = store.changes_since(after, 10_000).unwrap();
                if let Some(last) = batch.last() {
                    after = last.seq;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "SEEN {after}").unwrap();
                    out.flush().unwrap();
                }
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn locked_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("hold", dir.path());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited before READY");
        // libtest prints "test child_entry ... " without a newline first.
        if line.trim().ends_with("READY") {
            break;
        }
    }
    match SledStore::open(SledOptions::new(dir.path())) {
        Err(e @ StoreError::Locked { .. }) => {
            assert!(e.to_string().contains("in use by another process"), "{e}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(child.stdin.take()); // EOF: the child closes the store and exits
    assert!(child.wait().unwrap().success());
    SledStore::open(SledOptions::new(dir.path())).unwrap();
}

#[test]
fn kill_9_keeps_acknowledged_writes() {
    for iteration in 0..4u32 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn_child("ackwriter", dir.path());
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let kill_after = 200 + 150 * iteration as usize;
        let mut acked = Vec::new();
        let mut line = String::new();
        while acked.len() < kill_after {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
            if let Some(k) = ack(&line) {
                acked.push(k);
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Acknowledgements already in the pipe count too.
        for l in out.lines() {
            if let Some(k) = ack(&l.unwrap()) {
                acked.push(k);
            }
        }
        // Reopened on the read path the daemon uses (read snapshot + sled).
        let store = SledStore::open(SledOptions::new(dir.path()).cache_capacity(16 << 20).read_snapshot(true)).unwrap();
        assert!(store.wait_read_snapshot());
        for k in &acked {
            let rec = store.get_record(k.as_bytes()).unwrap();
            let rec = rec.unwrap_or_else(|| panic!("iteration {iteration}: acknowledged {k} lost"));
            assert_eq!(rec.values().unwrap(), vec![value_for(k).with_timestamp(1_767_225_600)]);
        }
        // The change log has an entry for every record, gap-free.
        let n = store.count_records(None).unwrap();
        assert!(n >= acked.len() as u64);
        let changes = store.changes_since(0, usize::MAX).unwrap();
        assert_eq!(changes.len() as u64, n, "one change per committed record");
        assert!(changes.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        // And the store still takes writes.
        store.create_record(b"88.1/after", vec![], false, &WriteCtx::new(0, "t")).unwrap();
    }
}

/// A follower of the change log is only ever shown durable changes: after a
/// `kill -9`, every sequence number it saw is still in the log.
#[test]
fn kill_9_follower_saw_only_durable_changes() {
    for iteration in 0..3u32 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn_child("follower", dir.path());
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let seen_lines = 20 + 20 * iteration as usize;
        let mut seen = 0u64;
        let mut lines = 0usize;
        let mut line = String::new();
        while lines < seen_lines {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
            if let Some(i) = line.find("SEEN ") {
                seen = seen.max(line[i + 5..].trim().parse().unwrap());
                lines += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for l in out.lines() {
            let l = l.unwrap();
            if let Some(i) = l.find("SEEN ") {
                seen = seen.max(l[i + 5..].trim().parse().unwrap());
            }
        }
        assert!(seen > 0);
        let store = SledStore::open(SledOptions::new(dir.path()).cache_capacity(16 << 20)).unwrap();
        assert!(
            store.last_seq() >= seen,
            "iteration {iteration}: the follower saw seq {seen}, the reopened log ends at {}",
            store.last_seq()
        );
        assert_eq!(store.durable_seq(), store.last_seq(), "what is recovered is durable");
        let changes = store.changes_since(seen - 1, 1).unwrap();
        assert_eq!(changes[0].seq, seen);
        assert!(store.get_record(&changes[0].key).unwrap().is_some());
    }
}
