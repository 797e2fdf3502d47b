//! The encoder: codes tiles with one model, batch by batch, and assembles each image's file.
//!
//! Within a tile, pixels are visited in raster order and per pixel the alpha (if any), then
//! R, G, B (or the single gray value) are coded with the tile's own range coder. The engine
//! steps a batch of tiles of one shape together; batches run in parallel on the current rayon
//! pool. The output bytes depend on neither the thread count nor the batch size.

use constriction::stream::queue::DefaultRangeEncoder;
use constriction::stream::Encode;
use rayon::prelude::*;

use crate::config::TILE;
use crate::engine::Engine;
use crate::error::Result;
use crate::image_io::{Image, Metadata};

use super::alpha::AlphaModel;
use super::container::{self, Header, StoredModelId};
use super::mixture::{Logarithm, PixelMixture};
use super::tiles::{batches_of, Pool, Tile};
use super::{checksum, choice, coder_error, Compressed, Options, Stats};

/// A tile's payload and the model's information content of its pixels in bits.
pub(super) type Coded = (Vec<u8>, f64);

/// Compresses `images` (with `metadata[k]` stored for image `k`, none beyond its length),
/// each with the model of `engines` that codes a sample of its tiles smallest (ties: the
/// earlier model); with one model there is no sampling. Tiles of all images are pooled, so
/// small images share batched products; each file is identical to what the chosen model
/// writes for its image alone.
pub(super) fn compress_images(
    images: &[Image],
    metadata: &[Metadata],
    engines: &[&Engine],
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Compressed>> {
    assert!(!engines.is_empty(), "compression needs a model");
    let pool = Pool::of(images.iter().map(|i| (i.width, i.height)));
    let tiles = &pool.tiles;
    let mut coded: Vec<Option<Coded>> = vec![None; tiles.len()];
    let choice = if engines.len() > 1 {
        choice::choose(images, &pool, engines, options, &mut coded, progress)?
    } else {
        vec![0; images.len()]
    };
    for (e, engine) in engines.iter().enumerate() {
        let rest: Vec<usize> = (0..tiles.len())
            .filter(|&id| choice[tiles[id].image] == e && coded[id].is_none())
            .collect();
        if rest.is_empty() {
            continue;
        }
        for (id, bytes, bits) in encode_tiles(images, engine, tiles, &rest, options, progress)? {
            coded[id] = Some((bytes, bits));
        }
    }
    let none = Metadata::default();
    let mut files = Vec::with_capacity(images.len());
    for (k, image) in images.iter().enumerate() {
        let mut stats = Stats::default();
        let (a, b) = (pool.starts[k], pool.starts[k + 1]);
        let mut own = Vec::with_capacity(b - a);
        // tiles are listed image by image, each image's in raster order
        for c in &mut coded[a..b] {
            let (bytes, bits) = c.take().expect("every tile coded once");
            stats.model_bits += bits;
            stats.payload_bytes += bytes.len();
            stats.tiles += 1;
            own.push(bytes);
        }
        let header = Header {
            model_id: StoredModelId::of(&engines[choice[k]].id()),
            color: image.color,
            tile: TILE,
            checksum: checksum(image),
            width: image.width,
            height: image.height,
        };
        let meta = metadata.get(k).unwrap_or(&none);
        files.push(Compressed {
            bytes: container::write_coded_with(&header, meta, &own, options.logarithm),
            stats,
            model: choice[k],
        });
    }
    Ok(files)
}

/// Codes the tiles `ids` (indices into `tiles`) with `engine`, in batches of equal shape on
/// the rayon pool; returns (tile, payload, model bits) for each.
pub(super) fn encode_tiles(
    images: &[Image],
    engine: &Engine,
    tiles: &[Tile],
    ids: &[usize],
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<(usize, Vec<u8>, f64)>> {
    let groups = batches_of(tiles, ids, options.batch_for(engine));
    let results: Vec<Vec<(usize, Vec<u8>, f64)>> = groups
        .par_iter()
        .map(|group| {
            let r = encode_batch(images, engine, tiles, group, options.logarithm);
            progress(group.len());
            r
        })
        .collect::<Result<_>>()?;
    Ok(results.into_iter().flatten().collect())
}

/// Range coder words to bytes, little-endian, trailing zero bytes dropped (the decoder reads
/// missing words as zeros).
pub(super) fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// The network's RGB view of a pixel: gray is fed as `[v, v, v]`.
pub(super) fn network_pixel(px: &[u8], color_channels: usize) -> [u8; 3] {
    if color_channels == 3 {
        [px[0], px[1], px[2]]
    } else {
        [px[0]; 3]
    }
}

fn encode_batch(
    images: &[Image],
    engine: &Engine,
    tiles: &[Tile],
    ids: &[usize],
    log: Logarithm,
) -> Result<Vec<(usize, Vec<u8>, f64)>> {
    let (h, w) = (tiles[ids[0]].h, tiles[ids[0]].w);
    let n_out = engine.config().output_size();
    let mut session = engine.session(ids.len(), h, w);
    let mut coders: Vec<DefaultRangeEncoder> =
        ids.iter().map(|_| DefaultRangeEncoder::new()).collect();
    let mut alpha_models = vec![AlphaModel::default(); ids.len()];
    let mut alphas = vec![vec![0u8; h * w]; ids.len()];
    let mut bits = vec![0.0f64; ids.len()];
    let mut pixels = vec![[0u8; 3]; ids.len()];
    for p in 0..h * w {
        let (i, j) = (p / w, p % w);
        let params = session.predict();
        for (t, &id) in ids.iter().enumerate() {
            let tile = tiles[id];
            let image = &images[tile.image];
            let color = image.color;
            let (ch, cc) = (color.channels(), color.color_channels());
            let at = ((tile.y0 + i) * image.width + tile.x0 + j) * ch;
            let px = &image.data[at..at + ch];
            let coder = &mut coders[t];
            if color.has_alpha() {
                let a = px[ch - 1];
                let pred = AlphaModel::predict(&alphas[t], w, i, j);
                let residual = a.wrapping_sub(pred);
                let model = &mut alpha_models[t];
                coder
                    .encode_symbol((residual != 0) as usize, model.flag_table())
                    .map_err(coder_error)?;
                if residual != 0 {
                    coder
                        .encode_symbol(residual as usize - 1, model.residual_table())
                        .map_err(coder_error)?;
                }
                model.update(residual);
                alphas[t][p] = a;
            }
            let mut mix = PixelMixture::with_logarithm(&params[t * n_out..(t + 1) * n_out], log);
            for (c, &v) in px[..cc].iter().enumerate() {
                let cdf = mix.channel(c);
                coder.encode_symbol(v, &cdf).map_err(coder_error)?;
                bits[t] += mix.observe(&cdf, c, v);
            }
            pixels[t] = network_pixel(px, cc);
        }
        session.advance(&pixels);
    }
    ids.iter()
        .zip(coders)
        .zip(bits)
        .map(|((&id, coder), b)| {
            let words = coder.into_compressed().map_err(coder_error)?;
            Ok((id, words_to_bytes(&words), b))
        })
        .collect()
}
