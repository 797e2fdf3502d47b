//! Arbitrary bytes into `decompress_choosing` with every built-in model, current and retired
//! (what `snailzip decompress` does): inputs that start with a built-in model's id get past
//! the model check. At most 16×16 pixels (the built-in models are slow under the sanitizer).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snailzip::{builtin, codec, Engine};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static ENGINES: OnceLock<Vec<Engine>> = OnceLock::new();
    let engines = ENGINES.get_or_init(|| {
        builtin::models()
            .into_iter()
            .chain(builtin::retired())
            .map(|m| Engine::new(&m.weights().unwrap()))
            .collect()
    });
    let refs: Vec<&Engine> = engines.iter().collect();
    let _ = codec::decompress_choosing(&[data], &refs, &common::options_for(16 * 16), &|_| {});
});
