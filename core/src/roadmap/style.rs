//! The roadmap's look: GitLab's Pajamas colours, light and dark, and the one stylesheet
//! every page inlines. The colours are data so that a test can check their contrast.

/// The colours of one scheme, as `#rrggbb`.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    /// Page background.
    pub background: &'static str,
    /// Cards and the chart's ground.
    pub surface: &'static str,
    /// Body text.
    pub text: &'static str,
    /// Secondary text (dates, counts).
    pub muted: &'static str,
    /// Links.
    pub link: &'static str,
    /// Lines between rows and around cards.
    pub border: &'static str,
    /// The empty part of a progress bar; the chart's total line.
    pub track: &'static str,
    /// Done: the bar's closed part, the chart's closed area.
    pub done: &'static str,
    /// Handed over: the bar's handed-over part.
    pub handed_over: &'static str,
    /// The chart's line of all issues.
    pub total: &'static str,
}

impl Palette {
    /// Light: Pajamas' neutral and status colours on white.
    pub const LIGHT: Palette = Palette {
        background: "#ffffff",
        surface: "#fbfafd",
        text: "#333238",
        muted: "#626168",
        link: "#1068bf",
        border: "#dcdcde",
        track: "#dcdcde",
        done: "#108548",
        handed_over: "#7b58cf",
        total: "#535158",
    };

    /// Dark (`prefers-color-scheme: dark`): Pajamas' dark-mode neutrals.
    pub const DARK: Palette = Palette {
        background: "#18171d",
        surface: "#232128",
        text: "#ececef",
        muted: "#bfbfc3",
        link: "#63a6e9",
        border: "#434248",
        track: "#434248",
        done: "#2da160",
        handed_over: "#ac93e6",
        total: "#dcdcde",
    };

    fn variables(&self) -> String {
        format!(
            "--bg:{};--surface:{};--text:{};--muted:{};--link:{};--border:{};--track:{};--done:{};--handed:{};--total:{};",
            self.background,
            self.surface,
            self.text,
            self.muted,
            self.link,
            self.border,
            self.track,
            self.done,
            self.handed_over,
            self.total
        )
    }
}

/// The WCAG 2 contrast ratio of two `#rrggbb` colours (1 to 21); `None` for another
/// notation.
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

fn luminance(hex: &str) -> Option<f64> {
    let hex = hex.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let channel = |i: usize| -> Option<f64> {
        let c = f64::from(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?) / 255.0;
        Some(if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        })
    };
    Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
}

/// The stylesheet: system fonts (nothing to download), a readable measure, wrapping
/// that never widens the page, and the dark scheme.
pub(super) fn css() -> String {
    format!(
        ":root{{color-scheme:light dark;{light}}}\
@media (prefers-color-scheme:dark){{:root{{{dark}}}}}\
*{{box-sizing:border-box}}\
body{{margin:0;background:var(--bg);color:var(--text);font:16px/1.5 -apple-system,BlinkMacSystemFont,\"Segoe UI\",Roboto,\"Noto Sans\",Ubuntu,Cantarell,\"Helvetica Neue\",sans-serif;overflow-wrap:anywhere}}\
a{{color:var(--link)}}\
a:focus-visible{{outline:2px solid var(--link);outline-offset:2px}}\
.skip{{position:absolute;left:-9999px}}.skip:focus{{left:1rem;top:1rem;background:var(--bg);padding:.5rem}}\
header.top,main,footer{{max-width:64rem;margin:0 auto;padding:1rem}}\
header.top{{border-bottom:1px solid var(--border)}}\
nav ol{{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem}}\
nav li+li::before{{content:\"/\";margin-right:.25rem;color:var(--muted)}}\
h1{{font-size:1.75rem;line-height:1.25;margin:.5rem 0}}\
h2{{font-size:1.375rem;margin:2rem 0 .75rem}}\
h3{{font-size:1.125rem;margin:1.5rem 0 .5rem}}\
.meta,.counts,figcaption,.legend,footer{{color:var(--muted);font-size:.875rem}}\
.cards{{list-style:none;padding:0;margin:0;display:grid;gap:1rem}}\
.card{{background:var(--surface);border:1px solid var(--border);border-radius:.5rem;padding:1rem}}\
.card h2{{margin:0 0 .25rem}}\
.bar{{display:flex;height:.75rem;border-radius:.375rem;background:var(--track);overflow:hidden;margin:.5rem 0}}\
.bar .done{{background:var(--done)}}.bar .handed{{background:var(--handed)}}\
.key{{display:inline-block;width:.75rem;height:.75rem;border-radius:.125rem;vertical-align:-.1rem;margin-right:.25rem}}\
.key.done{{background:var(--done)}}.key.handed{{background:var(--handed)}}.key.open{{background:var(--track)}}.key.total{{background:var(--total)}}\
dl.totals{{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;margin:.5rem 0}}\
dl.totals div{{display:flex;flex-direction:column}}dl.totals dt{{color:var(--muted);font-size:.875rem}}dl.totals dd{{margin:0;font-size:1.5rem;font-weight:600}}\
figure{{margin:0}}\
svg.chart{{display:block;width:100%;height:12rem;background:var(--surface);border:1px solid var(--border);border-radius:.25rem}}\
svg.chart .area{{fill:var(--done);fill-opacity:.35}}svg.chart .closed{{fill:none;stroke:var(--done);stroke-width:2}}\
svg.chart .total{{fill:none;stroke:var(--total);stroke-width:2;stroke-dasharray:6 3}}\
.axis{{display:flex;justify-content:space-between;color:var(--muted);font-size:.875rem}}\
details{{margin:.75rem 0}}\
table{{border-collapse:collapse;font-size:.875rem}}th,td{{text-align:left;padding:.25rem .75rem .25rem 0;border-bottom:1px solid var(--border)}}\
td.n,th.n{{text-align:right}}\
ul.items{{list-style:none;padding:0;margin:0}}\
ul.items li{{padding:.5rem 0;border-bottom:1px solid var(--border)}}\
.state{{display:inline-block;font-size:.75rem;font-weight:600;border-radius:1rem;padding:0 .5rem;border:1px solid currentColor;margin-left:.25rem}}\
.state.done{{color:var(--done)}}.state.handed_over{{color:var(--handed)}}.state.open{{color:var(--muted)}}\
.who{{display:block;color:var(--muted);font-size:.875rem}}",
        light = Palette::LIGHT.variables(),
        dark = Palette::DARK.variables(),
    )
}
