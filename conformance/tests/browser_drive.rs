//! The pages driven in a real browser (issues 12 and 13): Debian's headless
//! Chromium over WebDriver (`chromedriver`, see
//! `idnode_conformance::webdriver`) against the built binary. An operator
//! logs in to the console through its form, reads the overview (figures
//! after a short load, the most-resolved identifiers), navigates to a filed
//! prefix, approves it through the confirmation form, edits its quota and
//! finds both in the audit log; creates an account and edits its role
//! (a post without the CSRF token refused); an enterprise user logs in to
//! the portal, registers one identifier through the template form (the
//! violation shown next to its field), uploads a 10,000-row CSV and a
//! 1,000-row XLSX with bad rows through the file input, reads the per-row
//! results and downloads the result file with the browser's session; the
//! enterprise's 90-day chart shows the day's registrations; on a phone-size window a scan
//! user looks up an identifier on the home page, reads its landing page and
//! follows the chain to the batch's page. Every page must load nothing but
//! loopback URLs (closed network). Screenshots go to `target/screenshots/`.
//!
//! Without chromium and chromium-driver the tests skip loudly; under
//! `CI=true` they fail instead.

mod rest_util;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use idnode_conformance::web::{self, Browser, filing, snms};
use idnode_conformance::webdriver::{self, Session};
use idnode_conformance::{Node, Setup, resolution_request, tcp_exchange};
use idnode_resolver::wire::{OpFlags, ProtocolVersion};
use serde_json::{Value, json};

const V: ProtocolVersion = ProtocolVersion::OURS;
const ACME: &str = "88.118.8.2001";
const DEMO: &str = "88.118.8.1001/LOT2026-000451";
const WAIT: Duration = Duration::from_secs(15);

/// Logs in through the page's form.
fn login_form(s: &Session, user: &str, password: &str) -> Result<()> {
    s.find("input[name=username]")?.send_keys(user)?;
    s.find("input[name=password]")?.send_keys(password)?;
    s.find("form button[type=submit]")?.click()
}

/// A template for `ACME` (model required, batch at most 8), created over
/// HTTP by the operator (the console form itself is covered by
/// console_portal.rs).
fn acme_template(node: &Node, secret: &str) -> Result<()> {
    let mut op = Browser::new(node.admin);
    let r = op.post_form("/console/login", &[("username", "admin"), ("password", secret)])?;
    ensure!(r.status == 303, "login: {}", r.status);
    let r = web::create_template(&mut op, ACME, "型号,model,2000,1,1,16\n批次,batch,2001,0,0,8")?;
    ensure!(r.header("location").is_some_and(|l| l.contains("ok=")), "template: {:?}", r.headers);
    Ok(())
}

