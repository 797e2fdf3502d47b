//! Copies a model file with another attention key/value cache format (its inference
//! arithmetic, and so its id); tensors and metadata are unchanged. This is how the shipped
//! models moved to the f16 cache (see `models/README.md`):
//!
//! ```text
//! cargo run --release --example set_kv_cache -- IN.safetensors OUT.safetensors f16
//! ```

use std::path::Path;

use anyhow::{bail, Context};
use snailzip::config::KvCache;
use snailzip::Weights;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, format] = args.as_slice() else {
        bail!("usage: set_kv_cache IN.safetensors OUT.safetensors f16|f32");
    };
    let weights =
        Weights::load(Path::new(input)).with_context(|| format!("cannot load {input}"))?;
    let before = snailzip::error::hex_id(&weights.id());
    let weights = weights.with_kv_cache(KvCache::parse(format)?);
    weights.save(Path::new(output))?;
    println!(
        "{input} ({before}) -> {output} ({})",
        snailzip::error::hex_id(&weights.id())
    );
    Ok(())
}
