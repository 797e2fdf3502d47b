//! `snailzip info`: the built-in models, one model, or the headers of `.snz` files (and
//! folders of them) with the model each needs. Describing a header costs nothing, so any
//! size the format allows is shown.

use std::path::Path;

use anyhow::{bail, Context};
use snailzip::codec::container;
use snailzip::codec::Codec;
use snailzip::error::hex_id;
use snailzip::{builtin, Limits};

use crate::cli::InfoArgs;
use crate::input::{expand, read_input};
use crate::models;

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    if args.inputs.is_empty() {
        return match args.model.as_deref() {
            None => list_builtin(),
            model => describe_model(model),
        };
    }
    let (found, _) = expand(&args.inputs, &["snz"], args.recursive, false)?;
    let codec = models::to_decode(args.model.as_deref(), Default::default())?;
    if let [one] = &found[..] {
        return describe_file(&one.path, &codec);
    }
    let mut failed = 0;
    for (k, f) in found.iter().enumerate() {
        if k > 0 {
            println!();
        }
        if let Err(e) = describe_file(&f.path, &codec) {
            eprintln!("snailzip: error: {e:#}");
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files could not be read", found.len());
    }
    Ok(())
}

fn list_builtin() -> anyhow::Result<()> {
    println!("built-in models (compress chooses per image; a file's model id names its model):");
    let mut current = None;
    for m in builtin::models() {
        let w = m.weights()?;
        println!(
            "  {:<10} {}  {}, {} parameters, {} ({})",
            m.name,
            hex_id(&w.id()),
            m.about,
            w.config().parameter_count(),
            m.file,
            w.metadata()
                .get("snailzip.train.images_seen")
                .map_or("untrained".to_string(), |n| format!("{n} training images")),
        );
        current.get_or_insert(w.config().clone());
    }
    for m in builtin::retired() {
        println!("  {:<10} {}", m.name, m.about);
    }
    println!("(`snailzip info --model NAME` describes one)");
    let isa = snailzip::arith::Isa::best();
    let capped = match std::env::var(snailzip::arith::ISA_VARIABLE) {
        Ok(v) if !v.is_empty() => format!(", capped by {}={v}", snailzip::arith::ISA_VARIABLE),
        _ => String::new(),
    };
    println!(
        "this machine: {} kernels{capped}, {} worker threads by default",
        isa.name(),
        rayon::current_num_threads()
    );
    let current = current.context("no built-in model")?;
    let batch = snailzip::engine::default_batch(&current);
    let caches = match snailzip::engine::machine::Caches::detect() {
        Some(c) => format!(
            "{:.1} MiB of cache per thread: L2 {} KiB + L3 {} KiB / {} CPUs",
            c.per_thread() as f64 / (1 << 20) as f64,
            c.l2 >> 10,
            c.l3 >> 10,
            c.l3_sharers
        ),
        None => "cache sizes unknown here, so the fixed default".to_string(),
    };
    println!("  {batch} tiles per batch for the built-in models ({caches}); --batch overrides");
    Ok(())
}

fn describe_model(model: Option<&Path>) -> anyhow::Result<()> {
    let (weights, model_name) = models::weights(model)?;
    let c = weights.config();
    println!("model:       {model_name}");
    println!("model id:    {}", hex_id(&weights.id()));
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

fn describe_file(input: &Path, codec: &Codec) -> anyhow::Result<()> {
    let bytes = read_input(input)?;
    let name = if crate::input::is_stdin(input) {
        "<stdin>".to_string()
    } else {
        input.display().to_string()
    };
    let file = container::read(&bytes, &Limits::format_maximum())
        .with_context(|| format!("cannot read {name}"))?;
    let h = &file.header;
    let sub = h.width * h.height * h.color.channels();
    println!("file:        {name}");
    println!("format:      .snz version {}", file.version);
    println!("size:        {}×{} {}", h.width, h.height, h.color.name());
    println!(
        "bytes:       {} ({:.3} bits/subpixel)",
        bytes.len(),
        bytes.len() as f64 * 8.0 / sub as f64
    );
    let (tx, ty) = h.tile_grid();
    if container::is_adaptive(file.version) {
        println!(
            "tiles:       {} of {}×{}, in {} adaptive stream(s)",
            tx * ty,
            h.tile,
            h.tile,
            file.payloads.len()
        );
    } else {
        println!("tiles:       {} of {}×{}", tx * ty, h.tile, h.tile);
    }
    println!("checksum:    {:08x} (CRC-32 of pixels)", h.checksum);
    let metadata = if file.metadata.is_empty() {
        "none".to_string()
    } else {
        file.metadata.describe()
    };
    println!("metadata:    {metadata}");
    if !h.network {
        println!("model id:    none (adaptive stage alone: decodes without a model)");
        return Ok(());
    }
    match codec.model_for(&h.model_id) {
        Ok(k) => {
            let m = &codec.models()[k];
            println!(
                "model id:    {} (matches model {}, {})",
                h.model_id,
                m.name,
                hex_id(&m.engine().id())
            );
        }
        Err(_) => {
            let names: Vec<&str> = codec.models().iter().map(|m| m.name.as_str()).collect();
            println!(
                "model id:    {} (DIFFERS from {}: this file needs another model)",
                h.model_id,
                names.join(" and ")
            );
        }
    }
    Ok(())
}
