//! View structs of the pages, built from the store through
//! `registry::service` (no HTML here): the landing page, the 404 page and
//! the home page. The landing view is also the JSON a non-browser client
//! gets from `GET /{identifier}`.

use idnode_registry::ident::{Identifier, prefix_chain};
use idnode_registry::model::link::{Link, is_link_type};
use idnode_registry::model::{Template, Value};
use idnode_registry::service::refs::record_values;
use idnode_registry::service::trace::{Direction, NodeStatus, TraceRequest, trace};
use idnode_registry::store::StoreError;
use serde_json::json;

use crate::api::ApiDeps;

/// One field of the record with its template labels.
#[derive(Debug, Clone)]
pub struct Field {
    pub index: u32,
    pub label_zh: String,
    pub label_en: String,
    pub value: String,
    /// The value is a URL (rendered as a link).
    pub is_url: bool,
}

/// One step of the chain timeline.
#[derive(Debug, Clone)]
pub struct ChainStep {
    /// The identifier that declared the link.
    pub from: String,
    pub to: String,
    pub relation: String,
    /// Unix seconds: the link value's timestamp.
    pub time: Option<u64>,
    /// Whether `to` / `from` are on this node (link to their page).
    pub from_local: bool,
    pub to_local: bool,
}

/// The answer's signature by the node's server key.
#[derive(Debug, Clone)]
pub struct Signature {
    pub algorithm: &'static str,
    pub value_b64: String,
}

/// The landing page of one identifier.
#[derive(Debug, Clone)]
pub struct Landing {
    pub identifier: String,
    pub enterprise: Option<String>,
    pub prefix: String,
    pub template: Option<String>,
    pub fields: Vec<Field>,
    pub chain: Vec<ChainStep>,
    pub node: String,
    pub resolved_at: u64,
    pub verified: Option<Signature>,
    pub page_url: String,
    /// Shared with the page cache (a hit copies no SVG).
    pub qr_svg: std::sync::Arc<str>,
    urls: Vec<String>,
}

/// Why no landing view could be built.
#[derive(Debug)]
pub enum LandingError {
    BadIdentifier(String),
    Store(StoreError),
}

impl From<StoreError> for LandingError {
    fn from(e: StoreError) -> Self {
        LandingError::Store(e)
    }
}

/// Most chain steps shown on a page.
const MAX_CHAIN: usize = 50;

/// Chinese labels of the common Handle types (template items bring their own).
fn zh_label(t: &str) -> &'static str {
    match t {
        "URL" => "网址",
        "EMAIL" => "电子邮件",
        "DESC" | "DESCRIPTION" => "描述",
        "NAME" | "name" => "名称",
        _ => "",
    }
}

/// UTC `YYYY-MM-DD HH:MM:SS`.
pub fn utc(t: u64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    dt.format(f).unwrap_or_default()
}

impl Landing {
    /// `Ok(None)` when the identifier has no record here.
    pub fn build(deps: &ApiDeps, identifier: &str, base: &str, now: u64) -> Result<Option<Landing>, LandingError> {
        let id = Identifier::parse_http(identifier).map_err(|e| LandingError::BadIdentifier(e.to_string()))?;
        let store = deps.store.as_ref();
        let key = store.canonical_key(id.to_prefix_handle().as_bytes());
        let Some(values) = record_values(store, &key)? else { return Ok(None) };
        let public: Vec<Value> = values.into_iter().filter(|v| v.is_public_read()).collect();
        let prefix = id.prefix().to_owned();
        let template = find_template(deps, &prefix, &public)?;
        let mut fields = Vec::new();
        let mut urls = Vec::new();
        for v in &public {
            let t = v.type_str().into_owned();
            if t.starts_with("HS_") || is_link_type(&v.value_type) || v.index == 1000 || v.index == 1001 {
                continue;
            }
            let value = String::from_utf8_lossy(&v.data).into_owned();
            let is_url =
                t.eq_ignore_ascii_case("URL") && (value.starts_with("http://") || value.starts_with("https://"));
            if is_url {
                urls.push(value.clone());
            }
            let (zh, en) = match template.as_ref().and_then(|tp| tp.item_by_index(v.index)) {
                Some(item) => (item.name.clone(), item.id_type.clone()),
                None => (zh_label(&t).to_owned(), t.clone()),
            };
            fields.push(Field { index: v.index, label_zh: zh, label_en: en, value, is_url });
        }
        let chain = chain_of(deps, identifier)?;
        let verified = deps.signer.as_ref().and_then(|s| {
            let mut list = Vec::new();
            idnode_registry::model::value::encode_value_list(&public, &mut list);
            let mut msg = identifier.as_bytes().to_vec();
            msg.push(0);
            msg.extend_from_slice(&list);
            let value_b64 = page_cache::signature(s, &msg)?;
            Some(Signature { algorithm: if s.is_dsa() { "DSA-SHA256" } else { "RSA-SHA256" }, value_b64 })
        });
        let page_url = format!("{base}{}", super::page_path(identifier));
        let qr_svg = page_cache::qr_svg(&page_url);
        Ok(Some(Landing {
            identifier: identifier.to_owned(),
            enterprise: enterprise_of(deps, &prefix)?,
            prefix,
            template: template.map(|t| t.version),
            fields,
            chain,
            node: deps.cfg.node.node_prefix.clone(),
            resolved_at: now,
            verified,
            page_url,
            qr_svg,
            urls,
        }))
    }

