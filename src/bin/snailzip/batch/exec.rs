//! The one executor of `compress`, `decompress` and `decompress --test`: a single file is a
//! batch of one. Files are coded in chunks whose tiles share batched products (bounded in
//! pixels, so large photos are not all held in memory at once). Every output is claimed
//! before its chunk is coded (a low estimate of its size is reserved, so a full disk is
//! reported first) and written to a temporary file that is renamed when complete. A file
//! that fails is reported and skipped; the rest are written.

use std::io::{self, Write};
use std::time::Instant;

use anyhow::{anyhow, Context};
use indicatif::ProgressBar;
use snailzip::codec::{Codec, Opened};
use snailzip::config::TILE;
use snailzip::image_io::{Decoded, Metadata};
use snailzip::{Image, PendingFile};

use super::plan::{Dest, Job, Mode};
use crate::input::read_input;
use crate::progress;

/// Pixels coded together at most (beyond the first file of a chunk): enough 32×32 images to
/// fill every thread's batches, few enough that large photos are not all held in memory.
const CHUNK_PIXELS: u64 = 1 << 22;
/// Compressed files read together at most.
const CHUNK_FILES: usize = 256;
/// Compressed bytes read together at most (beyond the first file of a chunk).
const CHUNK_BYTES: usize = 64 << 20;

/// The flags that shape the work, not the plan.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub strip: bool,
    pub force: bool,
    pub remove: bool,
    pub verbose: bool,
    pub quiet: bool,
}

/// Totals for the summary line, and the errors of failed files.
#[derive(Default)]
pub struct Totals {
    pub files: usize,
    pub errors: Vec<anyhow::Error>,
    input_bytes: u64,
    output_bytes: u64,
    snz_bytes: u64,
    subpixels: u64,
}

impl Totals {
    pub fn summary(&self, mode: Mode, seconds: f64) -> String {
        let failed = self.errors.len();
        let ok = self.files - failed;
        let verb = match mode {
            Mode::Compress => "compressed",
            Mode::Decompress => "decompressed",
            Mode::Test => "tested",
        };
        let mut s = format!("snailzip: {verb} {ok} of {} files", self.files);
        if ok > 0 {
            let bps = self.snz_bytes as f64 * 8.0 / self.subpixels.max(1) as f64;
            match mode {
                Mode::Test => s.push_str(&format!(" intact, {bps:.3} bits/subpixel")),
                _ => s.push_str(&format!(
                    ", {} → {} bytes, {bps:.3} bits/subpixel",
                    self.input_bytes, self.output_bytes
                )),
            }
        }
        s.push_str(&format!(", {seconds:.1} s"));
        if failed > 0 {
            s.push_str(&format!("; {failed} failed"));
        }
        s
    }
}

/// Adds the flag that raises a limit to a library error.
pub fn lib_error(e: snailzip::Error) -> anyhow::Error {
    match e {
        snailzip::Error::Limits(_) => anyhow!("{e} (raise it with --max-pixels N)"),
        other => other.into(),
    }
}

/// A claimed output, ready to receive its bytes.
enum Sink {
    File(PendingFile),
    Stdout,
    Nothing,
}

/// Claims the output of `job`, reserving `reserve` bytes of disk space for a file.
fn open_sink(job: &Job, force: bool, reserve: u64) -> anyhow::Result<Sink> {
    Ok(match &job.output {
        Dest::File(p) => {
            let context = || format!("cannot write {}", p.display());
            let mut pending = PendingFile::create(p, force).with_context(context)?;
            pending.reserve(reserve).with_context(context)?;
            Sink::File(pending)
        }
        Dest::Stdout => Sink::Stdout,
        Dest::Nothing => Sink::Nothing,
    })
}

/// Writes the output, then removes the input if asked.
fn finish(job: &Job, sink: Sink, bytes: &[u8], remove: bool) -> anyhow::Result<()> {
    match sink {
        Sink::File(pending) => pending
            .commit(bytes)
            .with_context(|| format!("cannot write {}", job.output_name()))?,
        Sink::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
        }
        Sink::Nothing => {}
    }
    if remove && !job.is_stdin() {
        std::fs::remove_file(&job.input)
            .with_context(|| format!("cannot remove {}", job.input.display()))?;
    }
    Ok(())
}

