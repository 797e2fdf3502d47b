//! `snailzip bench`: real file sizes and speed on a corpus, next to classic codecs.

use anyhow::{bail, Context};
use snailzip::atomic_write;
use snailzip::bench;
use snailzip::codec::{Options, AUTO_BATCH};

use crate::cli::BenchArgs;
use crate::{models, progress};

/// Peak resident memory of this process in MiB (Linux), for benchmark reports.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The effort of a snailzip row: `snailzip` at `default`, `snailzip-eN` at N.
fn snailzip_effort(codec: &str, default: u8) -> Option<u8> {
    match codec.strip_prefix("snailzip") {
        Some("") => Some(default),
        Some(rest) => rest
            .strip_prefix("-e")?
            .parse()
            .ok()
            .filter(|&e| e <= snailzip::codec::MAX_EFFORT),
        None => None,
    }
}

pub fn run(args: &BenchArgs, quiet: bool) -> anyhow::Result<()> {
    let known: Vec<&str> = bench::peers::all().iter().map(|p| p.name).collect();
    for c in &args.codecs {
        if snailzip_effort(c, 0).is_none() && !known.contains(&c.as_str()) {
            bail!(
                "unknown codec `{c}` (known: snailzip, snailzip-e0 to snailzip-e3, {})",
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
    for codec in &args.codecs {
        if let Some(effort) = snailzip_effort(codec, args.effort) {
            let options = Options {
                batch: args.batch.unwrap_or(AUTO_BATCH),
                effort,
                ..Options::default()
            };
            let snz = models::to_compress(args.model.as_deref(), options.clone())?;
            if !quiet {
                let names: Vec<&str> = snz.models().iter().map(|m| m.name.as_str()).collect();
                eprintln!(
                    "snailzip models: {} ({} kernels)",
                    names.join(", "),
                    snailzip::arith::Isa::best().name()
                );
            }
            let bar = progress::bench_bar(n, quiet, "snailzip");
            // pool small images so that their tiles share batched products
            let most = snz
                .models()
                .iter()
                .map(|m| options.batch_for(m.engine()))
                .max();
            let chunk = (most.unwrap_or(1) * threads * 4).max(1);
            let mut r = bench::run_snailzip(&corpus, &snz, chunk, &|k| bar.inc(k as u64))?;
            r.name = codec.clone();
            bar.finish_and_clear();
            results.push(r);
        } else if let Some(peer) = bench::peers::all().into_iter().find(|p| p.name == codec) {
            let bar = progress::bench_bar(n, quiet, codec);
            results.push(bench::run_peer(&corpus, &peer, &|k| bar.inc(k as u64)));
            bar.finish_and_clear();
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
