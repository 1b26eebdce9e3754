//! `--plot FILE.png`: aggregate throughput against concurrency (scenario 4)
//! and `dir` latency against concurrent transfers (scenario 6), side by side.
//!
//! Drawn by plotters into an in-memory RGB buffer and encoded with `png`.
//! Text goes through plotters' pure-Rust `ab_glyph` path with a font that a
//! crate bundles, so nothing from the system (fontconfig, freetype, font
//! files) is needed.

use crate::report::Results;
use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;

const W: u32 = 1000;
const H: u32 = 420;

pub fn draw(r: &Results, path: &Path) -> Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|_| anyhow!("the bundled font did not load"))?;
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(W / 2);
        throughput(r, &left)?;
        latency(r, &right)?;
        root.present().map_err(err)?;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, W, H);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    enc.write_header()?.write_image_data(&buf)?;
    Ok(())
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot: {e:?}")
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Aggregate MiB/s of N concurrent GETs and PUTs, against N (the levels
/// evenly spaced, since they grow roughly geometrically).
fn throughput(r: &Results, area: &Area) -> Result<()> {
    let mut levels: Vec<usize> = r.concurrent.iter().map(|c| c.clients).collect();
    levels.sort_unstable();
    levels.dedup();
    let at = |n: usize| levels.iter().position(|&l| l == n).unwrap_or(0) as f64;
    let series = |dir: &str| -> Vec<(f64, f64)> {
        r.concurrent
            .iter()
            .filter(|c| c.direction == dir && c.failures == 0)
            .map(|c| (at(c.clients), c.aggregate_mib_s))
            .collect()
    };
    let (get, put) = (series("get"), series("put"));
    let size = r.concurrent.first().map(|c| crate::report::size(c.size_bytes)).unwrap_or_default();
    let caption = format!("N concurrent transfers of {size}: aggregate MiB/s");
    if get.is_empty() && put.is_empty() {
        return empty(area, &caption);
    }
    let ymax = get.iter().chain(&put).map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            levels.get(i as usize).map(|n| n.to_string()).unwrap_or_default()
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..(levels.len() as f64 - 0.7), 0f64..ymax)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(levels.len() * 4 + 1)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("concurrent clients")
        .y_desc("MiB/s")
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    for (name, pts, color) in [("GET", get, BLUE), ("PUT", put, RED)] {
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// `dir` p50 and p99 latency against the number of concurrent transfers.
fn latency(r: &Results, area: &Area) -> Result<()> {
    let p50: Vec<(f64, f64)> = r.latency.iter().map(|l| (l.transfers as f64, l.p50_ms)).collect();
    let p99: Vec<(f64, f64)> = r.latency.iter().map(|l| (l.transfers as f64, l.p99_ms)).collect();
    let size = r.latency.first().map(|l| crate::report::size(l.size_bytes)).unwrap_or_default();
    let caption = format!("dir latency while N transfers of {size} run");
    if p50.is_empty() {
        return empty(area, &caption);
    }
    let xmax = p50.iter().map(|p| p.0).fold(1.0, f64::max) * 1.1;
    let ymax = p99.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("concurrent transfers")
        .y_desc("ms")
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    let green = RGBColor(0, 140, 60);
    for (name, pts, color) in [("p50", p50, BLUE), ("p99", p99, RED)] {
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(err)?;
    }
    // The 5 ms target, where it fits on the axis.
    if ymax >= 5.0 {
        chart
            .draw_series(LineSeries::new(vec![(0.0, 5.0), (xmax, 5.0)], green.stroke_width(1)))
            .map_err(err)?
            .label("target p99 5 ms")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], green.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn empty(area: &Area, caption: &str) -> Result<()> {
    area.titled(caption, ("sans-serif", 17))
        .map_err(err)?
        .draw_text("(scenario not run)", &("sans-serif", 14).into_text_style(area), (20, 40))
        .map_err(err)?;
    Ok(())
}
