//! Charts as SVG drawn on the server: bars per window (an incident's complaints against its
//! baseline) and lines per day (the report). No script and no request: the page carries them.

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

/// Text for an SVG element (the labels are ours, escaped all the same).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round maximum for the vertical axis, at least `max`.
fn ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|top| *top >= max)
        .unwrap_or(10.0 * magnitude)
}

fn open(out: &mut String, title: &str, top: f64, unit: &str) {
    let plot = HEIGHT - BOTTOM - TOP;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        escape(title)
    );
    for step in 0..=4 {
        let value = top * f64::from(step) / 4.0;
        let y = TOP + plot - plot * f64::from(step) / 4.0;
        let _ = write!(
            out,
            r#"<line class="axis" x1="{LEFT}" y1="{y:.1}" x2="{WIDTH}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}{}</text>"#,
            LEFT - 4.0,
            y + 4.0,
            trim(value),
            escape(unit)
        );
    }
}

fn trim(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Bars of `values` labelled below (every few), the one at `highlight` marked, and a dashed
/// line at `baseline`.
pub fn bars(
    title: &str,
    values: &[(String, f64)],
    baseline: Option<f64>,
    highlight: Option<usize>,
) -> String {
    let max = values
        .iter()
        .map(|(_, v)| *v)
        .chain(baseline)
        .fold(0.0, f64::max);
    let top = ceiling(max);
    let plot = HEIGHT - BOTTOM - TOP;
    let mut out = String::new();
    open(&mut out, title, top, "");
    let slot = (WIDTH - LEFT) / values.len().max(1) as f64;
    let every = values.len().div_ceil(8).max(1);
    for (i, (label, value)) in values.iter().enumerate() {
        let h = plot * value / top;
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let class = if Some(i) == highlight {
            "bar spike"
        } else {
            "bar"
        };
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>{}: {}</title></rect>"#,
            TOP + plot - h,
            slot * 0.7,
            escape(label),
            trim(*value)
        );
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + slot * 0.35,
                HEIGHT - 10.0,
                escape(label)
            );
        }
    }
    if let Some(baseline) = baseline {
        let y = TOP + plot - plot * baseline / top;
        let _ = write!(
            out,
            r#"<line class="baseline" x1="{LEFT}" y1="{y:.1}" x2="{WIDTH}" y2="{y:.1}"/>"#
        );
    }
    out.push_str("</svg>");
    out
}

/// Lines of up to two series over the same labels (`None`: no value that day), in `unit`.
pub fn lines(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<Option<f64>>)],
    unit: &str,
) -> String {
    let max = series
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .fold(0.0, f64::max);
    let top = ceiling(max);
    let plot = HEIGHT - BOTTOM - TOP;
    let mut out = String::new();
    open(&mut out, title, top, unit);
    let step = (WIDTH - LEFT - 10.0) / (labels.len().max(2) - 1) as f64;
    let every = labels.len().div_ceil(8).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                LEFT + step * i as f64,
                HEIGHT - 10.0,
                escape(label)
            );
        }
    }
    for ((name, values), class) in series.iter().zip(["a", "b"]) {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|v| {
                    format!(
                        "{:.1},{:.1}",
                        LEFT + step * i as f64,
                        TOP + plot - plot * v / top
                    )
                })
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="series {class}" points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(name)
        );
        // A dot on each value, so a lone day shows too.
        for point in &points {
            let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                out,
                r#"<circle class="dot {class}" cx="{x}" cy="{y}" r="3"/>"#
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(ceiling(0.0), 1.0);
        assert_eq!(ceiling(7.0), 10.0);
        assert_eq!(ceiling(13.0), 20.0);
        assert_eq!(ceiling(45.0), 50.0);
        assert_eq!(ceiling(0.62), 1.0);
    }

    #[test]
    fn a_bar_chart_draws_each_value_and_escapes_its_labels() {
        let svg = bars(
            "complaints",
            &[("<a>".into(), 2.0), ("b".into(), 8.0)],
            Some(1.5),
            Some(1),
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"class="bar spike""#));
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"));
        assert!(svg.contains(r#"class="baseline""#));
    }
}
