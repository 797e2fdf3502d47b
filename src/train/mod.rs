//! The built-in trainer: fits [`crate::model::Network`] to 32×32 tiles with Adam and writes
//! a model file the codec can use.
//!
//! A run lives in one output folder: `checkpoint` (resumable state), `model.safetensors`
//! (EMA weights, re-exported with every checkpoint), `log.csv`, `loss.png` and
//! `MODEL_CARD.md`. Data order, dropout masks and the validation split are all seeded, so a
//! resumed run continues exactly (up to multithreaded floating-point summation order).

pub mod checkpoint;
pub mod data;
pub mod optim;
pub mod photos;
pub mod report;
pub mod tiles;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, KvCache, MulAdd};
use crate::error::{Error, Result};
use crate::model::{weights_from, Graph, Network};
use crate::weights::Weights;
use checkpoint::Checkpoint;
use data::TrainSet;
use optim::{Adam, Ema};
use report::LogRow;
use tiles::{Tiles, TILE_BYTES};

/// Adam learning rate of a new run unless `--lr` says otherwise.
pub const DEFAULT_LR: f32 = 1e-3;

/// Where the training tiles come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DatasetSpec {
    /// CIFAR-10 binary batches; `None` searches the default places.
    Cifar10(Option<PathBuf>),
    /// A folder of images (not recursive), cropped anew every epoch; a fixed tenth of the
    /// images (by file name) is held out.
    Dir(PathBuf),
    /// The photo training corpus ([`crate::corpus::photo_parts`]): BSDS500 and GCompris in
    /// the data folder (`None`: the default places), the Debian photos where
    /// `corpus/fetch-debian-photos.sh` put them (skipped with a note if absent).
    Photos(Option<PathBuf>),
    /// Each training tile drawn from part `k` with probability ∝ `weight_k`.
    Mix(Vec<(f64, DatasetSpec)>),
}

impl DatasetSpec {
    /// Parses `cifar10`, `photos`, `dir:PATH`, or a weighted mixture `photos:0.8,cifar10:0.2`
    /// (`data_dir` is where CIFAR-10 and the photos are looked for).
    ///
    /// # Errors
    /// [`Error::Usage`] naming what is wrong.
    pub fn parse(text: &str, data_dir: Option<&Path>) -> Result<DatasetSpec> {
        let one = |t: &str| -> Result<DatasetSpec> {
            match t {
                "cifar10" => Ok(DatasetSpec::Cifar10(data_dir.map(Path::to_path_buf))),
                "photos" => Ok(DatasetSpec::Photos(data_dir.map(Path::to_path_buf))),
                _ => match t.strip_prefix("dir:") {
                    Some(p) if !p.is_empty() => Ok(DatasetSpec::Dir(PathBuf::from(p))),
                    _ => Err(Error::Usage(format!(
                        "unknown --dataset `{t}` (cifar10, photos, dir:PATH, or a mixture such \
                         as photos:0.8,cifar10:0.2)"
                    ))),
                },
            }
        };
        if !text.contains(',') && one(text).is_ok() {
            return one(text);
        }
        let mut parts = Vec::new();
        for item in text.split(',') {
            let (name, w) = item.rsplit_once(':').ok_or_else(|| {
                Error::Usage(format!(
                    "--dataset `{text}`: give every part of a mixture a weight (NAME:WEIGHT)"
                ))
            })?;
            let w: f64 = w
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w > 0.0)
                .ok_or_else(|| {
                    Error::Usage(format!("--dataset `{text}`: weight `{w}` is not positive"))
                })?;
            parts.push((w, one(name)?));
        }
        Ok(if parts.len() == 1 {
            parts.remove(0).1
        } else {
            DatasetSpec::Mix(parts)
        })
    }
}

impl std::fmt::Display for DatasetSpec {
    /// The dataset as named on the command line (paths of the local machine left out of
    /// CIFAR-10, whose files are the same everywhere).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatasetSpec::Cifar10(_) => write!(f, "CIFAR-10 (binary version)"),
            DatasetSpec::Dir(p) => write!(f, "images of {}", p.display()),
            DatasetSpec::Photos(_) => write!(f, "photos (BSDS500, GCompris, Debian wallpapers)"),
            DatasetSpec::Mix(parts) => {
                for (i, (w, p)) in parts.iter().enumerate() {
                    write!(f, "{}{p} × {w}", if i > 0 { " + " } else { "" })?;
                }
                Ok(())
            }
        }
    }
}

