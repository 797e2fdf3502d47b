//! A valid header for the tiny model (size and color from the first bytes) followed by
//! fuzzed bytes: exercises the tile table, the metadata section and the range decoder rather
//! than the magic and model checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snailzip::codec;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let engine = common::tiny();
    let width = 1 + data[0] as u64 % 64;
    let height = 1 + data[1] as u64 % 64;
    let color = 1 + data[2] % 4;
    let version = if data[2] & 0x80 != 0 { 3 } else { 2 };
    let mut file = b"SNZ".to_vec();
    file.push(version);
    file.extend_from_slice(&engine.id()[..4]);
    file.push(color);
    file.extend_from_slice(&data[3..7]); // checksum
    for v in [width, height] {
        if v >= 0x80 {
            file.extend_from_slice(&[(v as u8 & 0x7f) | 0x80, (v >> 7) as u8]);
        } else {
            file.push(v as u8);
        }
    }
    file.extend_from_slice(&data[7..]);
    let _ = codec::decompress_with_metadata(&file, engine, &common::options(), &|_| {});
});
