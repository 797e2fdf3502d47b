//! The `snailzip` command line: parses flags, calls the library, prints errors.

mod batch;
mod cli;
mod models;
#[cfg(feature = "train")]
mod train_cmd;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use cli::{Cli, CodingArgs, Command};
use snailzip::codec::{self, container, Options};
use snailzip::{atomic_write, builtin, Engine, Image, Weights};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("snailzip: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cli.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    let quiet = cli.quiet;
    pool.install(|| match cli.command {
        Command::Compress(a) => match single(&a.paths, &a.output_dir)? {
            Some((input, output)) => compress(input, output, &a.coding, quiet),
            None => batch::compress(&a.paths, a.output_dir.as_deref(), &a.coding, quiet),
        },
        Command::Decompress(a) => match single(&a.paths, &a.output_dir)? {
            Some((input, output)) => decompress(input, output, &a.coding, quiet),
            None => batch::decompress(&a.paths, a.output_dir.as_deref(), &a.coding, quiet),
        },
        Command::Info(a) => info(a.input.as_deref(), a.model.as_deref()),
        Command::Bench(a) => bench(&a, quiet),
        Command::Sample(a) => sample(&a),
        #[cfg(feature = "train")]
        Command::Train(a) => train_cmd::run(a, quiet),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `IN [OUT]` without `-o`: one input, maybe an output. `None` means batch mode (`-o DIR`).
fn single<'a>(
    paths: &'a [PathBuf],
    output_dir: &Option<PathBuf>,
) -> anyhow::Result<Option<(&'a Path, Option<&'a Path>)>> {
    if output_dir.is_some() {
        return Ok(None);
    }
    match paths {
        [input] => Ok(Some((input, None))),
        [input, output] => Ok(Some((input, Some(output)))),
        _ => bail!("several inputs need an output folder: add -o DIR"),
    }
}

/// Peak resident memory of this process in MiB (Linux), for benchmark reports.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn is_stdio(p: &Path) -> bool {
    p.as_os_str() == "-"
}

pub(crate) fn load_model(path: Option<&Path>) -> anyhow::Result<(Weights, String)> {
    match path {
        Some(p) if models::is_builtin_name(p) => {
            let m = builtin::find(&p.to_string_lossy())?;
            Ok((
                m.weights()?,
                format!("built-in model {} ({})", m.name, m.file),
            ))
        }
        Some(p) => {
            let w =
                Weights::load(p).with_context(|| format!("cannot load model {}", p.display()))?;
            Ok((w, p.display().to_string()))
        }
        None => Ok((builtin::weights()?, builtin::name().to_string())),
    }
}

pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if is_stdio(path) {
        let mut buf = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// Where output goes: a file written atomically, or standard output.
enum Sink {
    File(PathBuf),
    Stdout,
}

fn sink(input: &Path, output: Option<&Path>, default: impl FnOnce() -> PathBuf) -> Sink {
    match output {
        Some(p) if is_stdio(p) => Sink::Stdout,
        Some(p) => Sink::File(p.to_path_buf()),
        None if is_stdio(input) => Sink::Stdout,
        None => Sink::File(default()),
    }
}

impl Sink {
    /// Fails early, before any work, if the output file exists and `force` is not set.
    fn check(&self, force: bool) -> anyhow::Result<()> {
        if let Sink::File(p) = self {
            if !force && p.exists() {
                bail!("{} already exists (use --force to overwrite)", p.display());
            }
        }
        Ok(())
    }

    fn write(&self, bytes: &[u8], force: bool) -> anyhow::Result<()> {
        match self {
            Sink::File(p) => atomic_write(p, bytes, force)
                .with_context(|| format!("cannot write {}", p.display())),
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()?;
                Ok(())
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Sink::File(p) => p.display().to_string(),
            Sink::Stdout => "<stdout>".into(),
        }
    }
}

pub(crate) fn progress_bar(total: usize, quiet: bool, what: &str, unit: &str) -> ProgressBar {
    if quiet || total < 4 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}} (eta {{eta}})"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

pub(crate) fn options(args: &CodingArgs) -> anyhow::Result<Options> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    Ok(Options {
        batch: args.batch,
        ..Options::default()
    })
}

