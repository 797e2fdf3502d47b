//! Compression-ratio benchmark: snailzip against classic lossless codecs on a corpus.
//!
//! Sizes are honest: bits/subpixel is total file bytes × 8 over `width × height × channels`,
//! headers included, summed over the whole corpus. Every file is decoded and compared with
//! the original pixels; a codec that fails on an image is reported as a failure, never
//! silently left out of the totals.

pub mod peers;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::Codec;
use crate::corpus;
use crate::error::{Error, Result};
use crate::image_io::Image;

/// Images to measure, with a display name.
pub struct Corpus {
    /// Name for tables (`cifar10-test`, `kodak`, a path).
    pub name: String,
    /// The images.
    pub images: Vec<Image>,
    /// Warnings met while loading (unverified copies, ...).
    pub notes: Vec<String>,
}

const KODAK_MANIFEST: &str = include_str!("../../corpus/kodak.sha256");
const CIFAR_TEST_MANIFEST: &str = include_str!("../../corpus/cifar10-test.sha256");

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `bytes` of `rel` (path relative to the data folder) against a manifest.
fn verify(manifest: &str, rel: &str, bytes: &[u8], notes: &mut Vec<String>) {
    let want = manifest.lines().find_map(|l| {
        l.split_once("  ")
            .filter(|(_, f)| *f == rel)
            .map(|(h, _)| h)
    });
    if want != Some(sha256_hex(bytes).as_str()) {
        notes.push(format!(
            "{rel}: not the copy listed in corpus/ (unverified)"
        ));
    }
}

/// Spreads `limit` picks evenly over `n` items (all if `limit` is `None` or too large).
fn spread(n: usize, limit: Option<usize>) -> Vec<usize> {
    match limit {
        Some(l) if l < n => (0..l).map(|k| k * n / l).collect(),
        _ => (0..n).collect(),
    }
}

/// Loads a corpus: `cifar10-test`, `kodak`, a folder of PNGs, a CIFAR-10 `.bin` file or one
/// image file. With `limit`, takes that many images spread evenly over the corpus (CIFAR-10
/// records are grouped by class here, so this keeps every class).
///
/// # Errors
/// [`Error::Io`] / [`Error::Format`] if the data cannot be read.
pub fn load(spec: &str, data: &Path, limit: Option<usize>) -> Result<Corpus> {
    let mut notes = Vec::new();
    let (name, images) = match spec {
        "cifar10-test" => {
            let rel = "cifar-10-batches-bin/test_batch.bin";
            let bytes = read(&data.join(rel))?;
            verify(CIFAR_TEST_MANIFEST, rel, &bytes, &mut notes);
            (spec.to_string(), pick(corpus::parse_cifar(&bytes)?, limit))
        }
        "kodak" => {
            let files = corpus::png_files(&corpus::kodak_dir(data))?;
            let picked = spread(files.len(), limit);
            let mut images = Vec::new();
            for k in picked {
                let bytes = read(&files[k])?;
                let rel = format!(
                    "kodak/{}",
                    files[k].file_name().unwrap_or_default().to_string_lossy()
                );
                verify(KODAK_MANIFEST, &rel, &bytes, &mut notes);
                images.push(Image::decode(&bytes, u64::MAX)?);
            }
            if images.len() != 24 && limit.is_none() {
                notes.push(format!("kodak: {} images found, expected 24", images.len()));
            }
            (spec.to_string(), images)
        }
        other => {
            let path = PathBuf::from(other);
            let images = if path.is_dir() {
                let files = corpus::png_files(&path)?;
                spread(files.len(), limit)
                    .into_iter()
                    .map(|k| Image::decode(&read(&files[k])?, 1 << 28))
                    .collect::<Result<Vec<_>>>()?
            } else if path.extension().is_some_and(|e| e == "bin") {
                pick(corpus::read_cifar(&path)?, limit)
            } else {
                vec![Image::decode(&read(&path)?, 1 << 28)?]
            };
            (other.to_string(), images)
        }
    };
    if images.is_empty() {
        return Err(Error::Usage(format!("corpus {spec} holds no images")));
    }
    Ok(Corpus {
        name,
        images,
        notes,
    })
}