/// Everything a training run needs.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Training data.
    pub dataset: DatasetSpec,
    /// Network shapes.
    pub config: Config,
    /// Stop after this many steps (in total, across resumes).
    pub steps: Option<u64>,
    /// Stop after this much training wall time (in total, across resumes).
    pub time_budget: Option<Duration>,
    /// Over this last part of `time_budget` the learning rate falls linearly to zero.
    pub cool_down: Option<Duration>,
    /// Images per step.
    pub batch: usize,
    /// Adam learning rate; `None`: 0.001 for a new run, the checkpoint's on resume.
    pub lr: Option<f32>,
    /// Run seed (initialization, data order, dropout).
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
    /// Continue from `out/checkpoint`.
    pub resume: bool,
    /// Start a new run from this model (`.safetensors`) or checkpoint's weights, with fresh
    /// optimizer state.
    pub init: Option<PathBuf>,
    /// Steps over which the learning rate rises linearly from 0 (`None`: 500 with `init`,
    /// else 0).
    pub warm_up: Option<u64>,
    /// Validate (on `val_subset` images) every this many steps.
    pub eval_every: u64,
    /// Images of the periodic validation.
    pub val_subset: usize,
    /// Images of the final validation (at most the held-out set).
    pub final_val: usize,
    /// Checkpoint this often.
    pub checkpoint_every: Duration,
    /// Evaluate the test set at the end (CIFAR-10 only).
    pub eval_test: bool,
    /// Use at most this many training tiles (before the split); for tests and quick runs.
    pub limit: Option<usize>,
    /// Images held out for validation.
    pub holdout: usize,
    /// The attention cache format of exported models (their inference arithmetic, part of
    /// their id; training itself computes in f32 either way).
    pub kv_cache: KvCache,
    /// How exported models join products to sums at inference (part of their id).
    pub mul_add: MulAdd,
    /// Called after every step with where the run stands (the binary draws a progress bar
    /// from it; the library draws nothing).
    pub on_step: Option<StepCallback>,
    /// Set from outside (Ctrl-C) to stop at the next step boundary, checkpointing first.
    pub stop: Arc<AtomicBool>,
}

impl TrainOptions {
    /// Defaults for `dataset` and `out`.
    pub fn new(dataset: DatasetSpec, out: PathBuf) -> TrainOptions {
        TrainOptions {
            dataset,
            config: Config::base(),
            steps: None,
            time_budget: None,
            cool_down: None,
            batch: 16,
            lr: None,
            seed: 0,
            out,
            resume: false,
            init: None,
            warm_up: None,
            eval_every: 500,
            val_subset: 500,
            final_val: 5000,
            checkpoint_every: Duration::from_secs(600),
            eval_test: false,
            limit: None,
            holdout: 5000,
            kv_cache: KvCache::F16,
            mul_add: MulAdd::Fused,
            on_step: None,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Where a run stands after a step, for [`TrainOptions::on_step`].
#[derive(Clone, Debug)]
pub struct StepReport {
    /// Steps taken in total (across resumes).
    pub step: u64,
    /// The step the run stops at, if it stops by steps.
    pub target: Option<u64>,
    /// This step's training loss in bits/dim.
    pub loss_bpd: f64,
    /// An exponential average of the training loss.
    pub smoothed_bpd: f64,
    /// The latest validation loss, if any.
    pub val_bpd: Option<f64>,
    /// Training images per second in this session.
    pub images_per_s: f64,
}

/// A progress callback of [`TrainOptions`].
#[derive(Clone)]
pub struct StepCallback(pub Arc<dyn Fn(&StepReport) + Send + Sync>);

impl std::fmt::Debug for StepCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepCallback")
    }
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps taken in total.
    pub steps: u64,
    /// Training images consumed in total.
    pub images_seen: u64,
    /// Training wall time in total, seconds.
    pub wall_s: f64,
    /// Mean training bits/dim over the last logging window.
    pub train_bpd: Option<f64>,
    /// Final validation bits/dim of the exported weights.
    pub val_bpd: Option<f64>,
    /// Which weights were exported.
    pub exported: ExportedWeights,
    /// Test bits/dim, if evaluated.
    pub test_bpd: Option<f64>,
    /// Where the model was written.
    pub model_path: PathBuf,
    /// Images per second in this session.
    pub images_per_s: f64,
}

/// Which of a run's weights go into `model.safetensors`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExportedWeights {
    /// The exponential moving average of the iterates (decay 0.9995): the default, much
    /// better than the raw weights while the learning rate is high.
    Ema,
    /// The optimizer's own iterate: chosen only after a cool-down, when it beat the EMA on
    /// the final validation (the EMA still remembers pre-cool-down iterates).
    Raw {
        /// Final validation bits/dim of the EMA weights, for the record.
        ema_val_bpd: f64,
    },
}

