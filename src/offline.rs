//! Identifier commands, `idnode id ...`: they open the store directory
//! directly. While a daemon holds it (sled's directory lock ->
//! [`StoreError::Locked`]) they go through the daemon's admin API instead
//! (`crate::cli_admin::id_via_daemon`, same output, same exit codes).
//!
//! `import` streams the file, parses on a helper thread while the main
//! thread commits batches (one transaction per batch), reports each bad
//! line on stderr and carries on, and prints a summary. The command owns
//! the store, so it writes in bulk mode: batches are flushed together every
//! [`FLUSH_RECORDS`] records or [`FLUSH_EVERY`], the resume point is
//! recorded only after such a flush, and the import ends with one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use idnode_registry::ident::Identifier;
use idnode_registry::model::Value;
use idnode_registry::service::{Actor, Registrar, ServiceError};
use idnode_registry::store::{RecordOp, SledOptions, SledStore, Store, StoreError, WriteCtx};
use idnode_registry::transfer::{self, TransferError};

#[path = "offline/alias_import.rs"]
mod alias_import;
#[path = "offline/resume.rs"]
mod resume;

/// Bulk import: flush (and record the resume point) after this many records…
const FLUSH_RECORDS: u64 = 100_000;
/// …or this long since the last flush, whichever comes first.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// `import --batch` when not given: on the store directly…
pub(crate) const OFFLINE_BATCH: u64 = 500;
/// …and through a running node.
pub(crate) const DAEMON_BATCH: u64 = 5000;

/// Largest batch `import --batch` accepts.
const MAX_BATCH: usize = 100_000;

/// Input format of `idnode id import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON record per line: {"handle": ..., "values": [...]}.
    Jsonl,
    /// handle,index,type,data — one value per row, consecutive rows of a handle form its record.
    Csv,
}

