//! The report's figures as standalone SVG documents, drawn with plotters' SVG backend (text is
//! written as SVG `<text>`, escaped by the backend; no font library is involved). Axis ranges
//! come from the data ([`padded_range`]), long labels are shortened ([`short`]), colours come
//! from a fixed palette by group (checkpoint family).

use super::ReportError;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A finished figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem for `--figures-dir` (`[a-z0-9_-]` only).
    pub name: String,
    /// Caption shown above it in the report.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// Tableau 10: distinguishable colours, also in grey-scale print.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of the `i`-th group.
pub fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The axis range for `values`: from the smallest to the largest finite value, padded by 8%
/// of the span on each side; a constant (or nearly constant) series gets a window of
/// +-max(1% of its magnitude, 0.005) around it. `None` when no value is finite.
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    if span <= 1e-9 * hi.abs().max(1.0) {
        let w = (0.01 * hi.abs()).max(0.005);
        return Some((lo - w, hi + w));
    }
    Some((lo - 0.08 * span, hi + 0.08 * span))
}

/// `s` cut to at most `n` characters, with an ellipsis when cut.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A file-name-safe stem.
pub fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(80);
    out
}

fn fe<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Figure(format!("{e:?}"))
}

const FONT: &str = "sans-serif";

/// A legend entry's symbol.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled dot.
    Dot(RGBColor),
    /// A hollow dot.
    Ring(RGBColor),
    /// A cross.
    Cross(RGBColor),
}

fn draw_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    m: Mark,
    x: i32,
    y: i32,
) -> Result<(), ReportError> {
    match m {
        Mark::Line(c) => area.draw(&PathElement::new(
            vec![(x, y), (x + 18, y)],
            c.stroke_width(3),
        )),
        Mark::Dashed(c) => area
            .draw(&PathElement::new(vec![(x, y), (x + 7, y)], c))
            .and_then(|_| area.draw(&PathElement::new(vec![(x + 11, y), (x + 18, y)], c))),
        Mark::Dot(c) => area.draw(&Circle::new((x + 9, y), 4, c.filled())),
        Mark::Ring(c) => area.draw(&Circle::new((x + 9, y), 4, c.stroke_width(2))),
        Mark::Cross(c) => area.draw(&Cross::new((x + 9, y), 4, c.stroke_width(2))),
    }
    .map_err(fe)
}

/// A vertical legend in its own drawing area, starting `top` pixels down.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, Mark)],
    top: i32,
) -> Result<(), ReportError> {
    for (k, (label, m)) in entries.iter().enumerate() {
        let y = top + 17 * k as i32;
        draw_mark(area, *m, 4, y)?;
        area.draw(&Text::new(label.clone(), (27, y - 6), (FONT, 11)))
            .map_err(fe)?;
    }
    Ok(())
}