impl ExportedWeights {
    /// The `snailzip.train.weights` metadata value: `ema` or `raw`.
    pub fn tag(&self) -> &'static str {
        match self {
            ExportedWeights::Ema => "ema",
            ExportedWeights::Raw { .. } => "raw",
        }
    }
}

impl std::fmt::Display for ExportedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportedWeights::Ema => f.write_str("EMA 0.9995"),
            ExportedWeights::Raw { .. } => f.write_str("raw (final iterate)"),
        }
    }
}

/// Mean bits/dim of `tiles` under `weights` (forward only, batches of 16).
pub fn evaluate(weights: &Weights, tiles: &Tiles) -> f64 {
    let net = Network::new(weights);
    let mut total = 0.0;
    for chunk in tiles.data.chunks(16 * TILE_BYTES) {
        let n = chunk.len() / TILE_BYTES;
        let mut g = Graph::new(false);
        total += f64::from(net.loss(&mut g, chunk, n, 0).data()[0]) * n as f64;
    }
    total / tiles.len().max(1) as f64
}

/// The loss of one training step on `images` and the gradients (canonical order).
///
/// # Errors
/// [`Error::Limits`] if dfdx runs out of memory.
pub fn loss_and_grads(net: &Network, images: &[u8], seed: u64) -> Result<(f32, Vec<Vec<f32>>)> {
    let n = images.len() / TILE_BYTES;
    let mut g = Graph::new(true);
    let loss = net.loss(&mut g, images, n, seed);
    let oom = |e| Error::Limits(format!("training step failed: {e}"));
    let mut grads = g.backward(&loss).map_err(oom)?;
    let mut out = Vec::with_capacity(net.params().len());
    for p in net.params() {
        out.push(p.key.take(&mut grads).map_err(oom)?);
    }
    Ok((loss.data()[0], out))
}

/// The state of a run between steps.
struct Run {
    net: Network,
    adam: Adam,
    ema: Ema,
    seed: u64,
    step: u64,
    images_seen: u64,
    elapsed_before: f64,
    epoch: u64,
    cursor: u64,
    val_bpd: Option<f64>,
    /// Warm-up steps (learning rate × min(1, (step + 1) / warm_up)).
    warm_up: u64,
    /// What the run started from (`random`, or a model id and file), for the card.
    init: String,
    /// Set only at the end of a cooled-down session; not checkpointed.
    exported: ExportedWeights,
}

impl Run {
    fn fresh(config: &Config, seed: u64, lr: f32) -> Run {
        Run::from_weights(&Weights::random(config, seed), seed, lr)
    }

    fn from_weights(weights: &Weights, seed: u64, lr: f32) -> Run {
        let net = Network::new(weights);
        Run {
            adam: Adam::new(&net, lr),
            ema: Ema::new(&net, 0.9995),
            net,
            seed,
            step: 0,
            images_seen: 0,
            elapsed_before: 0.0,
            epoch: 0,
            cursor: 0,
            val_bpd: None,
            warm_up: 0,
            init: "random".into(),
            exported: ExportedWeights::Ema,
        }
    }

    /// The learning-rate multiplier of the warm-up at the current step.
    fn warm_up_scale(&self) -> f32 {
        if self.warm_up == 0 {
            1.0
        } else {
            ((self.step + 1) as f64 / self.warm_up as f64).min(1.0) as f32
        }
    }

    fn from_checkpoint(ck: Checkpoint) -> Result<Run> {
        let mut run = Run::fresh(&ck.config, ck.seed, ck.lr);
        run.net.set_values(&ck.params)?;
        run.adam.m = ck.m;
        run.adam.v = ck.v;
        run.adam.t = ck.adam_t;
        run.ema.values = ck.ema;
        run.ema.updates = ck.ema_updates;
        run.step = ck.step;
        run.images_seen = ck.images_seen;
        run.elapsed_before = ck.elapsed_s;
        run.epoch = ck.epoch;
        run.cursor = ck.cursor;
        run.val_bpd = ck.val_bpd;
        run.warm_up = ck.warm_up;
        run.init = ck.init;
        Ok(run)
    }

    fn checkpoint(&self, elapsed_s: f64) -> Checkpoint {
        Checkpoint {
            config: self.net.config().clone(),
            seed: self.seed,
            step: self.step,
            images_seen: self.images_seen,
            elapsed_s,
            epoch: self.epoch,
            cursor: self.cursor,
            lr: self.adam.lr,
            adam_t: self.adam.t,
            ema_updates: self.ema.updates,
            val_bpd: self.val_bpd,
            warm_up: self.warm_up,
            init: self.init.clone(),
            params: self
                .net
                .params()
                .iter()
                .map(|p| p.value().to_vec())
                .collect(),
            m: self.adam.m.clone(),
            v: self.adam.v.clone(),
            ema: self.ema.values.clone(),
        }
    }

