//! Bulk registration from a spreadsheet: upload (CSV, or XLSX read with
//! `calamine`), a preview of the rows, then registration in batches of the
//! service's batch limit through `Registrar::create_identifiers` (one
//! durable write per batch), with progress (a `<progress>` bar on a page
//! that reloads itself, no script needed), per-row results and a
//! downloadable result file (CSV: row, identifier, result, message).
//!
//! Layout of a sheet: a header row naming the columns — `suffix` (or
//! `handle` for a full identifier) and the template's `idType`s (or item
//! names); other columns are refused by name. Jobs live in memory (the
//! last [`KEEP_JOBS`]), each visible only to the account that uploaded it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use idnode_registry::model::Template;
use idnode_registry::service::ServiceError;
use idnode_registry::service::identifiers::{IdInput, IdValue};
use maud::html;

use super::{BASE, Portal, frame, frame_refresh, latest_template, svc_error, user, user_post};
use crate::api::auth::web;
use crate::console::page::{self, csrf_field};
use crate::console::{Session, Web, blocking};
use crate::serve::http::PeerInfo;

/// Jobs kept in memory.
pub const KEEP_JOBS: usize = 16;
/// Most data rows in one upload.
pub const MAX_ROWS: usize = 200_000;

/// One uploaded sheet and its registration.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub owner: String,
    pub prefix: String,
    pub template: String,
    pub file: String,
    /// Identifiers to register, with their sheet row (1-based, header = 1).
    pub items: Vec<(usize, IdInput)>,
    /// Rows refused before registration (row, identifier, message).
    pub refused: Vec<(usize, String, String)>,
    pub columns: Vec<String>,
    pub state: Mutex<Progress>,
}

/// Where a job is.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    pub started: bool,
    pub done: usize,
    pub finished: bool,
    /// Per item of `items`: None = not yet, Some(Ok) / Some(Err(message)).
    pub results: Vec<Option<Result<(), String>>>,
    pub error: Option<String>,
    /// Wall time from the first batch to the last one's answer.
    pub elapsed: Option<std::time::Duration>,
}

/// The jobs in memory.
#[derive(Debug, Default)]
pub struct Jobs(Mutex<VecDeque<Arc<Job>>>);

impl Jobs {
    fn add(&self, j: Arc<Job>) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(j);
        while q.len() > KEEP_JOBS {
            q.pop_front();
        }
    }
    /// The job `id` of `owner` (another user's job is "not found").
    fn get(&self, id: &str, owner: &str) -> Option<Arc<Job>> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().find(|j| j.id == id && j.owner == owner).cloned()
    }
}

/// Reads a sheet (CSV or XLSX by its first bytes) into rows of text.
pub fn read_sheet(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        use calamine::{Reader, Xlsx, open_workbook_from_rs};
        let mut wb: Xlsx<_> =
            open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(|e| format!("not a readable XLSX file: {e}"))?;
        let range = wb.worksheet_range_at(0).ok_or("the workbook has no sheet")?.map_err(|e| e.to_string())?;
        Ok(range.rows().map(|r| r.iter().map(|c| c.to_string().trim().to_owned()).collect()).collect())
    } else {
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .map_err(|_| "the CSV file is not UTF-8".to_owned())?;
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for r in rdr.records() {
            let r = r.map_err(|e| format!("CSV: {e}"))?;
            // Keep row numbers equal to file lines (the reader skips blank lines).
            let line = r.position().map_or(0, |p| p.line() as usize);
            while rows.len() + 1 < line {
                rows.push(Vec::new());
            }
            rows.push(r.iter().map(|c| c.trim().to_owned()).collect());
        }
        Ok(rows)
    }
}

