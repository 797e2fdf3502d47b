//! The `snailzip` command line: parses flags, sets up the worker threads, hands each
//! subcommand to its module and prints errors. The work itself happens in the library.

mod batch;
mod bench_cmd;
mod cli;
mod generate;
mod info;
mod input;
mod models;
mod progress;
mod sample_cmd;
#[cfg(feature = "train")]
mod train_cmd;

use std::ffi::OsString;
use std::io;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize(std::env::args_os().collect()));
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("snailzip: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// gzip/zstd spellings: `snailzip -d ...` is `snailzip decompress ...`, `snailzip -t ...` is
/// `snailzip decompress --test ...`, and clusters such as `-dc` or `-tv` work too. `-j N` and
/// `-q` written before the subcommand (an older spelling) move behind it, where clap checks
/// that the subcommand has them.
fn normalize(mut args: Vec<OsString>) -> Vec<OsString> {
    let mut moved: Vec<OsString> = Vec::new();
    while let Some(first) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) {
        match first.as_str() {
            "-q" | "--quiet" => moved.push(args.remove(1)),
            "-j" | "--threads" if args.len() > 2 => {
                moved.push(args.remove(1));
                moved.push(args.remove(1));
            }
            s if s.starts_with("-j") && s.len() > 2 || s.starts_with("--threads=") => {
                moved.push(args.remove(1))
            }
            _ => break,
        }
    }
    let Some(first) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) else {
        args.extend(moved);
        return args;
    };
    match first.as_str() {
        "-d" | "--decompress" | "--uncompress" => args[1] = "decompress".into(),
        "-t" | "--test" => {
            args[1] = "decompress".into();
            args.insert(2, "--test".into());
        }
        s if s.len() > 2
            && s.starts_with('-')
            && !s.starts_with("--")
            && s[1..].contains(['d', 't'])
            && s[1..].chars().all(|c| "dtcfkvqr".contains(c)) =>
        {
            let rest: String = s[1..].chars().filter(|&c| c != 'd').collect();
            args[1] = "decompress".into();
            if !rest.is_empty() {
                args.insert(2, format!("-{rest}").into());
            }
        }
        _ => {}
    }
    if !moved.is_empty() {
        let at = 2.min(args.len());
        args.splice(at..at, moved);
    }
    args
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    snailzip::arith::Isa::cap_from_env().map_err(anyhow::Error::msg)?;
    let run = cli.command.run_args();
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = run.threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    let quiet = run.quiet;
    pool.install(|| match cli.command {
        Command::Compress(a) => batch::run(batch::Mode::Compress, &a.coding, a.effort, quiet),
        Command::Decompress(a) => {
            let mode = if a.test {
                batch::Mode::Test
            } else {
                batch::Mode::Decompress
            };
            batch::run(mode, &a.coding, snailzip::codec::DEFAULT_EFFORT, quiet)
        }
        Command::Info(a) => info::run(&a),
        Command::Bench(a) => bench_cmd::run(&a, quiet),
        Command::Sample(a) => sample_cmd::run(&a),
        Command::Generate(a) => generate::run(&a),
        #[cfg(feature = "train")]
        Command::Train { args, .. } => train_cmd::run(args, quiet),
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        normalize(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn gzip_short_forms() {
        assert_eq!(forms(&["s", "-d", "a.snz"]), ["s", "decompress", "a.snz"]);
        assert_eq!(
            forms(&["s", "-t", "a.snz"]),
            ["s", "decompress", "--test", "a.snz"]
        );
        assert_eq!(
            forms(&["s", "-dc", "a.snz"]),
            ["s", "decompress", "-c", "a.snz"]
        );
        assert_eq!(forms(&["s", "-tv", "a"]), ["s", "decompress", "-tv", "a"]);
        assert_eq!(forms(&["s", "--decompress", "a"]), ["s", "decompress", "a"]);
        // everything else is left to clap
        assert_eq!(forms(&["s", "compress", "-d"]), ["s", "compress", "-d"]);
        assert_eq!(forms(&["s", "-dj"]), ["s", "-dj"]);
        assert_eq!(forms(&["s"]), ["s"]);
        let cli = Cli::try_parse_from(forms(&["s", "-dkf", "a.snz"])).unwrap();
        match cli.command {
            Command::Decompress(a) => {
                assert!(a.coding.keep && a.coding.force && !a.test);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn threads_and_quiet_before_the_subcommand_move_behind_it() {
        assert_eq!(forms(&["s", "-j", "2", "info"]), ["s", "info", "-j", "2"]);
        assert_eq!(
            forms(&["s", "-q", "-j3", "-d", "a.snz"]),
            ["s", "decompress", "-q", "-j3", "a.snz"]
        );
        let cli = Cli::try_parse_from(forms(&["s", "-j", "2", "-q", "compress", "a.png"])).unwrap();
        let run = cli.command.run_args();
        assert_eq!((run.threads, run.quiet), (Some(2), true));
        // where they do not act, clap refuses them
        assert!(Cli::try_parse_from(forms(&["s", "-j", "2", "info"])).is_err());
    }
}
