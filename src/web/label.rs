//! QR codes: the inline SVG of the landing page and printable labels (a QR
//! code of the identifier's page URL with the identifier under it), as SVG
//! or PNG. Pure rendering from `qrcode`'s module matrix; the PNG's text line
//! uses the 8x8 bitmap font of `font8x8` (characters outside it print as
//! `?`), so no font file or external tool is needed.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use qrcode::{Color, EcLevel, QrCode};

use super::Deps;

/// Modules of white border around a QR code (the standard's quiet zone).
const QUIET: usize = 4;

/// A QR matrix: width and dark modules, row-major.
struct Matrix {
    width: usize,
    dark: Vec<bool>,
}

fn matrix(text: &str) -> Option<Matrix> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
    Some(Matrix { width, dark })
}

/// SVG path data of the dark modules, offset by the quiet zone.
fn path_data(m: &Matrix) -> String {
    let mut d = String::new();
    for y in 0..m.width {
        for x in 0..m.width {
            if m.dark[y * m.width + x] {
                d.push_str(&format!("M{} {}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    d
}

/// The QR code of `url` as an inline `<svg>` element (for HTML pages).
pub fn qr_inline_svg(url: &str) -> String {
    let Some(m) = matrix(url) else { return String::new() };
    let size = m.width + 2 * QUIET;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" aria-label="QR code: {}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{}"/></svg>"##,
        xml_escape(url),
        path_data(&m)
    )
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Label formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

/// A label: QR code of `url` with `identifier` printed under it.
pub fn render(identifier: &str, url: &str, format: Format) -> Option<Vec<u8>> {
    let m = matrix(url)?;
    match format {
        Format::Svg => Some(svg_label(&m, identifier).into_bytes()),
        Format::Png => png_label(&m, identifier),
    }
}

fn svg_label(m: &Matrix, identifier: &str) -> String {
    let size = m.width + 2 * QUIET;
    // Text band under the code: 1/6 of the code's height.
    let band = (size / 6).max(6);
    let h = size + band;
    let font = (band as f32 * 0.55).min(size as f32 * 1.6 / identifier.chars().count().max(1) as f32);
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {h}" width="{w}mm" height="{hm}mm" shape-rendering="crispEdges"><title>{id}</title><rect width="{size}" height="{h}" fill="#fff"/><path fill="#000" d="{d}"/><text x="{cx}" y="{ty}" font-family="monospace" font-size="{font:.2}" text-anchor="middle" fill="#000">{id}</text></svg>
"##,
        w = 40,
        hm = 40 * h / size,
        id = xml_escape(identifier),
        d = path_data(m),
        cx = size as f32 / 2.0,
        ty = size as f32 + band as f32 * 0.6,
    )
}

/// Pixels per QR module and per font dot in PNG labels.
const SCALE: usize = 8;
const FONT_SCALE: usize = 2;

fn png_label(m: &Matrix, identifier: &str) -> Option<Vec<u8>> {
    let code_px = (m.width + 2 * QUIET) * SCALE;
    let chars: Vec<char> = identifier.chars().collect();
    let glyph = 8 * FONT_SCALE;
    let width = code_px.max(chars.len() * glyph + 2 * QUIET * SCALE);
    let height = code_px + glyph + QUIET * SCALE;
    let mut px = vec![255u8; width * height];
    let x0 = (width - code_px) / 2;
    for y in 0..m.width {
        for x in 0..m.width {
            if m.dark[y * m.width + x] {
                for dy in 0..SCALE {
                    let row = (y + QUIET) * SCALE + dy;
                    let col = x0 + (x + QUIET) * SCALE;
                    px[row * width + col..row * width + col + SCALE].fill(0);
                }
            }
        }
    }
    let tx0 = (width - chars.len() * glyph) / 2;
    let ty0 = code_px;
    for (i, c) in chars.iter().enumerate() {
        let g = font8x8::legacy::BASIC_LEGACY
            [if c.is_ascii() && !c.is_ascii_control() { *c as usize } else { '?' as usize }];
        for (gy, bits) in g.iter().enumerate() {
            for gx in 0..8 {
                if bits & (1 << gx) != 0 {
                    for dy in 0..FONT_SCALE {
                        let row = ty0 + gy * FONT_SCALE + dy;
                        let col = tx0 + i * glyph + gx * FONT_SCALE;
                        px[row * width + col..row * width + col + FONT_SCALE].fill(0);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, u32::try_from(width).ok()?, u32::try_from(height).ok()?);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().ok()?;
        w.write_image_data(&px).ok()?;
    }
    Some(out)
}

/// `GET /api/label/{identifier}?format=svg|png` (default svg). 404 when
/// the identifier has no record here (a label is printed for a code that
/// resolves).
pub async fn label(
    State(deps): State<Deps>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let q = crate::api::query_pairs(&uri);
    let fmt = q.iter().find(|(k, _)| k == "format").map(|(_, v)| v.as_str()).unwrap_or("svg");
    let Some(format) = Format::parse(fmt) else {
        return super::json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"responseCode": 2, "message": format!("format {fmt:?}: expected svg or png")}),
        );
    };
    let Ok(id) = idnode_registry::ident::Identifier::parse_http(&identifier) else {
        return super::json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"responseCode": 2, "message": "malformed identifier"}),
        );
    };
    let store = deps.store.clone();
    let key = store.canonical_key(id.to_prefix_handle().as_bytes());
    let exists = tokio::task::spawn_blocking(move || store.contains_record(&key)).await;
    if !matches!(exists, Ok(Ok(true))) {
        return super::json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"responseCode": 100, "handle": identifier, "message": "identifier not found"}),
        );
    }
    let url = format!(
        "{}{}",
        super::base_url(&deps, &headers, super::is_tls(req.extensions())),
        super::page_path(&identifier)
    );
    match render(&identifier, &url, format) {
        Some(bytes) => {
            let mut r = bytes.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
            r
        }
        None => super::json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"responseCode": 2, "message": "identifier too long for a QR code"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_render() {
        let svg = String::from_utf8(render("88.1/A<&>", "http://127.0.0.1/88.1/A", Format::Svg).unwrap()).unwrap();
        assert!(svg.contains("<title>88.1/A&lt;&amp;&gt;</title>"));
        assert!(svg.contains("<path fill=\"#000\" d=\"M"));
        let png = render("88.1/LOT-1", "http://127.0.0.1/88.1/LOT-1", Format::Png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let inline = qr_inline_svg("http://x/\"<script>");
        assert!(!inline.contains("<script>") && inline.starts_with("<svg"));
    }
}