/// Turns sheet rows into identifiers for `prefix` under template `t`.
#[allow(clippy::type_complexity, reason = "items and refused rows, returned together")]
pub fn rows_to_items(
    rows: &[Vec<String>],
    prefix: &str,
    t: &Template,
) -> Result<(Vec<String>, Vec<(usize, IdInput)>, Vec<(usize, String, String)>), String> {
    let Some(header) = rows.first() else { return Err("the file is empty".into()) };
    if rows.len() - 1 > MAX_ROWS {
        return Err(format!("{} rows: at most {MAX_ROWS} per upload", rows.len() - 1));
    }
    enum Col {
        Suffix,
        Handle,
        Item(u32, String),
    }
    let mut cols = Vec::new();
    for h in header {
        let c = match h.as_str() {
            "suffix" => Col::Suffix,
            "handle" | "identifier" => Col::Handle,
            other => match t.items.iter().find(|i| i.id_type == other || i.name == other) {
                Some(i) => Col::Item(i.id_index, i.id_type.clone()),
                None => {
                    return Err(format!("column {other:?} is not suffix, handle or an item of template {}", t.version));
                }
            },
        };
        cols.push(c);
    }
    if !cols.iter().any(|c| matches!(c, Col::Suffix | Col::Handle)) {
        return Err("the header needs a suffix or handle column".into());
    }
    let (mut items, mut refused) = (Vec::new(), Vec::new());
    for (n, row) in rows.iter().enumerate().skip(1) {
        let line = n + 1;
        if row.iter().all(|c| c.is_empty()) {
            continue;
        }
        let mut handle = String::new();
        let mut values = Vec::new();
        for (c, v) in cols.iter().zip(row.iter().chain(std::iter::repeat(&String::new()))) {
            match c {
                Col::Suffix => handle = format!("{prefix}/{v}"),
                Col::Handle => handle = v.clone(),
                Col::Item(i, ty) if !v.is_empty() => {
                    values.push(IdValue { index: *i, value_type: ty.clone(), auth: String::new(), data: v.clone() })
                }
                Col::Item(..) => {}
            }
        }
        if row.len() > cols.len() {
            refused.push((line, handle, format!("{} cells, the header has {}", row.len(), cols.len())));
            continue;
        }
        if !handle.to_ascii_uppercase().starts_with(&format!("{}/", prefix.to_ascii_uppercase())) {
            refused.push((line, handle, format!("not under prefix {prefix}")));
            continue;
        }
        items.push((line, IdInput { handle, template_version: t.version.clone(), values }));
    }
    Ok((header.clone(), items, refused))
}

/// `GET /portal/bulk[?prefix=P]`: the upload form.
pub async fn form(State(st): State<Portal>, w: Web) -> Response {
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (store, own) = (st.deps.store.clone(), s.actor.enterprise_id);
    let prefixes: Vec<String> = match blocking(move || store.list_prefixes()).await {
        Ok(Ok(l)) => l.into_iter().filter(|p| own.is_some() && p.enterprise_id == own).map(|p| p.prefix).collect(),
        _ => Vec::new(),
    };
    let chosen = w.q("prefix").unwrap_or("");
    let body = html! {
        p { "Upload a CSV or XLSX file. The first row names the columns: " code { "suffix" } " (or " code { "handle" } ") and the template's idTypes." }
        form method="post" action="/portal/bulk/upload" enctype="multipart/form-data" {
            (csrf_field(&s.csrf))
            label { "Prefix " select name="prefix" { @for p in &prefixes { option value=(p) selected[p == chosen] { (p) } } } }
            label { "File " input type="file" name="file" accept=".csv,.xlsx" required; }
            p { button type="submit" { "Upload and preview" } }
        }
    };
    frame(&s, "Bulk registration", body)
}

