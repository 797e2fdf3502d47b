//! Arbitrary bytes into `decompress` with a tiny model: errors are fine, panics are not, and
//! whatever decodes must re-encode to exactly the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snailzip::codec;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let engine = common::tiny();
    let options = common::options();
    if let Ok((image, metadata)) = codec::decompress_with_metadata(data, engine, &options, &|_| {})
    {
        let again = codec::compress_many_with_metadata(
            std::slice::from_ref(&image),
            std::slice::from_ref(&metadata),
            engine,
            &options,
            &|_| {},
        )
        .unwrap();
        // version 1 files decode but are written as version 2/3
        if data[3] != 1 {
            assert_eq!(
                again[0].0, data,
                "a decodable file is not what the encoder writes"
            );
        }
    }
});
