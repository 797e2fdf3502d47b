//! Model choice: which of several models codes an image, judged on a sample of its tiles.
//!
//! Every model codes a fixed, evenly spread sample of each image's tiles and the image goes
//! to the one whose sample came out smallest; the chosen model's sample payloads are kept,
//! so the choice costs only the other models' share. The file's model id then tells the
//! decoder which model decodes it, so decoding needs no choice.

use crate::config::TILE;
use crate::engine::Engine;
use crate::error::Result;
use crate::image_io::Image;

use super::encode::{encode_tiles, Coded};
use super::tiles::{Pool, Tile};
use super::Options;

/// Rows of each tile that decide between models for images of at most 8 tiles.
pub(super) const PROBE_ROWS: usize = 4;

/// How the models are compared on one image (its raster-ordered `tiles`).
enum Sample {
    /// Images of up to 8 tiles: the first [`PROBE_ROWS`] rows of every tile, coded as tiles
    /// of their own. Those rows cost exactly what they cost inside the whole tile (the model
    /// is causal), and a 32×32 image is compared for an eighth of its coding time.
    Probes(Vec<Tile>),
    /// Larger images: an evenly spread `1/share` (at least 8) of the full 32×32 tiles; with
    /// the network alone, the chosen model's payloads of these tiles go into the file.
    Tiles(Vec<usize>),
}

/// The share of a large image's tiles sampled when the chosen model's payloads go into the
/// file (effort 0), and when effort 2 weighs its ways (the adaptive stage codes the image
/// again, so the whole sample is extra work: a smaller one halves it).
const SHARE_KEPT: usize = 12;
const SHARE_ADAPTIVE: usize = 24;

fn sample_tiles(tiles: &[Tile], share: usize) -> Sample {
    let n = tiles.len();
    if n <= 8 {
        return Sample::Probes(
            tiles
                .iter()
                .map(|t| Tile {
                    h: t.h.min(PROBE_ROWS),
                    ..*t
                })
                .collect(),
        );
    }
    let full: Vec<usize> = (0..n)
        .filter(|&i| tiles[i].w == TILE && tiles[i].h == TILE)
        .collect();
    let pool = if full.is_empty() {
        (0..n).collect()
    } else {
        full
    };
    let m = n.div_ceil(share).max(8).min(pool.len());
    Sample::Tiles(
        (0..m)
            .map(|k| pool[(2 * k + 1) * pool.len() / (2 * m)])
            .collect(),
    )
}

/// The weight (in tenths) of model `e`'s sample cost in the choice: another model than the
/// first must beat it by 30% on probes (see [`choose`]).
pub(super) fn probe_weight(e: usize, probed: bool) -> usize {
    if e > 0 && probed {
        13
    } else {
        10
    }
}

/// The sample that stands for an image of raster-ordered `tiles` when effort 2 weighs its
/// ways: the top [`PROBE_ROWS`] rows of every tile of a small image, else those of an evenly
/// spread 24th (at least 8) of its full tiles, so that weighing costs each model under 1/8
/// of a tile in 24. Each comes with the index of the tile it is cut from; the flag says
/// whether they are the top rows of a small image (which [`probe_weight`] corrects for;
/// rows spread over a large image are not biased so).
pub(super) fn adaptive_sample(tiles: &[Tile]) -> (Vec<(usize, Tile)>, bool) {
    match sample_tiles(tiles, SHARE_ADAPTIVE) {
        Sample::Probes(p) => (p.into_iter().enumerate().collect(), true),
        Sample::Tiles(ids) => (
            ids.into_iter()
                .map(|i| {
                    let probe = Tile {
                        h: tiles[i].h.min(PROBE_ROWS),
                        ..tiles[i]
                    };
                    (i, probe)
                })
                .collect(),
            false,
        ),
    }
}