fn compress(
    input: &Path,
    output: Option<&Path>,
    args: &CodingArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    let out = sink(input, output, || {
        let mut s = input.as_os_str().to_owned();
        s.push(".snz");
        PathBuf::from(s)
    });
    out.check(args.force)?;
    let opts = options(args)?;
    let bytes = read_input(input)?;
    let image = Image::decode(&bytes, opts.limits.max_pixels)
        .with_context(|| format!("cannot read image {}", input.display()))?;
    let models = models::Models::load(args.model.as_deref())?;
    let tiles = image.width.div_ceil(snailzip::config::TILE)
        * image.height.div_ceil(snailzip::config::TILE);
    let bar = progress_bar(tiles, quiet, "compressing", "tiles");
    let start = Instant::now();
    let (snz, stats, chosen) =
        codec::compress_choosing(std::slice::from_ref(&image), &models.refs(), &opts, &|n| {
            bar.inc(n as u64)
        })?
        .pop()
        .expect("one image in, one file out");
    let model_name = &models.names[chosen];
    bar.finish_and_clear();
    out.write(&snz, args.force)?;
    if !quiet {
        let sub = image.subpixels() as f64;
        eprintln!(
            "{} -> {}: {}×{} {}, {} bytes, {:.3} bits/subpixel (model NLL {:.3}), {:.2} s [model {}]",
            input.display(),
            out.name(),
            image.width,
            image.height,
            image.color.name(),
            snz.len(),
            snz.len() as f64 * 8.0 / sub,
            stats.model_bits / sub,
            start.elapsed().as_secs_f64(),
            model_name
        );
    }
    Ok(())
}

