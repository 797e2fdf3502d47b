//! Command-line flags, mirrored one to one in clap structs. clap checks each value's range
//! as it parses; what needs several flags together is checked where a subcommand turns its
//! flags into the library's options (`batch::Settings`, `bench_cmd`, `sample_cmd`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Lossless image compression with a trained PixelSNAIL.
///
/// `snailzip -d FILE.snz` is `snailzip decompress FILE.snz`, and `snailzip -t FILE.snz` is
/// `snailzip decompress --test FILE.snz`, as with gzip and zstd.
#[derive(Parser, Debug)]
#[command(name = "snailzip", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `--model` names, for every subcommand that takes it.
pub const MODEL_HELP: &str = "A built-in model by name (cifar, photo; `snailzip info` lists \
    them) or a model file (.safetensors) [default: the automatic choice among the built-in \
    models; decoding takes the model each file names]";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compress images (PNG, PPM/PGM, BMP, TIFF, QOI) into .snz files (IMAGE → IMAGE.snz).
    Compress(CompressArgs),
    /// Decompress .snz files into PNGs (NAME.png.snz → NAME.png), or test them with -t.
    Decompress(DecompressArgs),
    /// Show the headers of .snz files, list the built-in models, or describe one model.
    Info(InfoArgs),
    /// Measure bits/subpixel and speed against classic lossless codecs on a corpus.
    Bench(BenchArgs),
    /// Draw 32×32 images from the model into a PNG grid.
    Sample(SampleArgs),
    /// Train a PixelSNAIL model (CPU), with checkpoints, resume and a model card.
    #[cfg(feature = "train")]
    Train {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        args: crate::train_cmd::TrainArgs,
    },
    /// Write the man page or shell completions to standard output.
    Generate(GenerateArgs),
}

impl Command {
    /// Threads and quiet, where the subcommand has them (else the defaults).
    pub fn run_args(&self) -> RunArgs {
        let run = match self {
            Command::Compress(a) => &a.coding.run,
            Command::Decompress(a) => &a.coding.run,
            Command::Bench(a) => &a.run,
            Command::Sample(a) => {
                return RunArgs {
                    threads: a.threads,
                    quiet: false,
                }
            }
            #[cfg(feature = "train")]
            Command::Train { run, .. } => run,
            Command::Info(_) | Command::Generate(_) => return RunArgs::default(),
        };
        RunArgs {
            threads: run.threads,
            quiet: run.quiet,
        }
    }
}

/// Threads and progress output, for the subcommands where they act.
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Worker threads (default: all cores). Output bytes never depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = at_least_one)]
    pub threads: Option<usize>,
    /// No progress bars or messages; errors only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Flags shared by compress and decompress.
#[derive(Args, Debug)]
pub struct CodingArgs {
    /// Input files (`-` for standard input) and folders. Without -o each output is written
    /// next to its input. Without any, standard input is read when it is not a terminal.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output: a file for one input (`-` for standard output), or a folder (created if
    /// missing) for several inputs, folders, -r, or an existing folder.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "output-dir",
        value_name = "PATH"
    )]
    pub output: Option<PathBuf>,
    /// Write to standard output (one input).
    #[arg(short = 'c', long = "stdout", conflicts_with = "output")]
    pub stdout: bool,
    /// Overwrite existing outputs; write binary data to a terminal. Never overwrites an input.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Keep the inputs (the default).
    #[arg(long, short = 'k', conflicts_with = "remove")]
    pub keep: bool,
    /// Remove each input once its output is safely written.
    #[arg(long = "rm")]
    pub remove: bool,
    /// Descend into subfolders of folder inputs.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// A line per file: name, sizes, bits/subpixel, time.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Drop metadata (ICC profile, EXIF, text, gAMA/cHRM/sRGB, pHYs): compress stores none,
    /// decompress restores none.
    #[arg(long)]
    pub strip: bool,
    /// Refuse images of more pixels than this (decoding time grows with it: the default, 64
    /// Mpixel, takes about 8 minutes on two AVX-512 cores, 30 on two AVX2 cores). Files
    /// compressed with a higher limit need it to decompress.
    #[arg(long, value_name = "N", default_value_t = snailzip::limits::DEFAULT_MAX_PIXELS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: u64,
    #[arg(long, value_name = "NAME|PATH", help = MODEL_HELP)]
    pub model: Option<PathBuf>,
    /// Tiles stepped together through the network (speed only; output is identical)
    /// [default: as many as this machine's cache holds, 4 to 16; `snailzip info` shows it].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub batch: Option<usize>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub struct CompressArgs {
    /// Effort, like cjxl's: 1 adaptive context mixing alone (no network, fast), 2 with the
    /// network where it pays, 3 every way (each model, no network) and keep the smallest;
    /// 0 the network alone (the format of earlier builds). Decompression needs no flag.
    #[arg(long, short = 'e', value_name = "N", default_value_t = snailzip::codec::DEFAULT_EFFORT,
          value_parser = clap::value_parser!(u8).range(0..=snailzip::codec::MAX_EFFORT as i64))]
    pub effort: u8,
    #[command(flatten)]
    pub coding: CodingArgs,
}

