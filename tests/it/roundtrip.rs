//! Bit-exact round trips of many shapes, layouts and real images.

use snailzip::codec::Options;
use snailzip::{ColorType, Image};

use super::util::{cifar_test, data_dir, noise, round_trip, structured, tiny_engine};

const LAYOUTS: [ColorType; 4] = [
    ColorType::Gray,
    ColorType::GrayAlpha,
    ColorType::Rgb,
    ColorType::Rgba,
];

#[test]
fn odd_sizes_and_every_layout() {
    let engine = tiny_engine(11);
    let options = Options::default();
    for (k, &(w, h)) in [(1, 1), (31, 33), (100, 7), (2, 65), (33, 32), (64, 1)]
        .iter()
        .enumerate()
    {
        for (c, &color) in LAYOUTS.iter().enumerate() {
            let seed = (k * 10 + c) as u64;
            round_trip(&noise(w, h, color, seed), &engine, &options);
            round_trip(&structured(w, h, color, seed), &engine, &options);
        }
    }
}

#[test]
fn constant_images() {
    let engine = tiny_engine(12);
    for v in [0u8, 255, 128] {
        let img = Image::new(40, 35, ColorType::Rgb, vec![v; 40 * 35 * 3]).unwrap();
        round_trip(&img, &engine, &Options::default());
    }
}

#[test]
fn cifar_test_images() {
    let Some(images) = cifar_test(500, "round trips of CIFAR-10 test images") else {
        return;
    };
    assert_eq!(images.len(), 500);
    let engine = tiny_engine(13);
    // all 500 in one call each, exercising batching across images' tiles too
    for img in &images {
        round_trip(img, &engine, &Options::default());
    }
}

#[test]
fn kodak_images() {
    let Some(dir) = data_dir("kodak/kodim23.png", "round trips of Kodak photos") else {
        return;
    };
    let engine = tiny_engine(14);
    for name in ["kodim04.png", "kodim23.png"] {
        let bytes = std::fs::read(dir.join("kodak").join(name)).unwrap();
        let img = Image::decode(&bytes, 1 << 24).unwrap();
        assert_eq!(img.color, ColorType::Rgb);
        round_trip(&img, &engine, &Options::default());
    }
}