    fn ema_weights(&self) -> Result<Weights> {
        weights_from(
            self.net.config(),
            self.net.names(),
            self.ema.values.iter().map(Vec::as_slice),
        )
    }

    fn raw_weights(&self) -> Result<Weights> {
        weights_from(
            self.net.config(),
            self.net.names(),
            self.net.params().iter().map(|p| p.value()),
        )
    }

    fn exported_weights(&self) -> Result<Weights> {
        match self.exported {
            ExportedWeights::Ema => self.ema_weights(),
            ExportedWeights::Raw { .. } => self.raw_weights(),
        }
    }

    /// The next batch's tile indices (advancing epochs as needed; the batch is drawn from
    /// the epoch current after the call).
    fn next_batch(&mut self, n_train: usize, batch: usize, order: &mut Vec<u32>) -> Vec<u32> {
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch {
            if self.cursor as usize >= n_train {
                self.epoch += 1;
                self.cursor = 0;
                *order = data::epoch_order(n_train, self.seed, self.epoch);
            }
            out.push(order[self.cursor as usize]);
            self.cursor += 1;
        }
        out
    }

    /// One optimizer step; returns the training bits/dim (NaN steps are skipped).
    fn step(&mut self, images: &[u8]) -> Result<f32> {
        let seed = self.seed ^ self.step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let (loss, grads) = loss_and_grads(&self.net, images, seed)?;
        if loss.is_finite() && grads.iter().all(|g| g.iter().all(|v| v.is_finite())) {
            self.adam.step(&mut self.net, &grads);
            self.ema.update(&self.net);
        }
        self.step += 1;
        self.images_seen += (images.len() / TILE_BYTES) as u64;
        Ok(loss)
    }
}

/// A dataset's training set, its held-out validation tiles (never from trained images) and
/// a line for the model card.
struct Loaded {
    train: TrainSet,
    val: Tiles,
    note: String,
}

fn load_dataset(spec: &DatasetSpec, opts: &TrainOptions) -> Result<Loaded> {
    let limit = opts.limit.unwrap_or(usize::MAX);
    match spec {
        DatasetSpec::Cifar10(dir) => {
            let dir = data::find_cifar(dir.as_deref())?;
            let all = data::load_cifar(&dir, true, limit)?;
            let (train, val) = data::split(&all, opts.holdout);
            Ok(Loaded {
                note: format!(
                    "CIFAR-10 training set: {} images trained on, {} held out (fixed shuffle)",
                    train.len(),
                    val.len()
                ),
                train: TrainSet::Tiles(train),
                val,
            })
        }
        DatasetSpec::Dir(dir) => {
            let files = photos::dir_files(dir)?;
            photo_set(&files, limit, &format!("{}", dir.display()))
        }
        DatasetSpec::Photos(data_dir) => {
            let data = data_dir.clone().unwrap_or_else(crate::corpus::data_dir);
            let (files, mut notes) = photos::corpus_files(
                &crate::corpus::photos_dir(&data),
                &crate::corpus::debian_photos_dir(),
            )?;
            let mut loaded = photo_set(&files, limit, "the photo corpus")?;
            notes.push(loaded.note);
            loaded.note = notes.join("; ");
            Ok(loaded)
        }
        DatasetSpec::Mix(parts) => {
            let mut sets = Vec::new();
            let mut vals = Vec::new();
            let mut notes = Vec::new();
            for (w, p) in parts {
                let l = load_dataset(p, opts)?;
                notes.push(format!("{w} × ({})", l.note));
                sets.push((*w, l.train));
                vals.push((*w, l.val));
            }
            Ok(Loaded {
                train: TrainSet::Mix(sets),
                val: data::interleave(&vals),
                note: format!(
                    "mixture, each tile drawn from a part with probability ∝ its weight: {}; \
                     validation interleaves the parts' held-out tiles in those proportions",
                    notes.join(" + ")
                ),
            })
        }
    }
}

/// Loads photo files into a training set of random crops and the grid tiles of the held-out
/// photos (at most `limit` photos, for tests and quick runs).
fn photo_set(files: &[photos::PhotoFile], limit: usize, what: &str) -> Result<Loaded> {
    let files = &files[..files.len().min(limit)];
    let (train, val) = photos::load(files)?;
    let (train, val) = (photos::PhotoSet::new(train), photos::PhotoSet::new(val));
    if train.is_empty() || val.is_empty() {
        return Err(Error::Usage(format!(
            "{what}: need photos of at least 32×32 both to train on and to hold out ({} and {})",
            train.photos(),
            val.photos()
        )));
    }
    Ok(Loaded {
        note: format!(
            "{what}: {} photos trained on ({:.1} Mpixel at training scale, {} random 32×32 \
             crops per epoch: position, 50% an extra area downscale of up to 2×, 50% mirrored), \
             {} whole photos held out ({} validation tiles on a fixed grid, fixed shuffle)",
            train.photos(),
            train.pixels() as f64 / 1e6,
            train.len(),
            val.photos(),
            val.grid_tiles().len()
        ),
        val: val.grid_tiles(),
        train: TrainSet::Photos(train),
    })
}

