//! SVG plots for the report, drawn with plotters from freshly computed numerics, each written with
//! its data as CSV beside it ([`write`]). The legend sits below the plotting area ([`Layout`]), the
//! colours are the Okabe–Ito palette (yellow left out: too pale on white), and every group of
//! series has its own marker shape, so the figure reads without colour.

use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::io;
use std::path::Path;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A solid line (measured), with its group's open marker on a few points when the group has no
    /// marker series.
    Line,
    /// A dashed line (predicted).
    Dashed,
    /// Filled markers, never joined (a second route, or per-coordinate values x_k against k).
    Points,
    /// Larger open markers, never joined: a reference the filled markers should sit in.
    Open,
}

/// A named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points (non-finite ones are skipped, in the plot and in the CSV).
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
    /// Series of one group (a prediction and its measurement) share colour and marker shape.
    pub group: usize,
}

/// A chart with linear axes (pass log10 data for log axes and say so in the label); vertical
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

/// Okabe–Ito colours without the yellow (#F0E442), in the order groups take them.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

/// Marker shapes, cycling with the colour (7 colours × 4 shapes: 28 distinct groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Triangle,
    Cross,
    Square,
}

const SHAPES: [Shape; 4] = [Shape::Circle, Shape::Triangle, Shape::Cross, Shape::Square];
const MARK_COLOUR: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// A marker of one shape at one point, filled or open (plotters' own triangle is always filled).
struct Marker<C> {
    at: C,
    shape: Shape,
    size: i32,
    colour: RGBColor,
    filled: bool,
}

fn marker<C>(shape: Shape, at: C, size: i32, colour: RGBColor, filled: bool) -> Marker<C> {
    Marker { at, shape, size, colour, filled }
}

impl<'a, C: 'a> PointCollection<'a, C> for &'a Marker<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Marker<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else { return Ok(()) };
        let (s, fill) = (self.size, self.filled);
        let style = ShapeStyle { color: self.colour.to_rgba(), filled: fill, stroke_width: 2 };
        match self.shape {
            Shape::Circle => backend.draw_circle((x, y), s as u32, &style, fill),
            Shape::Square => backend.draw_rect((x - s, y - s), (x + s, y + s), &style, fill),
            Shape::Cross => {
                backend.draw_line((x - s, y - s), (x + s, y + s), &style)?;
                backend.draw_line((x - s, y + s), (x + s, y - s), &style)
            }
            Shape::Triangle => {
                let r = f64::from(s) * 1.3;
                let corner = |deg: f64| {
                    let a = deg.to_radians();
                    (x + (r * a.cos()).round() as i32, y + (r * a.sin()).round() as i32)
                };
                let corners = [corner(-90.0), corner(30.0), corner(150.0)];
                if fill {
                    backend.fill_polygon(corners, &style)
                } else {
                    backend.draw_path(corners.into_iter().chain([corners[0]]), &style)
                }
            }
        }
    }
}

/// Where things go: the plotting area on top, the legend in `columns` × `rows` entries below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Size of the whole picture (px).
    pub size: (u32, u32),
    /// Height of the plotting area (title, axes, data), the top of the picture.
    pub plot_height: u32,
    /// Legend columns; entries fill them top to bottom, so a group's entries stay together.
    pub columns: u32,
    /// Legend rows.
    pub rows: u32,
    /// Width of one legend entry (px).
    pub column_width: u32,
    /// Height of one legend row (px).
    pub row_height: u32,
}

impl Layout {
    /// The layout for `entries` legend texts of which the longest has `longest` characters
    /// (estimated at 7.5 px each at the legend's 14 px font, plus 46 px for the sample).
    pub fn new(entries: usize, longest: usize) -> Self {
        let (width, plot_height, row_height) = (800u32, 500u32, 20u32);
        let column_width = ((longest as f64 * 7.5).ceil() as u32 + 46).min(width - 20);
        let columns = ((width - 20) / column_width).max(1);
        let rows = (entries as u32).div_ceil(columns);
        let legend_height = if rows == 0 { 0 } else { rows * row_height + 16 };
        Self { size: (width, plot_height + legend_height), plot_height, columns, rows, column_width, row_height }
    }