#[test]
fn console_and_portal_driven_in_chromium() -> Result<()> {
    if !webdriver::available("console_and_portal_driven_in_chromium") {
        return Ok(());
    }
    let node = Node::start(&Setup::default())?;
    let secret = std::fs::read_to_string(node.dir.path().join("data/admin.secret"))?.trim().to_owned();
    let v = snms(&node, "POST", "/identity/token", None, &json!({"username": "admin", "password": secret}))?;
    let token = v["data"]["token"].as_str().context("admin token")?.to_owned();
    let v = snms(&node, "POST", "/snms/api/v3/ent/apply", Some(&token), &filing("acme", ACME, "C2001", 100))?;
    ensure!(v["status"] == 1, "filing: {v}");

    // A short load over Handle TCP: the demo identifier 40 times, another 5.
    for i in 0..45i32 {
        let id = if i < 40 { DEMO.to_owned() } else { "88.118.8.1001/LOT2026-000452".to_owned() };
        let req = resolution_request(i + 1, &id, &[], &[], OpFlags::PO, V, V);
        tcp_exchange(node.handle_tcp, &req, false)?;
    }

    let s = Session::start(1280, 1000)?;
    let console = format!("http://{}", node.admin);

    // Console: the login form, then the overview.
    s.goto(&format!("{console}/console"))?;
    ensure!(s.url()?.ends_with("/console/login"), "not logged in: the login page, got {}", s.url()?);
    login_form(&s, "admin", &secret)?;
    let total = s.wait_for("[data-k=\"total-handle-tcp\"]", WAIT)?;
    let total: f64 = total.text()?.trim().parse().context("tcp total")?;
    ensure!(total >= 45.0, "resolutions on the overview: {total}");
    let ids: f64 = s.find("[data-k=\"identifiers\"]")?.text()?.trim().parse()?;
    ensure!(ids > 0.0, "identifiers total");
    let top = s.wait_for("#top-identifiers", WAIT)?.text()?;
    ensure!(top.contains(DEMO) && top.contains("40"), "most-resolved identifiers: {top}");
    s.assert_closed_network("console overview")?;
    s.screenshot("console_overview")?;

    // Navigate: Prefixes -> the filed prefix -> approve (confirmation form).
    s.find("header a[href=\"/console/prefixes\"]")?.click()?;
    s.wait_for(&format!("a[href=\"/console/prefix/{ACME}\"]"), WAIT)?.click()?;
    let state = s.wait_for("b.state", WAIT)?.text()?;
    ensure!(state == "awaiting review", "state before: {state}");
    s.find("a.action[href$=\"do=approve\"]")?.click()?;
    s.wait_for("button[name=confirm]", WAIT)?.click()?;
    s.wait_text("b.state", "enabled", WAIT)?;

    // Edit the prefix's quota: at most 11,000 identifiers.
    s.find("#max_registrations")?.fill("11000")?;
    s.find("form.quota button[type=submit]")?.click()?;
    let flash = s.wait_for("#flash", WAIT)?.text()?;
    ensure!(flash.contains("quota saved"), "{flash}");
    let quota = s.find("#quota")?.text()?;
    ensure!(quota.contains("limit 11000"), "quota shown: {quota}");
    s.assert_closed_network("prefix page")?;
    s.screenshot("console_prefix")?;

    // Accounts: create an auditor through the form, then make it an
    // administrator through its role form (a post without the CSRF token
    // is refused first).
    s.find("header a[href=\"/console/accounts\"]")?.click()?;
    s.wait_for("input[name=username]", WAIT)?.send_keys("ops2")?;
    s.find("input[name=password]")?.send_keys("ops2-password")?;
    s.eval("document.querySelector('select[name=role]').value = 'auditor'")?;
    s.find("form[action=\"/console/accounts\"] button[type=submit]")?.click()?;
    s.wait_text("p.ok", "account ops2 created", WAIT)?;
    s.find("a.action[href=\"/console/account/ops2/role\"]")?.click()?;
    ensure!(s.wait_for("#current-role", WAIT)?.text()? == "auditor", "current role");
    s.eval("document.querySelector('select[name=role]').value = 'admin'")?;
    s.eval("document.querySelector('form.role input[name=csrf]').remove()")?;
    s.find("form.role button[name=confirm]")?.click()?;
    s.wait_text("body", "CSRF", WAIT)?;
    s.goto(&format!("{console}/console/account/ops2/role"))?;
    s.eval("document.querySelector('select[name=role]').value = 'admin'")?;
    s.find("form.role button[name=confirm]")?.click()?;
    s.wait_text("p.ok", "role of ops2 set to admin", WAIT)?;
    let row = s.eval(
        "return Array.from(document.querySelectorAll('#accounts tr')).find(r => r.cells[0].textContent == 'ops2').cells[1].textContent",
    )?;
    ensure!(row == "admin", "ops2's role in the table: {row}");
    s.screenshot("console_accounts")?;

    // The changes are in the audit log.
    s.find("header a[href=\"/console/audit\"]")?.click()?;
    s.wait_for("table", WAIT)?;
    let audit = s.source()?;
    for action in ["prefix.approve", "prefix.quota", "account.create", "account.role"] {
        ensure!(audit.contains(action), "{action} in the audit log");
    }
    ensure!(audit.contains("maxRegistrations=11000"), "the new quota in the audit log");
    ensure!(audit.contains("ops2 role=PlatformAdmin"), "the new role in the audit log");
    acme_template(&node, &secret)?;

    // Portal: an enterprise user registers one identifier through the
    // template form (a violation is shown next to its field first).
    let portal = format!("http://{}", node.http);
    s.goto(&format!("{portal}/portal"))?;
    ensure!(s.url()?.ends_with("/portal/login"), "portal login page, got {}", s.url()?);
    login_form(&s, "acme", "acme-pass")?;
    s.wait_for(&format!("a[href=\"/portal/register?prefix={ACME}\"]"), WAIT)?.click()?;
    s.wait_for("input[name=suffix]", WAIT)?.send_keys("ONE")?;
    s.find("input[name=v2000]")?.send_keys("M-1")?;
    s.find("input[name=v2001]")?.send_keys("much-too-long")?;
    s.find("form[action=\"/portal/register\"] button[type=submit]")?.click()?;
    let err = s.wait_for("[data-field=v2001]", WAIT)?.text()?;
    ensure!(err.contains("maxLength 8"), "violation next to the batch field: {err}");
    s.screenshot("portal_register_violation")?;
    s.find("input[name=v2001]")?.fill("B-1")?;
    s.find("form[action=\"/portal/register\"] button[type=submit]")?.click()?;
    s.wait_text("#result", &format!("{ACME}/ONE registered"), WAIT)?;
    // Another enterprise's prefix, by URL: not found.
    s.goto(&format!("{portal}/portal/prefix/88.118.8.1001"))?;
    ensure!(s.find("body")?.text()?.contains("Not Found"), "another enterprise's prefix by URL");

    // Bulk: a 10,000-row CSV (20 bad rows) and a 1,000-row XLSX (5 rows
    // duplicating the CSV's identifiers), picked in the file input.
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("codes.csv");
    let mut text = String::from("suffix,model,batch\n");
    for i in 0..10_000 {
        match i % 1000 {
            7 => text.push_str(&format!("P{i},,B1\n")),
            9 => text.push_str(&format!("P{i},CP-{i},batch-too-long\n")),
            _ => text.push_str(&format!("P{i},CP-{i},B{}\n", i % 3)),
        }
    }
    std::fs::write(&csv, text)?;
    let rows = upload(&s, &portal, &csv, 10_000, (9_980, 20), "portal_upload_csv")?;
    let bad: Vec<_> = rows.iter().filter(|r| r[2] != "ok").collect();
    ensure!(bad.len() == 20, "bad rows in the result file: {bad:?}");
    ensure!(
        bad.iter().any(|r| r[0] == "9" && r[1] == format!("{ACME}/P7") && r[3].contains("required")),
        "row 9 (P7, no model) in the result file: {bad:?}"
    );
    ensure!(bad.iter().any(|r| r[1] == format!("{ACME}/P9") && r[3].contains("maxLength 8")), "{bad:?}");
    let failures = s.find("#failures")?.text()?;
    ensure!(failures.contains("required") && failures.contains("maxLength 8"), "messages shown: {failures}");

    let xlsx = dir.path().join("codes.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["suffix", "model", "batch"].iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..1000u32 {
        let suffix = if i % 200 == 0 { format!("P{}", i + 1) } else { format!("X{i}") };
        ws.write_string(i + 1, 0, &suffix)?;
        ws.write_string(i + 1, 1, format!("MX-{i}"))?;
        ws.write_number(i + 1, 2, f64::from(i % 50))?;
    }
    wb.save(&xlsx)?;
    let rows = upload(&s, &portal, &xlsx, 1_000, (995, 5), "portal_upload_xlsx")?;
    let bad: Vec<_> = rows.iter().filter(|r| r[2] != "ok").collect();
    ensure!(bad.len() == 5 && bad.iter().all(|r| r[3].contains("标识已存在")), "duplicates: {bad:?}");
    ensure!(rows.iter().any(|r| r[1] == format!("{ACME}/X999") && r[2] == "ok"), "X999 registered");

    // The enterprise's charts (console, 90 days): today's registrations.
    s.goto(&format!("{console}/console/enterprises"))?;
    let href = s.eval(
        "return Array.from(document.querySelectorAll('#enterprises tr')).find(r => r.textContent.includes('acme')).querySelector('a').getAttribute('href')",
    )?;
    let href = href.as_str().context("enterprise link")?.to_owned();
    s.goto(&format!("{console}{href}"))?;
    s.wait_for("a[href$=\"?days=90\"]", WAIT)?.click()?;
    let title = s.wait_for("#chart-ent-registrations", WAIT)?.attr("aria-label")?.unwrap_or_default();
    ensure!(title.contains("(90 days)"), "90-day chart: {title}");
    let today = s.eval(
        "const t = Array.from(document.querySelectorAll('#chart-ent-registrations text.fig')).pop(); return t ? t.textContent : ''",
    )?;
    let today: u64 = today.as_str().unwrap_or("").parse().context("today's registrations in the SVG")?;
    ensure!(today >= 1 + 9_980 + 995, "the enterprise's registrations today: {today}");
    s.assert_closed_network("enterprise page")?;
    s.screenshot("console_enterprise")?;

    // The registered product's landing page (template labels in Chinese).
    s.resize(webdriver_phone().0, webdriver_phone().1)?;
    s.goto(&format!("{portal}/{ACME}/P1"))?;
    s.wait_text("header h1", &format!("{ACME}/P1"), WAIT)?;
    let body = s.find("body")?.text()?;
    ensure!(body.contains("型号") && body.contains("CP-1"), "landing page of P1: {body}");
    s.assert_closed_network("landing page")?;
    s.screenshot("landing_portal_item")?;
    Ok(())
}