/// `POST /portal/bulk/upload` (multipart: csrf, prefix, file).
pub async fn upload(State(st): State<Portal>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<ConnectInfo<PeerInfo>>().map(|c| c.0);
    let w = Web { headers: parts.headers.clone(), peer, query: Vec::new(), form: Vec::new() };
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(token) = web::cookie(&w.headers, super::COOKIE).map(str::to_owned) else {
        return page::error(BASE, StatusCode::FORBIDDEN, "not logged in");
    };
    let mut mp = match Multipart::from_request(Request::from_parts(parts, body), &()).await {
        Ok(m) => m,
        Err(e) => return page::error(BASE, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let (mut csrf, mut prefix, mut file, mut name) = (None, String::new(), Vec::new(), String::new());
    loop {
        match mp.next_field().await {
            Ok(Some(f)) => {
                let fname = f.name().unwrap_or("").to_owned();
                if fname == "file" {
                    name = f.file_name().unwrap_or("upload").to_owned();
                }
                let Ok(data) = f.bytes().await else {
                    return page::error(BASE, StatusCode::BAD_REQUEST, "upload interrupted or too large");
                };
                match fname.as_str() {
                    "csrf" => csrf = Some(String::from_utf8_lossy(&data).into_owned()),
                    "prefix" => prefix = String::from_utf8_lossy(&data).trim().to_owned(),
                    "file" => file = data.to_vec(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => return page::error(BASE, StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }
    if !web::csrf_ok(&token, csrf.as_deref()) {
        return page::error(BASE, StatusCode::FORBIDDEN, "missing or wrong CSRF token: reload the form");
    }
    let (reg, actor, owner) = (st.deps.reg.clone(), s.actor.clone(), s.actor.username.clone());
    let r = blocking(move || {
        let t = latest_template(&reg, &actor, &prefix)?;
        let rows = read_sheet(&file).map_err(ServiceError::Rejected)?;
        let (columns, items, refused) = rows_to_items(&rows, &prefix, &t).map_err(ServiceError::Rejected)?;
        let mut id = [0u8; 12];
        rand::fill(&mut id);
        let n = items.len();
        Ok::<_, ServiceError>(Job {
            id: hex::encode(id),
            owner,
            prefix,
            template: t.version,
            file: name,
            items,
            refused,
            columns,
            state: Mutex::new(Progress { results: vec![None; n], ..Default::default() }),
        })
    })
    .await;
    match r {
        Ok(Ok(job)) => {
            let id = job.id.clone();
            st.jobs.add(Arc::new(job));
            page::see_other(&format!("/portal/bulk/{id}"), None)
        }
        Ok(Err(e)) => svc_error(&e),
        Err(r) => r,
    }
}

fn job_of(st: &Portal, s: &Session, id: &str) -> Result<Arc<Job>, Response> {
    st.jobs.get(id, &s.actor.username).ok_or_else(|| page::error(BASE, StatusCode::NOT_FOUND, "not found"))
}

/// `GET /portal/bulk/{job}`: preview, progress or results.
pub async fn status(State(st): State<Portal>, Path(id): Path<String>, w: Web) -> Response {
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let job = match job_of(&st, &s, &id) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let p = job.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let ok = p.results.iter().filter(|r| matches!(r, Some(Ok(())))).count();
    let failed = p.results.iter().filter(|r| matches!(r, Some(Err(_)))).count() + job.refused.len();
    let total = job.items.len();
    let body = html! {
        p { "File " b { (job.file) } " · prefix " (job.prefix) " · template " (job.template)
            " · " span #rows { (total + job.refused.len()) } " rows (" (job.refused.len()) " refused before registration)" }
        @if !p.started {
            h2 { "Preview" }
            table #preview {
                tr { th { "row" } @for c in &job.columns { th { (c) } } th { "identifier" } }
                @for (line, it) in job.items.iter().take(20) {
                    tr { td { (line) } @for c in &job.columns {
                        td { (it.values.iter().find(|v| &v.value_type == c).map(|v| v.data.as_str()).unwrap_or("")) }
                    } td { (it.handle) } }
                }
            }
            form method="post" action=(format!("/portal/bulk/{}/run", job.id)) {
                (csrf_field(&s.csrf))
                button type="submit" { "Register " (total) " identifiers" }
            }
        } @else {
            h2 { @if p.finished { "Done" } @else { "Registering…" } }
            progress #progress value=(p.done) max=(total.max(1)) { (p.done) " / " (total) }
            p { span #done { (p.done) } " of " (total) " processed · " span #ok { (ok) } " registered · " span #failed { (failed) } " failed" }
            @if let Some(e) = &p.error { p.err { (e) } }
            @if let Some(d) = p.elapsed {
                p { "Registered in " span #elapsed { (format!("{:.3}", d.as_secs_f64())) } " s ("
                    (format!("{:.0}", ok as f64 / d.as_secs_f64().max(1e-6))) " identifiers/s)" }
            }
            @if p.finished {
                p { a #download href=(format!("/portal/bulk/{}/results.csv", job.id)) { "Download per-row results (CSV)" } }
            }
        }
        @if failed > 0 {
            h2 { "Refused rows (first 50)" }
            table #failures {
                tr { th { "row" } th { "identifier" } th { "message" } }
                @for (line, h, m) in failures(&job, &p).into_iter().take(50) { tr { td { (line) } td { (h) } td { (m) } } }
            }
        }
    };
    let refresh = (p.started && !p.finished).then_some(1);
    frame_refresh(&s, "Bulk registration", refresh, body)
}

fn failures(job: &Job, p: &Progress) -> Vec<(usize, String, String)> {
    let mut out = job.refused.clone();
    for ((line, it), r) in job.items.iter().zip(&p.results) {
        if let Some(Err(m)) = r {
            out.push((*line, it.handle.clone(), m.clone()));
        }
    }
    out.sort_by_key(|x| x.0);
    out
}

/// `POST /portal/bulk/{job}/run`: starts the registration.
pub async fn run(State(st): State<Portal>, Path(id): Path<String>, w: Web) -> Response {
    let s = match user_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let job = match job_of(&st, &s, &id) {
        Ok(j) => j,
        Err(r) => return r,
    };
    {
        let mut p = job.state.lock().unwrap_or_else(|e| e.into_inner());
        if p.started {
            return page::see_other(&format!("/portal/bulk/{id}"), None);
        }
        p.started = true;
    }
    let (reg, actor, j) = (st.deps.reg.clone(), s.actor.clone(), job.clone());
    tokio::task::spawn_blocking(move || {
        let t0 = std::time::Instant::now();
        let batch = reg.limits().max_batch.max(1);
        let mut start = 0;
        for chunk in j.items.chunks(batch) {
            let items: Vec<IdInput> = chunk.iter().map(|(_, i)| i.clone()).collect();
            let r = reg.create_identifiers(&actor, &items, crate::unix_now());
            let mut p = j.state.lock().unwrap_or_else(|e| e.into_inner());
            match r {
                Ok(results) => {
                    for (k, r) in results.into_iter().enumerate() {
                        p.results[start + k] = Some(r.map_err(|e| e.to_string()));
                    }
                }
                Err(e) => {
                    for k in 0..chunk.len() {
                        p.results[start + k] = Some(Err(e.to_string()));
                    }
                }
            }
            start += chunk.len();
            p.done = start;
        }
        let mut p = j.state.lock().unwrap_or_else(|e| e.into_inner());
        p.elapsed = Some(t0.elapsed());
        p.finished = true;
    });
    page::see_other(&format!("/portal/bulk/{id}"), None)
}

/// `GET /portal/bulk/{job}/results.csv`: every row's outcome.
pub async fn results(State(st): State<Portal>, Path(id): Path<String>, w: Web) -> Response {
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let job = match job_of(&st, &s, &id) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let p = job.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut rows: Vec<(usize, String, &str, String)> =
        job.refused.iter().map(|(l, h, m)| (*l, h.clone(), "error", m.clone())).collect();
    for ((line, it), r) in job.items.iter().zip(&p.results) {
        let (res, msg) = match r {
            Some(Ok(())) => ("ok", String::new()),
            Some(Err(m)) => ("error", m.clone()),
            None => ("pending", String::new()),
        };
        rows.push((*line, it.handle.clone(), res, msg));
    }
    rows.sort_by_key(|r| r.0);
    let mut wtr = csv::Writer::from_writer(Vec::new());
    let _ = wtr.write_record(["row", "identifier", "result", "message"]);
    for (l, h, r, m) in rows {
        let _ = wtr.write_record([l.to_string(), h, r.to_owned(), m]);
    }
    let body = wtr.into_inner().unwrap_or_default();
    page::secure(
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"results.csv\""),
            ],
            body,
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::model::{ItemMetadata, TemplateItem};

    fn tpl() -> Template {
        let item = |t: &str, idx| TemplateItem {
            name: format!("n{idx}"),
            id_type: t.into(),
            id_index: idx,
            required: idx == 2000,
            enabled: true,
            metadata_id: 0,
            metadata: ItemMetadata::default(),
        };
        Template {
            id: 1,
            prefix: "88.1.2".into(),
            version: "1.0.0".into(),
            description: String::new(),
            industry_category: String::new(),
            industry_specific: String::new(),
            industry_trade: String::new(),
            industry_subclass: String::new(),
            object_type: 1,
            handle: None,
            items: vec![item("model", 2000), item("batch", 2001)],
            created: 0,
            updated: 0,
        }
    }

    #[test]
    fn csv_rows_become_items() {
        let rows = read_sheet(b"\xEF\xBB\xBFsuffix,model,batch\na1,M1,B1\n\na2,,B2\na3,M,B,extra\n").unwrap();
        let (cols, items, refused) = rows_to_items(&rows, "88.1.2", &tpl()).unwrap();
        assert_eq!(cols, vec!["suffix", "model", "batch"]);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].1.handle, "88.1.2/a1");
        assert_eq!(items[0].1.values.len(), 2);
        assert_eq!(items[1].1.values.len(), 1, "empty cells are left out");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 5);
        let bad = read_sheet(b"suffix,colour\nx,red\n").unwrap();
        assert!(rows_to_items(&bad, "88.1.2", &tpl()).is_err());
        let other = read_sheet(b"handle,model\n88.9.9/x,M\n").unwrap();
        assert_eq!(rows_to_items(&other, "88.1.2", &tpl()).unwrap().2.len(), 1);
    }
}