/// Chooses a model (an index into `engines`) for each image of `pool`. The chosen model's
/// payloads of sampled tiles are stored in `coded`, so they are not coded again.
pub(super) fn choose(
    images: &[Image],
    pool: &Pool,
    engines: &[&Engine],
    options: &Options,
    coded: &mut [Option<Coded>],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<usize>> {
    let mut choice = vec![0usize; images.len()];
    let (mut sample, mut probes) = (Vec::new(), Vec::new());
    let mut probed = vec![false; images.len()];
    let tiles = &pool.tiles;
    for (k, probed) in probed.iter_mut().enumerate() {
        let s = pool.starts[k];
        match sample_tiles(pool.of_image(k), SHARE_KEPT) {
            Sample::Tiles(ids) => sample.extend(ids.into_iter().map(|i| s + i)),
            Sample::Probes(p) => {
                probes.extend(p);
                *probed = true;
            }
        }
    }
    // Top rows are a biased sample (often sky or background, cheaper with the photo
    // model than the rest of the image): on probes another model must beat the first
    // by 30%. Measured on 1,000 CIFAR-10 training images (data_batch_5): 3.39833
    // bits/subpixel, as when whole images decide (3.39831), at 1.25x one model's time
    // instead of 2x; with a 10% margin 3.39870, without one 3.401.
    let all_probes: Vec<usize> = (0..probes.len()).collect();
    let mut cost = vec![vec![0usize; images.len()]; engines.len()];
    let mut results = Vec::with_capacity(engines.len());
    for (e, engine) in engines.iter().enumerate() {
        let r = encode_tiles(images, engine, &probes, &all_probes, options, &|_| {})?;
        for (id, bytes, _) in &r {
            cost[e][probes[*id].image] += bytes.len();
        }
        let r = encode_tiles(images, engine, tiles, &sample, options, &|_| {})?;
        for (id, bytes, _) in &r {
            cost[e][tiles[*id].image] += bytes.len();
        }
        results.push(r);
    }
    for (k, c) in choice.iter_mut().enumerate() {
        *c = (0..engines.len())
            .min_by_key(|&e| (cost[e][k] * probe_weight(e, probed[k]), e))
            .unwrap_or(0);
    }
    for (e, r) in results.into_iter().enumerate() {
        for (id, bytes, bits) in r {
            if choice[tiles[id].image] == e {
                coded[id] = Some((bytes, bits));
            }
        }
    }
    progress(sample.len());
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tiles::tiles_of;

    #[test]
    fn samples_spread_over_full_tiles() {
        let tiles: Vec<Tile> = tiles_of(0, 768, 512).collect();
        let Sample::Tiles(s) = sample_tiles(&tiles, SHARE_KEPT) else {
            panic!("a photo is sampled by whole tiles")
        };
        assert_eq!(s.len(), 32);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s[0] < 12 && s[31] > 370, "{s:?}");
        let Sample::Tiles(half) = sample_tiles(&tiles, SHARE_ADAPTIVE) else {
            panic!("a photo is sampled by whole tiles")
        };
        assert_eq!(half.len(), 16);
        // partial edge tiles are not sampled when full ones exist
        let edge: Vec<Tile> = tiles_of(0, 100, 300).collect();
        let Sample::Tiles(s) = sample_tiles(&edge, SHARE_KEPT) else {
            panic!("30 tiles are sampled by whole tiles")
        };
        assert!(s.iter().all(|&i| edge[i].w == TILE && edge[i].h == TILE));
        // small images: the top rows of every tile
        let small: Vec<Tile> = tiles_of(0, 40, 34).collect();
        let Sample::Probes(p) = sample_tiles(&small, SHARE_KEPT) else {
            panic!("4 tiles are probed")
        };
        let shapes: Vec<_> = p.iter().map(|t| (t.x0, t.y0, t.w, t.h)).collect();
        assert_eq!(
            shapes,
            [(0, 0, 32, 4), (32, 0, 8, 4), (0, 32, 32, 2), (32, 32, 8, 2)]
        );
    }
}
