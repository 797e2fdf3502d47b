//! What a run leaves behind besides weights: the CSV log, the loss curve and the model card.

use std::io::Write;
use std::path::Path;

use crate::error::Result;

/// One row of `log.csv`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogRow {
    /// Optimizer step.
    pub step: u64,
    /// Training images consumed.
    pub images_seen: u64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Mean training bits/dim since the previous row.
    pub train_bpd: Option<f64>,
    /// Validation bits/dim (EMA weights), when evaluated.
    pub val_bpd: Option<f64>,
}

/// Header of `log.csv`.
pub const CSV_HEADER: &str = "step,images_seen,wall_s,train_bpd,val_bpd";

/// Appends a row to the CSV log, writing the header first if the file is new.
///
/// # Errors
/// [`crate::Error::Io`].
pub fn append_row(path: &Path, row: &LogRow) -> Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        writeln!(f, "{CSV_HEADER}")?;
    }
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.5}"));
    writeln!(
        f,
        "{},{},{:.1},{},{}",
        row.step,
        row.images_seen,
        row.wall_s,
        opt(row.train_bpd),
        opt(row.val_bpd)
    )?;
    Ok(())
}

/// Makes the log agree with a checkpoint at `step` before a run resumes: drops rows logged
/// after the checkpoint (work lost when a run died) and, where a step was logged twice, keeps
/// the later row.
///
/// # Errors
/// [`crate::Error::Io`] if the log cannot be rewritten.
pub fn truncate_after(path: &Path, step: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut rows: Vec<LogRow> = Vec::new();
    for row in read_rows(path).into_iter().filter(|r| r.step <= step) {
        rows.retain(|r| r.step < row.step);
        rows.push(row);
    }
    std::fs::remove_file(path)?;
    for row in &rows {
        append_row(path, row)?;
    }
    Ok(())
}

/// Reads the CSV log back (rows that do not parse are skipped).
pub fn read_rows(path: &Path) -> Vec<LogRow> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() != 5 {
                return None;
            }
            let opt = |s: &str| s.parse::<f64>().ok();
            Some(LogRow {
                step: f[0].parse().ok()?,
                images_seen: f[1].parse().ok()?,
                wall_s: f[2].parse().ok()?,
                train_bpd: opt(f[3]),
                val_bpd: opt(f[4]),
            })
        })
        .collect()
}

/// The x extent (images seen) and the y range (bits/dim, whole half-bits, at most 8 bits
/// tall; 2..8 without data) shared by both plots.
fn plot_ranges(rows: &[LogRow]) -> (f64, (f64, f64)) {
    let xmax = rows.iter().map(|r| r.images_seen).max().unwrap_or(1).max(1) as f64;
    let values = rows.iter().flat_map(|r| [r.train_bpd, r.val_bpd]).flatten();
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (2.0, 8.0);
    }
    lo = (lo.max(0.0) * 2.0).floor() / 2.0;
    hi = ((hi.min(lo + 8.0) * 2.0).ceil() / 2.0).max(lo + 0.5);
    (xmax, (lo, hi))
}

