//! The administration commands: `idnode prefix|enterprise|template|user
//! ...`, `idnode stats`, and the daemon path of `idnode id ...`.
//!
//! Every command is one or more calls of the admin API (`crate::api::admin`).
//! While a daemon holds the store (opening it fails with
//! `StoreError::Locked`), the calls go to the daemon over HTTP
//! ([`crate::admin_client`]: address from `<data_dir>/admin.addr` or
//! `admin.listen`, the admin secret from `admin.secret_file` — the same
//! configuration the daemon uses). When no daemon runs, the command opens
//! the store itself and runs the same admin router in-process, so both
//! paths give the same answers.
//!
//! Output is for people by default and one JSON document with `--json`.
//! Exit codes: 0 success, 64 when the request itself was wrong (the API
//! answered 400, or a bad flag), 1 anything else.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use idnode_registry::model::Value as RecordValue;
use idnode_registry::service::dates;
use idnode_registry::store::{RecordOp, SledStore, Store, StoreError};
use idnode_registry::transfer::{self, JsonRecord, JsonValue};
use serde_json::{Value, json};

use crate::admin_client::{AdminClient, ApiFailure, encode_path, encode_query};
use crate::api::admin::BASE;
use crate::cli::UsageError;
use crate::config::Config;
use crate::offline::{self, Chunk, CountingReader, Format, IdCommand, ImportSummary};

// ------------------------------------------------------------------ clap