/// Uploads `file` through the bulk form in the browser, runs it, waits for
/// the end and checks the counts shown (`rows` in the preview, `(ok,
/// failed)` at the end); then downloads the per-row result file through
/// its link with the browser's session cookie and returns its rows.
fn upload(
    s: &Session,
    portal: &str,
    file: &std::path::Path,
    rows: usize,
    want: (usize, usize),
    shot: &str,
) -> Result<Vec<Vec<String>>> {
    s.goto(&format!("{portal}/portal/bulk?prefix={ACME}"))?;
    s.wait_for("input[type=file]", WAIT)?.pick_file(file)?;
    s.find("form[enctype] button[type=submit]")?.click()?;
    s.wait_for("#preview", WAIT)?;
    ensure!(s.find("#rows")?.text()? == rows.to_string(), "rows in the preview");
    s.find("form[action$=\"/run\"] button")?.click()?;
    s.wait_for("#download", Duration::from_secs(120))?;
    let (ok, failed) = (s.find("#ok")?.text()?, s.find("#failed")?.text()?);
    ensure!(ok == want.0.to_string() && failed == want.1.to_string(), "registered {ok}, failed {failed}");
    let href = s.find("#download")?.attr("href")?.context("download link")?;
    ensure!(href.ends_with("/results.csv"), "{href}");
    s.assert_closed_network("portal upload result")?;
    s.screenshot(shot)?;
    let cookie = s.cookie("idnode_portal")?.context("the browser's portal session cookie")?;
    let addr: std::net::SocketAddr = portal.trim_start_matches("http://").parse()?;
    let mut b = Browser::new(addr);
    b.cookies.insert("idnode_portal".into(), cookie);
    let r = b.get(&href)?;
    ensure!(r.status == 200, "results.csv: {}", r.status);
    ensure!(r.header("content-disposition").is_some_and(|d| d.contains("attachment")), "a download");
    let text = r.text();
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let out: Vec<Vec<String>> =
        rdr.records().map(|r| r.map(|r| r.iter().map(str::to_owned).collect())).collect::<Result<_, _>>()?;
    ensure!(out.len() == rows, "rows in the result file: {}", out.len());
    ensure!(out.iter().filter(|r| r[2] == "ok").count() == want.0, "ok rows in the result file");
    Ok(out)
}