/// A horizontal legend in a strip, starting `left` pixels in.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, Mark)],
    left: i32,
) -> Result<(), ReportError> {
    let mut x = left;
    for (label, m) in entries {
        draw_mark(area, *m, x, 10)?;
        area.draw(&Text::new(label.clone(), (x + 23, 4), (FONT, 11)))
            .map_err(fe)?;
        x += 23 + 6 * label.chars().count() as i32 + 16;
    }
    Ok(())
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Series name (checkpoint).
    pub label: String,
    /// Group index (colour and legend entry).
    pub group: usize,
    /// `(x, y, error)` points; error is a half-width (0 or NaN for none).
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart: one line per series, coloured by group, a legend of groups, an optional
/// horizontal reference line (e.g. chance level).
#[derive(Debug, Clone)]
pub struct LineChart {
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// Y axis description.
    pub y_desc: String,
    /// Group names, indexed by [`Line::group`].
    pub groups: Vec<String>,
    /// The series.
    pub lines: Vec<Line>,
    /// A horizontal reference line and its legend label.
    pub reference: Option<(f64, String)>,
}

impl LineChart {
    /// The y range: the data with error bars, and the reference line when it lies within one
    /// data span of them (a far-away chance level would squash the data into a thin band).
    pub fn y_range(&self) -> Option<(f64, f64)> {
        let ys: Vec<f64> = self
            .lines
            .iter()
            .flat_map(|l| {
                l.points.iter().flat_map(|&(_, y, e)| {
                    let e = if e.is_finite() { e } else { 0.0 };
                    [y - e, y + e]
                })
            })
            .collect();
        let (lo, hi) = padded_range(ys.iter().copied())?;
        let span = hi - lo;
        let near = self
            .reference
            .iter()
            .map(|r| r.0)
            .filter(|&c| c >= lo - span && c <= hi + span);
        padded_range(ys.into_iter().chain(near))
    }

    /// Draw as SVG.
    pub fn svg(&self) -> Result<String, ReportError> {
        let (y0, y1) = self.y_range().unwrap_or((0.0, 1.0));
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (xa, xb) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let (x0, x1) = if xa < xb {
            (xa - 0.03 * (xb - xa), xb + 0.03 * (xb - xa))
        } else if xa.is_finite() {
            (xa - 0.5, xa + 0.5)
        } else {
            (0.0, 1.0)
        };
        let integer_x = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter())
            .all(|p| (p.0 - p.0.round()).abs() < 1e-9);
        let n_ticks = if integer_x {
            ((xb - xa).round() as usize + 1).clamp(2, 12)
        } else {
            10
        };
        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, (640, 360)).into_drawing_area();
            root.fill(&WHITE).map_err(fe)?;
            // the legend sits right of the plot, never over the data
            let (plot, side) = root.split_horizontally(490);
            let mut entries: Vec<(String, Mark)> = Vec::new();
            if let Some((c, label)) = &self.reference {
                let where_ = if *c < y0 {
                    " (below)"
                } else if *c > y1 {
                    " (above)"
                } else {
                    ""
                };
                entries.push((format!("{label}{where_}"), Mark::Dashed(BLACK)));
            }
            for (g, name) in self.groups.iter().enumerate() {
                entries.push((short(name, 17), Mark::Line(colour(g))));
            }
            legend(&side, &entries, 44)?;
            let mut chart = ChartBuilder::on(&plot)
                .caption(short(&self.title, 70), (FONT, 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(fe)?;
            chart
                .configure_mesh()
                .x_desc(self.x_desc.as_str())
                .y_desc(self.y_desc.as_str())
                .x_labels(n_ticks)
                .x_label_formatter(&|v| {
                    if (v - v.round()).abs() < 1e-9 {
                        format!("{}", v.round() as i64)
                    } else if integer_x {
                        String::new()
                    } else {
                        format!("{v:.2}")
                    }
                })
                .y_label_formatter(&|v| format!("{v:.3}"))
                .light_line_style(RGBColor(235, 235, 235))
                .label_style((FONT, 12))
                .draw()
                .map_err(fe)?;
            if let Some((c, _)) = self.reference.as_ref().filter(|r| r.0 >= y0 && r.0 <= y1) {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x0, *c), (x1, *c)],
                        6,
                        4,
                        BLACK.stroke_width(1),
                    ))
                    .map_err(fe)?;
            }
            for l in &self.lines {
                let col = colour(l.group);
                chart
                    .draw_series(LineSeries::new(
                        l.points.iter().map(|p| (p.0, p.1)),
                        col.stroke_width(2),
                    ))
                    .map_err(fe)?;
                chart
                    .draw_series(
                        l.points
                            .iter()
                            .map(|p| Circle::new((p.0, p.1), 2, col.filled())),
                    )
                    .map_err(fe)?;
                chart
                    .draw_series(
                        l.points
                            .iter()
                            .filter(|p| p.2.is_finite() && p.2 > 0.0)
                            .map(|p| {
                                PathElement::new(vec![(p.0, p.1 - p.2), (p.0, p.1 + p.2)], col)
                            }),
                    )
                    .map_err(fe)?;
            }
            root.present().map_err(fe)?;
        }
        Ok(buf)
    }
}

/// A task x layer heatmap: `values[row][col]` (NaN for missing), rows and columns labelled.
/// Colours span the data's own range; every cell shows its value.
pub fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
) -> Result<String, ReportError> {
    let (lo, hi) = padded_range(values.iter().flatten().copied()).unwrap_or((0.0, 1.0));
    let label_w = rows.iter().map(|r| short(r, 24).len()).max().unwrap_or(4) as u32 * 7 + 16;
    let w = (label_w + 60 + 44 * cols.len() as u32).clamp(360, 900);
    let h = 90 + 24 * rows.len() as u32;
    let nr = rows.len() as i32;
    let nc = cols.len() as i32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(fe)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(short(title, 70), (FONT, 16))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(label_w)
            .build_cartesian_2d(
                (0..(nc - 1).max(0)).into_segmented(),
                (0..(nr - 1).max(0)).into_segmented(),
            )
            .map_err(fe)?;
        let col_names = cols.to_vec();
        let row_names = rows.to_vec();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("layer")
            .x_labels(cols.len())
            .y_labels(rows.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => {
                    col_names.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| match v {
                // the first row is drawn at the top
                SegmentValue::CenterOf(i) if *i < nr => row_names
                    .get((nr - 1 - *i) as usize)
                    .map(|s| short(s, 24))
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .label_style((FONT, 12))
            .draw()
            .map_err(fe)?;
        for (i, row) in values.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let (i, j) = (nr - 1 - i as i32, j as i32);
                let t = if v.is_finite() {
                    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
                } else {
                    f64::NAN
                };
                let fill = if t.is_finite() {
                    // light yellow (low) to dark blue (high)
                    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                    RGBColor(mix(255.0, 8.0), mix(247.0, 48.0), mix(188.0, 107.0))
                } else {
                    RGBColor(240, 240, 240)
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [
                            (SegmentValue::Exact(j), SegmentValue::Exact(i)),
                            (SegmentValue::Exact(j + 1), SegmentValue::Exact(i + 1)),
                        ],
                        fill.filled(),
                    )))
                    .map_err(fe)?;
                if v.is_finite() {
                    let ink = if t > 0.55 { WHITE } else { BLACK };
                    let style = TextStyle::from((FONT, 10).into_font())
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart
                        .draw_series(std::iter::once(Text::new(
                            format!("{v:.2}"),
                            (SegmentValue::CenterOf(j), SegmentValue::CenterOf(i)),
                            style,
                        )))
                        .map_err(fe)?;
                }
            }
        }
        root.present().map_err(fe)?;
    }
    Ok(buf)
}