/// Identifier commands (through the daemon's admin API while it runs).
#[derive(Debug, clap::Subcommand)]
pub enum IdCommand {
    /// Print one identifier's record.
    Get {
        /// The identifier, e.g. 88.118.8.1001/LOT2026-000451.
        handle: String,
        /// Print the record as one JSON line (the export format).
        #[arg(long)]
        json: bool,
    },
    /// Create a record from values given as index:type:data.
    Put {
        /// The identifier.
        handle: String,
        /// Values, e.g. 1:URL:https://example.com/p/1 2:EMAIL:ops@example.com
        #[arg(required = true, value_name = "INDEX:TYPE:DATA")]
        values: Vec<String>,
        /// Replace an existing record instead of failing.
        #[arg(long)]
        overwrite: bool,
    },
    /// Delete a record.
    Rm {
        /// The identifier.
        handle: String,
    },
    /// Import records from JSON lines or CSV.
    Import {
        /// The file to read (`-` for stdin).
        file: PathBuf,
        /// Input format (default: from the extension, .csv = csv, else jsonl).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Records per transaction. Default: 500 on the store directly (bulk
        /// mode flushes every 100,000 records or 2 s; small transactions
        /// import fastest: 150k/s at 500 against 105k/s at 5,000 and 79k/s
        /// at 50,000, docs/performance.md), 5,000 through a running node
        /// (one request and one flush each).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH as u64))]
        batch: Option<u64>,
        /// Replace existing records instead of reporting them as failed.
        #[arg(long)]
        overwrite: bool,
    },
    /// Bind aliases in bulk from JSON lines {"scheme","code","handle"} (the
    /// store directly; a running node binds over POST /identityv2/alias).
    ImportAliases {
        /// The file to read (`-` for stdin).
        file: PathBuf,
        /// Aliases per transaction (and per flush).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH as u64))]
        batch: u64,
    },
    /// Export records as JSON lines.
    Export {
        /// Only records under this prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Output file (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs an `id` command against the store of `cfg`, or through the
/// daemon's admin API when a running daemon holds the store.
pub fn run_id(cmd: IdCommand, cfg: &crate::config::Config) -> Result<()> {
    if cfg.store.backend == crate::config::StoreBackend::Postgres {
        // A shared database: always through a running daemon's admin API.
        return crate::cli_admin::id_via_daemon(cmd, cfg, anyhow::anyhow!("store.backend = \"postgres\""));
    }
    let store = match open(cfg.data_dir(), cfg.store_cache_bytes()) {
        Ok(s) => s,
        Err(e) if crate::cli_admin::is_locked(&e) => return crate::cli_admin::id_via_daemon(cmd, cfg, e),
        Err(e) => return Err(e),
    };
    let ctx = WriteCtx::new(crate::unix_now(), "cli");
    // Offline writes go through the registry service like every door's:
    // quotas, change log, audit entry (actor `cli`, origin `cli-offline`).
    let reg = Registrar::new(store.clone(), crate::api::snms::limits_of(cfg));
    let actor = cli_actor();
    match cmd {
        IdCommand::Get { handle, json } => get(&store, &handle, json),
        IdCommand::Put { handle, values, overwrite } => {
            let id = parse_handle(&handle)?;
            let values = values
                .iter()
                .map(|s| transfer::parse_value_spec(s))
                .collect::<Result<Vec<Value>, _>>()
                .map_err(|e| crate::cli::UsageError(e.to_string()))?;
            let key = store.canonical_key(id.as_bytes());
            let op = RecordOp::Create { key, values, overwrite };
            reg.write_record(&actor, op, &ctx).map_err(|e| match e {
                ServiceError::Store(StoreError::AlreadyExists) => {
                    anyhow::anyhow!("{handle} already exists (use --overwrite to replace it)")
                }
                e => anyhow::Error::new(e).context(format!("writing {handle}")),
            })?;
            println!("{handle}: stored");
            Ok(())
        }
        IdCommand::Rm { handle } => {
            let id = parse_handle(&handle)?;
            let key = store.canonical_key(id.as_bytes());
            reg.write_record(&actor, RecordOp::Delete { key }, &ctx).map_err(|e| match e {
                ServiceError::Store(StoreError::NotFound) => anyhow::anyhow!("{handle} not found"),
                e => anyhow::Error::new(e).context(format!("deleting {handle}")),
            })?;
            println!("{handle}: deleted");
            Ok(())
        }
        IdCommand::Import { file, format, batch, overwrite } => {
            let format = format_of(&file, format);
            let data_dir = store.path().parent().map(Path::to_path_buf).unwrap_or_default();
            let summary = import(
                ImportTo { reg: &reg, actor: &actor, data_dir: &data_dir, bulk: Some(&store) },
                &file,
                format,
                batch.unwrap_or(OFFLINE_BATCH) as usize,
                overwrite,
                &ctx,
            )?;
            println!("{summary}");
            // Close the store (the service holds a handle too) before it is
            // opened again for the read snapshot.
            drop(reg);
            drop(store);
            if summary.ok > 0 && cfg.store.read_snapshot {
                // The store is closed again: write the daemon's read snapshot
                // now, so that its first start serves from it at once.
                let t0 = Instant::now();
                let path = crate::cli::store_path(cfg.data_dir());
                // The import's store may still be letting go of its file
                // lock: the store's open waits for it (this process opened
                // the directory before).
                let opts = SledOptions::new(&path).cache_capacity(cfg.store_cache_bytes()).read_snapshot(true);
                let s = SledStore::open(opts)
                    .with_context(|| format!("reopening {} for the read snapshot", path.display()))?;
                if s.wait_read_snapshot() {
                    println!("wrote the read snapshot in {:.2}s", t0.elapsed().as_secs_f64());
                }
            }
            if summary.failed > 0 {
                bail!("{} of {} records failed (see the messages above)", summary.failed, summary.failed + summary.ok);
            }
            Ok(())
        }
        IdCommand::ImportAliases { file, batch } => {
            let s = alias_import::run(&reg, &actor, &file, batch as usize, ctx.now)?;
            println!("bound {} aliases, {} failed, in {:.2}s", s.ok, s.failed, s.seconds);
            if s.failed > 0 {
                bail!("{} of {} aliases failed (see the messages above)", s.failed, s.failed + s.ok);
            }
            Ok(())
        }
        IdCommand::Export { prefix, out } => {
            let t0 = Instant::now();
            let n = match &out {
                Some(p) => {
                    let f = File::create(p).with_context(|| format!("creating {}", p.display()))?;
                    export(&*store, prefix.as_deref(), BufWriter::with_capacity(1 << 20, f))?
                }
                None => {
                    export(&*store, prefix.as_deref(), BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))?
                }
            };
            eprintln!("exported {n} records in {:.2}s", t0.elapsed().as_secs_f64());
            Ok(())
        }
    }
}

/// The import format: as given, else from the extension (`.csv` = CSV).
pub(crate) fn format_of(file: &Path, format: Option<Format>) -> Format {
    format.unwrap_or_else(|| {
        if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) { Format::Csv } else { Format::Jsonl }
    })
}