fn pick(records: Vec<(u8, Image)>, limit: Option<usize>) -> Vec<Image> {
    let keep = spread(records.len(), limit);
    let mut records: Vec<Option<Image>> = records.into_iter().map(|(_, i)| Some(i)).collect();
    keep.into_iter().filter_map(|k| records[k].take()).collect()
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!(
                "{}: {e} (set {} to the data folder)",
                path.display(),
                corpus::DATA_ENV
            ),
        ))
    })
}

/// Totals of one codec over a corpus.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CodecResult {
    /// Codec name.
    pub name: String,
    /// Images attempted.
    pub images: usize,
    /// Images that failed (error or inexact round trip).
    pub failures: usize,
    /// Total compressed bytes of the successful images.
    pub bytes: u64,
    /// Subpixels of the successful images.
    pub subpixels: u64,
    /// Pixels of the successful images.
    pub pixels: u64,
    /// Model NLL in bits (snailzip only).
    pub model_bits: Option<f64>,
    /// Seconds spent compressing (wall clock).
    pub encode_s: f64,
    /// Seconds spent decompressing (wall clock).
    pub decode_s: f64,
    /// Why the codec was skipped, if it was.
    pub skipped: Option<String>,
    /// First failure message, if any.
    pub first_error: Option<String>,
    /// snailzip only: how many images each model coded (automatic choice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models_used: Vec<(String, usize)>,
}

impl CodecResult {
    /// Bits per subpixel, headers included.
    pub fn bits_per_subpixel(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.subpixels.max(1) as f64
    }
}

