//! The malformed-input corpus (`tests/data/regressions/*.snz`): hand-made attack shapes and
//! every crash, hang or OOM a fuzz target ever found decode to a clean error, with the
//! fuzzers' tiny model and every built-in model, current and retired.

use std::path::PathBuf;

use snailzip::codec::{Codec, Model};
use snailzip::{builtin, Config, Weights};

#[test]
fn malformed_inputs_are_clean_errors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "snz"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "the corpus lost files: {files:?}");
    let mut models = vec![Model::new(
        "fuzz-tiny",
        &Weights::random(&Config::tiny(), 7),
    )];
    for b in builtin::all() {
        models.push(Model::builtin(&b).unwrap());
    }
    let codec = Codec::from_models(models).unwrap();
    for p in files {
        let bytes = std::fs::read(&p).unwrap();
        assert!(codec.decompress(&bytes).is_err(), "{} decodes", p.display());
    }
}
