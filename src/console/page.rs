//! The page frame shared by the console and the portal: the HTML layout,
//! security headers (a content security policy that forbids inline script,
//! no framing, no sniffing, no caching of personal pages), the static
//! stylesheet and the one static script (SSE live refresh), and form
//! decoding helpers. Output is escaped by maud.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// `Content-Security-Policy` of every page: scripts only from this node
/// (the static live-refresh file), no inline script, no plugins, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet (served at `<base>/static/app.css`).
pub const CSS: &str = "body{font-family:sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#24405e;color:#fff;padding:.5em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
header a{color:#fff}main{padding:1em;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.6em}
.card{background:#fff;border:1px solid #ddd;padding:.6em}.card b{font-size:1.3em;display:block}
.err{color:#b00020}.ok{color:#1b5e20}.chart svg{width:100%;max-width:720px;background:#fff;border:1px solid #ddd}
.bar{fill:#4a78a8}.fig{font-size:9px;fill:#222}.axis{font-size:10px;fill:#555}
form.inline{display:inline}label{display:block;margin-top:.4em}input,select,textarea{font:inherit}
progress{width:100%;max-width:500px}
";

/// The live-refresh script (served at `<base>/static/live.js`): listens to
/// the page's SSE stream and replaces the text of `[data-k]` elements.
pub const LIVE_JS: &str = "(function(){var m=document.querySelector('meta[name=idnode-live]');
if(!m||!window.EventSource)return;var es=new EventSource(m.content);
es.addEventListener('figures',function(e){var d=JSON.parse(e.data);
for(var k in d){var el=document.querySelectorAll('[data-k=\"'+k+'\"]');
for(var i=0;i<el.length;i++)el[i].textContent=d[k];}});})();
";

/// Adds the security headers every page carries.
pub fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A full page: `base` is the mount (`/console`, `/portal`), `nav` the
/// links for a logged-in user, `live` the SSE URL when the page refreshes.
pub fn layout(base: &str, title: &str, nav: &[(&str, &str)], live: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — idnode" }
                link rel="stylesheet" href=(format!("{base}/static/app.css"));
                @if let Some(url) = live {
                    meta name="idnode-live" content=(url);
                    script src=(format!("{base}/static/live.js")) defer {}
                }
            }
            body {
                header {
                    strong { "idnode" }
                    @for (href, label) in nav {
                        a href=(href) { (label) }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page response with the security headers.
pub fn page(status: StatusCode, m: Markup) -> Response {
    secure((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], m.into_string()).into_response())
}

/// A 303 redirect (after a POST), with `set_cookie` when given.
pub fn see_other(to: &str, set_cookie: Option<HeaderValue>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(c) = set_cookie {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    secure(r)
}

/// A static asset.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// A hidden CSRF field.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// The login form of `base`.
pub fn login_page(base: &str, title: &str, error: Option<&str>) -> Response {
    let body = html! {
        @if let Some(e) = error { p.err { (e) } }
        form method="post" action=(format!("{base}/login")) {
            label { "User name " input name="username" autocomplete="username" required; }
            label { "Password " input type="password" name="password" autocomplete="current-password" required; }
            p { button type="submit" { "Log in" } }
        }
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    page(status, layout(base, title, &[], None, body))
}

/// An error page.
pub fn error(base: &str, status: StatusCode, msg: &str) -> Response {
    page(status, layout(base, status.canonical_reason().unwrap_or("Error"), &[], None, html! { p.err { (msg) } }))
}

/// Decoded `application/x-www-form-urlencoded` pairs.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{}", String::from_utf8_lossy(body)).parse().unwrap_or_default(),
    )
    .map(|q| q.0)
    .unwrap_or_default()
}

/// First value of `name` in `pairs`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Formats bytes as KiB/MiB/GiB.
pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", units[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_sizes_format() {
        let p = form_pairs(b"a=1&b=x+y%2Fz&csrf=abc");
        assert_eq!(field(&p, "b"), Some("x y/z"));
        assert_eq!(field(&p, "zz"), None);
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert!(!CSP.contains("unsafe-inline"));
    }
}
