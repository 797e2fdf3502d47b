//! Command-line flags, mirrored one to one in clap structs; validation happens in `main.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Lossless image compression with a trained PixelSNAIL.
#[derive(Parser, Debug)]
#[command(name = "snailzip", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores). Output bytes never depend on it.
    #[arg(long, short = 'j', global = true)]
    pub threads: Option<usize>,
    /// No progress bars.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compress an image (PNG, PPM/PGM, BMP, TIFF, QOI) into a .snz file.
    Compress(CompressArgs),
    /// Decompress a .snz file into a PNG.
    Decompress(DecompressArgs),
    /// Show the header of a .snz file, or describe a model.
    Info(InfoArgs),
    /// Measure bits/subpixel and speed against classic lossless codecs on a corpus.
    Bench(BenchArgs),
    /// Draw 32×32 images from the model into a PNG grid.
    Sample(SampleArgs),
    /// Train a PixelSNAIL model (CPU), with checkpoints, resume and a model card.
    #[cfg(feature = "train")]
    Train(crate::train_cmd::TrainArgs),
}

/// Flags shared by compress and decompress.
#[derive(Args, Debug)]
pub struct CodingArgs {
    /// Model file (.safetensors) to use instead of the built-in model.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Tiles stepped together through the network (speed only; output is identical).
    #[arg(long, default_value_t = snailzip::codec::DEFAULT_BATCH, value_name = "N")]
    pub batch: usize,
}

#[derive(Args, Debug)]
pub struct CompressArgs {
    /// `IN [OUT]`: input image (`-` for standard input) and output file (default: IN.snz;
    /// standard output when IN is `-`; `-` for standard output). With `-o DIR`: any number
    /// of images and folders of images.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Compress every input into this folder (created if missing) as NAME.snz; small images
    /// are batched together.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    #[command(flatten)]
    pub coding: CodingArgs,
}

#[derive(Args, Debug)]
pub struct DecompressArgs {
    /// `IN [OUT]`: input .snz file (`-` for standard input) and output PNG (default: IN
    /// without .snz, plus .png if needed; standard output when IN is `-`; `-` for standard
    /// output). With `-o DIR`: any number of .snz files and folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Decompress every input into this folder (created if missing) as NAME.png.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    #[command(flatten)]
    pub coding: CodingArgs,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// A .snz file to describe (omit to describe the model only).
    pub input: Option<PathBuf>,
    /// Model file to check the .snz file against / to describe (default: built-in).
    #[arg(long, value_name = "PATH")]
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
    /// Model file (default: built-in).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Tiles stepped together through the network.
    #[arg(long, default_value_t = snailzip::codec::DEFAULT_BATCH, value_name = "N")]
    pub batch: usize,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Output PNG.
    pub output: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Images per grid row.
    #[arg(long, default_value_t = 8)]
    pub columns: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Model file (default: built-in).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long, short = 'f')]
    pub force: bool,
}
