//! The page templates (maud: compile-checked, every `(expr)` HTML-escaped).
//! Templates only lay out a view struct from [`super::view`]; the only
//! unescaped content is the QR code SVG that [`super::label`] generates.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::view::{ChainStep, Home, Landing, NotFound, utc};

fn page(title: &str, lang: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/_static/idnode.css";
            }
            body { (body) }
        }
    }
}

fn chain_link(id: &str, local: bool) -> Markup {
    html! {
        @if local { a href=(super::page_path(id)) { (id) } } @else { span { (id) } " " small { "(外部标识 · resolved elsewhere)" } }
    }
}

fn step(s: &ChainStep, me: &str) -> Markup {
    html! {
        li {
            @if let Some(t) = s.time { time class="meta" { (utc(t)) } br; }
            @if s.from == me {
                "本标识 (this) " span class="rel" { (s.relation) } " → " (chain_link(&s.to, s.to_local))
            } @else if s.to == me {
                (chain_link(&s.from, s.from_local)) " " span class="rel" { (s.relation) } " → 本标识 (this)"
            } @else {
                (chain_link(&s.from, s.from_local)) " " span class="rel" { (s.relation) } " → " (chain_link(&s.to, s.to_local))
            }
        }
    }
}

/// The scan landing page.
pub fn landing(l: &Landing) -> Markup {
    let body = html! {
        header {
            p { "工业互联网标识解析 · Identifier resolution" }
            h1 { (l.identifier) }
            @if let Some(e) = &l.enterprise { p { "发码企业 Issued by: " (e) } }
        }
        main {
            section aria-labelledby="fields-h" {
                h2 id="fields-h" { "产品信息 " span class="en" { "Product" } }
                @if l.fields.is_empty() { p { "无公开信息 (no public values)" } }
                dl {
                    @for f in &l.fields {
                        dt { (f.label_zh) @if !f.label_zh.is_empty() { " " } span class="en" lang="en" { (f.label_en) } }
                        dd {
                            @if f.is_url { a href=(f.value) rel="noopener noreferrer" { (f.value) } } @else { (f.value) }
                        }
                    }
                }
            }
            section aria-labelledby="chain-h" {
                h2 id="chain-h" { "追溯链 " span class="en" { "Traceability chain" } }
                @if l.chain.is_empty() {
                    p { "没有关联标识 (no linked identifiers)" }
                } @else {
                    ol class="timeline" { @for s in &l.chain { (step(s, &l.identifier)) } }
                }
            }
            section aria-labelledby="ver-h" {
                h2 id="ver-h" { "解析信息 " span class="en" { "Resolution" } }
                p {
                    @if l.verified.is_some() {
                        span class="verified" role="status" { "✓ 已验证 Verified" }
                        " 本页内容由节点密钥签名 (signed by the node's key)"
                    } @else {
                        span class="unverified" role="status" { "未签名 Not signed" }
                    }
                }
                p class="meta" {
                    "节点 Node: " (l.node) br;
                    "解析时间 Resolved: " time { (utc(l.resolved_at)) }
                    @if let Some(t) = &l.template { br; "模板 Template: " (t) }
                }
                @if let Some(s) = &l.verified {
                    details { summary { "签名 Signature (" (s.algorithm) ")" } code { (s.value_b64) } }
                }
            }
            section class="qr" aria-labelledby="qr-h" {
                h2 id="qr-h" { "本页二维码 " span class="en" { "QR code of this page" } }
                (PreEscaped(&*l.qr_svg))
                p class="meta" { (l.page_url) }
            }
        }
        footer class="meta" { a href="/" { "idnode " (l.node) } " · " a href={ "/api/trace" (super::page_path(&l.identifier)) } { "JSON chain" } }
    };
    page(&l.identifier, "zh-CN", body)
}

/// The page for an unknown (or malformed) identifier.
pub fn not_found(nf: &NotFound) -> Markup {
    let body = html! {
        header { p { "工业互联网标识解析 · Identifier resolution" } h1 { "未找到标识 · Identifier not found" } }
        main {
            section {
                p { "标识 " code { (nf.identifier) } " 在本节点没有记录。" }
                p lang="en" { "The identifier " code { (nf.identifier) } " has no record on this node." }
                @if let Some(p) = &nf.problem { p { "格式错误 Malformed: " (p) } }
                ul {
                    li { "请检查标识是否完整（前缀/后缀）。Check the whole identifier (prefix/suffix)." }
                    @if nf.homed_here {
                        li { "该前缀由本节点托管，但此后缀尚未注册。The prefix lives here but this suffix is not registered." }
                    } @else {
                        li { "该前缀不在本节点，请通过上级节点解析。This prefix is not served here; resolve it through the national top node." }
                    }
                }
                form action="/_lookup" method="get" role="search" {
                    label for="id" { "标识 Identifier" }
                    input type="text" id="id" name="id" value=(nf.identifier);
                    button type="submit" { "查询 Look up" }
                }
            }
        }
        footer class="meta" { a href="/" { "idnode " (nf.node) } }
    };
    page("未找到标识 · Not found", "zh-CN", body)
}

/// The home page.
pub fn home(h: &Home) -> Markup {
    let body = html! {
        header { p { "工业互联网标识解析二级节点 · Secondary node" } h1 { "idnode " (h.node) } }
        main {
            section {
                form action="/_lookup" method="get" role="search" {
                    label for="id" { "标识 Identifier" }
                    input type="text" id="id" name="id" placeholder=(format!("{}.1001/...", h.node));
                    button type="submit" { "查询 Look up" }
                }
            }
            @if !h.prefixes.is_empty() {
                section aria-labelledby="pfx-h" {
                    h2 id="pfx-h" { "托管前缀 " span class="en" { "Prefixes served here" } }
                    ul { @for p in &h.prefixes { li { (p) } } }
                }
            }
        }
    };
    page(&format!("idnode {}", h.node), "zh-CN", body)
}