fn open(data_dir: &Path, cache_bytes: u64) -> Result<Arc<SledStore>> {
    let path = crate::cli::store_path(data_dir);
    if !path.exists() {
        return Err(
            crate::cli::UsageError(format!("no store in {}; run `idnode init` first", data_dir.display())).into()
        );
    }
    match SledStore::open(SledOptions::new(&path).cache_capacity(cache_bytes).now(crate::unix_now())) {
        Ok(s) => Ok(Arc::new(s)),
        Err(e @ StoreError::Locked { .. }) => Err(anyhow::Error::new(e).context(format!(
            "the store in {} is held by a running idnode daemon: stop it first, or use the daemon's admin API",
            data_dir.display()
        ))),
        Err(e) => Err(anyhow::Error::new(e).context(format!("opening the store in {}", path.display()))),
    }
}

pub(crate) fn parse_handle(h: &str) -> Result<Identifier> {
    Identifier::parse(h).map_err(|e| crate::cli::UsageError(format!("{h:?}: {e}")).into())
}

fn get(store: &SledStore, handle: &str, json: bool) -> Result<()> {
    let id = parse_handle(handle)?;
    let key = store.canonical_key(id.as_bytes());
    let Some(rec) = store.get_record(&key)? else { bail!("{handle} not found") };
    let values = rec.values().context("decoding the stored record")?;
    print_record(id.as_str(), &values, json);
    Ok(())
}

/// Prints a record as `id get` does (a table, or one JSON line).
pub(crate) fn print_record(handle: &str, values: &[Value], json: bool) {
    if json {
        println!("{}", transfer::to_json_line(handle, values));
        return;
    }
    println!("{handle}");
    for v in values {
        let data = match std::str::from_utf8(&v.data) {
            Ok(s) => s.to_owned(),
            Err(_) => format!("hex:{}", hex::encode(&v.data)),
        };
        println!("  {:>6}  {:<16} ttl={:<6} perm={:04b}  {}", v.index, v.type_str(), v.ttl, v.permissions, data);
    }
}

/// Writes every record (under `prefix`) as JSON lines; returns the count.
pub fn export(store: &dyn Store, prefix: Option<&str>, mut out: impl Write) -> Result<u64> {
    let mut after: Option<Vec<u8>> = None;
    let mut n = 0u64;
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        let page = store.scan_records(prefix, after.as_deref(), 10_000)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (k, rec) in &page {
            buf.clear();
            transfer::write_json_line(k, rec, &mut buf)
                .with_context(|| format!("record {}", String::from_utf8_lossy(k)))?;
            out.write_all(&buf)?;
            n += 1;
        }
    }
    out.flush()?;
    Ok(n)
}

/// Outcome of an import.
#[derive(Debug, Clone, Copy)]
pub struct ImportSummary {
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = if self.seconds > 0.0 { self.ok as f64 / self.seconds } else { 0.0 };
        write!(
            f,
            "imported {} records, {} failed, in {:.2}s ({:.0} records/s)",
            self.ok, self.failed, self.seconds, rate
        )
    }
}

