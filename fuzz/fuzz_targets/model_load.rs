//! Arbitrary bytes as a model file: a clean error or a model the engine can run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snailzip::codec::{self, Options};
use snailzip::{ColorType, Engine, Image, Weights};

fuzz_target!(|data: &[u8]| {
    if let Ok(weights) = Weights::from_bytes(data) {
        // a model that loads must code an image (small configs only, to stay fast)
        if weights.config().parameter_count() < 200_000 {
            let engine = Engine::new(&weights);
            let image = Image::new(3, 2, ColorType::Rgb, (0..18).collect()).unwrap();
            let (bytes, _) =
                codec::compress(&image, &engine, &Options::default(), &|_| {}).unwrap();
            let back = codec::decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap();
            assert_eq!(back, image);
        }
    }
});