/// `idnode prefix ...`
#[derive(Debug, clap::Args)]
pub struct PrefixArgs {
    #[command(subcommand)]
    pub cmd: PrefixCmd,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum PrefixCmd {
    /// List every prefix with its state, owner, registrations and resolutions.
    List,
    /// Show one prefix (with its record count and today's counters).
    Get { prefix: String },
    /// Create a prefix (homed and enabled unless told otherwise).
    Create {
        prefix: String,
        /// Owning enterprise id.
        #[arg(long, value_name = "ID")]
        enterprise: Option<u64>,
        /// Initial state: enabled, disabled, awaiting-review, under-review,
        /// rejected, pending-deletion (or the SNMS code 0..=5).
        #[arg(long, default_value = "enabled")]
        state: String,
        /// Do not home it: this node will not answer for it.
        #[arg(long)]
        no_home: bool,
        /// Suffix case rule (default: that of the homed parent prefix).
        #[arg(long, value_parser = ["sensitive", "insensitive"])]
        case_policy: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Move a prefix through the review state machine (e.g. awaiting-review
    /// -> under-review -> enabled).
    SetState { prefix: String, state: String },
    /// Make this node answer for a prefix (created enabled if unknown).
    Home { prefix: String },
    /// Stop answering for a prefix (its records are kept).
    Unhome { prefix: String },
}

/// `idnode enterprise ...`
#[derive(Debug, clap::Args)]
pub struct EnterpriseArgs {
    #[command(subcommand)]
    pub cmd: EnterpriseCmd,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum EnterpriseCmd {
    /// List enterprises.
    List,
    /// Show one enterprise with its filing fields.
    Get { id: u64 },
    /// File an enterprise directly (approved unless --pending).
    Create {
        /// Organisation name (orgName).
        #[arg(long)]
        name: String,
        /// Certificate code (orgCrtCode, e.g. the unified social credit code).
        #[arg(long)]
        credit_code: String,
        /// Give it this prefix (created homed and hosted here, or an existing prefix without an owner).
        #[arg(long)]
        prefix: Option<String>,
        /// Create the prefix without homing it.
        #[arg(long)]
        no_home: bool,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        website: Option<String>,
        /// Industry code, e.g. C34.
        #[arg(long)]
        industry: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        contact_name: Option<String>,
        #[arg(long)]
        contact_email: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
        /// File it pending review (its new prefix awaits review too).
        #[arg(long)]
        pending: bool,
    },
    /// Approve a filing: the enterprise and its prefixes awaiting review become enabled.
    Approve { id: u64 },
}

/// `idnode template ...`
#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    #[command(subcommand)]
    pub cmd: TemplateCmd,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum TemplateCmd {
    /// List templates (of one prefix).
    List {
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Show one template version.
    Get {
        prefix: String,
        #[arg(id = "template_version", value_name = "VERSION")]
        version: String,
    },
    /// Create a template version, or edit an existing one, from a JSON file
    /// in the SNMS v5 shape (`template get --json` output works); `-` = stdin.
    Put {
        prefix: String,
        #[arg(id = "template_version", value_name = "VERSION")]
        version: String,
        file: PathBuf,
    },
    /// Delete a template version (refused while an identifier uses it).
    Rm {
        prefix: String,
        #[arg(id = "template_version", value_name = "VERSION")]
        version: String,
    },
}

/// `idnode user ...`
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub cmd: UserCmd,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCmd {
    /// List API accounts.
    List,
    /// Create an account. Without --password-file a password is generated
    /// and printed once.
    Add {
        username: String,
        #[arg(long, default_value = "enterprise", value_parser = ["admin", "enterprise", "auditor"])]
        role: String,
        /// The enterprise of an enterprise account.
        #[arg(long, value_name = "ID")]
        enterprise: Option<u64>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        mobile: Option<String>,
        /// Read the password from the first line of FILE (`-` = stdin).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Set an account's password (generated and printed once without
    /// --password-file); its sessions end.
    Passwd {
        username: String,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Disable an account (it can no longer log in; its sessions end).
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
}

/// `idnode stats`
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Only this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// First day (yyyy-MM-dd UTC, today, yesterday); default 29 days before --to.
    #[arg(long, value_name = "DAY")]
    pub from: Option<String>,
    /// Last day (yyyy-MM-dd UTC, today, yesterday); default today.
    #[arg(long, value_name = "DAY")]
    pub to: Option<String>,
    /// Persist the daemon's in-memory counters first.
    #[arg(long)]
    pub persist: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

// --------------------------------------------------------------- backend

/// Where admin API calls go.
pub enum Backend {
    /// The running daemon, over HTTP(S).
    Daemon(AdminClient),
    /// The admin router in this process over a store opened here.
    Local(Local),
}

/// The in-process admin API (no daemon running).
pub struct Local {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    store: Arc<SledStore>,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.store.persist_counters();
        let _ = self.store.flush();
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Daemon(c) => write!(f, "Daemon({c:?})"),
            Backend::Local(_) => f.write_str("Local"),
        }
    }
}

/// True when `e` says the store is held by another process (the daemon).
pub fn is_locked(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Locked { .. })))
}

/// The daemon's admin API (the store is `locked` by it).
fn daemon_client(cfg: &Config, locked: anyhow::Error) -> Result<AdminClient> {
    if !cfg.admin.api_enabled {
        return Err(locked.context(
            "a running daemon holds the store and its admin API is off (admin.api_enabled = false): enable it, or stop the daemon",
        ));
    }
    AdminClient::for_daemon(cfg).context("a running daemon holds the store; reaching its admin API")
}

impl Backend {
    /// The daemon when it holds the store, else the store itself.
    pub fn connect(cfg: &Config) -> Result<Backend> {
        if cfg.store.backend == crate::config::StoreBackend::Postgres {
            // A shared database: always through a running daemon's admin API.
            return Ok(Backend::Daemon(
                AdminClient::for_daemon(cfg)
                    .context("store.backend = \"postgres\": reaching the daemon's admin API")?,
            ));
        }
        match crate::cli::open_store(cfg) {
            Ok(store) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the async runtime")?;
                let dyn_store: Arc<dyn Store> = store.clone();
                let deps = crate::api::ApiDeps::new(dyn_store, Arc::new(cfg.clone()));
                let router = crate::api::admin::local_router(deps);
                Ok(Backend::Local(Local { rt, router, store }))
            }
            Err(e) if is_locked(&e) => Ok(Backend::Daemon(daemon_client(cfg, e)?)),
            Err(e) => Err(e),
        }
    }

    /// One JSON call; API failures come back as errors ([`ApiFailure`],
    /// or a [`UsageError`] for a 400).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let r = match self {
            Backend::Daemon(c) => c.json(method, path, body.as_ref()),
            Backend::Local(l) => l.call(method, path, body),
        };
        r.map_err(usage_if_bad_request)
    }
}