/// A parsed record waiting for the store, with the line it came from.
pub(crate) struct Parsed {
    pub(crate) line: u64,
    pub(crate) handle: String,
    pub(crate) op: RecordOp,
}

/// What the parser thread sends: parsed records and per-line errors, in
/// file order, plus the bytes consumed so far (for the progress bar).
pub(crate) struct Chunk {
    pub(crate) records: Vec<Parsed>,
    pub(crate) errors: Vec<(u64, String)>,
    pub(crate) bytes: u64,
    /// JSON lines: (bytes of whole lines, lines) consumed up to the end of
    /// this chunk, relative to where the parser started (for resuming).
    pub(crate) resume: Option<(u64, u64)>,
}

/// Line, handle and (on a resumed bulk import) key of one imported record.
type ItemMeta = (u64, String, Option<Vec<u8>>);

/// The registry service's actor for offline CLI writes.
fn cli_actor() -> Actor {
    Actor::admin("cli", "cli-offline")
}

/// Where an import writes: the registry service, as whom, and the data
/// directory that keeps its resume point.
struct ImportTo<'a> {
    reg: &'a Registrar,
    actor: &'a Actor,
    data_dir: &'a Path,
    /// The store, when the import owns it: bulk mode (see the module doc).
    bulk: Option<&'a SledStore>,
}

fn import(
    to: ImportTo<'_>,
    file: &Path,
    format: Format,
    batch: usize,
    overwrite: bool,
    ctx: &WriteCtx,
) -> Result<ImportSummary> {
    let ImportTo { reg, actor, data_dir, bulk } = to;
    // JSON lines from a file resume where an interrupted import of the
    // same file stopped (see `resume.rs`).
    let mut checkpoint = match format {
        Format::Jsonl if file != Path::new("-") => resume::Checkpoint::start(file).ok(),
        _ => None,
    };
    let resumed = checkpoint.as_ref().and_then(|c| resume::Checkpoint::load_matching(data_dir, c));
    let (base_offset, base_lines, base_ok) = resumed.as_ref().map_or((0, 0, 0), |c| (c.offset, c.lines, c.ok));
    let (reader, total): (Box<dyn Read + Send>, Option<u64>) = if file == Path::new("-") {
        (Box::new(std::io::stdin()), None)
    } else {
        let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        if base_offset > 0 {
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Start(base_offset)).context("seeking to the resume point")?;
            eprintln!(
                "resuming the interrupted import of {} after line {base_lines} ({base_ok} records already imported)",
                file.display()
            );
        }
        (Box::new(f), len)
    };
    let bar = progress_bar(total);
    bar.set_position(base_offset);
    let t0 = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
    // Timestamps are written as the file gives them; the parsers stamp
    // "now" where the file has none (CSV never has any).
    let keep = ctx.clone().keeping_timestamps();
    let ctx = &keep;
    let now = u32::try_from(ctx.now).unwrap_or(u32::MAX);
    let store = reg.store_arc();
    let parser_store = store.clone();
    let parser = std::thread::Builder::new().name("import-parse".into()).spawn(move || -> Result<()> {
        let reader = CountingReader { inner: reader, bytes: 0 };
        let canon = move |id: &Identifier| parser_store.canonical_key(id.as_bytes());
        match format {
            Format::Jsonl => parse_jsonl(reader, batch, overwrite, now, &canon, &tx),
            Format::Csv => parse_csv(reader, batch, overwrite, now, &canon, &tx),
        }
    })?;

    // Records committed after the resume point by the interrupted run
    // (bulk mode flushes less often than it commits): not duplicates.
    let committed_after: std::collections::HashSet<Vec<u8>> = match resumed.as_ref().and_then(|c| c.seq) {
        Some(seq) => keys_changed_after(&*store, seq)?,
        None => Default::default(),
    };
    if let Some(s) = bulk {
        s.set_deferred_durability(true);
    }
    let mut since_flush = 0u64;
    let mut last_flush = Instant::now();
    let mut ok = base_ok;
    let mut failed = 0u64;
    let mut stderr = std::io::stderr().lock();
    for chunk in rx {
        for (line, msg) in &chunk.errors {
            let line = line + base_lines;
            bar.suspend(|| writeln!(stderr, "line {line}: {msg}")).ok();
        }
        failed += chunk.errors.len() as u64;
        if !chunk.records.is_empty() {
            since_flush += chunk.records.len() as u64;
            let keep_keys = !committed_after.is_empty();
            let (meta, ops): (Vec<ItemMeta>, Vec<RecordOp>) = chunk
                .records
                .into_iter()
                .map(|p| ((p.line, p.handle, keep_keys.then(|| p.op.key().to_vec())), p.op))
                .unzip();
            // The registry service: quotas per item, one batch write, audit.
            let results =
                reg.write_records(actor, ops, ctx).context("committing a batch (nothing of it was written)")?;
            for ((line, handle, key), r) in meta.iter().zip(results) {
                match r {
                    Ok(_) => ok += 1,
                    Err(ServiceError::Store(StoreError::AlreadyExists))
                        if key.as_ref().is_some_and(|k| committed_after.contains(k)) =>
                    {
                        ok += 1
                    }
                    Err(e) => {
                        failed += 1;
                        let msg = match e {
                            ServiceError::Store(StoreError::AlreadyExists) => {
                                format!("{handle}: already exists (use --overwrite)")
                            }
                            e => format!("{handle}: {e}"),
                        };
                        let line = line + base_lines;
                        bar.suspend(|| writeln!(stderr, "line {line}: {msg}")).ok();
                    }
                }
            }
        }
        bar.set_position(base_offset + chunk.bytes);
        // Record how far we got, once what is committed is also flushed.
        let due = bulk.is_none() || since_flush >= FLUSH_RECORDS || last_flush.elapsed() >= FLUSH_EVERY;
        if let (Some(c), Some((pos, lines)), true) = (checkpoint.as_mut(), chunk.resume, due) {
            c.seq = Some(match bulk {
                Some(s) => s.make_durable()?,
                None => store.last_seq(),
            });
            since_flush = 0;
            last_flush = Instant::now();
            c.offset = base_offset + pos;
            c.lines = base_lines + lines;
            c.ok = ok;
            c.save(data_dir).with_context(|| format!("writing the resume point in {}", data_dir.display()))?;
        }
    }
    bar.finish_and_clear();
    parser.join().map_err(|_| anyhow::anyhow!("the parser thread panicked"))??;
    if let Some(s) = bulk {
        s.make_durable()?;
        s.set_deferred_durability(false);
    }
    store.persist_counters()?;
    resume::Checkpoint::clear(data_dir);
    Ok(ImportSummary { ok, failed, seconds: t0.elapsed().as_secs_f64() })
}

