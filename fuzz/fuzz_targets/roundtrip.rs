//! Arbitrary pixels (size, layout and metadata from the first bytes) through compress and
//! decompress with the tiny model: the image and metadata come back exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snailzip::codec;
use snailzip::image_io::{Chunk, Metadata};
use snailzip::{ColorType, Image};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let width = 1 + data[0] as usize % 48;
    let height = 1 + data[1] as usize % 48;
    let color = ColorType::from_code(1 + data[2] % 4).unwrap();
    let n = width * height * color.channels();
    let rest = &data[4..];
    // pixels from the data, repeated (or zero) to fill the image
    let pixels: Vec<u8> = if rest.is_empty() {
        vec![0; n]
    } else {
        rest.iter().copied().cycle().take(n).collect()
    };
    let image = Image::new(width, height, color, pixels).unwrap();
    let metadata = if data[3] & 1 == 1 {
        Metadata {
            chunks: vec![Chunk {
                kind: *b"tEXt",
                after_image: data[3] & 2 != 0,
                data: rest.iter().take(40).copied().collect(),
            }],
        }
    } else {
        Metadata::default()
    };
    let engine = common::tiny();
    let options = common::options();
    let files = codec::compress_many_with_metadata(
        std::slice::from_ref(&image),
        std::slice::from_ref(&metadata),
        engine,
        &options,
        &|_| {},
    )
    .unwrap();
    let (back, meta) =
        codec::decompress_with_metadata(&files[0].0, engine, &options, &|_| {}).unwrap();
    assert_eq!(back, image);
    assert_eq!(meta, metadata);
});