/// Writes `model.safetensors` (EMA or raw weights + metadata), `loss.png` and `MODEL_CARD.md`.
fn export(
    run: &Run,
    opts: &TrainOptions,
    wall_s: f64,
    test_bpd: Option<f64>,
    data_note: &str,
) -> Result<PathBuf> {
    let mut w = run
        .exported_weights()?
        .with_kv_cache(opts.kv_cache)
        .with_mul_add(opts.mul_add);
    let meta = [
        ("snailzip.train.weights", run.exported.tag().to_string()),
        ("snailzip.train.steps", run.step.to_string()),
        ("snailzip.train.images_seen", run.images_seen.to_string()),
        ("snailzip.train.wall_s", format!("{wall_s:.0}")),
        ("snailzip.train.seed", run.seed.to_string()),
        ("snailzip.train.dataset", opts.dataset.to_string()),
        ("snailzip.train.init", run.init.clone()),
        (
            "snailzip.train.val_bpd",
            run.val_bpd.map_or("n/a".into(), |v| format!("{v:.4}")),
        ),
    ];
    for (k, v) in &meta {
        w.set_metadata(k, v);
    }
    let model_path = opts.out.join("model.safetensors");
    w.save(&model_path)?;
    let rows = report::read_rows(&opts.out.join("log.csv"));
    report::plot_loss(&rows, &opts.out.join("loss.png"))?;
    crate::atomic::atomic_write(
        &opts.out.join("loss.svg"),
        report::loss_svg(&rows).as_bytes(),
        true,
    )?;
    let last_train = rows.iter().rev().find_map(|r| r.train_bpd);
    let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    let card = format!(
        "# snailzip model card\n\n\
         - model: PixelSNAIL, `{config}` ({params} parameters), model id `{id}`\n\
         - data: {dataset}. {data_note}; the order is shuffled with a seeded PCG generator \
         every epoch\n\
         - initialised from: {init}\n\
         - training: Adam (lr {lr} as last set, β1 0.95, β2 0.9995, lr × 0.999998 per step{warm}{cool}), \
         batch {batch}, seed {seed}, {exported} exported\n\
         - steps: {steps}, images seen: {images}, wall time: {wall:.0} s\n\
         - bits/dim: train {train} (last log window, raw weights), validation {val} (exported \
         weights), \
         test {test}\n\
         - loss curve: `loss.svg` (labelled) and `loss.png` (blue train, red validation, \
         bits/dim vs images seen), numbers in `log.csv`\n",
        config = run.net.config(),
        params = run.net.config().parameter_count(),
        id = crate::error::hex_id(&w.id()),
        dataset = opts.dataset,
        init = run.init,
        lr = run.adam.lr,
        warm = if run.warm_up > 0 {
            format!("; linear warm-up over the first {} steps", run.warm_up)
        } else {
            String::new()
        },
        cool = opts.cool_down.map_or(String::new(), |d| {
            format!(
                "; this session cooled down linearly to 0 over the last {:.0} s",
                d.as_secs_f64()
            )
        }),
        batch = opts.batch,
        seed = run.seed,
        exported = match run.exported {
            ExportedWeights::Ema => format!("{} weights", run.exported),
            ExportedWeights::Raw { ema_val_bpd } => format!(
                "{} weights (after the cool-down they beat the EMA 0.9995 weights' validation \
                 {ema_val_bpd:.4})",
                run.exported
            ),
        },
        steps = run.step,
        images = run.images_seen,
        wall = wall_s,
        train = fmt(last_train),
        val = fmt(run.val_bpd),
        test = fmt(test_bpd),
    );
    crate::atomic::atomic_write(&opts.out.join("MODEL_CARD.md"), card.as_bytes(), true)?;
    Ok(model_path)
}