/// Keys of every change after `seq` (the store is closed to others).
fn keys_changed_after(store: &dyn Store, mut seq: u64) -> Result<std::collections::HashSet<Vec<u8>>> {
    let mut keys = std::collections::HashSet::new();
    loop {
        let page = store.changes_since(seq, 10_000)?;
        let Some(last) = page.last() else { return Ok(keys) };
        seq = last.seq;
        keys.extend(page.into_iter().map(|c| c.key));
    }
}

pub(crate) fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

pub(crate) struct CountingReader {
    pub(crate) inner: Box<dyn Read + Send>,
    pub(crate) bytes: u64,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

fn send(tx: &std::sync::mpsc::SyncSender<Chunk>, chunk: &mut Chunk, bytes: u64, batch: usize) -> bool {
    let next = Chunk { records: Vec::with_capacity(batch), errors: Vec::new(), bytes, resume: None };
    let mut full = std::mem::replace(chunk, next);
    full.bytes = bytes;
    // The receiver only goes away when the main thread failed; stop quietly.
    tx.send(full).is_ok()
}

pub(crate) fn parse_jsonl(
    reader: CountingReader,
    batch: usize,
    overwrite: bool,
    now: u32,
    canon: &dyn Fn(&Identifier) -> Vec<u8>,
    tx: &std::sync::mpsc::SyncSender<Chunk>,
) -> Result<()> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let mut chunk = Chunk { records: Vec::with_capacity(batch), errors: Vec::new(), bytes: 0, resume: None };
    let mut line = String::new();
    let mut lineno = 0u64;
    let mut pos = 0u64;
    loop {
        line.clear();
        let n = match r.read_line(&mut line) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                // Not UTF-8: skip to the next newline and report the line.
                lineno += 1;
                let mut junk = Vec::new();
                r.read_until(b'\n', &mut junk)?;
                // Resuming after this line is not exact: stop checkpointing.
                pos = u64::MAX;
                chunk.errors.push((lineno, "not valid UTF-8".into()));
                continue;
            }
            Err(e) => return Err(e).context("reading the input"),
        };
        if n == 0 {
            break;
        }
        lineno += 1;
        pos = pos.saturating_add(n as u64);
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match transfer::parse_json_line_stamped(text, now) {
            Ok((id, values)) => {
                let key = canon(&id);
                chunk.records.push(Parsed {
                    line: lineno,
                    handle: id.as_str().to_owned(),
                    op: RecordOp::Create { key, values, overwrite },
                });
            }
            Err(e) => chunk.errors.push((lineno, e.to_string())),
        }
        if chunk.records.len() >= batch {
            let bytes = r.get_ref().bytes;
            chunk.resume = (pos != u64::MAX).then_some((pos, lineno));
            if !send(tx, &mut chunk, bytes, batch) {
                return Ok(());
            }
        }
    }
    let bytes = r.get_ref().bytes;
    chunk.resume = (pos != u64::MAX).then_some((pos, lineno));
    send(tx, &mut chunk, bytes, batch);
    Ok(())
}

