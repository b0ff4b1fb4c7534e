//! The operator console (admin door, `/console`) and the enterprise portal
//! (public door, `/portal`) against the built binary, over HTTP with a
//! cookie jar: login, overview figures after a short load, SSE, a prefix's
//! SVG chart with the day's figures as text, approving a filed enterprise
//! prefix and finding it in the audit log (page and CSV), CSRF refusals,
//! accounts and templates; then an enterprise user registering through the
//! template form (violation next to its field), bulk uploads of a
//! 10,000-row CSV and a 1,000-row XLSX with bad rows and their per-row
//! result files, and another enterprise's prefix refused by URL.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idnode_conformance::web::{self, Browser, Resp, csrf_of, filing, snms};
use idnode_conformance::{Node, Setup, http_get, resolution_request, tcp_exchange};
use idnode_resolver::wire::{OpFlags, ProtocolVersion};
use serde_json::json;

const V: ProtocolVersion = ProtocolVersion::OURS;
const ACME: &str = "88.118.8.2001";
const BETA: &str = "88.118.8.2002";

fn ok(r: &Resp, what: &str) -> Result<String> {
    if r.status != 200 {
        bail!("{what}: HTTP {} {}", r.status, r.text());
    }
    Ok(r.text())
}

fn login(b: &mut Browser, base: &str, user: &str, password: &str) -> Result<()> {
    let r = b.post_form(&format!("{base}/login"), &[("username", user), ("password", password)])?;
    if r.status != 303 {
        bail!("login {user} at {base}: HTTP {} {}", r.status, r.text());
    }
    Ok(())
}

/// Text between `start` and the next `<` after it.
fn text_after<'a>(html: &'a str, start: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    html[i..].split('<').next()
}

fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Runs a bulk upload to the end; returns the result CSV's rows.
fn bulk(b: &mut Browser, file_name: &str, bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    let form = ok(&b.get(&format!("/portal/bulk?prefix={ACME}"))?, "bulk form")?;
    let csrf = csrf_of(&form).context("csrf on the bulk form")?;
    // Without the CSRF token: refused.
    let r = b.post_file("/portal/bulk/upload", &[("prefix", ACME)], "file", file_name, bytes)?;
    assert_eq!(r.status, 403, "upload without CSRF token");
    let r = b.post_file("/portal/bulk/upload", &[("csrf", &csrf), ("prefix", ACME)], "file", file_name, bytes)?;
    assert_eq!(r.status, 303, "upload: {}", r.text());
    let job = r.header("location").context("job location")?.to_owned();
    let preview = ok(&b.get(&job)?, "preview")?;
    assert!(preview.contains("id=\"preview\""), "preview table: {preview}");
    let run = csrf_of(&preview).context("csrf on preview")?;
    let started = Instant::now();
    let r = b.post_form(&format!("{job}/run"), &[("csrf", &run)])?;
    assert_eq!(r.status, 303);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let page = ok(&b.get(&job)?, "progress")?;
        assert!(page.contains("<progress"), "progress bar shown");
        if page.contains("id=\"download\"") {
            // A figure for docs/performance.md (printed, never asserted).
            eprintln!("bulk {file_name}: registration finished within {:?} (polled every 300 ms)", started.elapsed());
            break;
        }
        if Instant::now() > deadline {
            bail!("bulk job did not finish: {page}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let r = b.get(&format!("{job}/results.csv"))?;
    let text = ok(&r, "results.csv")?;
    assert!(r.header("content-disposition").is_some_and(|d| d.contains("attachment")));
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    Ok(rdr.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect())
}

#[test]
fn console_and_portal() -> Result<()> {
    let node = Node::start(&Setup::default())?;
    let secret = std::fs::read_to_string(node.dir.path().join("data/admin.secret"))?;
    let secret = secret.trim();
    let v = snms(&node, "POST", "/identity/token", None, &json!({"username": "admin", "password": secret}))?;
    let token = v["data"]["token"].as_str().context("admin token")?.to_owned();
    for (u, p, code, rid) in [("acme", ACME, "C2001", 100), ("beta", BETA, "C2002", 200)] {
        let v = snms(&node, "POST", "/snms/api/v3/ent/apply", Some(&token), &filing(u, p, code, rid))?;
        assert_eq!(v["status"], 1, "filing {u}: {v}");
    }

    // --- Console: login.
    let mut op = Browser::new(node.admin);
    let r = op.get("/console")?;
    assert_eq!(r.status, 303, "not logged in: redirect to the login page");
    assert_eq!(op.post_form("/console/login", &[("username", "admin"), ("password", "wrong")])?.status, 401);
    login(&mut op, "/console", "admin", secret)?;
    let cookie = op.cookies.get("idnode_console").context("session cookie")?.clone();
    assert!(!cookie.is_empty());

    // A short load: resolutions over Handle TCP.
    let n = 60;
    for i in 0..n {
        let req =
            resolution_request(i + 1, &format!("{}/LOT2026-000451", "88.118.8.1001"), &[], &[], OpFlags::PO, V, V);
        let _ = tcp_exchange(node.handle_tcp, &req, false)?;
    }
    let t = Instant::now();
    let r = op.get("/console")?;
    eprintln!("overview answered in {:?} (debug build, tiny store)", t.elapsed());
    let html = ok(&r, "overview")?;
    let csp = r.header("content-security-policy").context("CSP")?;
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let total: f64 = text_after(&html, "data-k=\"total-handle-tcp\">").context("tcp total")?.parse()?;
    assert!(total >= n as f64, "resolutions counted on the overview: {total}");
    let ids: f64 = text_after(&html, "data-k=\"identifiers\">").context("identifiers")?.parse()?;
    assert!(ids > 0.0, "identifiers total");
    assert!(html.contains("not configured"), "federation absent: not configured");
    assert!(html.contains("/console/static/live.js") && !html.contains("<script>"), "no inline script");
    assert_eq!(op.get("/console/static/live.js")?.status, 200);

    // Live refresh: the SSE stream sends the figures.
    let mut s = TcpStream::connect(node.admin)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET /console/events HTTP/1.1\r\nHost: x\r\nCookie: idnode_console={cookie}\r\n\r\n")?;
    let mut buf = vec![0u8; 8192];
    let mut got = String::new();
    while !got.contains("event: figures") {
        let k = s.read(&mut buf)?;
        if k == 0 {
            break;
        }
        got.push_str(&String::from_utf8_lossy(&buf[..k]));
    }
    assert!(got.contains("text/event-stream") && got.contains("total-handle-tcp"), "{got}");
    drop(s);

    // A prefix's chart: today's resolutions as text in the SVG.
    let html = ok(&op.get("/console/prefix/88.118.8.1001?days=90")?, "prefix page")?;
    let day = today();
    let fig = format!("class=\"fig\" text-anchor=\"middle\" data-day=\"{day}\">");
    let shown: u64 = html
        .match_indices(&fig)
        .filter_map(|(i, _)| html[i + fig.len()..].split('<').next()?.parse().ok())
        .max()
        .context("today's figure in the SVG")?;
    assert!(shown >= n as u64, "today's resolutions in the chart: {shown}");
    assert!(html.contains("Registrations per day (90 days)"));

    // Approve the filed prefix (confirmation form, CSRF), then the audit log.
    let html = ok(&op.get(&format!("/console/prefix/{ACME}"))?, "acme prefix")?;
    assert!(html.contains("awaiting review"), "{html}");
    let confirm = ok(&op.get(&format!("/console/prefix/{ACME}/action?do=approve"))?, "confirm")?;
    let csrf = csrf_of(&confirm).context("csrf")?;
    let no_token = op.post_form(&format!("/console/prefix/{ACME}/action"), &[("do", "approve"), ("confirm", "yes")])?;
    assert_eq!(no_token.status, 403, "a form without its CSRF token is refused");
    let wrong = op.post_form(
        &format!("/console/prefix/{ACME}/action"),
        &[("do", "approve"), ("confirm", "yes"), ("csrf", "0123456789abcdef0123456789abcdef")],
    )?;
    assert_eq!(wrong.status, 403);
    assert!(ok(&op.get(&format!("/console/prefix/{ACME}"))?, "acme")?.contains("awaiting review"), "unchanged");
    let r = op.post_form(
        &format!("/console/prefix/{ACME}/action"),
        &[("do", "approve"), ("confirm", "yes"), ("csrf", &csrf)],
    )?;
    assert_eq!(r.status, 303, "{}", r.text());
    let html = ok(&op.get(&format!("/console/prefix/{ACME}"))?, "acme")?;
    assert!(html.contains("<b class=\"state\">enabled</b>"), "{html}");
    let audit = ok(&op.get("/console/audit?action=prefix.approve")?, "audit")?;
    assert!(audit.contains(ACME) && audit.contains("admin"), "{audit}");
    assert!(!audit.contains(BETA));
    let csv = ok(&op.get("/console/audit.csv?target=2001")?, "audit csv")?;
    assert!(csv.starts_with("seq,time,actor,action,target,outcome,client"));
    assert!(csv.lines().any(|l| l.contains("prefix.approve") && l.contains(ACME)), "{csv}");

    // A template for the approved prefix (console), and an auditor account.
    let r = web::create_template(&mut op, ACME, "型号,model,2000,1,1,16\n批次,batch,2001,0,0,8")?;
    assert!(r.header("location").is_some_and(|l| l.contains("ok=")), "{:?}", r.headers);
    assert!(ok(&op.get(&format!("/console/template/{ACME}/1.0.0"))?, "template")?.contains("model"));
    let r = op.post_form(
        "/console/accounts",
        &[("csrf", &csrf), ("username", "aud1"), ("password", "aud1-password"), ("role", "auditor")],
    )?;
    assert!(r.header("location").is_some_and(|l| l.contains("ok=")), "{:?}", r.headers);
    let mut aud = Browser::new(node.admin);
    login(&mut aud, "/console", "aud1", "aud1-password")?;
    ok(&aud.get("/console/audit")?, "auditor reads the audit log")?;
    let c = csrf_of(&ok(&aud.get(&format!("/console/prefix/{BETA}/action?do=approve"))?, "confirm")?).unwrap();
    let r = aud
        .post_form(&format!("/console/prefix/{BETA}/action"), &[("do", "approve"), ("confirm", "yes"), ("csrf", &c)])?;
    assert_eq!(r.status, 403, "auditors do not act");

    // --- Portal: an enterprise user.
    let mut ent = Browser::new(node.http);
    assert_eq!(ent.get("/portal")?.status, 303);
    login(&mut ent, "/portal", "acme", "acme-pass")?;
    let home = ok(&ent.get("/portal")?, "portal home")?;
    assert!(home.contains(ACME) && !home.contains(BETA) && !home.contains("88.118.8.1001/"), "{home}");
    for other in [BETA, "88.118.8.1001"] {
        assert_eq!(ent.get(&format!("/portal/prefix/{other}"))?.status, 404, "{other} by URL");
        assert_eq!(ent.get(&format!("/portal/register?prefix={other}"))?.status, 404);
    }
    assert_eq!(ok(&ent.get(&format!("/portal/prefix/{ACME}"))?, "own prefix").map(|_| ())?, ());
    // The console refuses enterprise users.
    let mut ent_console = Browser::new(node.admin);
    login(&mut ent_console, "/console", "acme", "acme-pass")?;
    assert_eq!(ent_console.get("/console")?.status, 403);

    // One identifier through the template form.
    let form = ok(&ent.get(&format!("/portal/register?prefix={ACME}"))?, "register form")?;
    assert!(form.contains("name=\"v2000\"") && form.contains("name=\"v2001\""));
    let csrf = csrf_of(&form).context("csrf")?;
    let bad = ent.post_form(
        "/portal/register",
        &[("csrf", &csrf), ("prefix", ACME), ("suffix", "one"), ("v2000", "M-1"), ("v2001", "much-too-long")],
    )?;
    assert_eq!(bad.status, 422);
    let html = bad.text();
    let err = text_after(&html, "data-field=\"v2001\">").with_context(|| format!("message next to v2001: {html}"))?;
    assert!(err.contains("maxLength 8"), "{err}");
    let missing = ent.post_form("/portal/register", &[("csrf", &csrf), ("prefix", ACME), ("suffix", "one")])?;
    assert!(text_after(&missing.text(), "data-field=\"v2000\">").is_some_and(|m| m.contains("required")));
    let no_csrf = ent.post_form("/portal/register", &[("prefix", ACME), ("suffix", "one"), ("v2000", "M-1")])?;
    assert_eq!(no_csrf.status, 403);
    let good =
        ent.post_form("/portal/register", &[("csrf", &csrf), ("prefix", ACME), ("suffix", "one"), ("v2000", "M-1")])?;
    assert!(ok(&good, "register")?.contains("registered"));
    let (st, body) = http_get(node.http, &format!("/api/handles/{ACME}/one"))?;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("M-1"));

    // Bulk: 10,000 CSV rows, 20 of them bad (model missing or batch too long).
    let mut csv_text = String::from("suffix,model,batch\n");
    for i in 0..10_000 {
        match i % 1000 {
            7 => csv_text.push_str(&format!("c{i},,B\n")),
            9 => csv_text.push_str(&format!("c{i},M,batch-too-long\n")),
            _ => csv_text.push_str(&format!("c{i},M-{i},B{}\n", i % 100)),
        }
    }
    let rows = bulk(&mut ent, "ids.csv", csv_text.as_bytes())?;
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows.iter().filter(|r| r[2] == "ok").count(), 9_980);
    let bad: Vec<_> = rows.iter().filter(|r| r[2] == "error").collect();
    assert_eq!(bad.len(), 20);
    assert!(bad.iter().any(|r| r[0] == "9" && r[1] == format!("{ACME}/c7") && r[3].contains("required")), "{bad:?}");
    let (st, _) = http_get(node.http, &format!("/api/handles/{ACME}/c9999"))?;
    assert_eq!(st, 200);

    // Bulk: 1,000 XLSX rows, 5 bad (duplicates of the CSV's identifiers).
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["suffix", "model", "batch"].iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..1000u32 {
        let suffix = if i % 200 == 0 { format!("c{}", i + 1) } else { format!("x{i}") };
        ws.write_string(i + 1, 0, &suffix)?;
        ws.write_string(i + 1, 1, format!("MX-{i}"))?;
        ws.write_number(i + 1, 2, f64::from(i % 50))?;
    }
    let xlsx = wb.save_to_buffer()?;
    let rows = bulk(&mut ent, "ids.xlsx", &xlsx)?;
    assert_eq!(rows.len(), 1000);
    let bad: Vec<_> = rows.iter().filter(|r| r[2] == "error").collect();
    assert_eq!(bad.len(), 5, "{bad:?}");
    assert!(bad.iter().all(|r| r[3].contains("标识已存在")), "{bad:?}");
    let (st, body) = http_get(node.http, &format!("/api/handles/{ACME}/x999"))?;
    assert_eq!(st, 200);
    assert!(body.contains("MX-999"));

    // The overview follows the writes at once (no wait for a sampler
    // period): identifiers and today's registrations include the uploads.
    let html = ok(&op.get("/console")?, "overview after the uploads")?;
    let after: f64 = text_after(&html, "data-k=\"identifiers\">").context("identifiers")?.parse()?;
    assert!(after >= ids + 1.0 + 9_980.0 + 995.0, "identifiers after the uploads: {ids} -> {after}");
    let today: u64 = text_after(&html, "data-k=\"reg-today\">").context("reg-today")?.parse()?;
    assert!(today > 10_975, "registrations today on the overview: {today}");

    // Logout ends the console session (cookie cleared).
    let page = ok(&op.get("/console/accounts")?, "accounts")?;
    let csrf = csrf_of(&page).unwrap();
    assert_eq!(op.post_form("/console/logout", &[("csrf", &csrf)])?.status, 303);
    assert_eq!(op.get("/console")?.status, 303);
    Ok(())
}