/// How one run reports: a bar over tiles for one file, over files for several; a line per
/// file for one file or with `-v`.
struct Report {
    bar: ProgressBar,
    single: bool,
    settings: Settings,
}

impl Report {
    fn new(mode: Mode, jobs: usize, settings: Settings) -> Report {
        let what = match mode {
            Mode::Compress => "compressing",
            _ => "decompressing",
        };
        let single = jobs == 1;
        let bar = if single {
            progress::tile_bar(settings.quiet, what)
        } else {
            progress::coding_bar(jobs, settings.quiet, what, "files")
        };
        Report {
            bar,
            single,
            settings,
        }
    }

    /// Tiles finished (one file).
    fn tiles(&self, n: usize) {
        if self.single {
            self.bar.inc(n as u64);
        }
    }

    /// Files finished (several files).
    fn file_done(&self) {
        if !self.single {
            self.bar.inc(1);
        }
    }

    fn line(&self, text: impl FnOnce() -> String) {
        if !self.settings.quiet && (self.single || self.settings.verbose) {
            let text = text();
            self.bar.suspend(|| eprintln!("{text}"));
        }
    }

    fn note(&self, text: &str) {
        if !self.settings.quiet {
            self.bar.suspend(|| eprintln!("snailzip: note: {text}"));
        }
    }

    fn fail(&self, totals: &mut Totals, e: anyhow::Error) {
        // one file: its error is the command's error, printed once by main
        if !self.single {
            self.bar.suspend(|| eprintln!("snailzip: error: {e:#}"));
        }
        totals.errors.push(e);
        self.file_done();
    }
}

/// Runs `jobs`; the refused ones count as failed.
pub fn execute(
    mode: Mode,
    jobs: &[Job],
    refused: Vec<(Job, anyhow::Error)>,
    settings: Settings,
    codec: &Codec,
) -> Totals {
    let report = Report::new(mode, jobs.len() + refused.len(), settings);
    let mut totals = Totals {
        files: jobs.len() + refused.len(),
        ..Totals::default()
    };
    for (_, e) in refused {
        report.fail(&mut totals, e);
    }
    match mode {
        Mode::Compress => compress(jobs, &report, codec, &mut totals),
        _ => decompress(jobs, mode, &report, codec, &mut totals),
    }
    report.bar.finish_and_clear();
    totals
}

fn read_image(job: &Job, codec: &Codec) -> anyhow::Result<(Decoded, u64)> {
    let bytes = read_input(&job.input)?;
    let decoded = Image::decode_with_metadata(&bytes, &codec.options().limits)
        .map_err(lib_error)
        .with_context(|| format!("cannot read image {}", job.input_name()))?;
    Ok((decoded, bytes.len() as u64))
}

fn model_note(codec: &Codec, model: Option<usize>) -> String {
    match model {
        Some(m) => format!("model {}", codec.models()[m].name),
        None => "no network".into(),
    }
}