impl Local {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        use tower::ServiceExt;
        let bytes = match &body {
            Some(v) => serde_json::to_vec(v)?,
            None => Vec::new(),
        };
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(bytes))
            .context("building the request")?;
        let router = self.router.clone();
        let (status, raw) = self.rt.block_on(async move {
            let resp = router.oneshot(req).await.map_err(|e| anyhow!("admin API: {e}"))?;
            let status = resp.status().as_u16();
            let raw = axum::body::to_bytes(resp.into_body(), usize::MAX).await.map_err(|e| anyhow!("{e}"))?;
            Ok::<_, anyhow::Error>((status, raw))
        })?;
        if !(200..300).contains(&status) {
            return Err(ApiFailure::from_body(status, &raw).into());
        }
        Ok(serde_json::from_slice(&raw)?)
    }
}

/// A 400 from the API is the caller's mistake: exit code 64.
fn usage_if_bad_request(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<ApiFailure>() {
        Some(f) if f.status == 400 => UsageError(f.to_string()).into(),
        _ => e,
    }
}

/// The API failure in `e`, if any.
fn failure(e: &anyhow::Error) -> Option<&ApiFailure> {
    e.chain().find_map(|c| c.downcast_ref::<ApiFailure>())
}

// ------------------------------------------------------------- rendering

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn time(v: &Value) -> String {
    match v.as_u64() {
        Some(t) if t > 0 => format!("{} UTC", dates::date_time(t, 0)),
        _ => "-".into(),
    }
}

