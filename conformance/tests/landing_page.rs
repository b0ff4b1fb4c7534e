//! The scan landing page (issue 12) in a real browser: Debian's headless
//! Chromium at phone size against the built binary (see
//! `idnode_conformance::browser`). The page shows the template's labels and
//! values, the chain and the QR code; an unknown identifier gets the 404
//! page; a stored `<script>` is shown as text and never runs. Screenshots
//! land in `target/screenshots/`. Plus, without a browser: content
//! negotiation (JSON for other clients), the redirect prefix and
//! `?noredirect`, the CSP header, the page size, and labels.

mod rest_util;

use idnode_conformance::browser;
use rest_util::{TestNode, start};
use serde_json::{Value, json};

const DEMO: &str = "88.118.8.1001/LOT2026-000451";
const P: &str = "88.118.8.1001";

fn put(n: &TestNode, id: &str, values: Value) {
    let r = n.put_values(id, values);
    assert_eq!(r.status, 200, "{}", r.body);
}

use rest_util::string_value as v;

fn node() -> TestNode {
    let n = start("\n[web]\nredirect_prefixes = [\"88.118.8.1002\"]\n");
    // The demo record (template labels) gets a batch link; an evil record holds a script.
    put(&n, &format!("{P}/BATCH-A"), json!([v(2000, "model", "M1")]));
    let demo = n.http().get(&format!("/api/handles/{DEMO}")).json();
    let mut values: Vec<Value> = demo["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] != "HS_ADMIN")
        .map(|x| json!({"index": x["index"], "type": x["type"], "data": x["data"]}))
        .collect();
    values.push(v(2100, "REF.batch", &format!("{P}/BATCH-A")));
    put(&n, DEMO, Value::Array(values));
    put(
        &n,
        &format!("{P}/EVIL"),
        json!([v(2000, "model", "<script>document.body.setAttribute('data-pwned','1')</script>")]),
    );
    n
}

#[test]
fn landing_page_in_a_browser() {
    let Some(_) = browser::chromium() else {
        panic!("chromium is not installed: scripts/test installs Debian's chromium (install_browser)");
    };
    let n = node();
    let base = format!("http://{}", n.node.http);

    let page = browser::visit(&format!("{base}/{DEMO}"), "landing_demo").unwrap();
    let dom = &page.dom;
    // Template labels (Chinese and English) and values of the demo record.
    let tpl = n.http().get(&format!("/api/handles/{DEMO}")).json();
    let model = tpl["values"].as_array().unwrap().iter().find(|x| x["index"] == 2000).unwrap()["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(dom.contains(&model), "model value on the page");
    assert!(dom.contains("lang=\"en\""), "English labels");
    assert!(dom.contains("追溯链"), "chain section");
    assert!(dom.contains(&format!("{P}/BATCH-A")) && dom.contains("batch"), "chain shows the batch link");
    assert!(dom.contains("<svg") && dom.contains("QR code:"), "QR code");
    assert!(dom.contains("Verified"), "signed by the node key");
    assert!(std::fs::metadata(&page.screenshot).unwrap().len() > 1000);

    // The batch's page shows the item pointing at it (reverse index).
    let page = browser::visit(&format!("{base}/{P}/BATCH-A"), "landing_batch").unwrap();
    assert!(page.dom.contains(DEMO), "{}", page.dom);

    // Unknown identifier: the 404 page.
    let page = browser::visit(&format!("{base}/{P}/NO-SUCH-CODE"), "landing_404").unwrap();
    assert!(page.dom.contains("Identifier not found") && page.dom.contains("NO-SUCH-CODE"));

    // A stored script is text, never run.
    let page = browser::visit(&format!("{base}/{P}/EVIL"), "landing_script").unwrap();
    assert!(page.dom.contains("&lt;script&gt;document.body.setAttribute"), "shown as text");
    assert!(!page.dom.contains("data-pwned=\"1\""), "the script did not run");

    // The home page.
    let page = browser::visit(&format!("{base}/"), "home").unwrap();
    assert!(page.dom.contains("88.118.8"));
}

#[test]
fn negotiation_redirects_headers_size_and_labels() {
    let n = node();
    let c = n.http();
    let html = [("Accept", "text/html,application/xhtml+xml")];
    let r = c.send("GET", &format!("/{DEMO}"), &html, None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    assert!(r.body.len() < 100 * 1024, "page of {} bytes", r.body.len());
    assert!(!r.body.contains("<script"), "no script on the page");
    // Non-browser: JSON view.
    let j = c.get(&format!("/{DEMO}")).json();
    assert_eq!((j["responseCode"].as_u64(), j["handle"].as_str()), (Some(1), Some(DEMO)));
    assert!(j["chain"].as_array().unwrap().iter().any(|s| s["relation"] == "batch"));
    // The chain is the item's lineage: what it comes from (the batch) and
    // what comes from it (a shipment linking to it), never its siblings (a
    // second item of the same batch).
    put(&n, &format!("{P}/SIBLING"), json!([v(2100, "REF.batch", &format!("{P}/BATCH-A"))]));
    put(&n, &format!("{P}/SHIP-1"), json!([v(2100, "REF.shipment", DEMO)]));
    let j = c.get(&format!("/{DEMO}")).json();
    let steps: Vec<(String, String)> = j["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["from"].as_str().unwrap().to_owned(), s["to"].as_str().unwrap().to_owned()))
        .collect();
    assert!(steps.contains(&(DEMO.to_owned(), format!("{P}/BATCH-A"))), "{steps:?}");
    assert!(steps.contains(&(format!("{P}/SHIP-1"), DEMO.to_owned())), "{steps:?}");
    assert!(!steps.iter().any(|(f, _)| f.ends_with("/SIBLING")), "a sibling is not in the chain: {steps:?}");
    let r = c.get(&format!("/{P}/NO-SUCH"));
    assert_eq!((r.status, r.rc()), (404, 100));
    let r = c.send("GET", &format!("/{P}/NO-SUCH"), &html, None);
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Identifier not found"));
    // Redirect prefix: a URL value redirects, ?noredirect shows the page.
    put(&n, "88.118.8.1002/R1", json!([v(1, "URL", "https://example.invalid/p/1")]));
    let r = c.send("GET", "/88.118.8.1002/R1", &html, None);
    assert_eq!((r.status, r.header("location")), (302, Some("https://example.invalid/p/1")));
    let r = c.send("GET", "/88.118.8.1002/R1?noredirect", &html, None);
    assert_eq!(r.status, 200);
    // Not a redirect prefix: the page.
    put(&n, &format!("{P}/U1"), json!([v(1, "URL", "https://example.invalid/u")]));
    assert_eq!(c.send("GET", &format!("/{P}/U1"), &html, None).status, 200);
    // Labels over HTTP and from the CLI.
    let r = c.get(&format!("/api/label/{DEMO}?format=svg"));
    assert_eq!(r.header("content-type"), Some("image/svg+xml"));
    assert!(r.body.contains(&format!("<title>{DEMO}</title>")));
    let r = c.get(&format!("/api/label/{DEMO}?format=png"));
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/png")));
    assert_eq!(c.get(&format!("/api/label/{P}/NO-SUCH")).status, 404);
    assert_eq!(c.get(&format!("/api/label/{DEMO}?format=gif")).status, 400);
    let out = n.node.dir.path().join("label.png");
    idnode_conformance::idnode(&n.node.config, &["label", DEMO, "--format", "png", "--out", out.to_str().unwrap()])
        .unwrap();
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"\x89PNG");
}

fn snms_token(n: &TestNode) -> String {
    let r = n.http().send(
        "POST",
        "/identity/token",
        &[("Content-Type", "application/json")],
        Some(&json!({"username": "admin", "password": n.secret}).to_string()),
    );
    r.json()["data"]["token"].as_str().unwrap_or_else(|| panic!("login: {}", r.body)).to_owned()
}

#[test]
fn gs1_digital_link() {
    let n = node();
    let token = snms_token(&n);
    for (code, handle) in [("6901234567892", DEMO.to_owned()), ("(01)06901234567892(21)SN-42", format!("{P}/EVIL"))] {
        let r = n.http().send(
            "POST",
            "/identityv2/alias",
            &[("Content-Type", "application/json"), ("Authorization", &token)],
            Some(&json!({"scheme": "gs1", "code": code, "handle": handle}).to_string()),
        );
        assert_eq!(r.json()["status"], 1, "bind {code}: {}", r.body);
    }
    let c = n.http();
    let html = [("Accept", "text/html")];
    // GTIN (13 digits, as printed) -> the demo record, as JSON and as the page.
    let j = c.get("/01/6901234567892").json();
    assert_eq!(j["handle"], DEMO, "{j}");
    let r = c.send("GET", "/01/06901234567892", &html, None);
    assert!(r.status == 200 && r.body.contains(DEMO), "{}", r.status);
    // A lot qualifies the GTIN; a serial selects the SGTIN binding.
    assert_eq!(c.get("/01/06901234567892/10/LOT7").json()["handle"], DEMO);
    assert_eq!(c.get("/01/06901234567892/21/SN-42").json()["handle"], format!("{P}/EVIL"));
    assert_eq!(c.get("/01/06901234567892/10/LOT7/21/SN-42").json()["handle"], format!("{P}/EVIL"));
    // A wrong check digit is a clear 400; an unbound key a 404.
    let r = c.get("/01/6901234567891");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("check digit"), "{}", r.body);
    let r = c.send("GET", "/01/6901234567891", &html, None);
    assert!(r.status == 400 && r.body.contains("check digit"));
    assert_eq!(c.get("/01/06901234567892/21/NOT-BOUND").status, 404);
    assert_eq!(c.get("/01/06901234567892/99/x").status, 400);
}