/// One point of a predicted-against-actual plot.
#[derive(Debug, Clone)]
pub struct ScatterPoint {
    /// Group index (colour).
    pub group: usize,
    /// Actual score.
    pub actual: f64,
    /// Predicted score.
    pub predicted: f64,
    /// Interval (NaN when none).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// The common range of both axes of a predicted-against-actual plot.
pub fn scatter_range(points: &[ScatterPoint]) -> Option<(f64, f64)> {
    padded_range(
        points
            .iter()
            .flat_map(|p| [p.actual, p.predicted, p.lower, p.upper]),
    )
}

/// Predicted against actual with interval bars and the y = x line; both axes share the range.
pub fn predicted_vs_actual(
    title: &str,
    groups: &[String],
    points: &[ScatterPoint],
) -> Result<String, ReportError> {
    let (lo, hi) = scatter_range(points).unwrap_or((0.0, 1.0));
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (420, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(fe)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(short(title, 55), (FONT, 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(fe)?;
        chart
            .configure_mesh()
            .x_desc("actual (fine-tuned)")
            .y_desc("predicted")
            .x_label_formatter(&|v| format!("{v:.3}"))
            .y_label_formatter(&|v| format!("{v:.3}"))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .draw()
            .map_err(fe)?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(lo, lo), (hi, hi)],
                6,
                4,
                RGBColor(90, 90, 90).stroke_width(1),
            ))
            .map_err(fe)?
            .label("y = x")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(90, 90, 90)));
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p.lower.is_finite() && p.upper.is_finite())
                    .map(|p| {
                        PathElement::new(
                            vec![(p.actual, p.lower), (p.actual, p.upper)],
                            colour(p.group).mix(0.45),
                        )
                    }),
            )
            .map_err(fe)?;
        let mut labelled = vec![false; groups.len()];
        for p in points {
            let col = colour(p.group);
            let s = chart
                .draw_series(std::iter::once(Circle::new(
                    (p.actual, p.predicted),
                    3,
                    col.filled(),
                )))
                .map_err(fe)?;
            if groups.len() > 1 && !labelled[p.group] {
                labelled[p.group] = true;
                s.label(short(&groups[p.group], 24))
                    .legend(move |(x, y)| Circle::new((x + 8, y), 3, col.filled()));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 11))
            .draw()
            .map_err(fe)?;
        root.present().map_err(fe)?;
    }
    Ok(buf)
}

/// One row of a forest plot.
#[derive(Debug, Clone)]
pub struct ForestRow {
    /// Candidate name.
    pub label: String,
    /// Point estimate.
    pub estimate: f64,
    /// Interval (NaN when none).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// The fine-tuned score, for reference checkpoints.
    pub reference: Option<f64>,
}