/// One CSV record being assembled from consecutive rows.
struct Group {
    handle: String,
    id: Identifier,
    line: u64,
    values: Vec<Value>,
    failed: bool,
}

pub(crate) fn parse_csv(
    reader: CountingReader,
    batch: usize,
    overwrite: bool,
    now: u32,
    canon: &dyn Fn(&Identifier) -> Vec<u8>,
    tx: &std::sync::mpsc::SyncSender<Chunk>,
) -> Result<()> {
    let mut rdr =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(1 << 20).from_reader(reader);
    let mut chunk = Chunk { records: Vec::with_capacity(batch), errors: Vec::new(), bytes: 0, resume: None };
    let mut group: Option<Group> = None;
    let mut row = csv::StringRecord::new();
    let mut first = true;
    let finish = |g: Group, chunk: &mut Chunk| {
        if !g.failed {
            let key = canon(&g.id);
            chunk.records.push(Parsed {
                line: g.line,
                handle: g.handle,
                op: RecordOp::Create { key, values: g.values, overwrite },
            });
        }
    };
    loop {
        let more = match rdr.read_record(&mut row) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                chunk.errors.push((line, format!("CSV: {e}")));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        };
        if !more {
            break;
        }
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let fields: Vec<&str> = row.iter().collect();
        if std::mem::take(&mut first) && transfer::is_csv_header(&fields) {
            continue;
        }
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let handle = fields.first().copied().unwrap_or_default();
        let same = group.as_ref().is_some_and(|g| g.handle == handle);
        if !same {
            if let Some(g) = group.take() {
                finish(g, &mut chunk);
            }
            if chunk.records.len() >= batch && !send(tx, &mut chunk, rdr.position().byte(), batch) {
                return Ok(());
            }
        }
        match transfer::csv_row_to_value(&fields) {
            Ok((id, mut v)) => {
                v.timestamp = now;
                match group.as_mut() {
                    Some(g) if same => g.values.push(v),
                    _ => group = Some(Group { handle: handle.to_owned(), id, line, values: vec![v], failed: false }),
                }
            }
            Err(e) => {
                chunk.errors.push((line, describe_csv_error(handle, &e)));
                match group.as_mut() {
                    Some(g) if same => g.failed = true,
                    _ => {
                        // Keep the failing handle as the current group so its
                        // other rows are skipped rather than imported partially.
                        if let Ok(id) = Identifier::parse(handle) {
                            group = Some(Group { handle: handle.to_owned(), id, line, values: vec![], failed: true });
                        }
                    }
                }
            }
        }
    }
    if let Some(g) = group.take() {
        finish(g, &mut chunk);
    }
    send(tx, &mut chunk, rdr.position().byte(), batch);
    Ok(())
}

