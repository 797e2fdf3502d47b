//! Many files at once (`-o DIR`): inputs are expanded (folders → their files), coded in
//! chunks whose tiles share batched products, and written one by one. A bad file is reported
//! and skipped; the exit status says whether all succeeded.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use snailzip::codec;
use snailzip::{atomic_write, Image};

use crate::cli::CodingArgs;
use crate::{options, progress_bar, read_input};

/// Images per chunk: enough 32×32 images to fill every thread's batches, few enough that
/// large photos are not all held in memory at once.
const CHUNK_PIXELS: usize = 1 << 22;

const IMAGE_EXTENSIONS: [&str; 8] = ["png", "ppm", "pgm", "pnm", "bmp", "tif", "tiff", "qoi"];

/// Expands folders into their files with one of `extensions`, sorted by name.
fn expand(paths: &[PathBuf], extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            bail!("standard input cannot be combined with -o DIR");
        }
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        bail!("no input files found");
    }
    Ok(out)
}

/// Output path in `dir` for `input`: its file name with `.snz` appended, or for decoding with
/// `.snz` replaced by `.png`.
fn output_for(input: &Path, dir: &Path, compress: bool) -> PathBuf {
    let name = input.file_name().unwrap_or_default();
    if compress {
        let mut n = name.to_os_string();
        n.push(".snz");
        dir.join(n)
    } else {
        let stem = Path::new(name);
        let stem = if stem.extension().is_some_and(|e| e == "snz") {
            stem.with_extension("")
        } else {
            stem.to_path_buf()
        };
        dir.join(stem).with_extension("png")
    }
}

/// Checks outputs (no clobbering, no two inputs onto one output) before any work.
fn plan(
    inputs: &[PathBuf],
    dir: &Path,
    compress: bool,
    force: bool,
) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut jobs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        let out = output_for(input, dir, compress);
        if !force && out.exists() {
            bail!(
                "{} already exists (use --force to overwrite)",
                out.display()
            );
        }
        if jobs.iter().any(|(_, o)| *o == out) {
            bail!("two inputs would both be written to {}", out.display());
        }
        jobs.push((input.clone(), out));
    }
    Ok(jobs)
}

fn finish(failures: usize, total: usize) -> anyhow::Result<()> {
    if failures > 0 {
        bail!("{failures} of {total} files failed");
    }
    Ok(())
}

/// `snailzip compress PATHS... -o DIR`.
pub fn compress(
    paths: &[PathBuf],
    dir: Option<&Path>,
    args: &CodingArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    let dir = dir.context("batch mode needs -o DIR")?;
    let jobs = plan(&expand(paths, &IMAGE_EXTENSIONS)?, dir, true, args.force)?;
    let opts = options(args)?;
    let models = crate::models::Models::load(args.model.as_deref())?;
    let bar = progress_bar(jobs.len(), quiet, "compressing", "files");
    let mut failures = 0;
    let mut k = 0;
    while k < jobs.len() {
        // gather a chunk of readable images
        let (mut ids, mut images): (Vec<usize>, Vec<Image>) = (Vec::new(), Vec::new());
        let mut pixels = 0;
        while k < jobs.len() && (images.is_empty() || pixels < CHUNK_PIXELS) {
            let (input, _) = &jobs[k];
            match read_input(input).and_then(|b| {
                Image::decode(&b, opts.limits.max_pixels)
                    .with_context(|| format!("cannot read image {}", input.display()))
            }) {
                Ok(img) => {
                    pixels += img.width * img.height;
                    ids.push(k);
                    images.push(img);
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("snailzip: error: {e:#}"));
                    failures += 1;
                    bar.inc(1);
                }
            }
            k += 1;
        }
        let files = codec::compress_choosing(&images, &models.refs(), &opts, &|_| {})?;
        for (&j, (bytes, _, _)) in ids.iter().zip(files) {
            let out = &jobs[j].1;
            if let Err(e) = atomic_write(out, &bytes, args.force) {
                bar.suspend(|| eprintln!("snailzip: error: cannot write {}: {e}", out.display()));
                failures += 1;
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    finish(failures, jobs.len())
}

/// `snailzip decompress PATHS... -o DIR`.
pub fn decompress(
    paths: &[PathBuf],
    dir: Option<&Path>,
    args: &CodingArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    let dir = dir.context("batch mode needs -o DIR")?;
    let jobs = plan(&expand(paths, &["snz"])?, dir, false, args.force)?;
    let opts = options(args)?;
    let models = crate::models::Models::load_to_decode(args.model.as_deref())?;
    let bar = progress_bar(jobs.len(), quiet, "decompressing", "files");
    let mut failures = 0;
    // compressed files are small; a chunk is bounded by count
    for chunk in jobs.chunks(256) {
        let mut files: Vec<(usize, Vec<u8>)> = Vec::new();
        for (j, (input, _)) in chunk.iter().enumerate() {
            match read_input(input) {
                Ok(b) => files.push((j, b)),
                Err(e) => {
                    bar.suspend(|| eprintln!("snailzip: error: {e:#}"));
                    failures += 1;
                    bar.inc(1);
                }
            }
        }
        let refs: Vec<&[u8]> = files.iter().map(|(_, b)| b.as_slice()).collect();
        let decoded = codec::decompress_choosing(&refs, &models.refs(), &opts, &|_| {});
        for ((j, _), result) in files.iter().zip(decoded) {
            let (input, out) = &chunk[*j];
            let written = result
                .map_err(anyhow::Error::from)
                .and_then(|img| Ok(img.to_png()?))
                .and_then(|png| Ok(atomic_write(out, &png, args.force)?));
            if let Err(e) = written {
                bar.suspend(|| {
                    eprintln!(
                        "snailzip: error: cannot decompress {}: {e:#}",
                        input.display()
                    )
                });
                failures += 1;
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    finish(failures, jobs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names() {
        let d = Path::new("out");
        assert_eq!(
            output_for(Path::new("a/b.png"), d, true),
            Path::new("out/b.png.snz")
        );
        assert_eq!(
            output_for(Path::new("a/b.png.snz"), d, false),
            Path::new("out/b.png")
        );
        assert_eq!(
            output_for(Path::new("x.snz"), d, false),
            Path::new("out/x.png")
        );
    }
}