/// A forest plot: one row per candidate in the given order (top first), the estimate with its
/// interval; references drawn filled with their fine-tuned score as a cross, others hollow.
pub fn forest(title: &str, x_desc: &str, rows: &[ForestRow]) -> Result<String, ReportError> {
    let (lo, hi) = padded_range(rows.iter().flat_map(|r| {
        [
            r.estimate,
            r.lower,
            r.upper,
            r.reference.unwrap_or(f64::NAN),
        ]
    }))
    .unwrap_or((0.0, 1.0));
    let n = rows.len() as i32;
    let label_w = rows
        .iter()
        .map(|r| short(&r.label, 30).chars().count())
        .max()
        .unwrap_or(4) as u32
        * 7
        + 16;
    let h = 100 + 20 * rows.len() as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (640, h + 28)).into_drawing_area();
        root.fill(&WHITE).map_err(fe)?;
        let (plot, strip) = root.split_vertically(h);
        let blue = colour(0);
        let red = colour(3);
        let mut entries = Vec::new();
        if rows.iter().any(|r| r.reference.is_some()) {
            entries.push((
                "predicted, fine-tuned reference".to_string(),
                Mark::Dot(blue),
            ));
            entries.push(("fine-tuned score".to_string(), Mark::Cross(red)));
        }
        if rows.iter().any(|r| r.reference.is_none()) {
            entries.push(("predicted, candidate".to_string(), Mark::Ring(blue)));
        }
        entries.push(("interval".to_string(), Mark::Line(blue)));
        legend_row(&strip, &entries, label_w as i32)?;
        let mut chart = ChartBuilder::on(&plot)
            .caption(short(title, 75), (FONT, 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_w)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(fe)?;
        // row 0 drawn at the top
        let names: Vec<String> = rows.iter().rev().map(|r| short(&r.label, 30)).collect();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_labels(rows.len())
            .x_label_formatter(&|v| format!("{v:.3}"))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 11))
            .draw()
            .map_err(fe)?;
        for (k, r) in rows.iter().enumerate() {
            let y = n - 1 - k as i32;
            if r.lower.is_finite() && r.upper.is_finite() {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![
                            (r.lower, SegmentValue::CenterOf(y)),
                            (r.upper, SegmentValue::CenterOf(y)),
                        ],
                        blue.stroke_width(2),
                    )))
                    .map_err(fe)?;
            }
            let style = if r.reference.is_some() {
                blue.filled()
            } else {
                blue.stroke_width(2)
            };
            chart
                .draw_series(std::iter::once(Circle::new(
                    (r.estimate, SegmentValue::CenterOf(y)),
                    4,
                    style,
                )))
                .map_err(fe)?;
            if let Some(a) = r.reference {
                chart
                    .draw_series(std::iter::once(Cross::new(
                        (a, SegmentValue::CenterOf(y)),
                        4,
                        red.stroke_width(2),
                    )))
                    .map_err(fe)?;
            }
        }
        root.present().map_err(fe)?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracies_between_half_and_0_52_get_a_narrow_axis_not_zero_to_one() {
        let (lo, hi) = padded_range([0.50, 0.505, 0.51, 0.52]).unwrap();
        assert!((lo - (0.50 - 0.0016)).abs() < 1e-12, "{lo}");
        assert!((hi - (0.52 + 0.0016)).abs() < 1e-12, "{hi}");
        let c = LineChart {
            title: "t".into(),
            x_desc: "layer".into(),
            y_desc: "accuracy".into(),
            groups: vec!["g".into()],
            lines: vec![Line {
                label: "m".into(),
                group: 0,
                points: vec![(0.0, 0.50, 0.0), (1.0, 0.52, 0.005)],
            }],
            reference: Some((0.5, "chance".into())),
        };
        let (lo, hi) = c.y_range().unwrap();
        // data 0.50 .. 0.525 (error bar), span 0.025, padded by 0.002 each side
        assert!(
            (lo - 0.498).abs() < 1e-9 && (hi - 0.527).abs() < 1e-9,
            "{lo} {hi}"
        );
        let svg = c.svg().unwrap();
        // tick labels from the narrow range, none at 0 or 1
        assert!(svg.contains(">\n0.510\n"), "no 0.510 tick");
        assert!(!svg.contains(">\n1.000\n") && !svg.contains(">\n0.000\n"));
    }

    #[test]
    fn a_constant_series_gets_a_small_window_around_it() {
        assert_eq!(padded_range([2.0, 2.0]), Some((1.98, 2.02)));
        assert_eq!(padded_range([0.0]), Some((-0.005, 0.005)));
        assert_eq!(padded_range([f64::NAN]), None);
    }

    #[test]
    fn long_names_are_shortened_and_markup_in_names_is_escaped_in_the_svg() {
        assert_eq!(short("abcdef", 4), "abc…");
        assert_eq!(short("abc", 4), "abc");
        let c = LineChart {
            title: "t".into(),
            x_desc: "layer".into(),
            y_desc: "accuracy".into(),
            groups: vec!["<script>alert(1)</script>".into()],
            lines: vec![Line {
                label: "x".into(),
                group: 0,
                points: vec![(0.0, 0.6, 0.0), (1.0, 0.7, 0.0)],
            }],
            reference: None,
        };
        let svg = c.svg().unwrap();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        let long = "a-very-long-checkpoint-name-from-a-sweep-with-many-settings-step-100000";
        let svg = forest(
            "rte",
            "predicted",
            &[ForestRow {
                label: long.into(),
                estimate: 0.6,
                lower: 0.5,
                upper: 0.7,
                reference: Some(0.65),
            }],
        )
        .unwrap();
        assert!(!svg.contains(long));
        assert!(svg.contains(&short(long, 30)));
    }

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Probe: bigram/shift <x>"), "probe__bigram_shift__x_");
    }
}
