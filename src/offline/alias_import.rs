//! `idnode id import-aliases FILE`: binds aliases in bulk from JSON lines
//! `{"scheme":"gs1","code":"6901234567892","handle":"88.1/p1"}` (the body of
//! `POST /identityv2/alias`), through `Registrar::bind_aliases` in batches
//! (each batch one store transaction, one flush, one audit entry). Bad
//! lines are reported on stderr and skipped.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use idnode_registry::service::aliases::AliasInput;
use idnode_registry::service::{Actor, Registrar};

/// Imports `file` (`-` = stdin) in batches of `batch` lines.
pub fn run(reg: &Registrar, actor: &Actor, file: &Path, batch: usize, now: u64) -> Result<super::ImportSummary> {
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(file).with_context(|| format!("opening {}", file.display()))?)
    };
    let t0 = Instant::now();
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut items: Vec<AliasInput> = Vec::with_capacity(batch);
    let mut lines: Vec<u64> = Vec::with_capacity(batch);
    let commit = |items: &mut Vec<AliasInput>, lines: &mut Vec<u64>, ok: &mut u64, failed: &mut u64| -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let results = reg.bind_aliases(actor, items, now).context("binding a batch (nothing of it was written)")?;
        for ((line, it), r) in lines.iter().zip(items.iter()).zip(results) {
            match r {
                Ok(_) => *ok += 1,
                Err(e) => {
                    *failed += 1;
                    eprintln!("line {line}: {}:{} -> {}: {e}", it.scheme, it.code, it.handle);
                }
            }
        }
        items.clear();
        lines.clear();
        Ok(())
    };
    for (n, line) in BufReader::with_capacity(1 << 20, reader).lines().enumerate() {
        let lineno = n as u64 + 1;
        let line = line.with_context(|| format!("reading line {lineno}"))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<AliasInput>(text) {
            Ok(it) => {
                items.push(it);
                lines.push(lineno);
            }
            Err(e) => {
                failed += 1;
                eprintln!("line {lineno}: {e}");
            }
        }
        if items.len() >= batch {
            commit(&mut items, &mut lines, &mut ok, &mut failed)?;
        }
    }
    commit(&mut items, &mut lines, &mut ok, &mut failed)?;
    Ok(super::ImportSummary { ok, failed, seconds: t0.elapsed().as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use idnode_registry::model::Value;
    use idnode_registry::service::{Limits, Registrar, aliases};
    use idnode_registry::store::{SledOptions, SledStore, StoreExt, WriteCtx};

    #[test]
    fn binds_good_lines_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(SledStore::open(SledOptions::new(dir.path().join("db")).cache_capacity(8 << 20)).unwrap());
        idnode_registry::seed::seed_demo(&*s, "88.118.8", 1).unwrap();
        let ctx = WriteCtx::new(1, "cli");
        s.create_record(b"88.118.8.1001/al-1", vec![Value::new(1, "URL", "https://example.org/1")], false, &ctx)
            .unwrap();
        let reg = Registrar::new(s.clone(), Limits::default());
        let input = dir.path().join("aliases.jsonl");
        std::fs::write(
            &input,
            [
                r#"{"scheme":"gs1","code":"6901234567892","handle":"88.118.8.1001/al-1"}"#,
                r#"{"scheme":"gs1","code":"6901234567892""#,
                r#"# a comment"#,
                r#"{"scheme":"oid","code":"1..2","handle":"88.118.8.1001/al-1"}"#,
                r#"{"scheme":"oid","code":"1.2.156.3001.7","target":"88.118.8.1001/absent"}"#,
            ]
            .join("\n"),
        )
        .unwrap();
        let sum = super::run(&reg, &super::super::cli_actor(), &input, 2, 1).unwrap();
        assert_eq!((sum.ok, sum.failed), (1, 3));
        assert_eq!(aliases::resolve_asked(&*s, "gs1:06901234567892").as_deref(), Some("88.118.8.1001/al-1"));
        assert_eq!(aliases::resolve_asked(&*s, "oid:1.2.156.3001.7"), None);
    }
}
