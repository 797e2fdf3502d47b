//! Shared helpers: data location, seeded images, tiny models.

use std::path::PathBuf;

use snailzip::codec::{self, Options};
use snailzip::weights::SplitMix64;
use snailzip::{ColorType, Config, Engine, Image, Weights};

/// The data folder (`$SNAILZIP_DATA`, else `../shared/data` beside the repository), or
/// `None` with a printed notice when it is absent.
pub fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os(snailzip::corpus::DATA_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    };
    if dir.join("cifar-10-batches-bin/test_batch.bin").exists() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: test data not found at {} (set SNAILZIP_DATA); skipping data-dependent checks",
            dir.display()
        );
        None
    }
}

/// The first `n` CIFAR-10 test images, if the data is present.
pub fn cifar_test(n: usize) -> Option<Vec<Image>> {
    let dir = data_dir()?;
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
