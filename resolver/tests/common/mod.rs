//! Loading the CNRI 9.2.0 wire vectors from `conformance/vectors/`.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::PathBuf;

use serde_json::Value as Json;

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors")
}

fn load(name: &str) -> Json {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `(minor, sugg_minor, opcode, rc, flags)` of one answer.
pub type Summary = (u8, u8, u32, u32, u32);

/// One request/answer pair of `cnri-9.2.0.json`.
#[derive(Debug, Clone)]
pub struct Vector {
    pub name: String,
    pub transport: String,
    pub request: Vec<Vec<u8>>,
    pub response: Vec<Vec<u8>>,
    /// Each answer's [`Summary`]; `None` for the malformed-request vectors.
    pub summary: Option<Vec<Summary>>,
}

fn hexes(v: &Json) -> Vec<Vec<u8>> {
    v.as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect()
}

pub fn cnri_vectors() -> Vec<Vector> {
    let j = load("cnri-9.2.0.json");
    j["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            name: v["name"].as_str().unwrap().to_owned(),
            transport: v["transport"].as_str().unwrap().to_owned(),
            request: hexes(&v["request"]),
            response: hexes(&v["response"]),
            summary: v["summary"].as_array().map(|s| {
                s.iter()
                    .map(|e| {
                        (
                            e["minor"].as_u64().unwrap() as u8,
                            e["sugg_minor"].as_u64().unwrap() as u8,
                            e["opcode"].as_u64().unwrap() as u32,
                            e["rc"].as_u64().unwrap() as u32,
                            e["flags"].as_u64().unwrap() as u32,
                        )
                    })
                    .collect()
            }),
        })
        .collect()
}

pub fn vector(name: &str) -> Vector {
    cnri_vectors().into_iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no vector {name}"))
}

/// One captured datagram or TCP message of the admin batch.
#[derive(Debug, Clone)]
pub struct BatchMessage {
    pub transport: String,
    pub from_client: bool,
    pub client_port: u16,
    pub opcode: Option<u32>,
    pub rc: Option<u32>,
    pub opflags: Option<u32>,
    pub session_id: i32,
    pub bytes: Vec<u8>,
}

pub fn admin_batch() -> Vec<BatchMessage> {
    let j = load("cnri-9.2.0-admin-batch.json");
    j["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| BatchMessage {
            transport: m["transport"].as_str().unwrap().to_owned(),
            from_client: m["direction"].as_str().unwrap() == "client->server",
            client_port: m["client_port"].as_u64().unwrap() as u16,
            opcode: m["opcode"].as_u64().map(|v| v as u32),
            rc: m["rc"].as_u64().map(|v| v as u32),
            opflags: m["opflags"].as_u64().map(|v| v as u32),
            session_id: m["session_id"].as_i64().unwrap() as i32,
            bytes: hex::decode(m["hex"].as_str().unwrap()).unwrap(),
        })
        .collect()
}

/// Every file of the fuzz seed corpus.
pub fn seed_corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode_message");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}
