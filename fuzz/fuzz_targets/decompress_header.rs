//! A valid header for the tiny model (size, color and version from the first bytes) followed
//! by fuzzed bytes: exercises the tile table, the metadata section and the range decoder
//! rather than the magic and model checks, in every container version the decoder reads.
//!
//! Input: width - 1, height - 1, one byte of color (bits 0-1) and version (bits 2-7, modulo
//! the number of versions), 4 checksum bytes, then whatever follows the dimensions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snailzip::codec::{self, container};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let engine = common::tiny();
    let width = 1 + data[0] as u64 % 32;
    let height = 1 + data[1] as u64 % 32;
    let color = 1 + data[2] % 4;
    // 1 ..= the newest version this build reads
    let version = 1 + (data[2] >> 2) % container::VERSION_METADATA;
    let mut file = b"SNZ".to_vec();
    file.push(version);
    if version == 1 {
        // version 1: all 8 id bytes, color, the tile size, checksum
        file.extend_from_slice(&engine.id());
        file.push(color);
        file.push(snailzip::config::TILE as u8);
    } else {
        file.extend_from_slice(&engine.id()[..4]);
        file.push(color);
    }
    file.extend_from_slice(&data[3..7]); // checksum
    for v in [width, height] {
        file.push(v as u8); // at most 32: one LEB128 byte
    }
    file.extend_from_slice(&data[7..]);
    let _ = codec::decompress(&file, engine, &common::options(), &|_| {});
});