fn print_json(v: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Prints rows as aligned columns (the first row is the header).
fn table(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// Prints `key: value` lines of an object, in the given order.
fn fields(v: &Value, keys: &[(&str, &str)]) {
    let w = keys.iter().map(|(_, label)| label.len()).max().unwrap_or(0);
    for (k, label) in keys {
        let val = match *k {
            "created" | "updated" => time(&v[*k]),
            _ => text(&v[*k]),
        };
        println!("{label:<w$}  {val}");
    }
}

// --------------------------------------------------------------- prefixes

/// `idnode prefix ...`
pub fn prefix(args: PrefixArgs, cfg: &Config) -> Result<()> {
    let b = Backend::connect(cfg)?;
    let one = |p: &str| format!("{BASE}/prefixes/{}", encode_path(p, false));
    let v = match &args.cmd {
        PrefixCmd::List => b.call("GET", &format!("{BASE}/prefixes"), None)?,
        PrefixCmd::Get { prefix } => b.call("GET", &one(prefix), None)?,
        PrefixCmd::Create { prefix, enterprise, state, no_home, case_policy, description } => b.call(
            "POST",
            &format!("{BASE}/prefixes"),
            Some(json!({
                "prefix": prefix, "enterpriseId": enterprise, "state": state, "homed": !no_home,
                "casePolicy": case_policy, "description": description,
            })),
        )?,
        PrefixCmd::SetState { prefix, state } => {
            b.call("POST", &format!("{}/state", one(prefix)), Some(json!({"state": state})))?
        }
        PrefixCmd::Home { prefix } => b.call("POST", &format!("{}/home", one(prefix)), None)?,
        PrefixCmd::Unhome { prefix } => b.call("POST", &format!("{}/unhome", one(prefix)), None)?,
    };
    if args.json {
        return print_json(&v);
    }
    match &args.cmd {
        PrefixCmd::List => {
            let mut rows = vec![
                ["PREFIX", "STATE", "HOSTING", "HOMED", "ENTERPRISE", "REGISTRATIONS", "RESOLUTIONS"]
                    .map(String::from)
                    .to_vec(),
            ];
            for p in v["prefixes"].as_array().into_iter().flatten() {
                let ent = match (&p["enterpriseId"], &p["enterpriseName"]) {
                    (Value::Null, _) => "-".to_owned(),
                    (id, name) => format!("{} {}", text(id), text(name)),
                };
                rows.push(vec![
                    text(&p["prefix"]),
                    text(&p["state"]),
                    text(&p["hosting"]),
                    if p["homed"].as_bool() == Some(true) { "yes" } else { "no" }.into(),
                    ent,
                    text(&p["registrations"]),
                    text(&p["resolutions"]),
                ]);
            }
            table(&rows);
        }
        PrefixCmd::Get { .. } => {
            fields(
                &v,
                &[
                    ("prefix", "prefix"),
                    ("state", "state"),
                    ("hosting", "hosting"),
                    ("homed", "homed"),
                    ("enterpriseId", "enterprise id"),
                    ("enterpriseName", "enterprise"),
                    ("casePolicy", "case policy"),
                    ("description", "description"),
                    ("records", "records"),
                    ("registrations", "registrations"),
                    ("resolutions", "resolutions"),
                    ("created", "created"),
                    ("updated", "updated"),
                ],
            );
            println!(
                "today          {} registrations, {} resolutions (UTC day)",
                text(&v["today"]["registrations"]),
                text(&v["today"]["resolutions"])
            );
        }
        PrefixCmd::Create { .. } => println!("{}: created ({})", text(&v["prefix"]), text(&v["state"])),
        PrefixCmd::SetState { .. } => println!("{}: {}", text(&v["prefix"]), text(&v["state"])),
        PrefixCmd::Home { .. } => println!("{}: homed", text(&v["prefix"])),
        PrefixCmd::Unhome { .. } => println!("{}: no longer homed", text(&v["prefix"])),
    }
    Ok(())
}

// ------------------------------------------------------------ enterprises

/// `idnode enterprise ...`
pub fn enterprise(args: EnterpriseArgs, cfg: &Config) -> Result<()> {
    let b = Backend::connect(cfg)?;
    let v = match &args.cmd {
        EnterpriseCmd::List => b.call("GET", &format!("{BASE}/enterprises"), None)?,
        EnterpriseCmd::Get { id } => b.call("GET", &format!("{BASE}/enterprises/{id}"), None)?,
        EnterpriseCmd::Create {
            name,
            credit_code,
            prefix,
            no_home,
            address,
            website,
            industry,
            description,
            contact_name,
            contact_email,
            contact_phone,
            pending,
        } => {
            let mut body = json!({
                "name": name, "creditCode": credit_code,
                "status": if *pending { "pending" } else { "approved" },
                "contact": {
                    "name": contact_name.clone().unwrap_or_default(),
                    "email": contact_email.clone().unwrap_or_default(),
                    "phone": contact_phone.clone().unwrap_or_default(),
                },
            });
            for (k, val) in
                [("address", address), ("website", website), ("industry", industry), ("description", description)]
            {
                if let Some(val) = val {
                    body[k] = json!(val);
                }
            }
            if let Some(p) = prefix {
                body["prefix"] = json!(p);
                body["homed"] = json!(!no_home);
            }
            b.call("POST", &format!("{BASE}/enterprises"), Some(body))?
        }
        EnterpriseCmd::Approve { id } => b.call("POST", &format!("{BASE}/enterprises/{id}/approve"), None)?,
    };
    if args.json {
        return print_json(&v);
    }
    let prefixes = |e: &Value| {
        let list: Vec<String> = e["prefixes"].as_array().into_iter().flatten().map(text).collect();
        if list.is_empty() { "-".to_owned() } else { list.join(",") }
    };
    match &args.cmd {
        EnterpriseCmd::List => {
            let mut rows = vec![["ID", "STATUS", "CREDIT-CODE", "PREFIXES", "NAME"].map(String::from).to_vec()];
            for e in v["enterprises"].as_array().into_iter().flatten() {
                rows.push(vec![
                    text(&e["id"]),
                    text(&e["status"]),
                    text(&e["creditCode"]),
                    prefixes(e),
                    text(&e["name"]),
                ]);
            }
            table(&rows);
        }
        EnterpriseCmd::Get { .. } => {
            fields(
                &v,
                &[
                    ("id", "id"),
                    ("name", "name"),
                    ("creditCode", "credit code"),
                    ("status", "status"),
                    ("address", "address"),
                    ("website", "website"),
                    ("industry", "industry"),
                    ("description", "description"),
                    ("created", "created"),
                    ("updated", "updated"),
                ],
            );
            println!("prefixes     {}", prefixes(&v));
            let c = &v["contact"];
            println!("contact      {} {} {}", text(&c["name"]), text(&c["email"]), text(&c["phone"]));
        }
        EnterpriseCmd::Create { .. } => {
            println!("enterprise {} created ({}), prefixes {}", text(&v["id"]), text(&v["status"]), prefixes(&v))
        }
        EnterpriseCmd::Approve { .. } => println!("enterprise {} approved, prefixes {}", text(&v["id"]), prefixes(&v)),
    }
    Ok(())
}

// -------------------------------------------------------------- templates

/// `idnode template ...`
pub fn template(args: TemplateArgs, cfg: &Config) -> Result<()> {
    let one = |p: &str, ver: &str| format!("{BASE}/templates/{}/{}", encode_path(p, false), encode_path(ver, false));
    // Read the input before touching the store or the daemon.
    let put_body = match &args.cmd {
        TemplateCmd::Put { file, .. } => {
            let raw = read_input(file)?;
            Some(serde_json::from_slice::<Value>(&raw).map_err(|e| UsageError(format!("{}: {e}", file.display())))?)
        }
        _ => None,
    };
    let b = Backend::connect(cfg)?;
    let v = match &args.cmd {
        TemplateCmd::List { prefix } => {
            let q = prefix.as_ref().map(|p| format!("?prefix={}", encode_query(p))).unwrap_or_default();
            b.call("GET", &format!("{BASE}/templates{q}"), None)?
        }
        TemplateCmd::Get { prefix, version } => b.call("GET", &one(prefix, version), None)?,
        TemplateCmd::Put { prefix, version, .. } => b.call("PUT", &one(prefix, version), put_body)?,
        TemplateCmd::Rm { prefix, version } => b.call("DELETE", &one(prefix, version), None)?,
    };
    if args.json {
        return print_json(&v);
    }
    match &args.cmd {
        TemplateCmd::List { .. } => {
            let mut rows = vec![["PREFIX", "VERSION", "ITEMS", "TYPE", "DESCRIPTION"].map(String::from).to_vec()];
            for t in v["templates"].as_array().into_iter().flatten() {
                rows.push(vec![
                    text(&t["prefix"]),
                    text(&t["version"]),
                    t["items"].as_array().map_or(0, Vec::len).to_string(),
                    text(&t["type"]),
                    text(&t["description"]),
                ]);
            }
            table(&rows);
        }
        TemplateCmd::Get { .. } | TemplateCmd::Put { .. } => {
            fields(
                &v,
                &[
                    ("prefix", "prefix"),
                    ("version", "version"),
                    ("description", "description"),
                    ("industryCategory", "industry"),
                    ("type", "type"),
                    ("handle", "handle"),
                    ("created", "created"),
                    ("updated", "updated"),
                ],
            );
            let mut rows = vec![["INDEX", "TYPE", "NAME", "REQUIRED", "STATE", "LENGTH"].map(String::from).to_vec()];
            for i in v["items"].as_array().into_iter().flatten() {
                let m = &i["metadata"];
                rows.push(vec![
                    text(&i["idIndex"]),
                    text(&i["idType"]),
                    text(&i["name"]),
                    text(&i["required"]),
                    if i["state"].as_u64() == Some(1) { "enabled" } else { "disabled" }.into(),
                    format!("{}..{}", text(&m["minLength"]), text(&m["maxLength"])),
                ]);
            }
            table(&rows);
        }
        TemplateCmd::Rm { prefix, version } => println!("template {prefix} {version}: deleted"),
    }
    Ok(())
}

fn read_input(file: &Path) -> Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("reading stdin")?;
        Ok(b)
    } else {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// The first line of a password file (`-` = stdin), without the newline.
fn read_password(file: &Path) -> Result<String> {
    let raw = read_input(file)?;
    let text = String::from_utf8(raw).map_err(|_| UsageError(format!("{}: not UTF-8", file.display())))?;
    let line = text.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        return Err(UsageError(format!("{}: no password on the first line", file.display())).into());
    }
    Ok(line)
}

// ------------------------------------------------------------------ users

/// `idnode user ...`
pub fn user(args: UserArgs, cfg: &Config) -> Result<()> {
    let one = |u: &str| format!("{BASE}/users/{}", encode_path(u, false));
    let password = match &args.cmd {
        UserCmd::Add { password_file: Some(f), .. } | UserCmd::Passwd { password_file: Some(f), .. } => {
            Some(read_password(f)?)
        }
        _ => None,
    };
    let b = Backend::connect(cfg)?;
    let v = match &args.cmd {
        UserCmd::List => b.call("GET", &format!("{BASE}/users"), None)?,
        UserCmd::Add { username, role, enterprise, email, mobile, .. } => {
            let mut body = json!({
                "username": username, "role": role, "enterpriseId": enterprise,
                "email": email.clone().unwrap_or_default(), "mobile": mobile.clone().unwrap_or_default(),
            });
            if let Some(p) = &password {
                body["password"] = json!(p);
            }
            b.call("POST", &format!("{BASE}/users"), Some(body))?
        }
        UserCmd::Passwd { username, .. } => {
            let body = match &password {
                Some(p) => json!({"password": p}),
                None => json!({}),
            };
            b.call("POST", &format!("{}/password", one(username)), Some(body))?
        }
        UserCmd::Disable { username } => b.call("POST", &format!("{}/disable", one(username)), None)?,
        UserCmd::Enable { username } => b.call("POST", &format!("{}/enable", one(username)), None)?,
    };
    if args.json {
        return print_json(&v);
    }
    let generated = |v: &Value| {
        if let Some(p) = v["password"].as_str() {
            println!("password: {p}");
            println!("(generated; shown only this once)");
        }
    };
    match &args.cmd {
        UserCmd::List => {
            let mut rows =
                vec![["USERNAME", "ROLE", "ENTERPRISE", "DISABLED", "SESSIONS", "CREATED"].map(String::from).to_vec()];
            for u in v["users"].as_array().into_iter().flatten() {
                rows.push(vec![
                    text(&u["username"]),
                    text(&u["role"]),
                    text(&u["enterpriseId"]),
                    if u["disabled"].as_bool() == Some(true) { "yes" } else { "no" }.into(),
                    text(&u["sessions"]),
                    time(&u["created"]),
                ]);
            }
            table(&rows);
        }
        UserCmd::Add { .. } => {
            println!("user {} created ({})", text(&v["username"]), text(&v["role"]));
            generated(&v);
        }
        UserCmd::Passwd { .. } => {
            println!("user {}: password changed, sessions ended", text(&v["username"]));
            generated(&v);
        }
        UserCmd::Disable { .. } => println!("user {}: disabled", text(&v["username"])),
        UserCmd::Enable { .. } => println!("user {}: enabled", text(&v["username"])),
    }
    Ok(())
}

// ------------------------------------------------------------------ stats

/// `idnode stats`
pub fn stats(args: StatsArgs, cfg: &Config) -> Result<()> {
    let mut q = Vec::new();
    for (k, v) in [("prefix", &args.prefix), ("from", &args.from), ("to", &args.to)] {
        if let Some(v) = v {
            q.push(format!("{k}={}", encode_query(v)));
        }
    }
    if args.persist {
        q.push("persist=true".into());
    }
    let q = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    let b = Backend::connect(cfg)?;
    let v = b.call("GET", &format!("{BASE}/stats{q}"), None)?;
    if args.json {
        return print_json(&v);
    }
    println!("registrations and resolutions per prefix, {} .. {} (UTC days)", text(&v["from"]), text(&v["to"]));
    let mut rows = vec![["PREFIX", "DAY", "REGISTRATIONS", "RESOLUTIONS"].map(String::from).to_vec()];
    for p in v["prefixes"].as_array().into_iter().flatten() {
        rows.push(vec![text(&p["prefix"]), "total".into(), text(&p["registrations"]), text(&p["resolutions"])]);
        for d in p["days"].as_array().into_iter().flatten() {
            rows.push(vec![String::new(), text(&d["date"]), text(&d["registrations"]), text(&d["resolutions"])]);
        }
    }
    table(&rows);
    let ob = &v["federation"]["outbox"];
    if ob.is_object() {
        let reachable = match ob["topReachable"].as_bool() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        println!(
            "outbox to top node {}: depth {}, delivered {}, top reachable {reachable}, last error {}",
            text(&ob["top"]),
            text(&ob["depth"]),
            text(&ob["delivered"]),
            ob["lastError"].as_str().unwrap_or("none")
        );
    }
    let m = &v["federation"]["mirror"];
    if m.is_object() {
        println!(
            "mirror of {}: applied {} of {}, lag {} changes / {} s, primary reachable {}, last error {}",
            text(&m["primary"]),
            text(&m["appliedSeq"]),
            text(&m["primarySeq"]),
            text(&m["lagChanges"]),
            text(&m["lagSeconds"]),
            text(&m["primaryReachable"]),
            m["lastError"].as_str().unwrap_or("none")
        );
    }
    Ok(())
}

// ------------------------------------------------------- id via the daemon

/// Runs an `id` command through the daemon's admin API (the daemon holds
/// the store: `locked` is the error opening it gave).
pub fn id_via_daemon(cmd: IdCommand, cfg: &Config, locked: anyhow::Error) -> Result<()> {
    // Check the command line before reaching out.
    if let IdCommand::Get { handle, .. } | IdCommand::Put { handle, .. } | IdCommand::Rm { handle } = &cmd {
        offline::parse_handle(handle)?;
    }
    let c = daemon_client(cfg, locked)?;
    let record = |h: &str| format!("{BASE}/records/{}", encode_path(h, true));
    match cmd {
        IdCommand::Get { handle, json } => {
            let v = c.json("GET", &record(&handle), None).map_err(|e| match failure(&e) {
                Some(f) if f.status == 404 => anyhow!("{handle} not found"),
                _ => usage_if_bad_request(e),
            })?;
            let rec: JsonRecord = serde_json::from_value(v).context("the daemon's record")?;
            let values = rec
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| v.to_value(&format!("values[{i}]")))
                .collect::<Result<Vec<RecordValue>, _>>()
                .context("the daemon's record")?;
            offline::print_record(&rec.handle, &values, json);
            Ok(())
        }
        IdCommand::Put { handle, values, overwrite } => {
            let values = values
                .iter()
                .map(|s| transfer::parse_value_spec(s))
                .collect::<Result<Vec<RecordValue>, _>>()
                .map_err(|e| UsageError(e.to_string()))?;
            let body = json!({"values": values.iter().map(JsonValue::from_value).collect::<Vec<_>>()});
            let path = format!("{}?overwrite={overwrite}", record(&handle));
            c.json("PUT", &path, Some(&body)).map_err(|e| match failure(&e) {
                Some(f) if f.status == 409 => anyhow!("{handle} already exists (use --overwrite to replace it)"),
                _ => usage_if_bad_request(e).context(format!("writing {handle}")),
            })?;
            println!("{handle}: stored");
            Ok(())
        }
        IdCommand::ImportAliases { .. } => bail!(
            "`idnode id import-aliases` writes a sled store directly, with the daemon stopped; \
             a running node binds aliases over POST /identityv2/alias"
        ),
        IdCommand::Rm { handle } => {
            c.json("DELETE", &record(&handle), None).map_err(|e| match failure(&e) {
                Some(f) if f.status == 404 => anyhow!("{handle} not found"),
                _ => usage_if_bad_request(e).context(format!("deleting {handle}")),
            })?;
            println!("{handle}: deleted");
            Ok(())
        }
        IdCommand::Import { file, format, batch, overwrite } => {
            let format = offline::format_of(&file, format);
            let summary =
                import_via_daemon(&c, &file, format, batch.unwrap_or(offline::DAEMON_BATCH) as usize, overwrite)?;
            println!("{summary}");
            if summary.failed > 0 {
                bail!("{} of {} records failed (see the messages above)", summary.failed, summary.failed + summary.ok);
            }
            Ok(())
        }
        IdCommand::Export { prefix, out } => {
            let t0 = Instant::now();
            let q = prefix.as_ref().map(|p| format!("?prefix={}", encode_query(p))).unwrap_or_default();
            let answer = c.open("GET", &format!("{BASE}/export{q}"), "", &[])?.ok().map_err(usage_if_bad_request)?;
            let n = match &out {
                Some(p) => {
                    let f = File::create(p).with_context(|| format!("creating {}", p.display()))?;
                    copy_lines(answer, BufWriter::with_capacity(1 << 20, f))?
                }
                None => copy_lines(answer, BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))?,
            };
            eprintln!("exported {n} records in {:.2}s", t0.elapsed().as_secs_f64());
            Ok(())
        }
    }
}

