//! Shared helpers: data location, seeded images, tiny models.

use std::path::PathBuf;

use snailzip::codec::{self, Options};
use snailzip::weights::SplitMix64;
use snailzip::{ColorType, Config, Engine, Image, Weights};

/// The data folder (`$SNAILZIP_DATA`, else `../shared/data` beside the repository) if it
/// holds `file`; else `None`, after a notice (a failure under CI) naming `what` is skipped.
pub fn data_dir(file: &str, what: &str) -> Option<PathBuf> {
    super::skip::data_with(file, what)
}

/// The first `n` CIFAR-10 test images, if the data is present (else `what` is skipped
/// loudly, see [`data_dir`]).
pub fn cifar_test(n: usize, what: &str) -> Option<Vec<Image>> {
    let dir = data_dir("cifar-10-batches-bin/test_batch.bin", what)?;
    let records = snailzip::corpus::read_cifar(&dir.join("cifar-10-batches-bin/test_batch.bin"))
        .expect("readable test batch");
    // records are grouped by class: take every 20th to see all classes
    Some(
        records
            .into_iter()
            .step_by(20)
            .take(n)
            .map(|(_, img)| img)
            .collect(),
    )
}

pub fn tiny_engine(seed: u64) -> Engine {
    Engine::new(&Weights::random(&Config::tiny(), seed))
}

/// Uniform noise.
pub fn noise(width: usize, height: usize, color: ColorType, seed: u64) -> Image {
    let mut rng = SplitMix64(seed);
    let n = width * height * color.channels();
    let data = (0..n).map(|_| (rng.next_u64() >> 56) as u8).collect();
    Image::new(width, height, color, data).unwrap()
}

/// Smooth gradients with a little noise, saturated corners and a constant region: structure
/// that a model predicts sharply (peaked distributions) as well as flat runs.
pub fn structured(width: usize, height: usize, color: ColorType, seed: u64) -> Image {
    let mut rng = SplitMix64(seed);
    let ch = color.channels();
    let mut data = Vec::with_capacity(width * height * ch);
    for y in 0..height {
        for x in 0..width {
            for c in 0..ch {
                let v = if x < width / 4 {
                    if c == ch - 1 && color.has_alpha() {
                        255
                    } else {
                        0
                    }
                } else {
                    let g = (x * 255 / width.max(1) + y * 3 + c * 40) as i64;
                    (g + (rng.next_u64() % 5) as i64 - 2).clamp(0, 255)
                };
                data.push(v as u8);
            }
        }
    }
    Image::new(width, height, color, data).unwrap()
}

pub fn round_trip(image: &Image, engine: &Engine, options: &Options) -> (Vec<u8>, codec::Stats) {
    let (bytes, stats) = codec::compress(image, engine, options, &|_| {}).unwrap();
    let back = codec::decompress(&bytes, engine, options, &|_| {}).unwrap();
    assert!(
        back == *image,
        "round trip changed {}×{} {:?}",
        image.width,
        image.height,
        image.color
    );
    (bytes, stats)
}

/// The version 1 form of a version 2 `.snz` file: all 8 model id bytes, then color, the tile
/// size byte and the rest of the version 2 file (checksum, sizes, tile table, payloads).
pub fn as_version_1(v2: &[u8], engine: &Engine) -> Vec<u8> {
    assert_eq!(v2[3], 2);
    let mut v1 = b"SNZ\x01".to_vec();
    v1.extend_from_slice(&engine.id());
    v1.push(v2[8]);
    v1.push(snailzip::config::TILE as u8);
    v1.extend_from_slice(&v2[9..]);
    v1
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A PNG chunk: length, type, data, CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32fast::hash(&out[4..]).to_be_bytes());
    out
}

/// `png` (as written by the `image` crate: signature, IHDR, IDAT..., IEND) with `before`
/// inserted after IHDR and `after` before IEND.
pub fn png_with_chunks(
    png: &[u8],
    before: &[(&[u8; 4], &[u8])],
    after: &[(&[u8; 4], &[u8])],
) -> Vec<u8> {
    let ihdr_end = 8 + 12 + 13;
    assert_eq!(&png[12..16], b"IHDR");
    let iend = png.len() - 12;
    assert_eq!(&png[iend + 4..iend + 8], b"IEND");
    let mut out = png[..ihdr_end].to_vec();
    for (k, d) in before {
        out.extend(png_chunk(k, d));
    }
    out.extend_from_slice(&png[ihdr_end..iend]);
    for (k, d) in after {
        out.extend(png_chunk(k, d));
    }
    out.extend_from_slice(&png[iend..]);
    out
}

/// The chunks of a PNG file as (type, data), in order.
pub fn png_chunk_list(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 12 <= png.len() {
        let n = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        out.push((
            png[pos + 4..pos + 8].try_into().unwrap(),
            png[pos + 8..pos + 8 + n].to_vec(),
        ));
        pos += 12 + n;
    }
    out
}

/// Metadata chunks a user expects back, for tests: before the image data a gAMA, a pHYs, a
/// (fake, zlib-less) iCCP and an eXIf; a bKGD that is not kept; after it a tEXt.
pub fn png_with_metadata(image: &Image) -> Vec<u8> {
    png_with_chunks(
        &image.to_png().unwrap(),
        &[
            (b"gAMA", &45455u32.to_be_bytes()),
            (b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 1]),
            (b"iCCP", b"profile\0\0not really deflate but kept verbatim"),
            (b"eXIf", b"MM\0*\0\0\0\x08\0\0"),
            (b"bKGD", &[0, 1, 0, 2, 0, 3]),
        ],
        &[(b"tEXt", b"Comment\0made by a test")],
    )
}

/// A 2×2 CMYK TIFF (8 bits per ink, uncompressed), built by hand.
pub fn cmyk_tiff() -> Vec<u8> {
    let pixels: [u8; 16] = [
        0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150,
    ];
    let mut t = b"II*\0".to_vec();
    let ifd_at = 8u32;
    t.extend_from_slice(&ifd_at.to_le_bytes());
    // IFD: 10 entries of 12 bytes, then next-IFD offset; then bits-per-sample and pixels
    let entries = 10u16;
    let after_ifd = ifd_at + 2 + 12 * entries as u32 + 4;
    let bps_at = after_ifd;
    let pixels_at = bps_at + 8;
    let mut ifd = entries.to_le_bytes().to_vec();
    let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
        ifd.extend_from_slice(&tag.to_le_bytes());
        ifd.extend_from_slice(&kind.to_le_bytes());
        ifd.extend_from_slice(&count.to_le_bytes());
        ifd.extend_from_slice(&value.to_le_bytes());
    };
    let (short, long) = (3u16, 4u16);
    entry(256, short, 1, 2); // width
    entry(257, short, 1, 2); // height
    entry(258, short, 4, bps_at); // bits per sample: 8,8,8,8
    entry(259, short, 1, 1); // no compression
    entry(262, short, 1, 5); // photometric: separated (CMYK)
    entry(273, long, 1, pixels_at); // strip offsets
    entry(277, short, 1, 4); // samples per pixel
    entry(278, short, 1, 2); // rows per strip
    entry(279, long, 1, pixels.len() as u32); // strip byte counts
    entry(284, short, 1, 1); // planar configuration: chunky
    ifd.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&ifd);
    for _ in 0..4 {
        t.extend_from_slice(&8u16.to_le_bytes());
    }
    t.extend_from_slice(&pixels);
    t
}