fn decompress(
    input: &Path,
    output: Option<&Path>,
    args: &CodingArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    let out = sink(input, output, || {
        let stem = match input.extension() {
            Some(e) if e == "snz" => input.with_extension(""),
            _ => input.to_path_buf(),
        };
        match stem.extension() {
            Some(e) if e.eq_ignore_ascii_case("png") => stem,
            _ => {
                let mut s = stem.into_os_string();
                s.push(".png");
                PathBuf::from(s)
            }
        }
    });
    out.check(args.force)?;
    let opts = options(args)?;
    let bytes = read_input(input)?;
    let models = models::Models::load_to_decode(args.model.as_deref())?;
    let (header, _) = container::read_header(&bytes, &opts.limits)
        .with_context(|| format!("cannot decompress {}", input.display()))?;
    let (tx, ty) = header.tile_grid();
    let bar = progress_bar(tx * ty, quiet, "decompressing", "tiles");
    let start = Instant::now();
    let image =
        codec::decompress_choosing(&[&bytes], &models.refs(), &opts, &|n| bar.inc(n as u64))
            .pop()
            .expect("one file in, one result out")
            .with_context(|| format!("cannot decompress {}", input.display()))?;
    bar.finish_and_clear();
    let png = image.to_png()?;
    out.write(&png, args.force)?;
    if !quiet {
        eprintln!(
            "{} -> {}: {}×{} {}, {:.2} s",
            input.display(),
            out.name(),
            image.width,
            image.height,
            image.color.name(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn info(input: Option<&Path>, model: Option<&Path>) -> anyhow::Result<()> {
    if input.is_none() && model.is_none() {
        println!(
            "built-in models (compress chooses per image; a file's model id names its model):"
        );
        for m in builtin::models() {
            let w = m.weights()?;
            println!(
                "  {:<10} {}  {}, {} parameters, {} ({})",
                m.name,
                snailzip::error::hex_id(&w.id()),
                m.about,
                w.config().parameter_count(),
                m.file,
                w.metadata()
                    .get("snailzip.train.images_seen")
                    .map_or("untrained".to_string(), |n| format!("{n} training images")),
            );
        }
        for m in builtin::retired() {
            println!("  {:<10} {}", m.name, m.about);
        }
        println!("(`snailzip info --model NAME` describes one)");
        return Ok(());
    }
    if let Some(input) = input {
        let bytes = read_input(input)?;
        let limits = container::Limits::default();
        let file = container::read(&bytes, &limits)
            .with_context(|| format!("cannot read {}", input.display()))?;
        let candidates = models::Models::load_to_decode(model)?;
        let h = &file.header;
        let found = candidates
            .engines
            .iter()
            .position(|e| h.model_id.matches(&e.id()));
        let sub = h.width * h.height * h.color.channels();
        println!("file:        {}", input.display());
        println!("size:        {}×{} {}", h.width, h.height, h.color.name());
        println!(
            "bytes:       {} ({:.3} bits/subpixel)",
            bytes.len(),
            bytes.len() as f64 * 8.0 / sub as f64
        );
        println!(
            "tiles:       {} of {}×{}",
            file.payloads.len(),
            h.tile,
            h.tile
        );
        println!("checksum:    {:08x} (CRC-32 of pixels)", h.checksum);
        match found {
            Some(k) => println!(
                "model id:    {} (matches model {}, {})",
                h.model_id,
                candidates.names[k],
                snailzip::error::hex_id(&candidates.engines[k].id())
            ),
            None => println!(
                "model id:    {} (NOT {}: this file needs another model)",
                h.model_id,
                candidates.names.join(" or ")
            ),
        }
        return Ok(());
    }
    let (weights, model_name) = load_model(model)?;
    let id = snailzip::error::hex_id(&weights.id());
    let c = weights.config();
    println!("model:       {model_name}");
    println!("model id:    {id}");
    println!("config:      {c}");
    println!("parameters:  {}", c.parameter_count());
    for (k, v) in weights.metadata() {
        if k != snailzip::weights::META_CONFIG && k != snailzip::weights::META_FORMAT {
            let name = k.strip_prefix("snailzip.").unwrap_or(k);
            println!("{name}: {v}");
        }
    }
    Ok(())
}

fn bench(args: &cli::BenchArgs, quiet: bool) -> anyhow::Result<()> {
    use snailzip::bench;
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let known: Vec<&str> = bench::peers::all().iter().map(|p| p.name).collect();
    for c in &args.codecs {
        if c != "snailzip" && !known.contains(&c.as_str()) {
            bail!(
                "unknown codec `{c}` (known: snailzip, {})",
                known.join(", ")
            );
        }
    }
    let data = args
        .data_dir
        .clone()
        .unwrap_or_else(snailzip::corpus::data_dir);
    let corpus = bench::load(&args.corpus, &data, args.limit)
        .with_context(|| format!("cannot load corpus {}", args.corpus))?;
    let threads = rayon::current_num_threads();
    let mut results = Vec::new();
    let n = corpus.images.len();
    let bar = |name: &str| {
        let b = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(n as u64)
        };
        b.set_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {pos}/{len} images, {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b.set_message(name.to_string());
        b
    };
    for codec in &args.codecs {
        if codec == "snailzip" {
            let models = models::Models::load(args.model.as_deref())?;
            if !quiet {
                eprintln!("snailzip models: {}", models.names.join(", "));
            }
            let options = Options {
                batch: args.batch,
                ..Options::default()
            };
            let b = bar("snailzip");
            // pool small images so that their tiles share batched products
            let chunk = (args.batch * threads * 4).max(1);
            let r = bench::run_snailzip(
                &corpus,
                &models.refs(),
                &models.names,
                &options,
                chunk,
                &|k| b.inc(k as u64),
            )?;
            b.finish_and_clear();
            results.push(r);
        } else if let Some(peer) = bench::peers::all().into_iter().find(|p| p.name == codec) {
            let b = bar(codec);
            results.push(bench::run_peer(&corpus, &peer, &|k| b.inc(k as u64)));
            b.finish_and_clear();
        }
    }
    if let Some(p) = &args.reuse {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let earlier = bench::read_report(&text, &corpus)
            .with_context(|| format!("cannot reuse {}", p.display()))?;
        for r in earlier.results {
            if !results.iter().any(|x| x.name == r.name) {
                results.push(r);
            }
        }
    }
    let mut table = bench::markdown(&corpus, &results, threads);
    if let Some(mib) = peak_rss_mib() {
        table.push_str(&format!(
            "\nPeak memory of this benchmark process: {mib:.0} MiB.\n"
        ));
    }
    println!("{table}");
    if let Some(p) = &args.markdown {
        atomic_write(p, table.as_bytes(), true)?;
    }
    if let Some(p) = &args.chart {
        atomic_write(p, bench::svg_chart(&corpus, &results).as_bytes(), true)?;
    }
    if let Some(p) = &args.json {
        atomic_write(p, bench::json(&corpus, &results, threads).as_bytes(), true)?;
    }
    Ok(())
}

fn sample(args: &cli::SampleArgs) -> anyhow::Result<()> {
    if args.count == 0 || args.count > 4096 {
        bail!("--count must be between 1 and 4096");
    }
    let (weights, _) = load_model(args.model.as_deref())?;
    let engine = Engine::new(&weights);
    let images = snailzip::sample::sample(&engine, args.count, args.seed);
    let grid = snailzip::sample::grid(&images, args.columns, 2).context("no images")?;
    atomic_write(&args.output, &grid.to_png()?, args.force)
        .with_context(|| format!("cannot write {}", args.output.display()))
}