/// Runs snailzip on every image: compress (pooled in chunks of `chunk` images), decompress,
/// verify. `progress` is called with the number of images done.
///
/// # Errors
/// Only internal failures; per-image failures are counted in the result.
pub fn run_snailzip(
    corpus: &Corpus,
    codec: &Codec,
    chunk: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<CodecResult> {
    let mut r = CodecResult {
        name: "snailzip".into(),
        images: corpus.images.len(),
        model_bits: Some(0.0),
        models_used: codec
            .models()
            .iter()
            .map(|m| (m.name.clone(), 0))
            .chain([("none".to_string(), 0)])
            .collect(),
        ..CodecResult::default()
    };
    for images in corpus.images.chunks(chunk.max(1)) {
        let t0 = Instant::now();
        let files = codec.compress_many(images, &[], &|_| {})?;
        let t1 = Instant::now();
        let refs: Vec<&[u8]> = files.iter().map(|f| f.bytes.as_slice()).collect();
        let decoded = codec.decompress_many(&refs, &|_| {});
        let t2 = Instant::now();
        r.encode_s += (t1 - t0).as_secs_f64();
        r.decode_s += (t2 - t1).as_secs_f64();
        for ((img, file), back) in images.iter().zip(&files).zip(decoded) {
            match back.map(|d| d.image) {
                Ok(back) if back == *img => {
                    let used = file.model.unwrap_or(codec.models().len());
                    r.models_used[used].1 += 1;
                    r.bytes += file.bytes.len() as u64;
                    r.subpixels += img.subpixels() as u64;
                    r.pixels += (img.width * img.height) as u64;
                    *r.model_bits.as_mut().expect("set above") += file.stats.model_bits;
                }
                Ok(_) => fail(&mut r, "decoded pixels differ".into()),
                Err(e) => fail(&mut r, e.to_string()),
            }
        }
        progress(images.len());
    }
    Ok(r)
}

fn fail(r: &mut CodecResult, msg: String) {
    r.failures += 1;
    r.first_error.get_or_insert(msg);
}

/// Runs a peer codec on every image, in parallel on the current rayon pool.
pub fn run_peer(
    corpus: &Corpus,
    peer: &peers::Peer,
    progress: &(dyn Fn(usize) + Sync),
) -> CodecResult {
    let mut r = CodecResult {
        name: peer.name.into(),
        images: corpus.images.len(),
        ..CodecResult::default()
    };
    if let Some(why) = peer.unavailable() {
        r.skipped = Some(why);
        return r;
    }
    let outcomes: Vec<Result<(usize, f64, f64)>> = corpus
        .images
        .par_iter()
        .map_init(
            || tempfile::tempdir().map_err(Error::Io),
            |dir, img| {
                let out = match dir {
                    Ok(d) => peer.compress_verified(img, d.path()),
                    Err(e) => Err(Error::Usage(format!("no scratch folder: {e}"))),
                };
                progress(1);
                out
            },
        )
        .collect();
    for (img, out) in corpus.images.iter().zip(outcomes) {
        match out {
            Ok((bytes, enc, dec)) => {
                r.bytes += bytes as u64;
                r.subpixels += img.subpixels() as u64;
                r.pixels += (img.width * img.height) as u64;
                r.encode_s += enc;
                r.decode_s += dec;
            }
            Err(e) => fail(&mut r, e.to_string()),
        }
    }
    r
}

/// A markdown table of results.
pub fn markdown(corpus: &Corpus, results: &[CodecResult], threads: usize) -> String {
    let mut s = format!(
        "Corpus `{}`: {} images, {} threads. Bits/subpixel = file bytes × 8 / (W·H·channels), \
         headers included. Times are wall clock per image (peer codecs: one process per \
         image, summed per-image times).\n\n",
        corpus.name,
        corpus.images.len(),
        threads
    );
    s.push_str("| codec | bits/subpixel | model NLL | compress s/image | decompress s/image | compress MP/s | failures |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let mut sorted: Vec<&CodecResult> = results.iter().collect();
    sorted.sort_by(|a, b| {
        let key = |r: &CodecResult| {
            if r.skipped.is_some() {
                f64::MAX
            } else {
                r.bits_per_subpixel()
            }
        };
        key(a).total_cmp(&key(b))
    });
    for r in sorted {
        if let Some(why) = &r.skipped {
            s.push_str(&format!("| {} | skipped: {why} | | | | | |\n", r.name));
            continue;
        }
        let ok = (r.images - r.failures).max(1) as f64;
        let nll = r
            .model_bits
            .map(|b| format!("{:.3}", b / r.subpixels.max(1) as f64))
            .unwrap_or_default();
        s.push_str(&format!(
            "| {} | {:.3} | {} | {:.4} | {:.4} | {:.3} | {} |\n",
            r.name,
            r.bits_per_subpixel(),
            nll,
            r.encode_s / ok,
            r.decode_s / ok,
            r.pixels as f64 / 1e6 / r.encode_s.max(1e-9),
            r.failures
        ));
    }
    for r in results {
        if r.models_used.len() > 1 {
            let used: Vec<String> = r
                .models_used
                .iter()
                .map(|(n, k)| format!("{n} {k}"))
                .collect();
            s.push_str(&format!(
                "\n{}: images coded by each model (automatic choice): {}\n",
                r.name,
                used.join(", ")
            ));
        }
        if let Some(e) = &r.first_error {
            s.push_str(&format!(
                "\n{}: {} failure(s), first: {e}\n",
                r.name, r.failures
            ));
        }
    }
    for note in &corpus.notes {
        s.push_str(&format!("\nNote: {note}"));
    }
    s
}

/// A horizontal bar chart of bits/subpixel per codec, as SVG (labelled, renders anywhere a
/// README does).
pub fn svg_chart(corpus: &Corpus, results: &[CodecResult]) -> String {
    let mut rows: Vec<&CodecResult> = results.iter().filter(|r| r.skipped.is_none()).collect();
    rows.sort_by(|a, b| a.bits_per_subpixel().total_cmp(&b.bits_per_subpixel()));
    let max = rows
        .iter()
        .map(|r| r.bits_per_subpixel())
        .fold(1.0f64, f64::max)
        .ceil();
    let (left, width, bar_h, gap, top) = (110.0, 420.0, 22.0, 8.0, 40.0);
    let height = top + rows.len() as f64 * (bar_h + gap) + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"22\" font-size=\"15\">{title}: bits/subpixel (lower is better), \
         {n} images</text>\n",
        w = left + width + 70.0,
        title = xml_escape(&corpus.name),
        n = corpus.images.len()
    );
    for (k, r) in rows.iter().enumerate() {
        let y = top + k as f64 * (bar_h + gap);
        let v = r.bits_per_subpixel();
        let len = width * v / max;
        let color = if r.name == "snailzip" {
            "#d9480f"
        } else {
            "#4c6ef5"
        };
        s.push_str(&format!(
            "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\n\
             <rect x=\"{left}\" y=\"{y}\" width=\"{len:.1}\" height=\"{bar_h}\" fill=\"{color}\"/>\n\
             <text x=\"{vx:.1}\" y=\"{ty}\">{v:.3}</text>\n",
            tx = left - 8.0,
            ty = y + bar_h * 0.72,
            name = xml_escape(&r.name),
            vx = left + len + 6.0,
        ));
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A whole benchmark run, as written to and read from JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Corpus name.
    pub corpus: String,
    /// Images in the corpus.
    pub images: usize,
    /// Worker threads.
    pub threads: usize,
    /// One entry per codec.
    pub results: Vec<CodecResult>,
}

/// Results as JSON.
pub fn json(corpus: &Corpus, results: &[CodecResult], threads: usize) -> String {
    let report = Report {
        corpus: corpus.name.clone(),
        images: corpus.images.len(),
        threads,
        results: results.to_vec(),
    };
    serde_json::to_string_pretty(&report).expect("plain data serializes") + "\n"
}

/// Reads earlier results of the same corpus (to reuse peer codec figures, which do not depend
/// on the model).
///
/// # Errors
/// [`Error::Format`] if the file is not a report of this corpus.
pub fn read_report(text: &str, corpus: &Corpus) -> Result<Report> {
    let report: Report = serde_json::from_str(text)
        .map_err(|e| Error::Format(format!("not a snailzip bench report: {e}")))?;
    if report.corpus != corpus.name || report.images != corpus.images.len() {
        return Err(Error::Usage(format!(
            "the report is for {} ({} images), not {} ({} images)",
            report.corpus,
            report.images,
            corpus.name,
            corpus.images.len()
        )));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_keeps_every_class_of_grouped_records() {
        let picked = spread(10_000, Some(50));
        assert_eq!(picked.len(), 50);
        let classes: std::collections::BTreeSet<usize> = picked.iter().map(|k| k / 1000).collect();
        assert_eq!(classes.len(), 10);
        assert_eq!(spread(5, Some(10)), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn png_and_qoi_peers_round_trip() {
        let img = Image::new(
            7,
            5,
            crate::ColorType::Rgb,
            (0..105).map(|i| i as u8).collect(),
        )
        .unwrap();
        let corpus = Corpus {
            name: "t".into(),
            images: vec![img],
            notes: vec![],
        };
        for peer in peers::all()
            .into_iter()
            .filter(|p| ["png", "qoi"].contains(&p.name))
        {
            let r = run_peer(&corpus, &peer, &|_| {});
            assert_eq!(
                (r.failures, r.images),
                (0, 1),
                "{}: {:?}",
                peer.name,
                r.first_error
            );
            assert!(r.bytes > 0);
        }
        let table = markdown(&corpus, &[], 1);
        assert!(table.contains("| codec |"));
    }
}
