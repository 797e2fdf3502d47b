//! `compress` and `decompress` (and `decompress --test`) on any number of inputs, the way
//! gzip and zstd users expect: every input is coded next to itself (`a.png` → `a.png.snz`)
//! unless `-o` names a file or folder or `-c` sends the one output to standard output.
//!
//! Three steps: a pure [`plan`] from the command line, [`check`]s against the file system
//! before any work, then one executor ([`exec`]) for one file or many. A file that fails is
//! reported and skipped, the others are still written, a summary line follows and the exit
//! status says whether all succeeded; with one file, its error is the command's error.

mod check;
mod exec;
mod plan;

use std::time::Instant;

use anyhow::bail;
use snailzip::codec::{Options, AUTO_BATCH};
use snailzip::Limits;

use crate::cli::CodingArgs;
use crate::input::{expand, paths_or_stdin};
use crate::models;
pub use plan::Mode;

/// What the coding flags mean to the library and the executor.
struct Settings {
    options: Options,
    target: plan::Target,
    work: exec::Settings,
}

impl Settings {
    fn new(args: &CodingArgs, effort: u8, quiet: bool) -> Settings {
        Settings {
            options: Options {
                batch: args.batch.unwrap_or(AUTO_BATCH),
                limits: Limits {
                    max_pixels: args.max_pixels,
                    ..Limits::default()
                },
                effort,
                ..Options::default()
            },
            target: plan::Target {
                output: args.output.clone(),
                stdout: args.stdout,
                recursive: args.recursive,
                remove: args.remove,
            },
            work: exec::Settings {
                strip: args.strip,
                force: args.force,
                remove: args.remove,
                verbose: args.verbose,
                quiet,
            },
        }
    }
}

/// Runs compress, decompress or test on the command line's inputs.
/// `effort` is compression's ([`Options::effort`]).
pub fn run(mode: Mode, args: &CodingArgs, effort: u8, quiet: bool) -> anyhow::Result<()> {
    let settings = Settings::new(args, effort, quiet);
    let what = match mode {
        Mode::Compress => "images",
        _ => ".snz files",
    };
    let paths = paths_or_stdin(&args.paths, what)?;
    let (found, folders) = expand(&paths, mode.extensions(), args.recursive, quiet)?;
    let is_dir = args.output.as_ref().is_some_and(|o| o.is_dir());
    let (jobs, to_folder) = plan::plan(mode, &found, folders, &settings.target, is_dir)?;
    let checked = check::check(mode, jobs, &paths, args.force, to_folder)?;
    // compressing chooses among the current models; decoding takes the file's, retired too
    let model = args.model.as_deref();
    let codec = match mode {
        Mode::Compress => models::to_compress(model, settings.options)?,
        _ => models::to_decode(model, settings.options)?,
    };
    let start = Instant::now();
    let several = checked.run.len() + checked.refused.len() > 1;
    let mut totals = exec::execute(mode, &checked.run, checked.refused, settings.work, &codec);
    if !several {
        return match totals.errors.pop() {
            Some(e) => Err(e),
            None => Ok(()),
        };
    }
    if !quiet {
        eprintln!("{}", totals.summary(mode, start.elapsed().as_secs_f64()));
    }
    if !totals.errors.is_empty() {
        bail!("{} of {} files failed", totals.errors.len(), totals.files);
    }
    Ok(())
}