/// Draws train (blue) and validation (red) bits/dim against images seen as a PNG, with light
/// grid lines every 0.5 bits/dim. The y range is fixed by the data (clamped to 2..8).
///
/// # Errors
/// [`crate::Error::Io`] if the file cannot be written.
pub fn plot_loss(rows: &[LogRow], path: &Path) -> Result<()> {
    let (w, h, m) = (900u32, 500u32, 40u32);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    let (xmax, (lo, hi)) = plot_ranges(rows);
    let px = |x: f64| m as f64 + x / xmax * f64::from(w - 2 * m);
    let py = |y: f64| f64::from(h - m) - (y - lo) / (hi - lo) * f64::from(h - 2 * m);
    let mut g = lo;
    while g <= hi + 1e-9 {
        let y = py(g).round() as u32;
        for x in m..w - m {
            img.put_pixel(x, y.min(h - 1), image::Rgb([225, 225, 225]));
        }
        g += 0.5;
    }
    for x in m..w - m {
        img.put_pixel(x, h - m, image::Rgb([0, 0, 0]));
    }
    for y in m..=h - m {
        img.put_pixel(m, y, image::Rgb([0, 0, 0]));
    }
    let mut line = |pts: Vec<(f64, f64)>, color: [u8; 3]| {
        for pair in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
                for (dx, dy) in [(0, 0), (0, 1), (1, 0)] {
                    let (xi, yi) = (x.round() as i64 + dx, y.round() as i64 + dy);
                    if xi >= 0 && yi >= 0 && (xi as u32) < w && (yi as u32) < h {
                        img.put_pixel(xi as u32, yi as u32, image::Rgb(color));
                    }
                }
            }
        }
    };
    let series = |f: fn(&LogRow) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| f(r).map(|v| (px(r.images_seen as f64), py(v.clamp(lo, hi)))))
            .collect()
    };
    line(series(|r| r.train_bpd), [40, 90, 200]);
    line(series(|r| r.val_bpd), [210, 40, 40]);
    img.save(path)
        .map_err(|e| crate::Error::Io(std::io::Error::other(format!("{}: {e}", path.display()))))
}

/// The same curves as [`plot_loss`], as a labelled SVG: bits/dim (y) against images seen (x),
/// train in blue, validation in red.
pub fn loss_svg(rows: &[LogRow]) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 400.0, 60.0, 45.0, 30.0, 20.0);
    let (xmax, (lo, hi)) = plot_ranges(rows);
    let px = |x: f64| left + x / xmax * (w - left - right);
    let py = |y: f64| h - bottom - (y - lo) / (hi - lo) * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"{left}\" y=\"18\" font-size=\"14\">bits/dim vs training \
         images seen (blue: train, red: validation, EMA weights)</text>\n"
    );
    let mut g = lo;
    while g <= hi + 1e-9 {
        s.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{g:.1}</text>\n",
            x2 = w - right,
            y = py(g),
            tx = left - 6.0,
            ty = py(g) + 4.0
        ));
        g += 0.5;
    }
    for k in 0..=4 {
        let x = xmax * k as f64 / 4.0;
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            px(x),
            h - bottom + 18.0,
            x.round()
        ));
    }
    s.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">images seen</text>\n",
        (left + w - right) / 2.0,
        h - 8.0
    ));
    let series = |f: fn(&LogRow) -> Option<f64>, color: &str| -> String {
        let pts: Vec<String> = rows
            .iter()
            .filter_map(|r| {
                f(r).map(|v| format!("{:.1},{:.1}", px(r.images_seen as f64), py(v.clamp(lo, hi))))
            })
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            pts.join(" ")
        )
    };
    s.push_str(&series(|r| r.train_bpd, "#2f5ac8"));
    s.push_str(&series(|r| r.val_bpd, "#d22828"));
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_cleans_rows_after_the_checkpoint_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.csv");
        for (step, bpd) in [(20, 6.0), (40, 5.5), (60, 5.2), (40, 5.4), (60, 5.1)] {
            let row = LogRow {
                step,
                train_bpd: Some(bpd),
                ..LogRow::default()
            };
            append_row(&p, &row).unwrap();
        }
        truncate_after(&p, 40).unwrap();
        let rows = read_rows(&p);
        let got: Vec<(u64, f64)> = rows
            .iter()
            .map(|r| (r.step, r.train_bpd.unwrap()))
            .collect();
        assert_eq!(got, vec![(20, 6.0), (40, 5.4)]);
    }

    #[test]
    fn loss_svg_has_both_series_and_axis_labels() {
        let rows: Vec<LogRow> = (1..5)
            .map(|k| LogRow {
                step: k * 10,
                images_seen: k * 160,
                train_bpd: Some(6.0 - k as f64 * 0.3),
                val_bpd: (k % 2 == 0).then_some(5.8 - k as f64 * 0.3),
                ..LogRow::default()
            })
            .collect();
        let svg = loss_svg(&rows);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">images seen<") && svg.contains(">640<") && svg.contains(">5.0<"));
    }
}
