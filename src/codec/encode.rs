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

use super::adaptive::contexts::med;
use super::adaptive::Variant;
use super::alpha::AlphaModel;
use super::container::{self, Header, StoredModelId};
use super::mixture::{Logarithm, PixelMixture};
use super::streams::{self, Stream};
use super::tiles::{batches_of, tiles_of, Pool, Tile};
use super::{checksum, choice, coder_error, Compressed, NetworkUse, Options, Stats};

/// A tile's payload and the model's information content of its pixels in bits.
pub(super) type Coded = (Vec<u8>, f64);

/// Whether compressing with `options` may run the network: all but effort 1 (the adaptive
/// stage alone) do; [`compress_images`] takes no models when it does not.
pub(super) fn runs_network(options: &Options) -> bool {
    !(options.effort == 1 && adaptive_at(options))
}

/// Whether `options` write the adaptive versions (6 to 8).
fn adaptive_at(options: &Options) -> bool {
    options.effort > 0 && options.logarithm == Logarithm::Libm
}

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
    if adaptive_at(options) {
        return compress_adaptive(images, metadata, engines, options, progress);
    }
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
            network: true,
        };
        let meta = metadata.get(k).unwrap_or(&none);
        files.push(Compressed {
            bytes: container::write_coded_with(&header, meta, &own, options.logarithm),
            stats,
            model: Some(choice[k]),
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

/// Versions 6 and 7: the adaptive stage, with the network where it pays (see [`Options::effort`]).
fn compress_adaptive(
    images: &[Image],
    metadata: &[Metadata],
    engines: &[&Engine],
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Compressed>> {
    // which tiles would use the network, by a cheap estimate
    let uses: Vec<Vec<bool>> = images
        .iter()
        .map(|image| {
            tiles_of(0, image.width, image.height)
                .map(|t| options.effort >= 2 && network_pays(image, &t))
                .collect()
        })
        .collect();
    let mut candidates: Vec<Vec<Option<usize>>> = vec![Vec::new(); images.len()];
    let wants_network: Vec<bool> = uses.iter().map(|u| u.iter().any(|&b| b)).collect();
    // Images of one tile (CIFAR-10's 32×32): the adaptive stage has too few values to learn
    // from to pay for its container bytes next to the network, so they are coded by the
    // network alone (versions 4/5, as at effort 0) and by the adaptive stage alone, and the
    // smaller file is kept (the cheap estimate of `network_pays` misjudges a lone tile);
    // effort 3 adds its other ways.
    let single: Vec<usize> = (0..images.len())
        .filter(|&k| uses[k].len() == 1 && options.effort >= 2 && !engines.is_empty())
        .collect();
    let mut best: Vec<Option<Compressed>> = vec![None; images.len()];
    if !single.is_empty() {
        let subset: Vec<Image> = single.iter().map(|&k| images[k].clone()).collect();
        let none = Metadata::default();
        let meta: Vec<Metadata> = single
            .iter()
            .map(|&k| metadata.get(k).unwrap_or(&none).clone())
            .collect();
        let alone = Options {
            effort: 0,
            ..options.clone()
        };
        let files = compress_images(&subset, &meta, engines, &alone, progress)?;
        for (&k, file) in single.iter().zip(files) {
            best[k] = Some(file);
        }
    }
    let wants_network: Vec<bool> = (0..images.len())
        .map(|k| wants_network[k] && (options.effort >= 3 || best[k].is_none()))
        .collect();
    if options.effort >= 3 {
        for c in &mut candidates {
            c.push(None);
            c.extend((0..engines.len()).map(Some));
        }
    } else if options.network_use == NetworkUse::Tiles {
        let choice = if engines.len() > 1 && wants_network.iter().any(|&b| b) {
            let pool = Pool::of(images.iter().map(|i| (i.width, i.height)));
            let mut coded = vec![None; pool.tiles.len()];
            choice::choose(images, &pool, engines, options, &mut coded, progress)?
        } else {
            vec![0; images.len()]
        };
        for (k, c) in candidates.iter_mut().enumerate() {
            c.push((wants_network[k] && !engines.is_empty()).then_some(choice[k]));
        }
    } else {
        let ks: Vec<usize> = (0..images.len()).filter(|&k| wants_network[k]).collect();
        for c in &mut candidates {
            c.push(None);
        }
        if !ks.is_empty() && !engines.is_empty() {
            for (&k, way) in ks
                .iter()
                .zip(weigh_ways(images, &ks, &uses, engines, options)?)
            {
                candidates[k][0] = way;
            }
        }
    }
    let tries = candidates.iter().map(Vec::len).max().unwrap_or(0);
    for attempt in 0..tries {
        // images by the model this attempt codes them with
        let mut by_model: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        for (k, c) in candidates.iter().enumerate() {
            if let Some(&m) = c.get(attempt) {
                match by_model.iter_mut().find(|(mm, _)| *mm == m) {
                    Some((_, ks)) => ks.push(k),
                    None => by_model.push((m, vec![k])),
                }
            }
        }
        for (model, ks) in by_model {
            let engine = model.map(|m| engines[m]);
            let all = options.effort >= 3;
            let files =
                encode_adaptive(images, metadata, &ks, &uses, all, engine, options, progress)?;
            for (k, mut file) in ks.into_iter().zip(files) {
                file.model = model;
                if best[k]
                    .as_ref()
                    .is_none_or(|b| file.bytes.len() < b.bytes.len())
                {
                    best[k] = Some(file);
                }
            }
        }
    }
    Ok(best
        .into_iter()
        .map(|b| b.expect("every image coded"))
        .collect())
}

/// Whether the network is likely to pay for this tile: not where most values equal their
/// MED prediction (flat areas, text, charts), which the context models code for almost
/// nothing alone.
fn network_pays(image: &Image, t: &Tile) -> bool {
    let ch = image.color.channels();
    let cc = image.color.color_channels();
    let at = |i: usize, j: usize, c: usize| {
        image.data[((t.y0 + i) * image.width + t.x0 + j) * ch + c] as i32
    };
    let mut hits = 0;
    let mut total = 0;
    for i in 1..t.h {
        for j in 1..t.w {
            for c in 0..cc {
                total += 1;
                hits += (at(i, j, c) == med(at(i, j - 1, c), at(i - 1, j, c), at(i - 1, j - 1, c)))
                    as usize;
            }
        }
    }
    hits * 2 < total.max(1)
}

/// An encoding stream of `image`'s `tiles` (coding order) in lockstep `groups`; if `network`,
/// tile `t` uses it where `uses[t]`.
fn stream_of(
    image: &Image,
    tiles: Vec<Tile>,
    groups: Vec<std::ops::Range<usize>>,
    network: bool,
    uses: &[bool],
    variant: Variant,
) -> Stream<DefaultRangeEncoder> {
    let ch = image.color.channels();
    let pixels = tiles
        .iter()
        .map(|t| {
            let mut out = Vec::with_capacity(t.w * t.h * ch);
            for i in 0..t.h {
                let at = ((t.y0 + i) * image.width + t.x0) * ch;
                out.extend_from_slice(&image.data[at..at + t.w * ch]);
            }
            out
        })
        .collect();
    let mut s = Stream::new(
        tiles,
        groups,
        pixels,
        network,
        image.color,
        DefaultRangeEncoder::new(),
        variant,
    );
    if network {
        s.uses = uses.to_vec();
    }
    s
}

/// Weighs the ways effort 2 may code images `ks` (each with tiles that would use the
/// network, `uses`) on a sample of each: the adaptive stage alone and with each model of
/// `engines`, every way from a fresh state on the same tiles (those [`choice`] samples).
/// An image takes the model whose sample came out smallest (probes weighted as there), if
/// that beats the stage alone by [`NETWORK_MARGIN`] percent, else no network.
fn weigh_ways(
    images: &[Image],
    ks: &[usize],
    uses: &[Vec<bool>],
    engines: &[&Engine],
    options: &Options,
) -> Result<Vec<Option<usize>>> {
    let variant = Variant::of_version(options.adaptive_version()).expect("an adaptive version");
    let samples: Vec<(Vec<(usize, Tile)>, bool)> = ks
        .iter()
        .map(|&k| {
            let image = &images[k];
            let tiles: Vec<Tile> = tiles_of(k, image.width, image.height).collect();
            choice::adaptive_sample(&tiles)
        })
        .collect();
    let ways: Vec<Option<usize>> = std::iter::once(None)
        .chain((0..engines.len()).map(Some))
        .collect();
    let mut cost = vec![vec![0usize; ks.len()]; ways.len()];
    for (w, way) in ways.iter().enumerate() {
        let engine = way.map(|m| engines[m]);
        let mut streams: Vec<Stream<DefaultRangeEncoder>> = ks
            .iter()
            .zip(&samples)
            .map(|(&k, (sample, _))| {
                let tiles: Vec<Tile> = sample.iter().map(|&(_, t)| t).collect();
                let layout = streams::layout(&tiles, usize::MAX).remove(0);
                let order: Vec<Tile> = layout.tiles.iter().map(|&t| tiles[t]).collect();
                let uses: Vec<bool> = layout.tiles.iter().map(|&t| uses[k][sample[t].0]).collect();
                stream_of(
                    &images[k],
                    order,
                    layout.groups,
                    engine.is_some(),
                    &uses,
                    variant,
                )
            })
            .collect();
        let batch = engine.map_or(1, |e| options.batch_for(e));
        streams::run(&mut streams, engine, batch, &|_| {})?;
        for (j, s) in streams.into_iter().enumerate() {
            cost[w][j] = s.io.num_words() * 4;
        }
    }
    Ok(samples
        .iter()
        .enumerate()
        .map(|(j, (_, probed))| {
            let model = (0..engines.len())
                .min_by_key(|&m| (cost[1 + m][j] * choice::probe_weight(m, *probed), m))?;
            (cost[1 + model][j] * 100 < cost[0][j] * (100 - NETWORK_MARGIN)).then_some(model)
        })
        .collect())
}

/// How much smaller (percent) a sample must code with the network than without for effort 2
/// to spend the network's time on the image. Measured on our sets: the samples of the 20
/// BSDS500 validation photos code 30–47% smaller with it, those of 40 training photos (24
/// BSDS500, 16 GCompris, halved or quartered) 21–48% except one at 10% (whose whole image
/// codes 10% smaller with the network), those of screen content and graphics 12% smaller at
/// best (1–2% on the whole image). The estimate is noisy, so the margin is small: photos
/// come first, and only images the network clearly does not help skip it.
const NETWORK_MARGIN: usize = 5;

/// Codes images `ks` in an adaptive version with `engine` (none: no network); tiles use it where
/// `uses` says so, or all of them if `all`.
#[allow(clippy::too_many_arguments)]
pub(super) fn encode_adaptive(
    images: &[Image],
    metadata: &[Metadata],
    ks: &[usize],
    uses: &[Vec<bool>],
    all: bool,
    engine: Option<&Engine>,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Compressed>> {
    let version = options.adaptive_version();
    let variant = Variant::of_version(version).expect("an adaptive version");
    let mut streams: Vec<Stream<DefaultRangeEncoder>> = Vec::new();
    let mut owner = Vec::new();
    for &k in ks {
        let image = &images[k];
        let tiles: Vec<Tile> = tiles_of(k, image.width, image.height).collect();
        for layout in streams::layout(&tiles, streams::stream_tiles(variant, engine.is_some())) {
            let uses: Vec<bool> = layout.tiles.iter().map(|&t| all || uses[k][t]).collect();
            let order: Vec<Tile> = layout.tiles.iter().map(|&t| tiles[t]).collect();
            let network = engine.is_some();
            streams.push(stream_of(
                image,
                order,
                layout.groups,
                network,
                &uses,
                variant,
            ));
            owner.push(k);
        }
    }
    let batch = engine.map_or(1, |e| options.batch_for(e));
    streams::run(&mut streams, engine, batch, progress)?;
    let mut payloads: Vec<Vec<Vec<u8>>> = vec![Vec::new(); images.len()];
    let mut stats: Vec<Stats> = vec![Stats::default(); images.len()];
    for (s, k) in streams.into_iter().zip(owner) {
        let words = s.io.into_compressed().map_err(coder_error)?;
        let coded = words_to_bytes(&words);
        let raw: usize = s.pixels.iter().map(Vec::len).sum();
        let mut payload = Vec::with_capacity(1 + coded.len().min(raw));
        if coded.len() < raw {
            payload.push(container::STREAM_CODED);
            payload.extend_from_slice(&coded);
        } else {
            payload.push(container::STREAM_STORED);
            for p in &s.pixels {
                payload.extend_from_slice(p);
            }
        }
        stats[k].model_bits += s.bits;
        stats[k].payload_bytes += payload.len();
        stats[k].tiles += s.tiles.len();
        payloads[k].push(payload);
    }
    let none = Metadata::default();
    Ok(ks
        .iter()
        .map(|&k| {
            let image = &images[k];
            let header = Header {
                model_id: engine.map_or(StoredModelId::NONE, |e| StoredModelId::of(&e.id())),
                color: image.color,
                tile: TILE,
                checksum: checksum(image),
                width: image.width,
                height: image.height,
                network: engine.is_some(),
            };
            let meta = metadata.get(k).unwrap_or(&none);
            Compressed {
                bytes: container::write_adaptive(version, &header, meta, &payloads[k]),
                stats: stats[k].clone(),
                model: None,
            }
        })
        .collect())
}
