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
