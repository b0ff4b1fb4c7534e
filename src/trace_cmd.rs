//! `idnode trace ID` (the chain as a tree) and `idnode label ID` (a QR
//! label as SVG or PNG). Both go through the admin API of the running
//! daemon, or of the store opened locally when no daemon holds it
//! ([`crate::cli_admin::Backend`]), which serves `/api/trace/...`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::admin_client::{encode_path, encode_query};
use crate::cli_admin::Backend;
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// The identifier to start from.
    pub identifier: String,
    /// up (who links here), down (what it links to) or both.
    #[arg(long, default_value = "both")]
    pub direction: String,
    /// Links to follow (0-10).
    #[arg(long, default_value_t = 3)]
    pub depth: u32,
    /// Only these relations (comma-separated).
    #[arg(long)]
    pub relations: Option<String>,
    /// Print the JSON graph instead of a tree.
    #[arg(long)]
    pub json: bool,
    /// Print the chain as an EPCIS 2.0 JSON document.
    #[arg(long, conflicts_with = "json")]
    pub epcis: bool,
}

#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// The identifier to label.
    pub identifier: String,
    /// svg or png.
    #[arg(long, default_value = "svg")]
    pub format: String,
    /// Where to write the label (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Base URL the QR code points to (default: `[web] public_base_url`,
    /// else `http://<http.listen>`).
    #[arg(long)]
    pub base_url: Option<String>,
}

fn trace_path(id: &str, q: &[(String, String)]) -> String {
    let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", encode_query(v))).collect();
    format!("/api/trace/{}?{}", encode_path(id, true), q.join("&"))
}

pub fn trace(args: TraceArgs, cfg: &Config) -> Result<()> {
    let mut q = vec![("direction".to_owned(), args.direction.clone()), ("depth".to_owned(), args.depth.to_string())];
    if let Some(r) = &args.relations {
        q.push(("relations".into(), r.clone()));
    }
    if args.epcis {
        q.push(("format".into(), "epcis".into()));
    }
    let b = Backend::connect(cfg)?;
    let v = b.call("GET", &trace_path(&args.identifier, &q), None)?;
    if args.json || args.epcis {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", tree(&v));
    Ok(())
}

/// The graph as an indented tree from the root: `down` links as
/// `--relation-->`, `up` links as `<--relation--`; a node seen before is
/// printed once more with `(seen above)` and not expanded again.
pub fn tree(v: &Value) -> String {
    let root = v["root"].as_str().unwrap_or_default().to_owned();
    let mut adj: HashMap<String, Vec<(String, String, bool)>> = HashMap::new();
    for e in v["edges"].as_array().into_iter().flatten() {
        let (f, t, r) = (text(&e["from"]), text(&e["to"]), text(&e["relation"]));
        adj.entry(f.clone()).or_default().push((t.clone(), r.clone(), true));
        adj.entry(t).or_default().push((f, r, false));
    }
    let status: HashMap<String, String> =
        v["nodes"].as_array().into_iter().flatten().map(|n| (text(&n["id"]), text(&n["status"]))).collect();
    let mut out = String::new();
    let mut seen = std::collections::HashSet::new();
    out.push_str(&format!("{root}{}\n", note(&status, &root)));
    seen.insert(root.clone());
    walk(&root, "", &adj, &status, &mut seen, &mut out);
    if v["cycle"].as_bool() == Some(true) {
        out.push_str("(the links form a cycle; every identifier is listed once)\n");
    }
    if let Some(n) = v["nextOffset"].as_u64() {
        out.push_str(&format!("(more nodes: ask again with offset={n})\n"));
    }
    out
}

fn note(status: &HashMap<String, String>, id: &str) -> &'static str {
    match status.get(id).map(String::as_str) {
        Some("foreign") => "  [foreign: resolve elsewhere]",
        Some("missing") => "  [missing]",
        _ => "",
    }
}

fn walk(
    id: &str,
    indent: &str,
    adj: &HashMap<String, Vec<(String, String, bool)>>,
    status: &HashMap<String, String>,
    seen: &mut std::collections::HashSet<String>,
    out: &mut String,
) {
    let Some(next) = adj.get(id) else { return };
    let mut next = next.clone();
    next.sort();
    next.dedup();
    let n = next.len();
    for (i, (other, rel, down)) in next.into_iter().enumerate() {
        let last = i + 1 == n;
        let arrow = if down { format!("--{rel}-->") } else { format!("<--{rel}--") };
        let again = !seen.insert(other.clone());
        out.push_str(&format!(
            "{indent}{} {arrow} {other}{}{}\n",
            if last { "└─" } else { "├─" },
            note(status, &other),
            if again { "  (seen above)" } else { "" }
        ));
        if !again {
            let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
            walk(&other, &deeper, adj, status, seen, out);
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

pub fn label(args: LabelArgs, cfg: &Config) -> Result<()> {
    let Some(format) = crate::web::label::Format::parse(&args.format) else {
        bail!("--format {:?}: expected svg or png", args.format);
    };
    let b = Backend::connect(cfg)?;
    // The identifier must resolve here (the trace answer is 404 otherwise).
    let v = b.call("GET", &trace_path(&args.identifier, &[("depth".into(), "0".into())]), None)?;
    if v["nodes"][0]["status"] != "found" {
        bail!("{} has no record on this node", args.identifier);
    }
    let base = args
        .base_url
        .clone()
        .or_else(|| (!cfg.web.public_base_url.is_empty()).then(|| cfg.web.public_base_url.clone()))
        .unwrap_or_else(|| format!("http://{}", cfg.http.listen));
    let url = format!("{}{}", base.trim_end_matches('/'), crate::web::page_path(&args.identifier));
    let bytes =
        crate::web::label::render(&args.identifier, &url, format).context("identifier too long for a QR code")?;
    match &args.out {
        Some(p) => std::fs::write(p, &bytes).with_context(|| format!("writing {}", p.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}