/// Trains (or resumes) a model as `opts` says; see the module docs for the output folder.
///
/// # Errors
/// [`Error::Usage`] for bad options or missing data, [`Error::Io`] for file problems,
/// [`Error::Format`] for a corrupt checkpoint.
pub fn train(opts: &TrainOptions) -> Result<TrainSummary> {
    opts.config.validate()?;
    if opts.batch == 0 {
        return Err(Error::Usage("--batch must be at least 1".into()));
    }
    if opts.cool_down.is_some() && opts.time_budget.is_none() {
        return Err(Error::Usage("--cool-down needs --time-budget".into()));
    }
    if opts.lr.is_some_and(|lr| !(lr.is_finite() && lr > 0.0)) {
        return Err(Error::Usage("--lr must be a positive number".into()));
    }
    std::fs::create_dir_all(&opts.out)?;
    let ck_path = opts.out.join("checkpoint");
    let mut run = if opts.resume {
        let ck = Checkpoint::load(&ck_path)?;
        if ck.config != opts.config {
            return Err(Error::Usage(format!(
                "checkpoint was trained with config {}, not {}",
                ck.config, opts.config
            )));
        }
        let mut run = Run::from_checkpoint(ck)?;
        if let Some(lr) = opts.lr {
            run.adam.lr = lr;
        }
        if opts.init.is_some() {
            return Err(Error::Usage(
                "--init starts a new run; --resume continues one (give one of them)".into(),
            ));
        }
        report::truncate_after(&opts.out.join("log.csv"), run.step)?;
        run
    } else {
        if ck_path.exists() {
            return Err(Error::Usage(format!(
                "{} already holds a run (pass --resume to continue it, or choose another --out)",
                opts.out.display()
            )));
        }
        let _ = std::fs::remove_file(opts.out.join("log.csv"));
        let lr = opts.lr.unwrap_or(DEFAULT_LR);
        let mut run = match &opts.init {
            None => Run::fresh(&opts.config, opts.seed, lr),
            Some(path) => {
                let (weights, from) = init_weights(path)?;
                // the inference arithmetic is not the network's: training is f32 either way
                let weights = weights
                    .with_kv_cache(opts.config.kv_cache)
                    .with_mul_add(opts.config.mul_add);
                if weights.config() != &opts.config {
                    return Err(Error::Usage(format!(
                        "--init {} has config {}, not {} (pass --config to match it)",
                        path.display(),
                        weights.config(),
                        opts.config
                    )));
                }
                let mut run = Run::from_weights(&weights, opts.seed, lr);
                run.init = from;
                run
            }
        };
        run.warm_up = opts
            .warm_up
            .unwrap_or(if opts.init.is_some() { 500 } else { 0 });
        run
    };

    let Loaded {
        train: train_set,
        val: val_set,
        note: data_note,
    } = load_dataset(&opts.dataset, opts)?;
    if train_set.is_empty() || val_set.is_empty() {
        return Err(Error::Usage("not enough training tiles".into()));
    }
    let val_small = val_set.head(opts.val_subset);
    let n_train = train_set.len();
    let mut order = data::epoch_order(n_train, run.seed, run.epoch);

    let csv = opts.out.join("log.csv");
    let session = Instant::now();
    let session_start_images = run.images_seen;
    let wall = |run: &Run| run.elapsed_before + session.elapsed().as_secs_f64();
    let mut last_ck = Instant::now();
    let (mut window_sum, mut window_n) = (0f64, 0u64);
    let mut last_train = None;
    let target = opts.steps.map_or(u64::MAX, |s| s);
    let budget = opts.time_budget.map_or(f64::INFINITY, |d| d.as_secs_f64());
    let log_every = 20u64;
    let mut smooth: Option<f64> = None;
    while run.step < target && wall(&run) < budget && !opts.stop.load(Ordering::Relaxed) {
        run.adam.scale = run.warm_up_scale();
        if let Some(cool) = opts.cool_down {
            run.adam.scale *= cool_down_scale(budget - wall(&run), cool.as_secs_f64());
        }
        let idx = run.next_batch(n_train, opts.batch, &mut order);
        let images = train_set.batch(&idx, run.seed, run.epoch);
        let bpd = f64::from(run.step(&images)?);
        if bpd.is_finite() {
            window_sum += bpd;
            window_n += 1;
            smooth = Some(smooth.map_or(bpd, |s| 0.95 * s + 0.05 * bpd));
        }
        let rate =
            (run.images_seen - session_start_images) as f64 / session.elapsed().as_secs_f64();
        if let Some(StepCallback(report)) = &opts.on_step {
            report(&StepReport {
                step: run.step,
                target: opts.steps,
                loss_bpd: bpd,
                smoothed_bpd: smooth.unwrap_or(f64::NAN),
                val_bpd: run.val_bpd,
                images_per_s: rate,
            });
        }
        let eval_now = opts.eval_every > 0 && run.step % opts.eval_every == 0;
        if run.step % log_every == 0 || eval_now {
            let train_bpd = (window_n > 0).then(|| window_sum / window_n as f64);
            last_train = train_bpd.or(last_train);
            (window_sum, window_n) = (0.0, 0);
            let val = if eval_now {
                let v = evaluate(&run.ema_weights()?, &val_small);
                run.val_bpd = Some(v);
                Some(v)
            } else {
                None
            };
            report::append_row(
                &csv,
                &LogRow {
                    step: run.step,
                    images_seen: run.images_seen,
                    wall_s: wall(&run),
                    train_bpd,
                    val_bpd: val,
                },
            )?;
        }
        if last_ck.elapsed() >= opts.checkpoint_every {
            run.checkpoint(wall(&run)).save(&ck_path)?;
            export(&run, opts, wall(&run), None, &data_note)?;
            last_ck = Instant::now();
        }
    }
    let wall_train = wall(&run);
    let rate = (run.images_seen - session_start_images) as f64 / session.elapsed().as_secs_f64();
    // checkpoint first, so an interrupted final evaluation loses nothing
    run.checkpoint(wall_train).save(&ck_path)?;
    let stopped = opts.stop.load(Ordering::Relaxed);
    if !stopped {
        let n = opts.final_val.min(val_set.len());
        let held_out = val_set.head(n);
        let mut v = evaluate(&run.ema_weights()?, &held_out);
        if opts.cool_down.is_some() {
            let raw = evaluate(&run.raw_weights()?, &held_out);
            if raw < v {
                run.exported = ExportedWeights::Raw { ema_val_bpd: v };
                v = raw;
            }
        }
        run.val_bpd = Some(v);
        report::append_row(
            &csv,
            &LogRow {
                step: run.step,
                images_seen: run.images_seen,
                wall_s: wall_train,
                train_bpd: if window_n > 0 {
                    Some(window_sum / window_n as f64)
                } else {
                    None
                },
                val_bpd: Some(v),
            },
        )?;
        run.checkpoint(wall_train).save(&ck_path)?;
    }
    let test_bpd = if opts.eval_test && !stopped {
        let DatasetSpec::Cifar10(dir) = &opts.dataset else {
            return Err(Error::Usage("--eval-test needs --dataset cifar10".into()));
        };
        let test = data::load_cifar(&data::find_cifar(dir.as_deref())?, false, usize::MAX)?;
        Some(evaluate(&run.exported_weights()?, &test))
    } else {
        None
    };
    let model_path = export(&run, opts, wall_train, test_bpd, &data_note)?;
    Ok(TrainSummary {
        steps: run.step,
        images_seen: run.images_seen,
        wall_s: wall_train,
        train_bpd: last_train,
        val_bpd: run.val_bpd,
        exported: run.exported,
        test_bpd,
        model_path,
        images_per_s: rate,
    })
}