    /// Top-left corner of legend entry `i`, in pixels of the whole picture: below the plotting area.
    pub fn entry(&self, i: usize) -> (i32, i32) {
        let (col, row) = (i as u32 / self.rows.max(1), i as u32 % self.rows.max(1));
        ((10 + col * self.column_width) as i32, (self.plot_height + 8 + row * self.row_height) as i32)
    }
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

fn finite(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points.iter().copied().filter(|(a, b)| a.is_finite() && b.is_finite()).collect()
}

/// One legend entry: its text and how its sample is drawn.
enum Entry<'s> {
    Series(&'s Series),
    Mark(&'s str),
}

fn err<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

impl Chart<'_> {
    fn entries(&self) -> Vec<Entry<'_>> {
        let marks = self.marks.iter().map(|(_, l)| Entry::Mark(l.as_str()));
        self.series.iter().map(Entry::Series).chain(marks).collect()
    }

    fn name_of(entry: &Entry<'_>) -> String {
        match entry {
            Entry::Series(s) => s.name.clone(),
            Entry::Mark(l) => format!("{l} (vertical line)"),
        }
    }

    /// The layout of this chart ([`Layout::new`] for its legend entries).
    pub fn layout(&self) -> Layout {
        let entries = self.entries();
        let longest = entries.iter().map(|e| Self::name_of(e).chars().count()).max().unwrap_or(0);
        Layout::new(entries.len(), longest)
    }

    /// The plotted data as CSV, long format `series,x,y` with a header row and shortest round-trip
    /// (full-precision) numbers; a vertical mark is a row with an empty y.
    pub fn csv(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from("series,x,y\n");
        for s in &self.series {
            for (x, y) in finite(&s.points) {
                out += &format!("{},{x:?},{y:?}\n", quote(&s.name));
            }
        }
        for (x, label) in &self.marks {
            out += &format!("{},{x:?},\n", quote(&format!("{label} (vertical line)")));
        }
        out
    }

