//! Copies a model file with another inference arithmetic (and so another id); tensors and
//! metadata are unchanged. This is how the shipped models moved to the f16 key/value cache
//! and then to fused multiply-adds (see `models/README.md`):
//!
//! ```text
//! cargo run --release --example set_arithmetic -- IN.safetensors OUT.safetensors kv_cache=f16 mul_add=fused
//! ```

use std::path::Path;

use anyhow::{bail, Context};
use snailzip::config::{KvCache, MulAdd};
use snailzip::Weights;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, settings @ ..] = args.as_slice() else {
        bail!("usage: set_arithmetic IN.safetensors OUT.safetensors [kv_cache=f16|f32] [mul_add=fused|separate]");
    };
    let mut weights =
        Weights::load(Path::new(input)).with_context(|| format!("cannot load {input}"))?;
    let before = snailzip::error::hex_id(&weights.id());
    for setting in settings {
        weights = match setting.split_once('=') {
            Some(("kv_cache", v)) => weights.with_kv_cache(KvCache::parse(v)?),
            Some(("mul_add", v)) => weights.with_mul_add(MulAdd::parse(v)?),
            _ => bail!("`{setting}`: expected kv_cache=f16|f32 or mul_add=fused|separate"),
        };
    }
    weights.save(Path::new(output))?;
    println!(
        "{input} ({before}) -> {output} ({}, {})",
        snailzip::error::hex_id(&weights.id()),
        weights.config()
    );
    Ok(())
}
