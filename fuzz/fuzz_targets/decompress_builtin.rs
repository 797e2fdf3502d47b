//! Arbitrary bytes into `Codec::decompress` with every built-in model, current and retired
//! (what `snailzip decompress` does): inputs that start with a built-in model's id get past
//! the model check. At most 16×16 pixels (the built-in models are slow under the sanitizer).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snailzip::codec::Codec;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    let codec = CODEC.get_or_init(|| {
        Codec::builtin()
            .unwrap()
            .with_options(common::options_for(16 * 16))
            .unwrap()
    });
    let _ = codec.decompress(data);
});
