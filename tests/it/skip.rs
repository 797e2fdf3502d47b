//! Loud skips. A test whose subject is missing (the data folder, say) prints a notice on
//! stderr instead of passing in silence, and fails when `CI` is set: CI has the data at
//! `../shared/data`, so there a missing folder is a broken setup, not a reason to skip.
//!
//! Shared by the `main` test binary (`it::skip`) and `tests/train.rs` (through `#[path]`).

use std::path::PathBuf;

/// Whether the tests run under CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Reports that the test skips `what` because `why`: a notice on stderr, or a panic under CI.
pub fn skip(what: &str, why: &str) {
    assert!(
        !in_ci(),
        "{what}: {why}, and CI is set: CI must have everything this test needs"
    );
    eprintln!("NOTICE: skipping {what}: {why}");
}

/// The data folder: `$SNAILZIP_DATA`, else `../shared/data` beside the repository.
pub fn data_root() -> PathBuf {
    match std::env::var_os("SNAILZIP_DATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    }
}

/// The data folder if `file` (relative to it) exists; else [`skip`]s `what` and gives `None`.
pub fn data_with(file: &str, what: &str) -> Option<PathBuf> {
    let dir = data_root();
    if dir.join(file).exists() {
        Some(dir)
    } else {
        skip(
            what,
            &format!("{} not found (set SNAILZIP_DATA)", dir.join(file).display()),
        );
        None
    }
}