/// The weights `--init` names: a model file, else a checkpoint (its current iterate), and a
/// line saying which.
fn init_weights(path: &Path) -> Result<(Weights, String)> {
    let model_err = match Weights::load(path) {
        Ok(w) => {
            let from = format!(
                "model `{}` (id {}), fresh Adam state",
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                crate::error::hex_id(&w.id())
            );
            return Ok((w, from));
        }
        Err(e) => e,
    };
    let ck = Checkpoint::load(path).map_err(|ck_err| {
        Error::Usage(format!(
            "--init {}: neither a model ({model_err}) nor a checkpoint ({ck_err})",
            path.display()
        ))
    })?;
    let run = Run::from_checkpoint(ck)?;
    let w = run.raw_weights()?;
    let from = format!(
        "checkpoint `{}` at step {} ({} images), its current iterate (id {}), fresh Adam state",
        path.display(),
        run.step,
        run.images_seen,
        crate::error::hex_id(&w.id())
    );
    Ok((w, from))
}

/// Measures training speed: `steps` steps of `batch` random-content CIFAR-like tiles at
/// `config`, after one warm-up step. Returns images per second.
///
/// # Errors
/// As [`loss_and_grads`].
pub fn bench(config: &Config, batch: usize, steps: usize, seed: u64) -> Result<f64> {
    let mut run = Run::fresh(config, seed, DEFAULT_LR);
    let mut rng = crate::weights::SplitMix64(seed);
    let images: Vec<u8> = (0..batch * TILE_BYTES)
        .map(|_| (rng.next_u64() >> 56) as u8)
        .collect();
    run.step(&images)?;
    let t = Instant::now();
    for _ in 0..steps {
        run.step(&images)?;
    }
    Ok((steps * batch) as f64 / t.elapsed().as_secs_f64())
}

/// Learning-rate multiplier with `left_s` seconds of the budget left and a cool-down of
/// `cool_s` seconds: 1 before the cool-down, then falling linearly to 0 at the end.
fn cool_down_scale(left_s: f64, cool_s: f64) -> f32 {
    if cool_s <= 0.0 {
        return 1.0;
    }
    (left_s / cool_s).clamp(0.0, 1.0) as f32
}