/// Copies a streamed export to `out`; returns the number of lines.
fn copy_lines(mut from: impl Read, mut out: impl Write) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = from.read(&mut buf).context("reading the export from the daemon")?;
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
        out.write_all(&buf[..k])?;
    }
    out.flush()?;
    Ok(n)
}

/// `id import` through the daemon: the file is parsed here (same parsers
/// and messages as the offline import), each batch is sent as one request
/// of JSON lines (one transaction on the node), and the node's per-line
/// failures are reported with the input's line numbers.
fn import_via_daemon(
    c: &AdminClient,
    file: &Path,
    format: Format,
    batch: usize,
    overwrite: bool,
) -> Result<ImportSummary> {
    let (reader, total): (Box<dyn Read + Send>, Option<u64>) = if file == Path::new("-") {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let bar = offline::progress_bar(total);
    let t0 = Instant::now();
    let now = u32::try_from(crate::unix_now()).unwrap_or(u32::MAX);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
    let parser = std::thread::Builder::new().name("import-parse".into()).spawn(move || -> Result<()> {
        let reader = CountingReader { inner: reader, bytes: 0 };
        // Handles travel as written; the node canonicalises them.
        let keep = |id: &idnode_registry::ident::Identifier| id.as_bytes().to_vec();
        match format {
            Format::Jsonl => offline::parse_jsonl(reader, batch, overwrite, now, &keep, &tx),
            Format::Csv => offline::parse_csv(reader, batch, overwrite, now, &keep, &tx),
        }
    })?;
    let mut ok = 0u64;
    let mut failed = 0u64;
    let mut stderr = std::io::stderr().lock();
    let path = format!("{BASE}/import?overwrite={overwrite}&errors_only=true&batch={}", batch.max(1));
    for chunk in rx {
        for (line, msg) in &chunk.errors {
            bar.suspend(|| writeln!(stderr, "line {line}: {msg}")).ok();
        }
        failed += chunk.errors.len() as u64;
        if !chunk.records.is_empty() {
            let mut body = Vec::with_capacity(chunk.records.len() * 256);
            let mut lines = Vec::with_capacity(chunk.records.len());
            for p in chunk.records {
                if let RecordOp::Create { values, .. } = p.op {
                    body.extend_from_slice(transfer::to_json_line(&p.handle, &values).as_bytes());
                    body.push(b'\n');
                    lines.push(p.line);
                }
            }
            let answer = c.open("POST", &path, "application/x-ndjson", &body)?.ok().map_err(usage_if_bad_request)?;
            let mut summary = None;
            for l in BufReader::new(answer).lines() {
                let l = l.context("reading the daemon's import results")?;
                let v: Value = serde_json::from_str(&l).context("the daemon's import results")?;
                if let Some(s) = v.get("summary") {
                    summary = Some(s.clone());
                    continue;
                }
                let rel = v["line"].as_u64().unwrap_or(0);
                let line = usize::try_from(rel).ok().and_then(|r| lines.get(r.checked_sub(1)?)).copied().unwrap_or(0);
                let handle = v["handle"].as_str().unwrap_or("");
                let msg = match v["error"]["code"].as_str() {
                    Some("already_exists") => "already exists (use --overwrite)".to_owned(),
                    _ => text(&v["error"]["message"]),
                };
                bar.suspend(|| writeln!(stderr, "line {line}: {handle}: {msg}")).ok();
            }
            let s = summary.ok_or_else(|| anyhow!("the daemon's import answer ended without a summary"))?;
            ok += s["ok"].as_u64().unwrap_or(0);
            failed += s["failed"].as_u64().unwrap_or(0);
            if let Some(e) = s["error"].as_str() {
                bail!("the node stopped the import: {e}");
            }
        }
        bar.set_position(chunk.bytes);
    }
    bar.finish_and_clear();
    parser.join().map_err(|_| anyhow!("the parser thread panicked"))??;
    Ok(ImportSummary { ok, failed, seconds: t0.elapsed().as_secs_f64() })
}
