//! Server-rendered SVG bar charts (no JavaScript, no external assets).
//! Each bar carries its figure as text: a `<title>` (hover) and, for
//! non-zero days, a `<text class="fig" data-day=…>` element, so the day's
//! number is in the document for a reader, a screen reader and a test.

use maud::{Markup, html};

/// One bar: a label (a date) and its value.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: u64,
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const PAD_L: f64 = 48.0;
const PAD_B: f64 = 28.0;

/// A bar chart of `bars` titled `title` (`id` names the element).
pub fn bars(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let n = bars.len().max(1) as f64;
    let slot = (W - PAD_L) / n;
    let bw = (slot * 0.8).max(1.0);
    let plot_h = H - PAD_B - 12.0;
    let total: u64 = bars.iter().map(|b| b.value).sum();
    html! {
        figure.chart {
            figcaption { (title) " — total " span.total { (total) } }
            svg id=(id) xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) {
                line x1=(PAD_L) y1=(H - PAD_B) x2=(W) y2=(H - PAD_B) stroke="#888" {}
                text x="2" y="14" class="axis" { (max as u64) }
                text x="2" y=(H - PAD_B) class="axis" { "0" }
                @for (i, b) in bars.iter().enumerate() {
                    @let h = (b.value as f64 / max) * plot_h;
                    @let x = PAD_L + i as f64 * slot;
                    rect x=(format!("{x:.1}")) y=(format!("{:.1}", H - PAD_B - h)) width=(format!("{bw:.1}")) height=(format!("{h:.1}")) class="bar" data-day=(b.label) data-value=(b.value) {
                        title { (b.label) ": " (b.value) }
                    }
                    @if b.value > 0 {
                        text x=(format!("{:.1}", x + bw / 2.0)) y=(format!("{:.1}", (H - PAD_B - h - 2.0).max(10.0))) class="fig" text-anchor="middle" data-day=(b.label) { (b.value) }
                    }
                }
                @if let Some(first) = bars.first() {
                    text x=(PAD_L) y=(H - 8.0) class="axis" { (first.label) }
                }
                @if let Some(last) = bars.last().filter(|_| bars.len() > 1) {
                    text x=(W) y=(H - 8.0) class="axis" text-anchor="end" { (last.label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_text_in_the_svg() {
        let b = vec![Bar { label: "2026-11-29".into(), value: 0 }, Bar { label: "2026-11-30".into(), value: 42 }];
        let s = bars("c", "Registrations <per day>", &b).into_string();
        assert!(s.contains(r#"data-day="2026-11-30">42</text>"#), "{s}");
        assert!(s.contains("2026-11-30: 42"));
        assert!(s.contains("&lt;per day&gt;"), "title escaped: {s}");
        assert!(!s.contains(r#"class="fig" text-anchor="middle" data-day="2026-11-29""#));
    }
}
