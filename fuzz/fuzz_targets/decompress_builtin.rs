//! Arbitrary bytes into `decompress` with the built-in model (the one users have). Inputs
//! that start with the built-in model's id get past the model check.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snailzip::{builtin, codec, Engine};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| Engine::new(&builtin::weights().unwrap()));
    let _ = codec::decompress_with_metadata(data, engine, &common::options(), &|_| {});
});