fn describe_csv_error(handle: &str, e: &TransferError) -> String {
    if handle.is_empty() { e.to_string() } else { format!("{handle}: {e} (the whole record is skipped)") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::service::Limits;
    use idnode_registry::store::SledOptions;

    fn store(dir: &Path) -> Arc<SledStore> {
        Arc::new(SledStore::open(SledOptions::new(dir).cache_capacity(8 << 20)).unwrap())
    }

    #[test]
    fn jsonl_import_reports_bad_lines_and_exports() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        std::fs::write(
            &input,
            concat!(
                r#"{"handle":"88.1/a","values":[{"index":1,"type":"URL","data":"http://a"}]}"#,
                "\n\n",
                "not json\n",
                r#"{"handle":"88.1/b","values":[{"index":1,"type":"URL","data":"http://b"}]}"#,
                "\n",
                r#"{"handle":"88.1/a","values":[]}"#,
                "\n"
            ),
        )
        .unwrap();
        let s = store(&dir.path().join("db"));
        let ctx = WriteCtx::new(1, "t");
        let reg = Registrar::new(s.clone(), Limits::default());
        let sum = import(
            ImportTo { reg: &reg, actor: &cli_actor(), data_dir: dir.path(), bulk: None },
            &input,
            Format::Jsonl,
            1,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!((sum.ok, sum.failed), (2, 2));
        let mut out = Vec::new();
        assert_eq!(export(&*s, Some("88.1"), &mut out).unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with(r#"{"handle":"88.1/a""#));
    }

    /// An interrupted bulk import may have committed records past its
    /// resume point; run again, it takes them as imported (they are in the
    /// change log after the checkpoint's seq), not as duplicates.
    #[test]
    fn a_resumed_bulk_import_accepts_records_committed_after_its_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        let line = |i: u32| format!(r#"{{"handle":"88.1/r{i}","values":[{{"index":1,"type":"URL","data":"u{i}"}}]}}"#);
        let text: String = (0..10).map(|i| line(i) + "\n").collect();
        std::fs::write(&input, &text).unwrap();
        let s = store(&dir.path().join("db"));
        let reg = Registrar::new(s.clone(), Limits::default());
        let ctx = WriteCtx::new(1, "t");
        let put = |from: u32, to: u32| {
            let ops = (from..to)
                .map(|i| RecordOp::Create {
                    key: format!("88.1/r{i}").into_bytes(),
                    values: vec![Value::new(1, "URL", format!("u{i}").as_str())],
                    overwrite: false,
                })
                .collect();
            reg.write_records(&cli_actor(), ops, &ctx).unwrap().into_iter().for_each(|r| {
                r.unwrap();
            });
        };
        // Lines 1-3 committed and flushed (the resume point), 4-5 committed after it.
        put(0, 3);
        let mut c = resume::Checkpoint::start(&input).unwrap();
        c.offset = (0..3).map(|i| line(i).len() as u64 + 1).sum();
        c.lines = 3;
        c.ok = 3;
        c.seq = Some(s.last_seq());
        c.save(dir.path()).unwrap();
        put(3, 5);
        let sum = import(
            ImportTo { reg: &reg, actor: &cli_actor(), data_dir: dir.path(), bulk: Some(&s) },
            &input,
            Format::Jsonl,
            4,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!((sum.ok, sum.failed), (10, 0));
        for i in 0..10 {
            assert!(s.get_record(format!("88.1/r{i}").as_bytes()).unwrap().is_some(), "r{i}");
        }
        assert_eq!(s.durable_seq(), s.last_seq(), "durable at the end");
        assert!(resume::Checkpoint::load_matching(dir.path(), &resume::Checkpoint::start(&input).unwrap()).is_none());
        // A record that existed before the resume point is still a duplicate.
        let sum = import(
            ImportTo { reg: &reg, actor: &cli_actor(), data_dir: dir.path(), bulk: Some(&s) },
            &input,
            Format::Jsonl,
            4,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!((sum.ok, sum.failed), (0, 10));
    }

    #[test]
    fn csv_import_groups_rows() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(
            &input,
            "handle,index,type,data\n88.1/a,1,URL,http://a\n88.1/a,2,EMAIL,\"x@y, z\"\n88.1/b,x,URL,u\n88.1/b,1,URL,u\n88.1/c,1,URL,c\n",
        )
        .unwrap();
        let s = store(&dir.path().join("db"));
        let reg = Registrar::new(s.clone(), Limits::default());
        let sum = import(
            ImportTo { reg: &reg, actor: &cli_actor(), data_dir: dir.path(), bulk: None },
            &input,
            Format::Csv,
            2,
            false,
            &WriteCtx::new(1, "t"),
        )
        .unwrap();
        assert_eq!((sum.ok, sum.failed), (2, 1));
        assert_eq!(s.get_record(b"88.1/a").unwrap().unwrap().len(), 2);
        assert!(s.get_record(b"88.1/b").unwrap().is_none(), "a record with a bad row is skipped whole");
        assert_eq!(s.get_record(b"88.1/a").unwrap().unwrap().find(2).unwrap().data, b"x@y, z");
    }
}

/// The offline CLI writes through the registry service (issue 11): the
/// enterprise quota refuses imported records past it, the rest is written,
/// and the import leaves an audit entry by `cli`.
#[cfg(test)]
mod write_path_tests {
    use super::*;
    use idnode_registry::model::Quota;
    use idnode_registry::service::Limits;

    #[test]
    fn import_and_put_apply_the_quota_and_audit() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(SledStore::open(SledOptions::new(dir.path().join("db")).cache_capacity(8 << 20)).unwrap());
        idnode_registry::seed::seed_demo(&*s, "88.118.8", 1).unwrap();
        assert_eq!(s.count_records(Some("88.118.8.1001")).unwrap(), 3);
        let limits = Limits {
            enterprise_quota: Quota { max_registrations: Some(5), daily_requests: None },
            ..Limits::default()
        };
        let reg = Registrar::new(s.clone(), limits);
        let input = dir.path().join("in.jsonl");
        let line = |h: &str| format!(r#"{{"handle":"{h}","values":[{{"index":1,"type":"URL","data":"http://x"}}]}}"#);
        let lines: Vec<String> = (1..=3).map(|i| line(&format!("88.118.8.1001/imp-{i}"))).collect();
        std::fs::write(&input, lines.join("\n")).unwrap();
        let ctx = WriteCtx::new(1, "cli");
        let sum = import(
            ImportTo { reg: &reg, actor: &cli_actor(), data_dir: dir.path(), bulk: None },
            &input,
            Format::Jsonl,
            10,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!((sum.ok, sum.failed), (2, 1), "2 fit under the quota of 5");
        assert_eq!(s.count_records(Some("88.118.8.1001")).unwrap(), 5);
        // `id put` through the same service: refused with the quota error.
        let op = RecordOp::Create { key: b"88.118.8.1001/put-1".to_vec(), values: vec![], overwrite: false };
        let e = reg.write_record(&cli_actor(), op, &ctx).unwrap_err();
        assert!(matches!(e, ServiceError::Quota { .. }), "{e:?}");
        let audit = s.read_audit(0, 100).unwrap();
        let batch = audit.iter().find(|a| a.action == "record.batch").expect("import audited");
        assert_eq!((batch.actor.as_str(), batch.detail.as_str()), ("cli", "cli-offline"));
        assert_eq!(batch.outcome, "ok 2, failed 1");
        assert!(audit.iter().any(|a| a.action == "record.create" && a.outcome.starts_with("quota:")), "{audit:?}");
    }
}
