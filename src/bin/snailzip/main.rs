//! The `snailzip` command line (trainer-only stand-in; the real CLI lives on `main`).

mod train_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "snailzip",
    version,
    about = "Lossless image compression with PixelSNAIL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model.
    Train(train_cmd::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("snailzip: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
