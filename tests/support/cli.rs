//! The one way the tests run the `snailzip` binary: in a folder, with arguments and
//! optionally piped standard input, never inheriting the terminal.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary as a [`Command`] with empty standard input, for tests that pass paths and
/// other non-text arguments.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snailzip"));
    c.stdin(Stdio::null());
    c
}

/// Runs `snailzip ARGS` in `dir` with `input` piped to standard input (`None`: empty
/// standard input).
pub fn run_with_stdin(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Output {
    let mut child = command()
        .current_dir(dir)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the snailzip binary runs");
    if let Some(input) = input {
        // a child that stops reading early (an error) closes the pipe: not our failure
        let _ = child.stdin.take().expect("piped").write_all(input);
    }
    child
        .wait_with_output()
        .expect("the snailzip binary finishes")
}

/// Runs `snailzip ARGS` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_with_stdin(dir, args, None)
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a command that must succeed; returns its output.
pub fn ok_output(dir: &Path, args: &[&str]) -> Output {
    let o = run(dir, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

/// Runs a command that must succeed; returns its standard error.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    stderr(&ok_output(dir, args))
}

/// Runs a command that must fail cleanly (no panic); returns its standard error.
pub fn fails(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}