#[derive(Args, Debug)]
pub struct DecompressArgs {
    /// Decode and verify (checksum, exact payloads), write nothing.
    #[arg(long, short = 't', conflicts_with_all = ["output", "stdout", "remove"])]
    pub test: bool,
    #[command(flatten)]
    pub coding: CodingArgs,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// .snz files and folders of them to describe (none: list the built-in models, or
    /// describe the --model).
    #[arg(value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// Descend into subfolders of folder inputs.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// The model to describe, or to check the files against [default: every built-in model,
    /// retired ones included]: a built-in name (cifar, photo, ...) or a model file.
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// `cifar10-test`, `kodak`, a folder of PNGs, a CIFAR-10 .bin file or one image.
    #[arg(long, default_value = "kodak")]
    pub corpus: String,
    /// Use this many images, spread evenly over the corpus.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Comma-separated codecs (snailzip, png, optipng-o2, qoi, webp, jpeg2000, jxl-e7, jxl-e9,
    /// flif); unavailable tools are skipped with a note.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "snailzip,png,optipng-o2,qoi,webp,jpeg2000,jxl-e7,jxl-e9,flif"
    )]
    pub codecs: Vec<String>,
    /// Data folder holding cifar-10-batches-bin/ and kodak/ (default: $SNAILZIP_DATA, else
    /// ../shared/data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Take the figures of codecs not listed in --codecs from this earlier JSON report of the
    /// same corpus (peer codecs do not depend on the model).
    #[arg(long, value_name = "FILE.json")]
    pub reuse: Option<PathBuf>,
    /// Also write a bar chart of bits/subpixel (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// Also write the markdown table to a file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    #[arg(long, value_name = "NAME|PATH", help = MODEL_HELP)]
    pub model: Option<PathBuf>,
    /// Tiles stepped together through the network [default: as many as this machine's cache holds, 4 to 16; `snailzip info` shows it].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub batch: Option<usize>,
    /// snailzip's effort (as for compress); the codec names `snailzip-e0` to `snailzip-e3`
    /// add rows at other efforts.
    #[arg(long, short = 'e', value_name = "N", default_value_t = snailzip::codec::DEFAULT_EFFORT,
          value_parser = clap::value_parser!(u8).range(0..=snailzip::codec::MAX_EFFORT as i64))]
    pub effort: u8,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Output PNG.
    pub output: PathBuf,
    /// Number of images (1 to 4096).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub count: u16,
    /// Images per grid row.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub columns: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A built-in model by name (cifar, photo) or a model file [default: cifar].
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = at_least_one)]
    pub threads: Option<usize>,
}

/// What `snailzip generate` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Generated {
    /// The man page (roff), e.g. `snailzip generate man > ~/.local/share/man/man1/snailzip.1`.
    Man,
    /// bash completions.
    CompleteBash,
    /// zsh completions.
    CompleteZsh,
    /// fish completions.
    CompleteFish,
    /// PowerShell completions.
    CompletePowershell,
    /// elvish completions.
    CompleteElvish,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// What to write.
    #[arg(value_enum)]
    pub what: Generated,
}

/// A count that must be at least 1.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn flags_are_consistent() {
        // clap checks these only in debug builds; run them in every build
        Cli::command().debug_assert();
    }
}
