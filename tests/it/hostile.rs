//! Issue 13: decompression bombs, trailing data, files no honest encoder writes, metadata,
//! and images that could not be restored pixel for pixel.

use std::time::{Duration, Instant};

use snailzip::codec::container;
use snailzip::codec::{self, Codec, Options};
use snailzip::image_io::{Chunk, Metadata};
use snailzip::limits::{Limits, DEFAULT_MAX_PIXELS};
use snailzip::{ColorType, Error, Image};

use super::util::{
    cmyk_tiff, png_chunk_list, png_with_chunks, png_with_metadata, structured, tiny_engine,
};

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A version 2 header for `engine` declaring `w × h` `color` pixels with checksum `crc`.
fn header(engine: &snailzip::Engine, color: ColorType, crc: u32, w: u64, h: u64) -> Vec<u8> {
    let mut b = b"SNZ\x02".to_vec();
    b.extend_from_slice(&engine.id()[..4]);
    b.push(color.code());
    b.extend_from_slice(&crc.to_le_bytes());
    b.extend(varint(w));
    b.extend(varint(h));
    b
}

/// Options that write the network-alone format (versions 4 and 5), whose tile table most
/// of these tests attack; `effort` 2 writes version 7.
fn at_effort(effort: u8) -> Options {
    Options {
        effort,
        ..Options::default()
    }
}

fn sample(engine: &snailzip::Engine, effort: u8) -> (Image, Vec<u8>) {
    let img = structured(40, 20, ColorType::Rgb, 1);
    let (bytes, _) = codec::compress(&img, engine, &at_effort(effort), &|_| {}).unwrap();
    (img, bytes)
}