    /// The chart as an SVG document (see [`Layout`]).
    pub fn svg(&self) -> io::Result<String> {
        let layout = self.layout();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, layout.size).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let (upper, lower) = root.split_vertically(layout.plot_height);
            self.draw_plot(&upper)?;
            self.draw_legend(&lower, &layout)?;
            root.present().map_err(err)?;
        }
        Ok(text)
    }

    /// Whether the group has a marker series: its lines then carry no markers of their own.
    fn has_markers(&self, group: usize) -> bool {
        self.series.iter().any(|s| s.group == group && matches!(s.style, Style::Points | Style::Open))
    }

    fn style_of(group: usize) -> (RGBColor, Shape) {
        (PALETTE[group % PALETTE.len()], SHAPES[group % SHAPES.len()])
    }

    fn draw_plot<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> io::Result<()> {
        let pts = || self.series.iter().flat_map(|s| finite(&s.points));
        let (x0, x1) = range(pts().map(|p| p.0).chain(self.marks.iter().map(|m| m.0)));
        let (y0, y1) = range(pts().map(|p| p.1));
        let mut chart = ChartBuilder::on(area)
            .caption(self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart.configure_mesh().x_desc(self.x_label).y_desc(self.y_label).draw().map_err(err)?;
        for (x, _) in &self.marks {
            let line = DashedLineSeries::new(vec![(*x, y0), (*x, y1)], 4, 4, MARK_COLOUR.stroke_width(2));
            chart.draw_series(line).map_err(err)?;
        }
        for s in &self.series {
            let (colour, shape) = Self::style_of(s.group);
            let data = finite(&s.points);
            match s.style {
                Style::Line => {
                    chart.draw_series(LineSeries::new(data.clone(), colour.stroke_width(2))).map_err(err)?;
                    if self.has_markers(s.group) {
                        continue;
                    }
                    let every = data.len().div_ceil(8).max(1);
                    chart
                        .draw_series(data.into_iter().step_by(every).map(|p| marker(shape, p, 4, colour, false)))
                        .map_err(err)?;
                }
                Style::Dashed => {
                    chart.draw_series(DashedLineSeries::new(data, 8, 5, colour.stroke_width(2))).map_err(err)?;
                }
                Style::Points => {
                    chart.draw_series(data.into_iter().map(|p| marker(shape, p, 4, colour, true))).map_err(err)?;
                }
                Style::Open => {
                    chart.draw_series(data.into_iter().map(|p| marker(shape, p, 7, colour, false))).map_err(err)?;
                }
            }
        }
        Ok(())
    }

    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, layout: &Layout) -> io::Result<()> {
        let font = ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, entry) in self.entries().iter().enumerate() {
            let (x, y) = layout.entry(i);
            // the area starts at the plot's bottom edge: entry coordinates are relative to it
            let (x, y) = (x, y - layout.plot_height as i32 + layout.row_height as i32 / 2);
            let (a, b, mid) = ((x, y), (x + 36, y), (x + 18, y));
            match entry {
                Entry::Series(s) => {
                    let (colour, shape) = Self::style_of(s.group);
                    match s.style {
                        Style::Line => {
                            area.draw(&PathElement::new(vec![a, b], colour.stroke_width(2))).map_err(err)?;
                            if !self.has_markers(s.group) {
                                area.draw(&marker(shape, mid, 4, colour, false)).map_err(err)?;
                            }
                        }
                        Style::Dashed => {
                            for k in 0..3 {
                                let seg = vec![(x + 13 * k, y), (x + 13 * k + 8, y)];
                                area.draw(&PathElement::new(seg, colour.stroke_width(2))).map_err(err)?;
                            }
                        }
                        Style::Points => area.draw(&marker(shape, mid, 4, colour, true)).map_err(err)?,
                        Style::Open => area.draw(&marker(shape, mid, 7, colour, false)).map_err(err)?,
                    }
                }
                Entry::Mark(_) => {
                    area.draw(&PathElement::new(vec![(x + 18, y - 7), (x + 18, y + 7)], MARK_COLOUR.stroke_width(2)))
                        .map_err(err)?;
                }
            }
            area.draw(&Text::new(Self::name_of(entry), (x + 46, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }

    /// Writes the SVG to `path` and the CSV beside it (same name, extension `csv`); see [`write`].
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let file =
            path.file_name().and_then(|f| f.to_str()).ok_or_else(|| format!("{}: no file name", path.display()))?;
        write(self, dir, file).map_err(|e| e.to_string())
    }
}

/// Writes `dir/<file>` (the SVG; `file` ends in `.svg`) and `dir/<stem>.csv`, the plotted data
/// ([`Chart::csv`]).
pub fn write(chart: &Chart<'_>, dir: &Path, file: &str) -> io::Result<()> {
    let svg = dir.join(file);
    std::fs::write(&svg, chart.svg()?)?;
    std::fs::write(svg.with_extension("csv"), chart.csv())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: usize) -> Chart<'static> {
        Chart {
            title: "t",
            x_label: "x",
            y_label: "y",
            series: (0..series)
                .map(|g| Series {
                    name: format!("series {g}, \"quoted\""),
                    points: vec![(0.0, g as f64), (1.0, f64::NAN), (2.0, 0.1 + g as f64)],
                    style: [Style::Line, Style::Dashed, Style::Points, Style::Open][g % 4],
                    group: g,
                })
                .collect(),
            marks: vec![(1.5, "μ".into())],
        }
    }

    #[test]
    fn a_written_figure_has_its_csv_with_the_plotted_rows() {
        let dir = std::env::temp_dir().join(format!("mirrorflow-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write(&chart(5), &dir, "f.svg").unwrap();
        let svg = std::fs::read_to_string(dir.join("f.svg")).unwrap();
        assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let csv = std::fs::read_to_string(dir.join("f.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "series,x,y");
        // 5 series × 2 finite points (the NaN is not plotted), then the mark
        assert_eq!(lines.len(), 1 + 10 + 1, "{csv}");
        assert_eq!(lines[1], "\"series 0, \"\"quoted\"\"\",0.0,0.0");
        assert_eq!(lines[4], "\"series 1, \"\"quoted\"\"\",2.0,1.1");
        assert_eq!(lines[11], "\"μ (vertical line)\",1.5,");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn legend_entries_lie_below_the_plotting_area_and_inside_the_picture() {
        for (entries, longest) in [(1, 5), (6, 30), (12, 60), (13, 200), (40, 10)] {
            let l = Layout::new(entries, longest);
            for i in 0..entries {
                let (x, y) = l.entry(i);
                assert!(y >= l.plot_height as i32, "entry {i} of {l:?} overlaps the plot");
                assert!(y + l.row_height as i32 <= l.size.1 as i32, "entry {i} of {l:?} below the picture");
                assert!(x >= 0 && x + l.column_width as i32 <= l.size.0 as i32, "entry {i} of {l:?}");
            }
        }
        assert_eq!(Layout::new(0, 0).size.1, Layout::new(0, 0).plot_height, "no legend, no strip");
    }
}
