//! Arbitrary pixels (size, layout and metadata from the first bytes) through compress and
//! decompress with the tiny model: the image and metadata come back exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use snailzip::codec::Codec;
use snailzip::image_io::{Chunk, Metadata};
use snailzip::{ColorType, Image};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let width = 1 + data[0] as usize % 24;
    let height = 1 + data[1] as usize % 24;
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
    static CODEC: OnceLock<Codec> = OnceLock::new();
    let codec = CODEC.get_or_init(|| common::tiny_codec(common::options()));
    let files = codec
        .compress_many(
            std::slice::from_ref(&image),
            std::slice::from_ref(&metadata),
            &|_| {},
        )
        .unwrap();
    let back = codec.decompress(&files[0].bytes).unwrap();
    assert_eq!(back.image, image);
    assert_eq!(back.metadata, metadata);
});
