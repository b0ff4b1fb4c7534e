//! A minimal browser-like HTTP/1.1 client for the HTML pages (console,
//! portal): a cookie jar fed by `Set-Cookie`, form posts
//! (`application/x-www-form-urlencoded`) and file uploads
//! (`multipart/form-data`), one connection per request (`Connection:
//! close`), chunked bodies decoded. Loopback only, no TLS, no redirects
//! followed (tests look at the 303s).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// An answer: status, headers (lower-case names), body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client with a cookie jar.
#[derive(Debug)]
pub struct Browser {
    addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
}

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k=v&...` with percent-encoding.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", pct(k), pct(v))).collect::<Vec<_>>().join("&")
}

/// The value of `<input name="csrf" value="...">` in a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[i..].split('"').next()?.to_owned())
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        Browser { addr, cookies: BTreeMap::new() }
    }

    pub fn get(&mut self, path: &str) -> Result<Resp> {
        self.send("GET", path, None, &[])
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Resp> {
        self.send("POST", path, Some("application/x-www-form-urlencoded"), form_encode(fields).as_bytes())
    }

    /// A multipart form: text fields, then one file field.
    pub fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Resp> {
        let boundary = "----idnodeconformance7f3a";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send("POST", path, Some(&format!("multipart/form-data; boundary={boundary}")), &body)
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Sends one request (the jar's cookies attached) and reads the answer.
    pub fn send(&mut self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Result<Resp> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if !self.cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", self.cookie_header()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 =
            lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).context("status")?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body)?;
        }
        for (k, v) in &headers {
            if k == "set-cookie"
                && let Some((name, rest)) = v.split_once('=')
            {
                let value = rest.split(';').next().unwrap_or("");
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Ok(Resp { status, headers, body })
    }
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").context("chunk size line")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).split(';').next().unwrap_or("").trim(), 16)?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

// --- SNMS fixtures shared by the page tests (console_portal, browser_drive).

/// Lower-case hex SHA-256 of `b`.
/// Creates template 1.0.0 of `prefix` through the console's form (the
/// operator `op` is logged in): industry C/34/341/3411, object type 2, one
/// `name,type,index,required,...` item per line of `items`. Returns the
/// form's answer (a 303 whose location carries `ok=` on success).
pub fn create_template(op: &mut Browser, prefix: &str, items: &str) -> Result<Resp> {
    let page = op.get("/console/templates")?.text();
    let csrf = csrf_of(&page).context("no csrf token on the templates page")?;
    op.post_form(
        "/console/templates",
        &[
            ("csrf", &csrf),
            ("prefix", prefix),
            ("version", "1.0.0"),
            ("description", "acme"),
            ("industry_category", "C"),
            ("industry_specific", "34"),
            ("industry_trade", "341"),
            ("industry_subclass", "3411"),
            ("object_type", "2"),
            ("items", items),
        ],
    )
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
}

/// One SNMS API call (JSON body, optional bearer token); the answer's JSON (HTTP 200 only).
pub fn snms(node: &crate::Node, method: &str, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
    let mut c = crate::http1::Http::new(node.http);
    let (status, bytes) = c.request(method, path, token, &serde_json::to_vec(body)?)?;
    if status != 200 {
        bail!("{method} {path}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// An SNMS filing (new account `user`, password `<user>-pass`) for `prefix`.
pub fn filing(user: &str, prefix: &str, code: &str, rid0: u64) -> Value {
    json!({
        "entBasicInfo": {
            "orgName": format!("{user} 有限公司"), "orgNature": "2", "orgAddr": "示例路1号", "orgAddrProvince": "110000",
            "orgAddrCity": "110100", "orgAddrCounty": "110105", "orgCrtType": "1", "orgCrtCode": code,
            "orgCrtImgRid": rid0, "industryCategory": "C", "industrySpecific": "34", "website": "www.example.com",
            "regCapital": 1000, "establishDate": "2015-05-20", "contactName": "联系人", "contactCrtType": 1,
            "contactCrtNo": "ID-1", "contactEmail": format!("{user}@example.com"), "contactPhone": "13800000001",
            "legalName": "法人代表", "legalCrtType": "1", "legalCrtNo": "ID-2", "legalCrtFrontImgRid": rid0 + 1,
            "legalCrtBackImgRid": rid0 + 2, "entPrefix": prefix
        },
        "entRegisterManageInfo": {
            "entInfoSyses": [
                { "sysType": 1, "deployMode": 1, "deployAddrProvince": "110000", "deployAddrCity": "110100",
                  "deployAddrCounty": "110105", "deployAddr": "示例路1号", "ipPort": "[192.0.2.10]:8080" },
                { "sysType": 2, "deployMode": 2, "name": "Example Cloud" },
                { "sysType": 3, "deployMode": 2, "name": "Example Cloud" },
                { "sysType": 4, "deployMode": "2", "name": "Example Cloud" }
            ],
            "servSysBuildType": 1, "servSysOperType": 1
        },
        "entHostingAndIdentifyServeInfo": {
            "extWebName": "portal", "entInfoLicenses": [ { "licenceType": 4, "licenceNo": "LIC-1" } ]
        },
        "sysUser": {"userName": user, "password": sha256_hex(format!("{user}-pass").as_bytes()),
                    "email": format!("{user}@example.com"), "mobile": format!("139{rid0}"), "remarks": ""}
    })
}
