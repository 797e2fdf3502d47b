//! `snailzip train`: flags -> [`snailzip::train::TrainOptions`] -> [`snailzip::train::train`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use snailzip::config::{KvCache, MulAdd};
use snailzip::train::{self, DatasetSpec, TrainOptions};
use snailzip::Config;

/// Train a PixelSNAIL model on 32×32 tiles (CPU).
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Training data: `cifar10`, `photos` (the photo corpus, see corpus/README.md),
    /// `dir:PATH` (a folder of images), or a weighted mixture such as
    /// `photos:0.8,cifar10:0.2`. Photos are cropped anew every epoch; whole images are held out.
    #[arg(long, default_value = "cifar10")]
    pub dataset: String,
    /// Data folder: for CIFAR-10 the `cifar-10-batches-bin` folder or its parent (default:
    /// $SNAILZIP_DATA, ../shared/data, ~/.cache/snailzip); for photos the folder holding
    /// `photos/` (default: $SNAILZIP_DATA, else ../shared/data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Model size: tiny, base (C=64), wide (C=128), paper, or a full
    /// `channels=..,blocks=..,res_per_block=..,key_size=..,value_size=..,mixtures=..,dropout=..` list.
    #[arg(long, default_value = "base")]
    pub config: String,
    /// Stop after this many steps (total, across resumes).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Stop after this much training time (total), e.g. 90s, 10m, 2h.
    #[arg(long)]
    pub time_budget: Option<String>,
    /// Let the learning rate fall linearly to 0 over this last part of --time-budget, e.g. 30m
    /// (a later --resume without it trains at the full rate again).
    #[arg(long)]
    pub cool_down: Option<String>,
    /// Images per step.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Adam learning rate [default: 0.001]; with --resume it replaces the checkpoint's
    /// (e.g. a lower rate to cool down at the end of a run).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Seed of initialization, data order and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (default: runs/CONFIG).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Start a new run from the weights of this model (.safetensors) or checkpoint, with
    /// fresh optimizer state (fine-tuning, e.g. a photo model from the CIFAR-10 model).
    #[arg(long, value_name = "PATH", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Steps over which the learning rate rises linearly from 0 [default: 500 with --init,
    /// else 0].
    #[arg(long, value_name = "STEPS")]
    pub warm_up: Option<u64>,
    /// Validate on a fixed subset every this many steps (0: never).
    #[arg(long, default_value_t = 500)]
    pub eval_every: u64,
    /// Images in the periodic validation subset.
    #[arg(long, default_value_t = 500)]
    pub val_subset: usize,
    /// Images in the final validation (at most the 5,000 held out).
    #[arg(long, default_value_t = 5000)]
    pub final_val: usize,
    /// Checkpoint (and export) interval, e.g. 5m.
    #[arg(long, default_value = "10m")]
    pub checkpoint_every: String,
    /// Evaluate the full test set at the end (slow on CPU).
    #[arg(long)]
    pub eval_test: bool,
    /// Use only the first N training tiles (quick experiments).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Images held out for validation.
    #[arg(long, default_value_t = 5000)]
    pub holdout: usize,
    /// Attention key/value cache format of the exported model at inference: `f16` (half the
    /// memory traffic; costs well under 0.01% in size) or `f32`. Part of the model id.
    #[arg(long, default_value = "f16", value_parser = parse_kv_cache)]
    pub kv_cache: KvCache,
    /// How the exported model joins each product to its sum at inference: `fused` (one
    /// fused multiply-add, faster on every AVX2 and AVX-512 CPU) or `separate`. Part of the
    /// model id.
    #[arg(long, default_value = "fused", value_parser = parse_mul_add)]
    pub mul_add: MulAdd,
    /// Measure training speed for N steps on random data, print images/s and peak memory.
    #[arg(long)]
    pub bench: Option<usize>,
}

fn parse_mul_add(text: &str) -> Result<MulAdd, String> {
    MulAdd::parse(text).map_err(|e| e.to_string())
}

fn parse_kv_cache(text: &str) -> Result<KvCache, String> {
    KvCache::parse(text).map_err(|e| e.to_string())
}

