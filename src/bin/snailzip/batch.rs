//! `compress` and `decompress` (and `decompress --test`) on any number of inputs, the way
//! gzip and zstd users expect: every input is coded next to itself (`a.png` → `a.png.snz`)
//! unless `-o` names a file or folder or `-c` sends the one output to standard output.
//!
//! All checks that can fail happen before any work: inputs exist and are not given twice,
//! no output is an input (by device and inode, whatever the flags), no output exists
//! (without `-f`), no two inputs share an output, every output folder is writable, and no
//! binary data goes to or comes from a terminal. Then files are coded in chunks whose tiles
//! share batched products; a file that fails to decode is reported and skipped, the others
//! are still written, and the exit status says whether all succeeded.

use std::collections::HashSet;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use snailzip::atomic::{check_writable, file_id};
use snailzip::codec::{self, container};
use snailzip::image_io::{Decoded, Metadata};
use snailzip::{Image, PendingFile};

use crate::cli::CodingArgs;
use crate::models::Models;
use crate::{options, progress_bar, read_input};

/// Images per chunk: enough 32×32 images to fill every thread's batches, few enough that
/// large photos are not all held in memory at once.
const CHUNK_PIXELS: u64 = 1 << 22;
/// Compressed files decoded together at most.
const CHUNK_FILES: usize = 256;

const IMAGE_EXTENSIONS: [&str; 8] = ["png", "ppm", "pgm", "pnm", "bmp", "tif", "tiff", "qoi"];

/// What to do with the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Images → .snz files.
    Compress,
    /// .snz files → PNGs.
    Decompress,
    /// Decode .snz files and verify them; write nothing.
    Test,
}

/// Where one output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Dest {
    File(PathBuf),
    Stdout,
    Nothing,
}

/// One input and its output.
#[derive(Clone, Debug)]
struct Job {
    /// `-` is standard input.
    input: PathBuf,
    output: Dest,
}

impl Job {
    fn is_stdin(&self) -> bool {
        self.input.as_os_str() == "-"
    }

    fn input_name(&self) -> String {
        if self.is_stdin() {
            "<stdin>".into()
        } else {
            self.input.display().to_string()
        }
    }

    fn output_name(&self) -> String {
        match &self.output {
            Dest::File(p) => p.display().to_string(),
            Dest::Stdout => "<stdout>".into(),
            Dest::Nothing => String::new(),
        }
    }
}

/// An input found on the command line or in a folder, with its path relative to that folder
/// (for mirroring into `-o DIR`).
struct Found {
    path: PathBuf,
    rel: PathBuf,
}

fn has_extension(p: &Path, extensions: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
}

/// Files of `dir` with one of `extensions`, sorted; subfolders too if `recursive`, else
/// named in a note.
fn walk(
    root: &Path,
    dir: &Path,
    extensions: &[&str],
    recursive: bool,
    quiet: bool,
    out: &mut Vec<Found>,
) -> anyhow::Result<()> {
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        // symbolic links to folders are not followed (no cycles)
        if kind.is_dir() {
            if recursive {
                walk(root, &path, extensions, recursive, quiet, out)?;
            } else if !quiet {
                eprintln!(
                    "snailzip: skipping folder {} (use -r to include subfolders)",
                    path.display()
                );
            }
        } else if has_extension(&path, extensions) && path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.push(Found { path, rel });
        }
    }
    Ok(())
}

/// Expands the command line's paths; returns the inputs and whether any was a folder.
fn expand(
    paths: &[PathBuf],
    extensions: &[&str],
    recursive: bool,
    quiet: bool,
) -> anyhow::Result<(Vec<Found>, bool)> {
    let mut out = Vec::new();
    let mut folders = false;
    for p in paths {
        if p.is_dir() {
            folders = true;
            walk(p, p, extensions, recursive, quiet, &mut out)?;
        } else {
            let rel = PathBuf::from(p.file_name().unwrap_or(p.as_os_str()));
            out.push(Found {
                path: p.clone(),
                rel,
            });
        }
    }
    if out.is_empty() {
        bail!("no input files found");
    }
    Ok((out, folders))
}

