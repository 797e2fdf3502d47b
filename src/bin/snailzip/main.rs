//! The `snailzip` command line: parses flags, calls the library, prints errors.

mod batch;
mod cli;
mod models;
#[cfg(feature = "train")]
mod train_cmd;

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use batch::Mode;
use cli::{Cli, CodingArgs, Command};
use snailzip::codec::{self, container, Options};
use snailzip::{atomic_write, builtin, Engine, Weights};

fn main() -> ExitCode {
    let cli = Cli::parse_from(short_forms(std::env::args_os().collect()));
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

/// gzip/zstd spellings: `snailzip -d ...` is `snailzip decompress ...`, `snailzip -t ...` is
/// `snailzip decompress -t ...`, and clusters such as `-dc` or `-tv` work too.
fn short_forms(mut args: Vec<OsString>) -> Vec<OsString> {
    let Some(first) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) else {
        return args;
    };
    match first.as_str() {
        "-d" | "--decompress" | "--uncompress" => args[1] = "decompress".into(),
        "-t" | "--test" => {
            args[1] = "decompress".into();
            args.insert(2, "--test".into());
        }
        s if s.len() > 2
            && s.starts_with('-')
            && !s.starts_with("--")
            && s[1..].contains(['d', 't'])
            && s[1..].chars().all(|c| "dtcfkvqr".contains(c)) =>
        {
            let rest: String = s[1..].chars().filter(|&c| c != 'd').collect();
            args[1] = "decompress".into();
            if !rest.is_empty() {
                args.insert(2, format!("-{rest}").into());
            }
        }
        _ => {}
    }
    args
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // `-j`/`-q` before the subcommand still work, but only where they act
    let (threads, quiet) = match &cli.command {
        Command::Compress(a) => (a.coding.run.threads, a.coding.run.quiet),
        Command::Decompress(a) => (a.coding.run.threads, a.coding.run.quiet),
        Command::Bench(a) => (a.run.threads, a.run.quiet),
        Command::Sample(a) => {
            if cli.quiet {
                bail!("-q has no effect on sample");
            }
            (a.threads, false)
        }
        Command::Info(_) => {
            if cli.threads.is_some() || cli.quiet {
                bail!("-j/--threads and -q/--quiet have no effect on info");
            }
            (None, false)
        }
        #[cfg(feature = "train")]
        Command::Train { run, .. } => (run.threads, run.quiet),
    };
    let threads = threads.or(cli.threads);
    let quiet = quiet || cli.quiet;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    pool.install(|| match cli.command {
        Command::Compress(a) => batch::run(Mode::Compress, &a.coding, quiet),
        Command::Decompress(a) => {
            let mode = if a.test { Mode::Test } else { Mode::Decompress };
            batch::run(mode, &a.coding, quiet)
        }
        Command::Info(a) => info(&a.inputs, a.model.as_deref()),
        Command::Bench(a) => bench(&a, quiet),
        Command::Sample(a) => sample(&a),
        #[cfg(feature = "train")]
        Command::Train { args, .. } => train_cmd::run(args, quiet),
    })?;
    Ok(ExitCode::SUCCESS)
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
    if args.batch == Some(0) {
        bail!("--batch must be at least 1");
    }
    if args.max_pixels == 0 {
        bail!("--max-pixels must be at least 1");
    }
    Ok(Options {
        batch: args.batch.unwrap_or(codec::AUTO_BATCH),
        limits: container::Limits {
            max_pixels: args.max_pixels,
            ..container::Limits::default()
        },
        ..Options::default()
    })
}

fn info(inputs: &[PathBuf], model: Option<&Path>) -> anyhow::Result<()> {
    if inputs.is_empty() && model.is_none() {
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
    if inputs.is_empty() {
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
        return Ok(());
    }
    let candidates = models::Models::load_to_decode(model)?;
    let mut failed = 0;
    for (k, input) in inputs.iter().enumerate() {
        if k > 0 {
            println!();
        }
        if let Err(e) = info_file(input, &candidates) {
            eprintln!("snailzip: error: {e:#}");
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files could not be read", inputs.len());
    }
    Ok(())
}

fn info_file(input: &Path, candidates: &models::Models) -> anyhow::Result<()> {
    let bytes = read_input(input)?;
    // describing a header costs nothing, so any size the format allows is shown
    let file = container::read(&bytes, &container::Limits::format_maximum())
        .with_context(|| format!("cannot read {}", input.display()))?;
    let h = &file.header;
    let sub = h.width * h.height * h.color.channels();
    println!("file:        {}", input.display());
    println!("format:      .snz version {}", file.version);
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
    let metadata = if file.metadata.is_empty() {
        "none".to_string()
    } else {
        file.metadata.describe()
    };
    println!("metadata:    {metadata}");
    match candidates
        .engines
        .iter()
        .position(|e| h.model_id.matches(&e.id()))
    {
        Some(k) => println!(
            "model id:    {} (matches model {}, {})",
            h.model_id,
            candidates.names[k],
            snailzip::error::hex_id(&candidates.engines[k].id())
        ),
        None => println!(
            "model id:    {} (DIFFERS from {}: this file needs another model)",
            h.model_id,
            candidates.names.join(" and ")
        ),
    }
    Ok(())
}

fn bench(args: &cli::BenchArgs, quiet: bool) -> anyhow::Result<()> {
    use snailzip::bench;
    if args.batch == Some(0) {
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
                batch: args.batch.unwrap_or(codec::AUTO_BATCH),
                ..Options::default()
            };
            let b = bar("snailzip");
            // pool small images so that their tiles share batched products
            let most = models.engines.iter().map(|e| options.batch_for(e)).max();
            let chunk = (most.unwrap_or(1) * threads * 4).max(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        short_forms(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn gzip_short_forms() {
        assert_eq!(forms(&["s", "-d", "a.snz"]), ["s", "decompress", "a.snz"]);
        assert_eq!(
            forms(&["s", "-t", "a.snz"]),
            ["s", "decompress", "--test", "a.snz"]
        );
        assert_eq!(
            forms(&["s", "-dc", "a.snz"]),
            ["s", "decompress", "-c", "a.snz"]
        );
        assert_eq!(forms(&["s", "-tv", "a"]), ["s", "decompress", "-tv", "a"]);
        assert_eq!(forms(&["s", "--decompress", "a"]), ["s", "decompress", "a"]);
        // everything else is left to clap
        assert_eq!(forms(&["s", "compress", "-d"]), ["s", "compress", "-d"]);
        assert_eq!(forms(&["s", "-j", "2", "info"]), ["s", "-j", "2", "info"]);
        assert_eq!(forms(&["s", "-dj"]), ["s", "-dj"]);
        assert_eq!(forms(&["s"]), ["s"]);
        let cli = Cli::try_parse_from(forms(&["s", "-dkf", "a.snz"])).unwrap();
        match cli.command {
            Command::Decompress(a) => {
                assert!(a.coding.keep && a.coding.force && !a.test);
            }
            other => panic!("{other:?}"),
        }
    }
}