/// Parses `90s`, `10m`, `2h`, `1h30m` or plain seconds.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => bail!("bad duration `{text}` (use e.g. 90s, 10m, 2h)"),
        };
        let v: f64 = num
            .parse()
            .with_context(|| format!("bad duration `{text}`"))?;
        total += v * unit;
        num.clear();
    }
    if !num.is_empty() {
        total += num
            .parse::<f64>()
            .with_context(|| format!("bad duration `{text}`"))?;
    }
    if !total.is_finite() || total <= 0.0 {
        bail!("duration `{text}` must be positive");
    }
    Ok(Duration::from_secs_f64(total))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Makes Ctrl-C / SIGTERM set a flag (the trainer checkpoints and exits); a second Ctrl-C
/// kills the process as usual.
fn install_stop_handler() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let f = flag.clone();
    std::thread::spawn(move || loop {
        if STOP.load(Ordering::Relaxed) {
            f.store(true, Ordering::Relaxed);
            eprintln!("\nstopping after this step (checkpointing); press Ctrl-C again to abort");
            // SAFETY: restoring the default action is always valid.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    });
    flag
}

/// Keeps freed memory in glibc's heap instead of returning it to the kernel: training
/// allocates and frees the same large buffers every step, and fresh pages from the kernel
/// cost a page fault each (measured: ~15% of a step).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; called before any thread
    // allocates concurrently.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// Runs `snailzip train` on the current thread pool (`snailzip --threads N train ...`).
pub fn run(args: TrainArgs, quiet: bool) -> anyhow::Result<()> {
    if std::env::var_os("SNAILZIP_NO_MALLOPT").is_none() {
        keep_freed_memory();
    }
    // a preset names its output folder; a key=value list gets `runs/custom`
    let (config, name) = match Config::preset(&args.config) {
        Some(config) => (config, args.config.as_str()),
        None if args.config.contains('=') => (Config::parse(&args.config)?, "custom"),
        None => bail!(
            "unknown --config `{}` (one of {:?}, or a key=value,... list)",
            args.config,
            Config::PRESETS
        ),
    };
    if let Some(steps) = args.bench {
        let rate = train::bench(&config, args.batch, steps.max(1), args.seed)?;
        println!(
            "bench: config {} batch {} threads {}: {rate:.2} images/s, peak RSS {:.0} MiB",
            args.config,
            args.batch,
            rayon::current_num_threads(),
            crate::bench_cmd::peak_rss_mib().unwrap_or(f64::NAN)
        );
        return Ok(());
    }
    let dataset = DatasetSpec::parse(&args.dataset, args.data_dir.as_deref())?;
    let out = args.out.clone().unwrap_or_else(|| train::default_out(name));
    let mut opts = TrainOptions::new(dataset, out);
    opts.config = config;
    opts.steps = args.steps;
    opts.time_budget = args
        .time_budget
        .as_deref()
        .map(parse_duration)
        .transpose()?;
    opts.cool_down = args.cool_down.as_deref().map(parse_duration).transpose()?;
    if opts.steps.is_none() && opts.time_budget.is_none() {
        bail!("give --steps N and/or --time-budget DURATION");
    }
    opts.batch = args.batch;
    opts.kv_cache = args.kv_cache;
    opts.mul_add = args.mul_add;
    opts.lr = args.lr;
    opts.seed = args.seed;
    opts.resume = args.resume;
    opts.init = args.init.clone();
    opts.warm_up = args.warm_up;
    opts.eval_every = args.eval_every;
    opts.val_subset = args.val_subset;
    opts.final_val = args.final_val;
    opts.checkpoint_every = parse_duration(&args.checkpoint_every)?;
    opts.eval_test = args.eval_test;
    opts.limit = args.limit;
    opts.holdout = args.holdout;
    let bar = crate::progress::train_bar(quiet);
    opts.on_step = Some(train::StepCallback(std::sync::Arc::new({
        let bar = bar.clone();
        move |r: &train::StepReport| crate::progress::train_step(&bar, r)
    })));
    opts.stop = install_stop_handler();
    eprintln!(
        "training {} ({} parameters) on {}, {} threads, output {}",
        opts.config,
        opts.config.parameter_count(),
        opts.dataset,
        rayon::current_num_threads(),
        opts.out.display()
    );
    let s = train::train(&opts);
    bar.finish();
    let s = s?;
    let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    println!(
        "done: {} steps, {} images, {:.0} s ({:.2} img/s this session); train {} / val {} / test {} \
         bits/dim; model {} ({} weights); peak RSS {:.0} MiB",
        s.steps,
        s.images_seen,
        s.wall_s,
        s.images_per_s,
        f(s.train_bpd),
        f(s.val_bpd),
        f(s.test_bpd),
        s.model_path.display(),
        s.exported,
        crate::bench_cmd::peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