    /// Where a redirecting prefix sends this identifier.
    pub fn redirect_url(&self) -> Option<&str> {
        self.urls.first().map(String::as_str)
    }

    /// The JSON form (non-browser clients of `GET /{identifier}`).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "responseCode": 1,
            "handle": self.identifier,
            "enterprise": self.enterprise,
            "prefix": self.prefix,
            "template": self.template,
            "fields": self.fields.iter().map(|f| json!({
                "index": f.index, "label": f.label_zh, "labelEn": f.label_en, "value": f.value,
            })).collect::<Vec<_>>(),
            "chain": self.chain.iter().map(|c| json!({
                "from": c.from, "to": c.to, "relation": c.relation, "time": c.time,
            })).collect::<Vec<_>>(),
            "node": self.node,
            "resolvedAt": self.resolved_at,
            "signature": self.verified.as_ref().map(|s| json!({"algorithm": s.algorithm, "value": s.value_b64})),
            "url": self.page_url,
        })
    }
}

fn find_template(deps: &ApiDeps, prefix: &str, values: &[Value]) -> Result<Option<Template>, StoreError> {
    let store = deps.store.as_ref();
    let version = values.iter().find(|v| v.index == 1001).map(|v| String::from_utf8_lossy(&v.data).into_owned());
    for p in prefix_chain(prefix) {
        if let Some(v) = &version
            && let Some(t) = store.get_template(p, v)?
        {
            return Ok(Some(t));
        }
        if let Some(t) = store.list_templates(Some(p))?.pop() {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

fn enterprise_of(deps: &ApiDeps, prefix: &str) -> Result<Option<String>, StoreError> {
    let store = deps.store.as_ref();
    for p in prefix_chain(prefix) {
        if let Some(pr) = store.get_prefix(p)?
            && let Some(eid) = pr.enterprise_id
            && let Some(e) = store.get_enterprise(eid)?
        {
            return Ok(Some(e.name));
        }
    }
    Ok(None)
}

/// The chain of `identifier`: what it comes from (along its links: batch,
/// components, up to depth 3) and what comes from it (who links to it, down
/// to depth 3), as two directed walks, never sideways: a page shows this
/// item's lineage, not its siblings (a walk in both directions at every hop
/// would reach every other item of the same batch). Steps are ordered by the
/// time of the link.
fn chain_of(deps: &ApiDeps, identifier: &str) -> Result<Vec<ChainStep>, StoreError> {
    let mut steps: Vec<ChainStep> = Vec::new();
    for direction in [Direction::Down, Direction::Up] {
        let mut req = TraceRequest::new(identifier, direction);
        req.limit = MAX_CHAIN;
        req.fanout = 20;
        let Some(g) = trace(&deps.refs, &req)? else { return Ok(Vec::new()) };
        let node = |id: &str| g.nodes.iter().find(|n| n.id == id);
        let local =
            |n: Option<&idnode_registry::service::trace::TraceNode>| n.is_some_and(|n| n.status == NodeStatus::Found);
        for e in g.edges.iter().take(MAX_CHAIN) {
            if steps.iter().any(|s| s.from == e.from && s.to == e.to && s.relation == e.relation) {
                continue; // a cycle through the root shows up in both walks
            }
            let from = node(&e.from);
            let time = from.and_then(|n| {
                n.values
                    .iter()
                    .filter(|v| Link::from_value(v).and_then(Result::ok).is_some_and(|l| l.relation == e.relation))
                    .map(|v| u64::from(v.timestamp))
                    .min()
            });
            steps.push(ChainStep {
                from: e.from.clone(),
                to: e.to.clone(),
                relation: e.relation.clone(),
                time,
                from_local: local(from),
                to_local: local(node(&e.to)),
            });
        }
    }
    steps.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.from.cmp(&b.from)));
    steps.truncate(MAX_CHAIN);
    Ok(steps)
}

/// The 404 page.
#[derive(Debug, Clone)]
pub struct NotFound {
    pub identifier: String,
    /// Why the identifier is malformed (400), if it is.
    pub problem: Option<String>,
    /// The identifier's prefix is homed here.
    pub homed_here: bool,
    pub node: String,
}

impl NotFound {
    pub fn new(deps: &ApiDeps, identifier: &str, problem: Option<String>) -> Self {
        let prefix = identifier.split('/').next().unwrap_or_default();
        let homed_here = deps.store.longest_homed(prefix.as_bytes()).is_some();
        NotFound { identifier: identifier.to_owned(), problem, homed_here, node: deps.cfg.node.node_prefix.clone() }
    }

    pub fn to_json(&self, status: axum::http::StatusCode) -> serde_json::Value {
        // Both shapes: the Handle REST one (responseCode, handle) and the
        // door's error body (error.code), which any unknown path also gets.
        let (rc, code) =
            if status == axum::http::StatusCode::NOT_FOUND { (100, "not_found") } else { (2, "bad_request") };
        let message = self.problem.clone().unwrap_or_else(|| "identifier not found (or no such endpoint)".into());
        json!({
            "responseCode": rc,
            "handle": self.identifier,
            "message": message,
            "error": {"code": code, "message": message, "field": null},
        })
    }
}

/// The home page.
#[derive(Debug, Clone)]
pub struct Home {
    pub node: String,
    pub prefixes: Vec<String>,
}

impl Home {
    pub fn new(deps: &ApiDeps) -> Self {
        let mut prefixes: Vec<String> = deps.store.homed_prefixes().iter().map(|p| p.prefix.clone()).collect();
        prefixes.sort();
        prefixes.truncate(20);
        Home { node: deps.cfg.node.node_prefix.clone(), prefixes }
    }
}

/// What a landing page computes from its content alone, kept for the next
/// scan of the same identifier: the node's signature over the identifier and
/// its public values (an RSA signature is most of an uncached page's cost)
/// and the QR code of the page's URL. Both tables are bounded and emptied
/// when full; a changed record or key is a different cache key, so an entry
/// is never stale.
mod page_cache {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    use base64::Engine as _;
    use idnode_resolver::auth::sign::ServerSigner;
    use sha2::Digest as _;

    const MAX_SIGNATURES: usize = 16_384;
    const MAX_QR: usize = 1_024;

    type Table<K> = OnceLock<Mutex<HashMap<K, Arc<str>>>>;
    static SIGNATURES: Table<[u8; 32]> = OnceLock::new();
    static QR: Table<String> = OnceLock::new();

    fn cached<K: std::hash::Hash + Eq>(
        table: &'static Table<K>,
        max: usize,
        key: K,
        make: impl FnOnce() -> Option<String>,
    ) -> Option<Arc<str>> {
        let t = table.get_or_init(Mutex::default);
        if let Some(v) = t.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Some(v.clone());
        }
        let v: Arc<str> = make()?.into();
        let mut m = t.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= max {
            m.clear();
        }
        m.insert(key, v.clone());
        Some(v)
    }

    /// Base64 of the signer's SHA-256 signature of `msg`.
    pub(super) fn signature(signer: &ServerSigner, msg: &[u8]) -> Option<String> {
        let mut h = sha2::Sha256::new();
        h.update(signer.public_key());
        h.update([0]);
        h.update(msg);
        let key: [u8; 32] = h.finalize().into();
        cached(&SIGNATURES, MAX_SIGNATURES, key, || {
            let sig = signer.sign(idnode_resolver::auth::pubkey::SigHash::Sha256, msg).ok()?;
            Some(base64::engine::general_purpose::STANDARD.encode(sig))
        })
        .map(|s| s.to_string())
    }

    /// The inline SVG QR code of `url`.
    pub(super) fn qr_svg(url: &str) -> Arc<str> {
        cached(&QR, MAX_QR, url.to_owned(), || Some(super::super::label::qr_inline_svg(url)))
            .unwrap_or_else(|| "".into())
    }
}
