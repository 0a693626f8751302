//! The HTML page: a maud template (every interpolated string is escaped; only the SVG that
//! plotters wrote, whose text the backend escapes, is inserted as markup), inline CSS for screen
//! and print, no JavaScript.

use super::figures::Figure;
use super::Section;
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = r#"
:root { --ink: #1d232a; --muted: #5b6672; --rule: #d8dde3; --accent: #1f77b4; --warn: #8a4b00; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0 auto; padding: 1.2rem 1.5rem 3rem; max-width: 1280px; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--rule); padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p, li { max-width: 75ch; }
.muted { color: var(--muted); font-size: .9rem; }
nav a { margin-right: 1rem; color: var(--accent); text-decoration: none; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 1rem; }
figure { margin: 0; padding: .4rem; border: 1px solid var(--rule); border-radius: 4px; break-inside: avoid; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-size: .85rem; color: var(--muted); margin-top: .2rem; overflow-wrap: anywhere; }
.pair { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; margin-bottom: 1rem; break-inside: avoid; }
.pair figure { flex: 0 1 420px; }
.pair .side { flex: 1 1 300px; min-width: 0; }
table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0 1rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .2rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.name, th.name { text-align: left; max-width: 28ch; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
.tag { display: inline-block; font-size: .7rem; font-weight: 600; padding: 0 .3rem; margin-left: .25rem;
       border-radius: 3px; background: #fde9c8; color: var(--warn); vertical-align: middle; }
.note { border-left: 4px solid #e0a040; background: #fff8ec; padding: .5rem .8rem; margin: .5rem 0 1rem; max-width: 90ch; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; overflow-wrap: anywhere; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h2 { break-before: page; }
  section:first-of-type h2 { break-before: auto; }
  .grid { grid-template-columns: 1fr 1fr; }
  figure, table, .pair { break-inside: avoid; }
}
"#;

/// The SVG element of a figure (anything before `<svg` dropped).
pub fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

/// A figure with its caption.
pub fn figure(f: &Figure) -> Markup {
    html! {
        figure {
            (PreEscaped(inline_svg(&f.svg)))
            figcaption { (f.title) }
        }
    }
}

/// The whole page.
pub fn page(parts: &[(Section, Markup)], figs: &[Figure]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "probecast report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "probecast report" }
                    p.muted {
                        "probecast " (env!("CARGO_PKG_VERSION")) " · "
                        (parts.len()) " sections · " (figs.len()) " figures · self-contained: no scripts, nothing fetched"
                    }
                    nav {
                        @for (s, _) in parts {
                            a href=(format!("#{}", s.id())) { (s.heading()) }
                        }
                    }
                }
                @for (s, body) in parts {
                    section id=(s.id()) {
                        h2 { (s.heading()) }
                        (body)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_bodies_and_captions_are_escaped_and_the_page_has_no_script() {
        let f = Figure {
            name: "x".into(),
            title: "model <script>alert(1)</script>".into(),
            svg: "<?xml version=\"1.0\"?>\n<svg></svg>".into(),
        };
        let body = html! { p { "checkpoint <script>x()</script> & co" } (figure(&f)) };
        let s = page(&[(Section::Probing, body)], &[f]).into_string();
        assert!(!s.contains("<script"), "{s}");
        assert!(s.contains("checkpoint &lt;script&gt;x()&lt;/script&gt; &amp; co"));
        assert!(s.contains("model &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!s.contains("<?xml"));
        assert!(s.contains("<h2>Probing</h2>"));
    }
}