/// `NAME.snz` for compression; for decompression `.snz` removed and the image extension
/// made `.png` (`a.png.snz` → `a.png`, `a.tif.snz` → `a.png`, `a.snz` → `a.png`).
fn output_name(input: &Path, mode: Mode) -> PathBuf {
    if mode == Mode::Compress {
        let mut s = input.as_os_str().to_owned();
        s.push(".snz");
        return PathBuf::from(s);
    }
    let stem = if input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("snz"))
    {
        input.with_extension("")
    } else {
        input.to_path_buf()
    };
    match stem.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("png") => stem,
        Some(e) if IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()) => {
            stem.with_extension("png")
        }
        _ => {
            let mut s = stem.into_os_string();
            s.push(".png");
            PathBuf::from(s)
        }
    }
}

fn ends_with_separator(p: &Path) -> bool {
    p.as_os_str()
        .to_str()
        .is_some_and(|s| s.ends_with(std::path::MAIN_SEPARATOR) || s.ends_with('/'))
}

/// Turns the command line into jobs and checks everything that can be checked before work.
fn plan(mode: Mode, args: &CodingArgs, quiet: bool) -> anyhow::Result<Vec<Job>> {
    let extensions: &[&str] = if mode == Mode::Compress {
        &IMAGE_EXTENSIONS
    } else {
        &["snz"]
    };
    let (found, folders) = expand(&args.paths, extensions, args.recursive, quiet)?;
    let stdin_inputs = found.iter().filter(|f| f.path.as_os_str() == "-").count();
    if stdin_inputs > 0 && found.len() > 1 {
        bail!("standard input (-) cannot be combined with other inputs");
    }
    let to_stdout = args.stdout || args.output.as_ref().is_some_and(|o| o.as_os_str() == "-");
    if to_stdout && found.len() > 1 {
        bail!("only one input can be written to standard output; use -o DIR for several");
    }
    let to_folder = match &args.output {
        Some(o) if o.as_os_str() != "-" => {
            found.len() > 1 || folders || args.recursive || o.is_dir() || ends_with_separator(o)
        }
        _ => false,
    };
    let mut jobs = Vec::with_capacity(found.len());
    let mut input_ids = HashSet::new();
    for f in &found {
        let stdin = f.path.as_os_str() == "-";
        if stdin {
            if io::stdin().is_terminal() {
                bail!(
                    "standard input is a terminal: pipe {} into snailzip or name a file",
                    if mode == Mode::Compress {
                        "an image"
                    } else {
                        "a .snz file"
                    }
                );
            }
        } else {
            match std::fs::metadata(&f.path) {
                Ok(m) if m.is_file() => {}
                Ok(_) => bail!("{} is not a regular file", f.path.display()),
                Err(e) => {
                    let hint = if mode == Mode::Compress
                        && args.paths.len() == 2
                        && f.path == args.paths[1]
                        && has_extension(&f.path, &["snz"])
                    {
                        format!(
                            " (every path is an input; name the output with -o: snailzip \
                             compress {} -o {})",
                            args.paths[0].display(),
                            f.path.display()
                        )
                    } else {
                        String::new()
                    };
                    bail!("cannot read {}: {e}{hint}", f.path.display());
                }
            }
            if mode == Mode::Compress && has_extension(&f.path, &["snz"]) && !args.force {
                bail!(
                    "{} already has the .snz suffix (use -f to compress it anyway)",
                    f.path.display()
                );
            }
            if let Some(id) = file_id(&f.path) {
                if !input_ids.insert(id) {
                    bail!("{} is given twice", f.path.display());
                }
            }
        }
        let output = if mode == Mode::Test {
            Dest::Nothing
        } else if to_stdout {
            Dest::Stdout
        } else if to_folder {
            let dir = args.output.as_ref().expect("folder output");
            Dest::File(dir.join(output_name(&f.rel, mode)))
        } else if let Some(o) = &args.output {
            Dest::File(o.clone())
        } else if stdin {
            Dest::Stdout
        } else {
            Dest::File(output_name(&f.path, mode))
        };
        jobs.push(Job {
            input: f.path.clone(),
            output,
        });
    }
    let mut outputs = HashSet::new();
    let mut folders_out: Vec<PathBuf> = Vec::new();
    for job in &jobs {
        match &job.output {
            Dest::File(p) => {
                if let Some(id) = file_id(p) {
                    if input_ids.contains(&id) {
                        bail!(
                            "refusing to write {}: it is one of the inputs (with or without -f)",
                            p.display()
                        );
                    }
                    if p.is_dir() {
                        bail!("{} is a folder", p.display());
                    }
                    if !args.force {
                        bail!("{} already exists (use --force to overwrite)", p.display());
                    }
                }
                if !outputs.insert(p.clone()) {
                    bail!("two inputs would both be written to {}", p.display());
                }
                let parent = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if !folders_out.contains(&parent) {
                    folders_out.push(parent);
                }
            }
            Dest::Stdout => {
                if io::stdout().is_terminal() && !args.force {
                    bail!(
                        "refusing to write {} data to a terminal (redirect it, use -o FILE, or \
                         -f to force)",
                        if mode == Mode::Compress {
                            "compressed"
                        } else {
                            "PNG"
                        }
                    );
                }
            }
            Dest::Nothing => {}
        }
    }
    if args.remove && jobs.iter().any(|j| !matches!(j.output, Dest::File(_))) {
        bail!("--rm removes inputs only after writing output files (not with -c, -t or stdin)");
    }
    for dir in &folders_out {
        if to_folder {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        check_writable(dir).with_context(|| format!("cannot write to {}", dir.display()))?;
    }
    Ok(jobs)
}

/// Adds the flag to raise a limit to a library error.
pub(crate) fn lib_error(e: snailzip::Error) -> anyhow::Error {
    match e {
        snailzip::Error::Limits(_) => anyhow!("{e} (raise it with --max-pixels N)"),
        other => other.into(),
    }
}

/// A created output, ready to receive its bytes.
enum Sink {
    File(PendingFile),
    Stdout,
    Nothing,
}

/// Opens the output of `job`; for a file, claims `reserve` bytes of disk space at once (a
/// low estimate of the output size), so that a full disk is reported before the work.
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

/// Totals for the summary line.
#[derive(Default)]
struct Totals {
    files: usize,
    failed: usize,
    input_bytes: u64,
    output_bytes: u64,
    snz_bytes: u64,
    subpixels: u64,
}

impl Totals {
    fn summary(&self, mode: Mode, seconds: f64) -> String {
        let ok = self.files - self.failed;
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
        if self.failed > 0 {
            s.push_str(&format!("; {} failed", self.failed));
        }
        s
    }
}

fn dropped_note(job: &Job, decoded: &Decoded, strip: bool, quiet: bool) {
    if !quiet && !decoded.dropped.is_empty() {
        eprintln!(
            "snailzip: note: {}: not kept: {}",
            job.input_name(),
            decoded.dropped.join(", ")
        );
    }
    if !quiet && strip && !decoded.metadata.is_empty() {
        eprintln!(
            "snailzip: note: {}: --strip drops {}",
            job.input_name(),
            decoded.metadata.describe()
        );
    }
}

/// Runs compress, decompress or test on the command line's inputs.
pub fn run(mode: Mode, args: &CodingArgs, quiet: bool) -> anyhow::Result<()> {
    let opts = options(args)?;
    let jobs = plan(mode, args, quiet)?;
    // compressing chooses among the current models; decoding takes the file's, retired too
    let models = match mode {
        Mode::Compress => Models::load(args.model.as_deref())?,
        _ => Models::load_to_decode(args.model.as_deref())?,
    };
    let start = Instant::now();
    if let [job] = &jobs[..] {
        return match mode {
            Mode::Compress => compress_one(job, args, &opts, &models, quiet),
            _ => decompress_one(job, mode, args, &opts, &models, quiet),
        };
    }
    let totals = match mode {
        Mode::Compress => compress_many(&jobs, args, &opts, &models, quiet)?,
        _ => decompress_many(&jobs, mode, args, &opts, &models, quiet)?,
    };
    if !quiet {
        eprintln!("{}", totals.summary(mode, start.elapsed().as_secs_f64()));
    }
    if totals.failed > 0 {
        bail!("{} of {} files failed", totals.failed, totals.files);
    }
    Ok(())
}

fn read_image(job: &Job, opts: &codec::Options) -> anyhow::Result<(Decoded, u64)> {
    let bytes = read_input(&job.input)?;
    let decoded = Image::decode_with_metadata(&bytes, &opts.limits)
        .map_err(lib_error)
        .with_context(|| format!("cannot read image {}", job.input_name()))?;
    Ok((decoded, bytes.len() as u64))
}

fn compress_one(
    job: &Job,
    args: &CodingArgs,
    opts: &codec::Options,
    models: &Models,
    quiet: bool,
) -> anyhow::Result<()> {
    let (decoded, in_bytes) = read_image(job, opts)?;
    dropped_note(job, &decoded, args.strip, quiet);
    let image = &decoded.image;
    // a compressed file rarely takes less than 1 bit per subpixel
    let sink = open_sink(job, args.force, image.subpixels() as u64 / 8)?;
    let tiles = image.width.div_ceil(snailzip::config::TILE)
        * image.height.div_ceil(snailzip::config::TILE);
    let bar = progress_bar(tiles, quiet, "compressing", "tiles");
    let start = Instant::now();
    let metadata = if args.strip {
        Metadata::default()
    } else {
        decoded.metadata.clone()
    };
    let (snz, stats, chosen) = codec::compress_choosing(
        std::slice::from_ref(image),
        std::slice::from_ref(&metadata),
        &models.refs(),
        opts,
        &|n| bar.inc(n as u64),
    )?
    .pop()
    .expect("one image in, one file out");
    let model_name = &models.names[chosen];
    bar.finish_and_clear();
    finish(job, sink, &snz, args.remove)?;
    if !quiet {
        let sub = image.subpixels() as f64;
        let meta = if metadata.is_empty() {
            String::new()
        } else {
            format!(", metadata kept: {}", metadata.describe())
        };
        eprintln!(
            "{} -> {}: {}×{} {}, {in_bytes} -> {} bytes, {:.3} bits/subpixel (model NLL {:.3}), \
             {:.2} s [model {model_name}]{meta}",
            job.input_name(),
            job.output_name(),
            image.width,
            image.height,
            image.color.name(),
            snz.len(),
            snz.len() as f64 * 8.0 / sub,
            stats.model_bits / sub,
            start.elapsed().as_secs_f64(),
        );
    }
    Ok(())
}

fn decompress_one(
    job: &Job,
    mode: Mode,
    args: &CodingArgs,
    opts: &codec::Options,
    models: &Models,
    quiet: bool,
) -> anyhow::Result<()> {
    let bytes = read_input(&job.input)?;
    let context = || format!("cannot decompress {}", job.input_name());
    let header = models
        .check(&bytes, &opts.limits)
        .map_err(lib_error)
        .with_context(context)?;
    // a PNG rarely takes less than 1 bit per subpixel
    let subpixels = header.width * header.height * header.color.channels();
    let sink = open_sink(job, args.force, subpixels as u64 / 8)?;
    let (tx, ty) = header.tile_grid();
    let bar = progress_bar(tx * ty, quiet, "decompressing", "tiles");
    let start = Instant::now();
    let (image, metadata) =
        codec::decompress_choosing(&[&bytes], &models.refs(), opts, &|n| bar.inc(n as u64))
            .pop()
            .expect("one file in, one result out")
            .map_err(lib_error)
            .with_context(context)?;
    bar.finish_and_clear();
    let bps = bytes.len() as f64 * 8.0 / image.subpixels() as f64;
    let png = if mode == Mode::Test {
        Vec::new()
    } else if args.strip {
        image.to_png()?
    } else {
        image.to_png_with_metadata(&metadata)?
    };
    finish(job, sink, &png, args.remove)?;
    if !quiet {
        let size = format!("{}×{} {}", image.width, image.height, image.color.name());
        let t = start.elapsed().as_secs_f64();
        if mode == Mode::Test {
            eprintln!(
                "{}: OK, {size}, {bps:.3} bits/subpixel, {t:.2} s",
                job.input_name()
            );
        } else {
            eprintln!(
                "{} -> {}: {size}, {} bytes ({bps:.3} bits/subpixel), {t:.2} s",
                job.input_name(),
                job.output_name(),
                bytes.len()
            );
        }
    }
    Ok(())
}

fn compress_many(
    jobs: &[Job],
    args: &CodingArgs,
    opts: &codec::Options,
    models: &Models,
    quiet: bool,
) -> anyhow::Result<Totals> {
    let verbose = args.verbose && !quiet;
    let bar = progress_bar(jobs.len(), quiet, "compressing", "files");
    let mut totals = Totals {
        files: jobs.len(),
        ..Totals::default()
    };
    let report = |e: anyhow::Error| bar.suspend(|| eprintln!("snailzip: error: {e:#}"));
    let mut k = 0;
    while k < jobs.len() {
        // gather a chunk of readable images
        let mut chunk: Vec<(usize, Decoded, u64)> = Vec::new();
        let mut pixels = 0u64;
        while k < jobs.len() && (chunk.is_empty() || pixels < CHUNK_PIXELS) {
            match read_image(&jobs[k], opts) {
                Ok((decoded, in_bytes)) => {
                    bar.suspend(|| dropped_note(&jobs[k], &decoded, args.strip, quiet));
                    pixels += (decoded.image.width * decoded.image.height) as u64;
                    chunk.push((k, decoded, in_bytes));
                }
                Err(e) => {
                    report(e);
                    totals.failed += 1;
                    bar.inc(1);
                }
            }
            k += 1;
        }
        let start = Instant::now();
        let images: Vec<Image> = chunk.iter().map(|(_, d, _)| d.image.clone()).collect();
        let metadata: Vec<Metadata> = chunk
            .iter()
            .map(|(_, d, _)| {
                if args.strip {
                    Metadata::default()
                } else {
                    d.metadata.clone()
                }
            })
            .collect();
        let files = codec::compress_choosing(&images, &metadata, &models.refs(), opts, &|_| {})?;
        let seconds = start.elapsed().as_secs_f64();
        for ((j, decoded, in_bytes), (bytes, _, chosen)) in chunk.iter().zip(files) {
            let job = &jobs[*j];
            let written = open_sink(job, args.force, 0)
                .and_then(|sink| finish(job, sink, &bytes, args.remove));
            match written {
                Ok(()) => {
                    let img = &decoded.image;
                    totals.input_bytes += in_bytes;
                    totals.output_bytes += bytes.len() as u64;
                    totals.snz_bytes += bytes.len() as u64;
                    totals.subpixels += img.subpixels() as u64;
                    if verbose {
                        // a chunk is coded together: its time is shared by pixel count
                        let share = seconds * (img.width * img.height) as f64 / pixels as f64;
                        bar.suspend(|| {
                            eprintln!(
                                "{} -> {}: {}×{} {}, {in_bytes} -> {} bytes, {:.3} \
                                 bits/subpixel, {share:.2} s [model {}]",
                                job.input_name(),
                                job.output_name(),
                                img.width,
                                img.height,
                                img.color.name(),
                                bytes.len(),
                                bytes.len() as f64 * 8.0 / img.subpixels() as f64,
                                models.names[chosen]
                            )
                        });
                    }
                }
                Err(e) => {
                    report(e);
                    totals.failed += 1;
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(totals)
}

fn decompress_many(
    jobs: &[Job],
    mode: Mode,
    args: &CodingArgs,
    opts: &codec::Options,
    models: &Models,
    quiet: bool,
) -> anyhow::Result<Totals> {
    let verbose = args.verbose && !quiet;
    let bar = progress_bar(jobs.len(), quiet, "decompressing", "files");
    let mut totals = Totals {
        files: jobs.len(),
        ..Totals::default()
    };
    let report = |e: anyhow::Error| bar.suspend(|| eprintln!("snailzip: error: {e:#}"));
    let mut k = 0;
    while k < jobs.len() {
        // a chunk is bounded by count and by the pixels its headers declare, so that its
        // pixel buffers stay small whatever the files claim
        let mut chunk: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut pixels = 0u64;
        while k < jobs.len()
            && chunk.len() < CHUNK_FILES
            && (chunk.is_empty() || pixels < CHUNK_PIXELS)
        {
            match read_input(&jobs[k].input) {
                Ok(b) => {
                    if let Ok((h, _)) = container::read_header(&b, &opts.limits) {
                        pixels += (h.width * h.height) as u64;
                    }
                    chunk.push((k, b));
                }
                Err(e) => {
                    report(e);
                    totals.failed += 1;
                    bar.inc(1);
                }
            }
            k += 1;
        }
        let start = Instant::now();
        let refs: Vec<&[u8]> = chunk.iter().map(|(_, b)| b.as_slice()).collect();
        let decoded = codec::decompress_choosing(&refs, &models.refs(), opts, &|_| {});
        let seconds = start.elapsed().as_secs_f64();
        for ((j, bytes), result) in chunk.iter().zip(decoded) {
            let job = &jobs[*j];
            let written = result.map_err(lib_error).and_then(|(img, metadata)| {
                let png = match mode {
                    Mode::Test => Vec::new(),
                    _ if args.strip => img.to_png()?,
                    _ => img.to_png_with_metadata(&metadata)?,
                };
                let sink = open_sink(job, args.force, 0)?;
                finish(job, sink, &png, args.remove)?;
                Ok((img, png.len()))
            });
            match written {
                Ok((img, png_len)) => {
                    totals.input_bytes += bytes.len() as u64;
                    totals.output_bytes += png_len as u64;
                    totals.snz_bytes += bytes.len() as u64;
                    totals.subpixels += img.subpixels() as u64;
                    if verbose {
                        let share =
                            seconds * (img.width * img.height) as f64 / pixels.max(1) as f64;
                        let bps = bytes.len() as f64 * 8.0 / img.subpixels() as f64;
                        let size = format!("{}×{} {}", img.width, img.height, img.color.name());
                        bar.suspend(|| {
                            if mode == Mode::Test {
                                eprintln!(
                                    "{}: OK, {size}, {bps:.3} bits/subpixel, {share:.2} s",
                                    job.input_name()
                                );
                            } else {
                                eprintln!(
                                    "{} -> {}: {size}, {} bytes ({bps:.3} bits/subpixel), \
                                     {share:.2} s",
                                    job.input_name(),
                                    job.output_name(),
                                    bytes.len()
                                );
                            }
                        });
                    }
                }
                Err(e) => {
                    report(e.context(format!("cannot decompress {}", job.input_name())));
                    totals.failed += 1;
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names() {
        assert_eq!(
            output_name(Path::new("a/b.png"), Mode::Compress),
            Path::new("a/b.png.snz")
        );
        assert_eq!(
            output_name(Path::new("b.png.snz"), Mode::Decompress),
            Path::new("b.png")
        );
        assert_eq!(
            output_name(Path::new("x.snz"), Mode::Decompress),
            Path::new("x.png")
        );
        assert_eq!(
            output_name(Path::new("x.tif.SNZ"), Mode::Decompress),
            Path::new("x.png")
        );
        assert_eq!(
            output_name(Path::new("x.data"), Mode::Decompress),
            Path::new("x.data.png")
        );
    }
}
