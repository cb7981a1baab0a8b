//! Latency-over-time charts as SVG files.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use plotters::prelude::*;

use crate::stats::TimelinePoint;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 640;

/// Draws p50, p99 and max latency per bucket (log scale) and, below it, the observations per
/// second, and writes the chart to `path` as SVG.
pub fn latency_over_time(
    path: &Path,
    title: &str,
    x_label: &str,
    points: &[TimelinePoint],
    with_rate: bool,
) -> anyhow::Result<()> {
    if points.is_empty() {
        eprintln!("no latencies were recorded; chart {} not written", path.display());
        return Ok(());
    }
    draw(path, title, x_label, points, with_rate).map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))?;
    std::fs::metadata(path).with_context(|| format!("chart {} was not written", path.display()))?;
    eprintln!("chart written to {}", path.display());
    Ok(())
}

fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    points: &[TimelinePoint],
    with_rate: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (top, bottom) = if with_rate { root.split_vertically(HEIGHT * 6 / 10) } else { (root.clone(), root.clone()) };

    let bucket = if points.len() > 1 { points[1].t_s - points[0].t_s } else { 1.0 };
    let x_max = points.last().map_or(1.0, |p| p.t_s) + bucket.max(1e-3);
    let y_min = points.iter().map(|p| p.p50_ms).fold(f64::INFINITY, f64::min).max(0.001) / 2.0;
    let y_max = points.iter().map(|p| p.max_ms).fold(0.0, f64::max).max(y_min * 10.0) * 2.0;

    let mut chart = ChartBuilder::on(&top)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("latency (ms, log scale)")
        .y_labels(12)
        .y_label_formatter(&|v| format_ms(*v))
        .draw()?;
    type Series = (&'static str, RGBColor, fn(&TimelinePoint) -> f64);
    let series: [Series; 3] = [
        ("p50", RGBColor(31, 119, 180), |p| p.p50_ms),
        ("p99", RGBColor(255, 127, 14), |p| p.p99_ms),
        ("max", RGBColor(214, 39, 40), |p| p.max_ms),
    ];
    for (label, color, value) in series {
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p.t_s, value(p).max(y_min))), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        if points.len() <= 60 {
            chart.draw_series(points.iter().map(|p| Circle::new((p.t_s, value(p).max(y_min)), 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    if with_rate {
        let r_max = points.iter().map(|p| p.per_sec).fold(0.0, f64::max).max(1.0) * 1.1;
        let mut rate = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..r_max)?;
        rate.configure_mesh().x_desc(x_label).y_desc("per second").draw()?;
        rate.draw_series(LineSeries::new(points.iter().map(|p| (p.t_s, p.per_sec)), BLACK.stroke_width(2)))?;
        if points.len() <= 60 {
            rate.draw_series(points.iter().map(|p| Circle::new((p.t_s, p.per_sec), 3, BLACK.filled())))?;
        }
    }
    root.present()?;
    Ok(())
}

fn format_ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