/// Default output folder for a config name (`runs/NAME`).
pub fn default_out(config_name: &str) -> PathBuf {
    Path::new("runs").join(config_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_parse_with_weights() {
        let d = Some(Path::new("/data"));
        assert_eq!(
            DatasetSpec::parse("photos", d).unwrap(),
            DatasetSpec::Photos(Some("/data".into()))
        );
        assert_eq!(
            DatasetSpec::parse("dir:a/b", None).unwrap(),
            DatasetSpec::Dir("a/b".into())
        );
        assert_eq!(
            DatasetSpec::parse("photos:0.8,cifar10:0.2", None).unwrap(),
            DatasetSpec::Mix(vec![
                (0.8, DatasetSpec::Photos(None)),
                (0.2, DatasetSpec::Cifar10(None))
            ])
        );
        assert_eq!(
            DatasetSpec::parse("dir:x:1,photos:3", None).unwrap(),
            DatasetSpec::Mix(vec![
                (1.0, DatasetSpec::Dir("x".into())),
                (3.0, DatasetSpec::Photos(None))
            ])
        );
        for bad in [
            "imagenet",
            "photos,cifar10",
            "photos:0,cifar10:1",
            "photos:-1",
            "dir:",
        ] {
            assert!(DatasetSpec::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn warm_up_rises_linearly() {
        let mut run = Run::fresh(&Config::tiny(), 1, 1e-3);
        assert_eq!(run.warm_up_scale(), 1.0);
        run.warm_up = 4;
        assert_eq!(run.warm_up_scale(), 0.25);
        run.step = 3;
        assert_eq!(run.warm_up_scale(), 1.0);
        run.step = 100;
        assert_eq!(run.warm_up_scale(), 1.0);
    }

    #[test]
    fn cool_down_falls_linearly_to_zero() {
        assert_eq!(cool_down_scale(3600.0, 600.0), 1.0);
        assert_eq!(cool_down_scale(600.0, 600.0), 1.0);
        assert_eq!(cool_down_scale(150.0, 600.0), 0.25);
        assert_eq!(cool_down_scale(-5.0, 600.0), 0.0);
        assert_eq!(cool_down_scale(10.0, 0.0), 1.0);
    }

    fn images(n: usize, seed: u64) -> Vec<u8> {
        // smooth-ish images so that there is something to learn
        let mut r = crate::weights::SplitMix64(seed);
        let mut out = Vec::with_capacity(n * TILE_BYTES);
        for _ in 0..n {
            let base = (r.next_u64() >> 57) as u8;
            for p in 0..1024 {
                for c in 0..3 {
                    out.push(
                        base.wrapping_add(
                            (p % 32) as u8 + 20 * c as u8 + (r.next_u64() >> 61) as u8,
                        ),
                    );
                }
            }
        }
        out
    }

    #[test]
    fn adam_lowers_the_loss() {
        let mut run = Run::fresh(&Config::tiny(), 1, 3e-3);
        let imgs = images(8, 2);
        let first = run.step(&imgs).unwrap();
        let mut last = first;
        for _ in 0..15 {
            last = run.step(&imgs).unwrap();
        }
        assert!(last < first - 0.2, "{first} -> {last}");
    }

    #[test]
    fn resume_reproduces_the_next_step() {
        let imgs = images(4, 3);
        let mut a = Run::fresh(&Config::tiny(), 5, 1e-3);
        for _ in 0..3 {
            a.step(&imgs).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint");
        a.checkpoint(1.0).save(&p).unwrap();
        let mut b = Run::from_checkpoint(Checkpoint::load(&p).unwrap()).unwrap();
        let (la, lb) = (a.step(&imgs).unwrap(), b.step(&imgs).unwrap());
        assert!((la - lb).abs() < 1e-6, "{la} vs {lb}");
        let (na, nb) = (a.step(&imgs).unwrap(), b.step(&imgs).unwrap());
        assert!((na - nb).abs() < 1e-5, "{na} vs {nb}");
        // the data position survives a checkpoint as (epoch, cursor)
        let mut c = Run::fresh(&Config::tiny(), 5, 1e-3);
        let mut oc = data::epoch_order(10, 5, 0);
        c.next_batch(10, 7, &mut oc);
        c.next_batch(10, 7, &mut oc);
        let mut d = Run::fresh(&Config::tiny(), 5, 1e-3);
        d.epoch = c.epoch;
        d.cursor = c.cursor;
        let mut od = data::epoch_order(10, 5, d.epoch);
        assert_eq!(c.next_batch(10, 7, &mut oc), d.next_batch(10, 7, &mut od));
    }
}
