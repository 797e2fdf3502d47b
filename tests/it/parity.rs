//! The dfdx training model and the deterministic engine compute the same network.

use snailzip::{Config, Engine, Weights};

use super::util::noise;

fn max_abs_diff(config: &Config, seed: u64) -> f32 {
    let weights = Weights::random(config, seed);
    let engine = Engine::new(&weights);
    let n: usize = 2;
    let images: Vec<_> = (0..n)
        .map(|k| noise(32, 32, snailzip::ColorType::Rgb, seed * 10 + k as u64))
        .collect();
    let nhwc: Vec<u8> = images.iter().flat_map(|i| i.data.iter().copied()).collect();
    let train = snailzip::model::forward_params(&weights, &nhwc, n).unwrap();
    let per_image = 32 * 32 * config.output_size();
    let mut worst = 0.0f32;
    for (k, img) in images.iter().enumerate() {
        let eng = engine.forward_tile(&img.data, 32, 32);
        for (a, b) in eng.iter().zip(&train[k * per_image..(k + 1) * per_image]) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

#[test]
fn engine_matches_training_model() {
    for (config, seed) in [(Config::tiny(), 1), (Config::base(), 2)] {
        let d = max_abs_diff(&config, seed);
        println!("{config}: max |engine - dfdx| = {d:e}");
        assert!(d <= 1e-4, "{config}: max abs difference {d}");
    }
}