#[test]
fn default_limit_is_64_mpixel_and_refuses_before_work() {
    assert_eq!(DEFAULT_MAX_PIXELS, 64 << 20);
    let engine = tiny_engine(3);
    // the 262 KB file of the issue: 2^20 × 256 pixels, one table byte per tile
    let mut b = header(&engine, ColorType::Rgb, 0, 1 << 20, 256);
    b.extend(vec![0u8; (1 << 15) * 8]);
    let start = Instant::now();
    let err = codec::decompress(&b, &engine, &Options::default(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::Limits(_)), "{err}");
    assert!(err.to_string().contains("67108864 pixels"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(1));
    // a caller's own limit applies the same way
    let (_, good) = sample(&engine, 0);
    let small = Options {
        limits: Limits {
            max_pixels: 799,
            ..Limits::default()
        },
        ..Options::default()
    };
    let err = codec::decompress(&good, &engine, &small, &|_| {}).unwrap_err();
    assert!(matches!(err, Error::Limits(_)), "{err}");
    let enough = Options {
        limits: Limits {
            max_pixels: 800,
            ..Limits::default()
        },
        ..Options::default()
    };
    assert!(codec::decompress(&good, &engine, &enough, &|_| {}).is_ok());
}

#[test]
fn zero_length_tiles_decode_without_the_network() {
    // the 16 KB file of the issue (4096×4096, zero-length tiles) decoded for 17 minutes;
    // an empty payload can only mean value-0 symbols, so it is now filled in directly
    let engine = tiny_engine(3);
    let (w, h) = (4096u64, 4096u64);
    for color in [ColorType::Rgb, ColorType::Rgba] {
        let mut expected = vec![0u8; (w * h) as usize * color.channels()];
        if color.has_alpha() {
            // alpha is predicted as 255 from the start of every tile
            for px in expected.chunks_mut(4) {
                px[3] = 255;
            }
        }
        let mut b = header(&engine, color, crc32fast::hash(&expected), w, h);
        b.extend(vec![0u8; (w / 32 * h / 32 - 1) as usize]);
        assert!(b.len() < 17_000);
        let start = Instant::now();
        let img = codec::decompress(&b, &engine, &Options::default(), &|_| {}).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(img.data, expected);
    }
}

#[test]
fn empty_payloads_are_exactly_what_the_encoder_writes_for_black_tiles() {
    // the fast path must agree with the real decoder: a black image compresses to empty
    // payloads, and an image that is black in places has empty tiles there
    let engine = tiny_engine(3);
    for color in [
        ColorType::Gray,
        ColorType::GrayAlpha,
        ColorType::Rgb,
        ColorType::Rgba,
    ] {
        let mut data = vec![0u8; 70 * 40 * color.channels()];
        if color.has_alpha() {
            let ch = color.channels();
            for px in data.chunks_mut(ch) {
                px[ch - 1] = 255;
            }
        }
        let black = Image::new(70, 40, color, data).unwrap();
        let (bytes, stats) = codec::compress(&black, &engine, &at_effort(0), &|_| {}).unwrap();
        assert_eq!(stats.payload_bytes, 0, "{color:?}");
        let file = container::read(&bytes, &Limits::default()).unwrap();
        assert!(file.payloads.iter().all(|p| p.is_empty()));
        assert_eq!(
            codec::decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap(),
            black
        );
        // half black, half structured: both paths in one file
        let mut mixed = structured(70, 40, color, 4);
        let ch = color.channels();
        for y in 0..40 {
            for x in 0..32 {
                let at = (y * 70 + x) * ch;
                mixed.data[at..at + ch].copy_from_slice(&black.data[at..at + ch]);
            }
        }
        let (bytes, _) = codec::compress(&mixed, &engine, &at_effort(0), &|_| {}).unwrap();
        let file = container::read(&bytes, &Limits::default()).unwrap();
        assert!(file.payloads.iter().any(|p| p.is_empty()));
        assert!(file.payloads.iter().any(|p| !p.is_empty()));
        assert_eq!(
            codec::decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap(),
            mixed
        );
    }
}

#[test]
fn tile_lengths_beyond_what_pixels_can_cost_are_refused() {
    let engine = tiny_engine(3);
    // a 64×32 image: the first tile claims a million bytes, and they are even present
    let mut b = header(&engine, ColorType::Rgb, 0, 64, 32);
    b.extend(varint(1_000_000));
    b.extend(vec![1u8; 1_000_010]);
    let err = container::read(&b, &Limits::default()).unwrap_err();
    assert!(
        err.to_string().contains("more than its pixels can cost"),
        "{err}"
    );
    assert_eq!(
        container::max_payload_bytes(1024, ColorType::Rgb),
        (1024 * 75usize).div_ceil(32) * 4 + 12
    );
}

#[test]
fn trailing_data_is_reported_never_ignored() {
    for effort in [0, 2] {
        trailing_data_at(effort);
    }
}

fn trailing_data_at(effort: u8) {
    let engine = tiny_engine(3);
    let (img, bytes) = sample(&engine, effort);
    assert_eq!(
        codec::decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap(),
        img
    );
    for extra in [
        &[0u8][..],
        &[0, 0, 0, 0],
        b"x",
        b"\n",
        &[0xff; 7],
        &[1; 100],
        &[9; 10_000],
    ] {
        let mut b = bytes.clone();
        b.extend_from_slice(extra);
        let err = codec::decompress(&b, &engine, &Options::default(), &|_| {})
            .expect_err("trailing data accepted");
        assert!(
            matches!(err, Error::Format(_) | Error::Checksum { .. }),
            "{extra:?}: {err}"
        );
    }
    // the common cases name the cause
    let mut b = bytes.clone();
    b.extend_from_slice(b"\n");
    let err = codec::decompress(&b, &engine, &Options::default(), &|_| {}).unwrap_err();
    assert!(
        err.to_string().contains("after the end of the image"),
        "{err}"
    );
    // two files concatenated
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    let err = codec::decompress(&two, &engine, &Options::default(), &|_| {}).unwrap_err();
    assert!(
        err.to_string().contains("after the end of the image"),
        "{err}"
    );
}

#[test]
fn payloads_that_decode_but_are_not_the_encoders_are_refused() {
    // flipping bits anywhere may decode to the right pixels by luck; the exact-payload check
    // refuses all of those that do not reproduce the encoder's bytes
    for effort in [0, 2] {
        let engine = tiny_engine(3);
        let (img, bytes) = sample(&engine, effort);
        changed_bytes_are_refused(&engine, &img, &bytes);
    }
}

fn changed_bytes_are_refused(engine: &snailzip::Engine, img: &Image, bytes: &[u8]) {
    let start = container::read_header(bytes, &Limits::default()).unwrap().1;
    let mut accepted_changes = 0;
    for at in (start..bytes.len()).step_by(3) {
        for bit in [0, 7] {
            let mut b = bytes.to_vec();
            b[at] ^= 1 << bit;
            if let Ok(back) = codec::decompress(&b, engine, &Options::default(), &|_| {}) {
                assert_eq!(&back, img);
                accepted_changes += 1;
            }
        }
    }
    assert_eq!(accepted_changes, 0, "a changed file decoded");
}

#[test]
fn metadata_round_trips_and_files_without_it_are_unchanged() {
    let engine = tiny_engine(3);
    let img = structured(40, 20, ColorType::Rgb, 1);
    let png = png_with_metadata(&img);
    let decoded = Image::decode_with_metadata(&png, &Limits::default()).unwrap();
    assert_eq!(decoded.image, img);
    let kinds: Vec<&[u8]> = decoded
        .metadata
        .chunks
        .iter()
        .map(|c| &c.kind[..])
        .collect();
    assert_eq!(kinds, [&b"gAMA"[..], b"pHYs", b"iCCP", b"eXIf", b"tEXt"]);
    assert_eq!(decoded.dropped, ["bKGD chunk"]);
    let snz = Codec::with_engine(engine.clone())
        .with_options(at_effort(0))
        .unwrap();
    let files = snz
        .compress_many(
            &[img.clone(), img.clone()],
            std::slice::from_ref(&decoded.metadata),
            &|_| {},
        )
        .unwrap();
    let (with, without) = (&files[0].bytes, &files[1].bytes);
    assert_eq!(with[3], 5, "metadata makes a version 5 file");
    assert_eq!(without[3], 4, "no metadata: version 4");
    let plain = codec::compress(&img, &engine, &at_effort(0), &|_| {})
        .unwrap()
        .0;
    assert_eq!(*without, plain, "files without metadata are unchanged");
    let back = snz.decompress(with).unwrap();
    let (back, metadata) = (back.image, back.metadata);
    assert_eq!(back, img);
    assert_eq!(metadata, decoded.metadata);
    // the restored PNG carries the same chunks, byte for byte, on the same side of the data
    let restored = back.to_png_with_metadata(&metadata).unwrap();
    let wanted: Vec<_> = png_chunk_list(&png)
        .into_iter()
        .filter(|(k, _)| k != b"bKGD" && k != b"IDAT")
        .collect();
    let got: Vec<_> = png_chunk_list(&restored)
        .into_iter()
        .filter(|(k, _)| k != b"IDAT")
        .collect();
    let ihdr = |v: &[([u8; 4], Vec<u8>)]| v.iter().map(|(k, _)| *k).collect::<Vec<_>>();
    assert_eq!(ihdr(&got), ihdr(&wanted));
    assert_eq!(got[1..], wanted[1..]);
    assert_eq!(
        Image::decode(&restored, 1 << 20).unwrap(),
        img,
        "pixels survive the splice"
    );
    // version 2 decoders' view: metadata can be ignored, version 1/2 files have none
    assert!(snz.decompress(&plain).unwrap().metadata.is_empty());
}

#[test]
fn metadata_sections_are_validated() {
    let engine = tiny_engine(3);
    let img = structured(9, 9, ColorType::Gray, 1);
    let meta = |kind: &[u8; 4]| Metadata {
        chunks: vec![Chunk {
            kind: *kind,
            after_image: false,
            data: b"abc".to_vec(),
        }],
    };
    let snz = Codec::with_engine(engine.clone());
    let file = |m: &Metadata| {
        snz.compress_many(std::slice::from_ref(&img), std::slice::from_ref(m), &|_| {})
            .unwrap()
            .remove(0)
            .bytes
    };
    let good = file(&meta(b"tEXt"));
    assert!(codec::decompress(&good, &engine, &Options::default(), &|_| {}).is_ok());
    // a chunk kind that would break or rewrite the restored PNG is refused
    let bad = file(&meta(b"tEXt"));
    let at = bad.windows(4).position(|w| w == b"tEXt").unwrap();
    for kind in [b"IDAT", b"IHDR", b"acTL", b"zzzz"] {
        let mut b = bad.clone();
        b[at..at + 4].copy_from_slice(kind);
        let err = codec::decompress(&b, &engine, &Options::default(), &|_| {}).unwrap_err();
        assert!(matches!(err, Error::Format(_)), "{err}");
    }
    let mut b = bad.clone();
    b[at + 4] = 2; // unknown flag
    assert!(codec::decompress(&b, &engine, &Options::default(), &|_| {}).is_err());
    // every truncation inside the section fails cleanly
    for cut in 0..at + 8 {
        assert!(
            container::read(&good[..cut], &Limits::default()).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn animated_png_and_cmyk_are_refused_by_name() {
    let img = structured(8, 8, ColorType::Rgb, 1);
    let png = img.to_png().unwrap();
    let apng = png_with_chunks(&png, &[(b"acTL", &[0, 0, 0, 3, 0, 0, 0, 0])], &[]);
    let err = Image::decode(&apng, 1 << 20).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("animated PNG (3 frames)"), "{err}");
    let err = Image::decode(&cmyk_tiff(), 1 << 20).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("CMYK"), "{err}");
}

#[test]
fn a_png_bomb_fails_fast() {
    // a tiny PNG declaring 16384×16384 RGBA: refused from the header, before allocating
    let img = structured(8, 8, ColorType::Rgba, 1);
    let mut png = img.to_png().unwrap();
    png[16..20].copy_from_slice(&16384u32.to_be_bytes());
    png[20..24].copy_from_slice(&16384u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let start = Instant::now();
    let err = Image::decode_with_metadata(&png, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Limits(_)), "{err}");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(err.to_string().contains("16384×16384"), "{err}");
    // the per-side limit applies too
    let narrow = Limits {
        max_dimension: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        Image::decode_with_metadata(&png, &narrow),
        Err(Error::Limits(_))
    ));
}
