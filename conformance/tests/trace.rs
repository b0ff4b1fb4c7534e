//! Traceability (issue 12) against the built binary, through public APIs
//! only: a three-level chain (batch -> 3 items -> shipment) written over
//! the Handle REST API with `REF.<relation>` values, queried over
//! `/api/trace` in both directions; the cycle guard, the depth / fan-out /
//! paging limits, the check on write, `idnode trace` (tree) and the EPCIS
//! 2.0 export validated against the EPCIS 2.0 JSON schema.

mod rest_util;

use std::collections::BTreeSet;

use rest_util::{TestNode, start};
use serde_json::{Value, json};

const P: &str = "88.118.8.1001";

fn put(n: &TestNode, id: &str, values: Value) -> rest_util::Resp {
    n.put_values(id, values)
}

use rest_util::string_value as v;

fn ids(g: &Value) -> BTreeSet<String> {
    g["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

fn edges(g: &Value) -> BTreeSet<(String, String, String)> {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().into(),
                e["to"].as_str().unwrap().into(),
                e["relation"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn chain(n: &TestNode) -> (String, Vec<String>, String) {
    let batch = format!("{P}/BATCH-7");
    let ship = format!("{P}/SHIP-1");
    assert_eq!(
        put(n, &batch, json!([v(2000, "model", "M1"), v(2100, "REF.produced_by", "86.100.1/PLANT-9")])).status,
        200
    );
    assert_eq!(put(n, &ship, json!([v(1, "DESC", "container 40ft")])).status, 200);
    let items: Vec<String> = (1..=3).map(|i| format!("{P}/ITEM-{i}")).collect();
    for it in &items {
        let r =
            put(n, it, json!([v(2000, "model", "M1"), v(2100, "REF.batch", &batch), v(2101, "REF.shipment", &ship)]));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    (batch, items, ship)
}

#[test]
fn three_level_chain_both_directions_cycle_and_limits() {
    let n = start("");
    let (batch, items, ship) = chain(&n);
    let c = n.http();

    // Check on write: a link to a missing identifier under a prefix homed here is refused,
    // a malformed relation too; nothing is stored.
    let r = put(&n, &format!("{P}/BAD"), json!([v(2100, "REF.batch", &format!("{P}/NO-SUCH"))]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("does not exist"), "{}", r.body);
    assert_eq!(put(&n, &format!("{P}/BAD"), json!([v(2100, "REF.Batch!", &batch)])).status, 400);
    assert_eq!(c.get(&format!("/api/handles/{P}/BAD")).status, 404);

    // Up from the batch: the three items (and nothing above them: items do not link up to the shipment).
    let g = c.get(&format!("/api/trace/{batch}?direction=up")).json();
    let want: BTreeSet<String> = std::iter::once(batch.clone()).chain(items.iter().cloned()).collect();
    assert_eq!(ids(&g), want);
    assert_eq!(edges(&g), items.iter().map(|i| (i.clone(), batch.clone(), "batch".to_owned())).collect());
    assert_eq!(g["cycle"], false);
    // Values come with the nodes.
    let item = g["nodes"].as_array().unwrap().iter().find(|x| x["id"] == items[0]).unwrap();
    assert!(item["values"].as_array().unwrap().iter().any(|x| x["type"] == "REF.shipment"));

    // Down from an item: its batch, the shipment, and the batch's foreign plant (a node to resolve elsewhere).
    let g = c.get(&format!("/api/trace/{}?direction=down", items[1])).json();
    assert_eq!(
        ids(&g),
        [items[1].clone(), batch.clone(), ship.clone(), "86.100.1/PLANT-9".into()].into_iter().collect()
    );
    let plant = g["nodes"].as_array().unwrap().iter().find(|x| x["id"] == "86.100.1/PLANT-9").unwrap();
    assert_eq!(plant["status"], "foreign");

    // Both from the shipment: the whole chain; relations filter; depth 1.
    let g = c.get(&format!("/api/trace/{ship}?direction=both&depth=3")).json();
    assert_eq!(ids(&g).len(), 6, "{g}");
    assert_eq!(edges(&g).len(), 7);
    let g = c.get(&format!("/api/trace/{ship}?direction=both&relations=shipment")).json();
    assert_eq!(ids(&g).len(), 4);
    let g = c.get(&format!("/api/trace/{ship}?direction=both&depth=1")).json();
    assert_eq!(ids(&g).len(), 4);

    // Fan-out limit and paging.
    let g = c.get(&format!("/api/trace/{batch}?direction=up&fanout=2")).json();
    assert_eq!(ids(&g).len(), 3);
    assert_eq!(g["nodes"][0]["fanoutTruncated"], true);
    let p1 = c.get(&format!("/api/trace/{batch}?direction=up&limit=2")).json();
    assert_eq!((ids(&p1).len(), p1["nextOffset"].as_u64()), (2, Some(2)));
    let p2 = c.get(&format!("/api/trace/{batch}?direction=up&limit=2&offset=2")).json();
    assert_eq!((ids(&p2).len(), p2["nextOffset"].as_u64()), (2, None));
    assert!(ids(&p1).is_disjoint(&ids(&p2)));

    // Bad parameters and unknown identifiers.
    for q in ["direction=sideways", "depth=11", "fanout=x", "relations=Bad!", "colour=red"] {
        let r = c.get(&format!("/api/trace/{batch}?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    assert_eq!(c.get(&format!("/api/trace/{P}/NOTHING")).status, 404);

    // A deliberate cycle: the shipment links back to item 1 as a component.
    let r = put(&n, &ship, json!([v(1, "DESC", "container 40ft"), v(2100, "REF.component", &items[0])]));
    assert_eq!(r.status, 200, "{}", r.body);
    let g = c.get(&format!("/api/trace/{}?direction=down&depth=10", items[0])).json();
    assert_eq!(g["cycle"], true);
    let listed: Vec<&str> = g["nodes"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), unique.len(), "each node once: {listed:?}");
    assert_eq!(unique.len(), 4);

    // Deleting an item removes it from the reverse index at once.
    let auth = n.basic();
    assert_eq!(
        n.https().send("DELETE", &format!("/api/handles/{}", items[2]), &[("Authorization", &auth)], None).status,
        200
    );
    let g = c.get(&format!("/api/trace/{batch}?direction=up&relations=batch")).json();
    assert_eq!(ids(&g), [batch.clone(), items[0].clone(), items[1].clone()].into_iter().collect());

    // The CLI prints the tree (through the daemon's admin API).
    let out = idnode_conformance::idnode(&n.node.config, &["trace", &batch, "--direction", "up"]).unwrap();
    assert!(out.starts_with(&batch), "{out}");
    assert!(out.contains(&format!("<--batch-- {}", items[0])), "{out}");
}

#[test]
fn epcis_export_validates_against_the_epcis_2_schema() {
    let n = start("");
    let (batch, _items, _ship) = chain(&n);
    let doc = n.http().get(&format!("/api/trace/{batch}?direction=both&format=epcis")).json();
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    let kinds: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["AggregationEvent", "ObjectEvent", "TransformationEvent"].into_iter().collect());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let schema = idnode_conformance::crate_dir().join("fixtures/epcis2-schema");
    let py = idnode_conformance::crate_dir().join("python/validate_epcis.py");
    let venv = idnode_conformance::crate_dir().join("../.venv/bin/python");
    let out = std::process::Command::new(venv).arg(&py).arg(&schema).arg(&path).output().expect("python in .venv");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // A broken document fails the same validation (the check can fail).
    let mut bad = doc.clone();
    bad["epcisBody"]["eventList"][0]["action"] = json!("SOMETIMES");
    std::fs::write(&path, bad.to_string()).unwrap();
    let out = std::process::Command::new(idnode_conformance::crate_dir().join("../.venv/bin/python"))
        .arg(&py)
        .arg(&schema)
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