fn webdriver_phone() -> (u32, u32) {
    idnode_conformance::browser::PHONE
}

fn put(n: &rest_util::TestNode, id: &str, values: Value) {
    let r = n.put_values(id, values);
    assert_eq!(r.status, 200, "{}", r.body);
}

use rest_util::string_value as val;

#[test]
fn landing_and_trace_driven_in_chromium() -> Result<()> {
    if !webdriver::available("landing_and_trace_driven_in_chromium") {
        return Ok(());
    }
    const P: &str = "88.118.8.1001";
    let n = rest_util::start("");
    // A chain: the demo item and a second item point at one batch.
    put(&n, &format!("{P}/BATCH-7"), json!([val(2000, "model", "CP-200"), val(2001, "batch", "BATCH-7")]));
    let demo = n.http().get(&format!("/api/handles/{DEMO}")).json();
    let mut values: Vec<Value> = demo["values"]
        .as_array()
        .context("values")?
        .iter()
        .filter(|x| x["type"] != "HS_ADMIN")
        .map(|x| json!({"index": x["index"], "type": x["type"], "data": x["data"]}))
        .collect();
    values.push(val(2100, "REF.batch", &format!("{P}/BATCH-7")));
    put(&n, DEMO, Value::Array(values));
    put(
        &n,
        &format!("{P}/ITEM-2"),
        json!([val(2000, "model", "CP-200"), val(2100, "REF.batch", &format!("{P}/BATCH-7"))]),
    );

    let (w, h) = idnode_conformance::browser::PHONE;
    let s = Session::start(w, h)?;
    let base = format!("http://{}", n.node.http);
    // The home page's look-up form.
    s.goto(&format!("{base}/"))?;
    s.find("input[name=id]")?.send_keys(DEMO)?;
    s.find("form[action=\"/_lookup\"] button")?.click()?;
    s.wait_text("header h1", DEMO, WAIT)?;
    let page = s.find("body")?.text()?;
    ensure!(page.contains("型号") && page.contains("CP-200"), "template label and value: {page}");
    ensure!(page.contains("追溯链") && page.contains(&format!("{P}/BATCH-7")), "the chain: {page}");
    ensure!(!s.find_all("section.qr svg")?.is_empty(), "QR code");
    s.assert_closed_network("landing page")?;
    s.screenshot("landing_driven")?;

    // Follow the chain to the batch: its page lists both items (trace).
    s.find(&format!("ol.timeline a[href$=\"/{P}/BATCH-7\"]"))?.click()?;
    s.wait_text("header h1", "BATCH-7", WAIT)?;
    let chain = s.find("ol.timeline")?.text()?;
    ensure!(chain.contains(DEMO) && chain.contains(&format!("{P}/ITEM-2")), "items of the batch: {chain}");
    s.assert_closed_network("trace (batch) page")?;
    s.screenshot("trace_driven")?;
    Ok(())
}
