//! `snailzip sample`: draws 32×32 images from a model into a PNG grid.

use anyhow::Context;
use snailzip::{atomic_write, Engine};

use crate::cli::SampleArgs;
use crate::models;

pub fn run(args: &SampleArgs) -> anyhow::Result<()> {
    let (weights, _) = models::weights(args.model.as_deref())?;
    let engine = Engine::new(&weights);
    let images = snailzip::sample::sample(&engine, usize::from(args.count), args.seed);
    let grid = snailzip::sample::grid(&images, args.columns, 2).context("no images")?;
    atomic_write(&args.output, &grid.to_png()?, args.force)
        .with_context(|| format!("cannot write {}", args.output.display()))
}
