//! SVG plots for the report, drawn with plotters from freshly computed numerics.

use plotters::prelude::*;
use std::path::Path;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A solid line (measured).
    Line,
    /// A dashed line (predicted).
    Dashed,
    /// Markers (a second route).
    Points,
}

/// A named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points (non-finite ones are skipped).
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
}

/// A line chart with linear axes (pass log10 data for log axes and say so in the label); vertical
/// markers at `marks` (e.g. a threshold).
pub struct Chart<'a> {
    /// Title.
    pub title: &'a str,
    /// x-axis label.
    pub x_label: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// The series.
    pub series: Vec<Series>,
    /// Vertical marker lines (x, label).
    pub marks: Vec<(f64, String)>,
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-12 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

impl Chart<'_> {
    /// Writes the chart as an SVG file (800×500).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let pts = || self.series.iter().flat_map(|s| s.points.iter().copied());
        let (x0, x1) = range(pts().map(|p| p.0).chain(self.marks.iter().map(|m| m.0)));
        let (y0, y1) = range(pts().map(|p| p.1));
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(self.x_label).y_desc(self.y_label).draw().map_err(|e| e.to_string())?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let data: Vec<(f64, f64)> =
                s.points.iter().copied().filter(|(a, b)| a.is_finite() && b.is_finite()).collect();
            let drawn = match s.style {
                Style::Line => {
                    chart.draw_series(LineSeries::new(data, color.stroke_width(2))).map_err(|e| e.to_string())?
                }
                Style::Dashed => chart
                    .draw_series(DashedLineSeries::new(data, 6, 4, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?,
                Style::Points => chart
                    .draw_series(data.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| e.to_string())?,
            };
            drawn
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        for (x, label) in &self.marks {
            chart
                .draw_series(LineSeries::new(vec![(*x, y0), (*x, y1)], BLACK.stroke_width(1)))
                .map_err(|e| e.to_string())?
                .label(label.clone())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    }
}