fn compress(jobs: &[Job], report: &Report, codec: &Codec, totals: &mut Totals) {
    let s = report.settings;
    let mut k = 0;
    while k < jobs.len() {
        // a chunk of readable images, each with its output claimed
        let mut chunk: Vec<(&Job, Decoded, u64, Sink)> = Vec::new();
        let mut pixels = 0u64;
        while k < jobs.len() && (chunk.is_empty() || pixels < CHUNK_PIXELS) {
            let job = &jobs[k];
            k += 1;
            let claimed = read_image(job, codec).and_then(|(decoded, in_bytes)| {
                // a compressed file rarely takes less than 1 bit per subpixel
                let sink = open_sink(job, s.force, decoded.image.subpixels() as u64 / 8)?;
                Ok((decoded, in_bytes, sink))
            });
            match claimed {
                Ok((decoded, in_bytes, sink)) => {
                    if !decoded.dropped.is_empty() {
                        report.note(&format!(
                            "{}: not kept: {}",
                            job.input_name(),
                            decoded.dropped.join(", ")
                        ));
                    }
                    if s.strip && !decoded.metadata.is_empty() {
                        report.note(&format!(
                            "{}: --strip drops {}",
                            job.input_name(),
                            decoded.metadata.describe()
                        ));
                    }
                    pixels += (decoded.image.width * decoded.image.height) as u64;
                    chunk.push((job, decoded, in_bytes, sink));
                }
                Err(e) => report.fail(totals, e),
            }
        }
        if chunk.is_empty() {
            continue;
        }
        if report.single {
            let image = &chunk[0].1.image;
            let tiles = image.width.div_ceil(TILE) * image.height.div_ceil(TILE);
            progress::set_tiles(&report.bar, tiles);
        }
        let start = Instant::now();
        let images: Vec<Image> = chunk.iter().map(|c| c.1.image.clone()).collect();
        let metadata: Vec<Metadata> = chunk
            .iter()
            .map(|c| {
                if s.strip {
                    Metadata::default()
                } else {
                    c.1.metadata.clone()
                }
            })
            .collect();
        let files = match codec.compress_many(&images, &metadata, &|n| report.tiles(n)) {
            Ok(files) => files,
            Err(e) => {
                // an internal failure fails the chunk, not the run
                for (job, ..) in &chunk {
                    let e = anyhow!("{e}").context(format!("cannot compress {}", job.input_name()));
                    report.fail(totals, e);
                }
                continue;
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        for (((job, decoded, in_bytes, sink), file), meta) in
            chunk.into_iter().zip(files).zip(&metadata)
        {
            match finish(job, sink, &file.bytes, s.remove) {
                Ok(()) => {
                    let img = &decoded.image;
                    let sub = img.subpixels() as f64;
                    totals.input_bytes += in_bytes;
                    totals.output_bytes += file.bytes.len() as u64;
                    totals.snz_bytes += file.bytes.len() as u64;
                    totals.subpixels += img.subpixels() as u64;
                    // a chunk is coded together: its time is shared by pixel count
                    let share = seconds * (img.width * img.height) as f64 / pixels.max(1) as f64;
                    report.line(|| {
                        let mut line = format!(
                            "{} -> {}: {}×{} {}, {in_bytes} -> {} bytes, {:.3} bits/subpixel, \
                             {share:.2} s",
                            job.input_name(),
                            job.output_name(),
                            img.width,
                            img.height,
                            img.color.name(),
                            file.bytes.len(),
                            file.bytes.len() as f64 * 8.0 / sub,
                        );
                        if s.verbose {
                            line.push_str(&format!(
                                " [{}, model NLL {:.3} bits/subpixel, {} tiles{}]",
                                model_note(codec, file.model),
                                file.stats.model_bits / sub,
                                file.stats.tiles,
                                if meta.is_empty() {
                                    String::new()
                                } else {
                                    format!(", metadata kept: {}", meta.describe())
                                }
                            ));
                        }
                        line
                    });
                    report.file_done();
                }
                Err(e) => report.fail(totals, e),
            }
        }
    }
}

fn decompress(jobs: &[Job], mode: Mode, report: &Report, codec: &Codec, totals: &mut Totals) {
    let mut k = 0;
    while k < jobs.len() {
        // files read together are bounded by count and bytes; each is opened (its header
        // and tile table read, its model found) once
        let mut chunk: Vec<(&Job, Vec<u8>)> = Vec::new();
        let mut read = 0usize;
        while k < jobs.len()
            && chunk.len() < CHUNK_FILES
            && (chunk.is_empty() || read < CHUNK_BYTES)
        {
            let job = &jobs[k];
            k += 1;
            match read_input(&job.input) {
                Ok(b) => {
                    read += b.len();
                    chunk.push((job, b));
                }
                Err(e) => report.fail(totals, e),
            }
        }
        let mut opened = chunk
            .iter()
            .map(|(job, b)| (*job, b.as_slice(), codec.open(b)))
            .peekable();
        // decoded together: bounded by the pixels the headers declare, so that the pixel
        // buffers stay small whatever the files claim
        while opened.peek().is_some() {
            let mut group = Vec::new();
            let mut pixels = 0u64;
            while let Some(next) = opened.next_if(|_| group.is_empty() || pixels < CHUNK_PIXELS) {
                if let Ok(f) = &next.2 {
                    pixels += (f.header().width * f.header().height) as u64;
                }
                group.push(next);
            }
            decompress_group(group, pixels, mode, report, codec, totals);
        }
    }
}

/// A file to decode: its job, its bytes, and what [`Codec::open`] made of them.
type ToDecode<'a> = (&'a Job, &'a [u8], snailzip::Result<Opened<'a>>);

fn decompress_group(
    group: Vec<ToDecode<'_>>,
    pixels: u64,
    mode: Mode,
    report: &Report,
    codec: &Codec,
    totals: &mut Totals,
) {
    let s = report.settings;
    let context = |job: &Job| format!("cannot decompress {}", job.input_name());
    // claim each output first (a PNG rarely takes less than 1 bit per subpixel); a file
    // whose output cannot be claimed is reported and not decoded
    let mut todo = Vec::new();
    let mut claimed = Vec::new();
    for (job, bytes, file) in group {
        let sink = match &file {
            Ok(f) => {
                let h = f.header();
                if report.single {
                    progress::set_tiles(&report.bar, f.tiles());
                }
                let reserve = (h.width * h.height * h.color.channels()) as u64 / 8;
                match open_sink(job, s.force, reserve) {
                    Ok(sink) => Some(sink),
                    Err(e) => {
                        report.fail(totals, e);
                        continue;
                    }
                }
            }
            Err(_) => None,
        };
        todo.push(file);
        claimed.push((job, bytes, sink));
    }
    let start = Instant::now();
    let decoded = codec.decompress_opened(todo, &|n| report.tiles(n));
    let seconds = start.elapsed().as_secs_f64();
    for ((job, b, sink), result) in claimed.into_iter().zip(decoded) {
        let written = result.map_err(lib_error).and_then(|d| {
            let png = match mode {
                Mode::Test => Vec::new(),
                _ if s.strip => d.image.to_png()?,
                _ => d.image.to_png_with_metadata(&d.metadata)?,
            };
            let sink = sink.expect("a decoded file's output was claimed");
            finish(job, sink, &png, s.remove)?;
            Ok((d, png.len()))
        });
        let (d, png_len) = match written {
            Ok(w) => w,
            Err(e) => {
                report.fail(totals, e.context(context(job)));
                continue;
            }
        };
        let img = &d.image;
        totals.input_bytes += b.len() as u64;
        totals.output_bytes += png_len as u64;
        totals.snz_bytes += b.len() as u64;
        totals.subpixels += img.subpixels() as u64;
        // a group is decoded together: its time is shared by pixel count
        let share = seconds * (img.width * img.height) as f64 / pixels.max(1) as f64;
        let bps = b.len() as f64 * 8.0 / img.subpixels() as f64;
        report.line(|| {
            let size = format!("{}×{} {}", img.width, img.height, img.color.name());
            let mut line = if mode == Mode::Test {
                format!(
                    "{}: OK, {size}, {bps:.3} bits/subpixel, {share:.2} s",
                    job.input_name()
                )
            } else {
                format!(
                    "{} -> {}: {size}, {} bytes ({bps:.3} bits/subpixel), {share:.2} s",
                    job.input_name(),
                    job.output_name(),
                    b.len()
                )
            };
            if s.verbose {
                line.push_str(&format!(
                    " [{}{}]",
                    model_note(codec, d.model),
                    if d.metadata.is_empty() || s.strip {
                        String::new()
                    } else {
                        format!(", metadata restored: {}", d.metadata.describe())
                    }
                ));
            }
            line
        });
        report.file_done();
    }
}
