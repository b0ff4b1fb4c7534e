//! `[web]`: the scan landing page on the public HTTP door (issue 12).
//!
//! `GET /{identifier}` answers a browser (Accept: text/html) with a page and
//! other clients with JSON; `redirect_prefixes` makes identifiers under
//! those prefixes that hold a public URL value redirect to it instead, as
//! the Handle reference proxy does (`?noredirect` shows the page).

use serde::{Deserialize, Serialize};

/// `[web]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve `/`, `/{identifier}` pages and labels on the HTTP door.
    pub pages: bool,
    /// Prefixes (and their sub-prefixes) whose identifiers redirect to their
    /// first public URL value.
    pub redirect_prefixes: Vec<String>,
    /// Base URL printed in QR codes, labels and EPCIS exports
    /// (`https://id.example.com`); empty = from the request's Host header.
    pub public_base_url: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig { pages: true, redirect_prefixes: Vec::new(), public_base_url: String::new() }
    }
}

impl WebConfig {
    /// Whether `prefix` or one of its parents is a redirect prefix.
    pub fn redirects(&self, prefix: &str) -> bool {
        idnode_registry::ident::prefix_chain(prefix)
            .any(|p| self.redirect_prefixes.iter().any(|r| r.eq_ignore_ascii_case(p)))
    }
}
