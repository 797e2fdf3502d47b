//! Corrupt, truncated, foreign and wrong-model inputs give errors, never panics.

use proptest::prelude::*;
use snailzip::codec::container;
use snailzip::codec::{self, NetworkUse, Options};
use snailzip::weights::SplitMix64;
use snailzip::Limits;
use snailzip::{ColorType, Error};

use super::util::{structured, tiny_engine};

fn sample_files() -> Vec<(snailzip::Image, Vec<u8>)> {
    let engine = tiny_engine(31);
    [
        structured(40, 20, ColorType::Rgb, 1),
        structured(9, 9, ColorType::GrayAlpha, 2),
        structured(33, 3, ColorType::Rgba, 3),
    ]
    .into_iter()
    .map(|img| {
        // the network on every tile that may use it, so that the files need the model
        let options = Options {
            network_use: NetworkUse::Tiles,
            ..Options::default()
        };
        let (bytes, _) = codec::compress(&img, &engine, &options, &|_| {}).unwrap();
        (img, bytes)
    })
    .collect()
}

/// Decoding mutated bytes must return an error or (if the change was immaterial) the
/// original image; it must never panic or return a different image.
fn check(bytes: &[u8], original: &snailzip::Image) {
    let engine = tiny_engine(31);
    if let Ok(img) = codec::decompress(bytes, &engine, &Options::default(), &|_| {}) {
        assert!(
            img == *original,
            "corrupt input decoded to a different image"
        );
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    for (img, bytes) in sample_files() {
        for cut in 0..bytes.len() {
            check(&bytes[..cut], &img);
        }
    }
}

#[test]
fn seeded_byte_flips_fail_cleanly() {
    let mut rng = SplitMix64(99);
    for (img, bytes) in sample_files() {
        for _ in 0..300 {
            let mut b = bytes.clone();
            let flips = 1 + rng.next_u64() % 3;
            for _ in 0..flips {
                let at = (rng.next_u64() % b.len() as u64) as usize;
                b[at] ^= 1 << (rng.next_u64() % 8);
            }
            check(&b, &img);
        }
    }
}

#[test]
fn payload_corruption_is_reported_as_checksum_or_format_error() {
    let (_, bytes) = sample_files().remove(0);
    let mut b = bytes.clone();
    let at = b.len() - 30;
    b[at] ^= 0xff;
    let err = codec::decompress(&b, &tiny_engine(31), &Options::default(), &|_| {}).unwrap_err();
    assert!(
        matches!(err, Error::Checksum { .. } | Error::Format(_)),
        "{err}"
    );
}

#[test]
fn wrong_model_is_named() {
    let (_, bytes) = sample_files().remove(0);
    let err =
        codec::decompress(&bytes, &tiny_engine(32), &Options::default(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    assert!(err.to_string().contains("wrong model"));
}

#[test]
fn foreign_and_empty_files() {
    let engine = tiny_engine(31);
    for bytes in [&b""[..], b"SNZ", b"\x89PNG\r\n\x1a\n....", &[0u8; 100]] {
        let err = codec::decompress(bytes, &engine, &Options::default(), &|_| {}).unwrap_err();
        assert!(matches!(err, Error::Format(_)), "{err}");
    }
}

#[test]
fn huge_dimensions_are_refused_before_allocating() {
    let (_, bytes) = sample_files().remove(0);
    // rewrite width/height varints (offset 13) to 2^40 × 2^40
    let mut b = bytes[..13].to_vec();
    for _ in 0..2 {
        b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    }
    b.extend_from_slice(&[1, 0]);
    let err = codec::decompress(&b, &tiny_engine(31), &Options::default(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::Limits(_)), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_after_a_valid_header(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (img, bytes) = sample_files().remove(1);
        let header_end = container::read_header(&bytes, &Limits::default()).unwrap().1;
        let mut b = bytes[..header_end].to_vec();
        b.extend_from_slice(&tail);
        check(&b, &img);
    }
}
