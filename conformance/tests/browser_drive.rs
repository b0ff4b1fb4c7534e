//! The pages driven in a real browser (issues 12 and 13): Debian's headless
//! Chromium over WebDriver (`chromedriver`, see
//! `idnode_conformance::webdriver`) against the built binary. An operator
//! logs in to the console through its form, reads the overview (figures
//! after a short load, the most-resolved identifiers), navigates to a filed
//! prefix, approves it through the confirmation form, edits its quota and
//! finds both in the audit log; an enterprise user logs in to the portal,
//! uploads a CSV batch of product codes and sees the per-row result (the
//! new quota refusing the rows beyond it); on a phone-size window a scan
//! user looks up an identifier on the home page, reads its landing page and
//! follows the chain to the batch's page. Every page must load nothing but
//! loopback URLs (closed network). Screenshots go to `target/screenshots/`.
//!
//! Without chromium and chromium-driver the tests skip loudly; under
//! `CI=true` they fail instead.

mod rest_util;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use idnode_conformance::web::{Browser, csrf_of, filing, snms};
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
    let page = op.get("/console/templates")?.text();
    let csrf = csrf_of(&page).context("csrf")?;
    let r = op.post_form(
        "/console/templates",
        &[
            ("csrf", &csrf),
            ("prefix", ACME),
            ("version", "1.0.0"),
            ("description", "acme"),
            ("industry_category", "C"),
            ("industry_specific", "34"),
            ("industry_trade", "341"),
            ("industry_subclass", "3411"),
            ("object_type", "2"),
            ("items", "型号,model,2000,1,1,16\n批次,batch,2001,0,0,8"),
        ],
    )?;
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

    // Edit the prefix's quota: at most 12 identifiers.
    s.find("#max_registrations")?.fill("12")?;
    s.find("form.quota button[type=submit]")?.click()?;
    let flash = s.wait_for("#flash", WAIT)?.text()?;
    ensure!(flash.contains("quota saved"), "{flash}");
    let quota = s.find("#quota")?.text()?;
    ensure!(quota.contains("limit 12"), "quota shown: {quota}");
    s.assert_closed_network("prefix page")?;
    s.screenshot("console_prefix")?;

    // Both changes are in the audit log.
    s.find("header a[href=\"/console/audit\"]")?.click()?;
    s.wait_for("table", WAIT)?;
    let audit = s.source()?;
    for action in ["prefix.approve", "prefix.quota"] {
        ensure!(audit.contains(action), "{action} in the audit log");
    }
    ensure!(audit.contains("maxRegistrations=12"), "the new quota in the audit log");
    acme_template(&node, &secret)?;

    // Portal: an enterprise user uploads a CSV batch (14 good rows, then one
    // without its required model): 12 fit the quota.
    let portal = format!("http://{}", node.http);
    s.goto(&format!("{portal}/portal"))?;
    ensure!(s.url()?.ends_with("/portal/login"), "portal login page, got {}", s.url()?);
    login_form(&s, "acme", "acme-pass")?;
    s.wait_for(&format!("a[href*=\"{ACME}\"]"), WAIT)?;
    s.goto(&format!("{portal}/portal/bulk?prefix={ACME}"))?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("codes.csv");
    let mut text = String::from("suffix,model,batch\n");
    for i in 1..=14 {
        text.push_str(&format!("P{i:03},CP-{i},B{}\n", i % 3));
    }
    text.push_str("P015,,B1\n");
    std::fs::write(&csv, text)?;
    s.find("input[type=file]")?.pick_file(&csv)?;
    s.find("form[enctype] button[type=submit]")?.click()?;
    s.wait_for("#preview", WAIT)?;
    ensure!(s.find("#rows")?.text()? == "15", "rows in the preview");
    s.screenshot("portal_upload_preview")?;
    s.find("form[action$=\"/run\"] button")?.click()?;
    s.wait_for("#download", Duration::from_secs(30))?;
    let ok = s.find("#ok")?.text()?;
    let failed = s.find("#failed")?.text()?;
    ensure!(ok == "12" && failed == "3", "registered {ok}, failed {failed}");
    let failures = s.find("#failures")?.text()?;
    ensure!(failures.contains("registration quota exhausted"), "quota refusal shown: {failures}");
    ensure!(s.find("#download")?.attr("href")?.is_some_and(|h| h.ends_with("/results.csv")));
    s.assert_closed_network("portal upload result")?;
    s.screenshot("portal_upload_result")?;

    // The registered product's landing page (template labels in Chinese).
    s.resize(webdriver_phone().0, webdriver_phone().1)?;
    s.goto(&format!("{portal}/{ACME}/P001"))?;
    s.wait_text("header h1", &format!("{ACME}/P001"), WAIT)?;
    let body = s.find("body")?.text()?;
    ensure!(body.contains("型号") && body.contains("CP-1"), "landing page of P001: {body}");
    s.assert_closed_network("landing page")?;
    s.screenshot("landing_portal_item")?;
    Ok(())
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
