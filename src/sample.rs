//! Drawing images from the model: the decoder's exact steps, driven by random numbers
//! instead of a bitstream. Samples show what a model has learned (model cards carry a grid).

use constriction::stream::model::DecoderModel;

use crate::codec::mixture::{PixelMixture, PRECISION};
use crate::config::TILE;
use crate::engine::Engine;
use crate::image_io::{ColorType, Image};
use crate::weights::SplitMix64;

/// Draws `count` 32×32 RGB images, reproducibly for a given `seed`.
pub fn sample(engine: &Engine, count: usize, seed: u64) -> Vec<Image> {
    let mut rng = SplitMix64(seed);
    let n_out = engine.config().output_size();
    let mut session = engine.session(count.max(1), TILE, TILE);
    let mut data = vec![vec![0u8; TILE * TILE * 3]; count];
    let mut pixels = vec![[0u8; 3]; count.max(1)];
    for p in 0..TILE * TILE {
        let params = session.predict();
        for t in 0..count {
            let mut mix = PixelMixture::new(&params[t * n_out..(t + 1) * n_out]);
            for c in 0..3 {
                let cdf = mix.channel(c);
                let q = (rng.next_u64() >> (64 - PRECISION)) as u32;
                let (v, _, _) = cdf.quantile_function(q);
                pixels[t][c] = v;
                mix.observe(&cdf, c, v);
            }
            data[t][p * 3..p * 3 + 3].copy_from_slice(&pixels[t]);
        }
        session.advance(&pixels);
    }
    data.into_iter()
        .map(|d| Image::new(TILE, TILE, ColorType::Rgb, d).expect("sizes match"))
        .collect()
}

/// Lays images of equal size out in a grid with `gap` white pixels between them.
pub fn grid(images: &[Image], columns: usize, gap: usize) -> Option<Image> {
    let first = images.first()?;
    let (w, h) = (first.width, first.height);
    let columns = columns.clamp(1, images.len());
    let rows = images.len().div_ceil(columns);
    let (gw, gh) = (
        columns * w + (columns + 1) * gap,
        rows * h + (rows + 1) * gap,
    );
    let mut data = vec![255u8; gw * gh * 3];
    for (k, img) in images.iter().enumerate() {
        let (x0, y0) = (
            gap + (k % columns) * (w + gap),
            gap + (k / columns) * (h + gap),
        );
        for y in 0..h {
            let src = &img.data[y * w * 3..(y + 1) * w * 3];
            let dst = ((y0 + y) * gw + x0) * 3;
            data[dst..dst + w * 3].copy_from_slice(src);
        }
    }
    Image::new(gw, gh, ColorType::Rgb, data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Weights};

    #[test]
    fn samples_are_reproducible_and_the_grid_holds_them() {
        let engine = Engine::new(&Weights::random(&Config::tiny(), 0));
        let a = sample(&engine, 3, 7);
        assert_eq!(a, sample(&engine, 3, 7));
        assert_ne!(a, sample(&engine, 3, 8));
        let g = grid(&a, 2, 2).unwrap();
        assert_eq!((g.width, g.height), (2 * 32 + 6, 2 * 32 + 6));
        assert_eq!(&g.data[(2 * g.width + 2) * 3..][..3], &a[0].data[..3]);
    }
}
