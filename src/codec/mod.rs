//! Compression and decompression of whole images.
//!
//! An image is cut into 32×32 tiles (edge tiles keep only their real pixels) that are coded
//! independently, each with its own range coder, so tiles can be processed in parallel and
//! in any grouping. Tiles of the same shape are stepped together through one engine
//! [`Session`](crate::engine::Session) (`batch` tiles at a time); batches run in parallel on
//! the current rayon pool. The output bytes depend on neither the thread count nor the batch
//! size. Within a tile, pixels are visited in raster order and per pixel the alpha (if any),
//! then R, G, B (or the single gray value) are coded.
//!
//! Given several models, [`compress_choosing`] codes a fixed, evenly spread sample of each
//! image's tiles with every model and codes the image with the one whose sample came out
//! smallest (its sample tiles are kept, so the choice costs only the other models' share);
//! the file's model id then tells [`decompress_choosing`] which model decodes it.
//!
//! Decoding accepts exactly what the encoder writes. While a tile is decoded, its symbols
//! are coded again with the same probabilities, and the result must equal the stored
//! payload byte for byte: a payload with extra bytes (trailing data, concatenated files) or
//! any change that happens to decode is rejected. A tile with an empty payload can only hold
//! symbols of cumulative frequency 0 (color value 0, alpha as predicted), whatever the model,
//! so it is filled in without running the network: decoding work is bounded by the payload
//! bytes present (at most one 32×32 tile per two bytes), not by the declared size alone.

pub mod alpha;
pub mod container;
pub mod mixture;

use std::cell::Cell;
use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use rayon::prelude::*;

use crate::config::TILE;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image_io::{ColorType, Image, Metadata};
use alpha::AlphaModel;
use container::{Header, Limits, StoredModelId};
pub use mixture::Logarithm;
use mixture::PixelMixture;

/// [`Options::batch`] for the engine's own choice, [`Engine::batch_hint`].
pub const AUTO_BATCH: usize = 0;

/// Settings shared by compression and decompression.
#[derive(Clone, Debug)]
pub struct Options {
    /// Tiles of one shape stepped together through the engine ([`AUTO_BATCH`]: as many as
    /// the model's [`Engine::batch_hint`]). Never changes the output.
    pub batch: usize,
    /// What decoding may allocate.
    pub limits: Limits,
    /// The logarithm compression codes with: [`Logarithm::Libm`] (container versions 4 and
    /// 5); [`Logarithm::Platform`] writes the versions 2 and 3 of earlier builds, only to
    /// test that they still decode. Decoding ignores it and follows each file's version.
    pub logarithm: Logarithm,
}

impl Options {
    /// Tiles per batch with `engine`.
    pub fn batch_for(&self, engine: &Engine) -> usize {
        match self.batch {
            AUTO_BATCH => engine.batch_hint(),
            n => n,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch: AUTO_BATCH,
            limits: Limits::default(),
            logarithm: Logarithm::Libm,
        }
    }
}

/// Figures from one compression.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// The model's information content of the image in bits (its NLL).
    pub model_bits: f64,
    /// Bytes of tile payloads (everything except header and tile table).
    pub payload_bytes: usize,
    /// Number of tiles.
    pub tiles: usize,
}

/// A tile's place: which image, and where in it.
#[derive(Clone, Copy, Debug)]
struct Tile {
    image: usize,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
}

fn tiles_of(image: usize, width: usize, height: usize) -> impl Iterator<Item = Tile> {
    (0..height).step_by(TILE).flat_map(move |y0| {
        (0..width).step_by(TILE).map(move |x0| Tile {
            image,
            x0,
            y0,
            w: TILE.min(width - x0),
            h: TILE.min(height - y0),
        })
    })
}

/// Groups the tiles `ids` (indices into `tiles`) into batches of equal shape, at most
/// `batch` each, in a fixed order.
fn batches_of(tiles: &[Tile], ids: &[usize], batch: usize) -> Vec<Vec<usize>> {
    let mut shapes: Vec<(usize, usize)> = ids.iter().map(|&i| (tiles[i].h, tiles[i].w)).collect();
    shapes.sort_unstable();
    shapes.dedup();
    let mut out = Vec::new();
    for shape in shapes {
        let of_shape: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| (tiles[i].h, tiles[i].w) == shape)
            .collect();
        out.extend(of_shape.chunks(batch.max(1)).map(<[usize]>::to_vec));
    }
    out
}

/// CRC-32 of the interleaved pixels, as stored in the container.
pub fn checksum(image: &Image) -> u32 {
    crc32fast::hash(&image.data)
}

fn coder_error(e: impl std::fmt::Debug) -> Error {
    Error::Format(format!("entropy coder failed: {e:?}"))
}

/// Compresses an image with the given engine. `progress` is called with the number of tiles
/// finished by each completed batch.
///
/// # Errors
/// Only internal coder failures, which indicate a bug.
pub fn compress(
    image: &Image,
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<u8>, Stats)> {
    let mut out = compress_many(std::slice::from_ref(image), engine, options, progress)?;
    Ok(out.pop().expect("one image in, one file out"))
}

/// Compresses several images at once. Their tiles are pooled, so many small images (such as
/// 32×32 CIFAR images) share batched products; each image still gets its own independent
/// file, identical to what [`compress`] produces for it alone.
///
/// # Errors
/// Only internal coder failures, which indicate a bug.
pub fn compress_many(
    images: &[Image],
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<(Vec<u8>, Stats)>> {
    compress_many_with_metadata(images, &[], engine, options, progress)
}

/// [`compress_many`] storing `metadata[k]` with image `k` (a version 5 file; images beyond
/// `metadata.len()` or with empty metadata get none, i.e. a version 4 file).
///
/// # Errors
/// Only internal coder failures, which indicate a bug.
pub fn compress_many_with_metadata(
    images: &[Image],
    metadata: &[Metadata],
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<(Vec<u8>, Stats)>> {
    let files = compress_choosing(images, metadata, &[engine], options, progress)?;
    Ok(files.into_iter().map(|(bytes, s, _)| (bytes, s)).collect())
}

/// Rows of each tile that decide between models for images of at most 8 tiles.
const PROBE_ROWS: usize = 4;

/// How the models are compared on one image (its raster-ordered `tiles`).
enum Sample {
    /// Images of up to 8 tiles: the first [`PROBE_ROWS`] rows of every tile, coded as tiles
    /// of their own. Those rows cost exactly what they cost inside the whole tile (the model
    /// is causal), and a 32×32 image is compared for an eighth of its coding time.
    Probes(Vec<Tile>),
    /// Larger images: an evenly spread twelfth (at least 8) of the full 32×32 tiles; the
    /// chosen model's payloads of these tiles go into the file.
    Tiles(Vec<usize>),
}

fn sample_tiles(tiles: &[Tile]) -> Sample {
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
    let m = n.div_ceil(12).max(8).min(pool.len());
    Sample::Tiles(
        (0..m)
            .map(|k| pool[(2 * k + 1) * pool.len() / (2 * m)])
            .collect(),
    )
}

/// Codes the tiles `ids` (indices into `tiles`) with `engine`, in batches of equal shape on
/// the rayon pool; returns (tile, payload, model bits) for each.
fn encode_tiles(
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

/// Compresses several images like [`compress_many_with_metadata`], each with the model of
/// `engines` that codes a sample of its tiles smallest (ties: the earlier model); with one
/// model there is no sampling. Returns each file, its figures and the index of the model
/// used. A file is identical to what [`compress`] gives with the chosen model alone.
///
/// # Errors
/// Only internal coder failures, which indicate a bug.
///
/// # Panics
/// If `engines` is empty.
pub fn compress_choosing(
    images: &[Image],
    metadata: &[Metadata],
    engines: &[&Engine],
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<(Vec<u8>, Stats, usize)>> {
    assert!(!engines.is_empty(), "compress_choosing needs a model");
    let none = Metadata::default();
    let per_image: Vec<Vec<Tile>> = images
        .iter()
        .enumerate()
        .map(|(k, img)| tiles_of(k, img.width, img.height).collect())
        .collect();
    // index of each image's first tile in the pooled list
    let mut starts = Vec::with_capacity(images.len() + 1);
    starts.push(0usize);
    for t in &per_image {
        starts.push(starts[starts.len() - 1] + t.len());
    }
    let tiles: Vec<Tile> = per_image.concat();
    let mut coded: Vec<Option<(Vec<u8>, f64)>> = vec![None; tiles.len()];
    let mut choice = vec![0usize; images.len()];
    let mut sampled = vec![false; tiles.len()];
    if engines.len() > 1 {
        let (mut sample, mut probes) = (Vec::new(), Vec::new());
        let mut probed = vec![false; images.len()];
        for ((t, &s), probed) in per_image.iter().zip(&starts).zip(&mut probed) {
            match sample_tiles(t) {
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
        let weight = |e: usize, probed: bool| if e > 0 && probed { 13 } else { 10 };
        let all_probes: Vec<usize> = (0..probes.len()).collect();
        let mut cost = vec![vec![0usize; images.len()]; engines.len()];
        let mut results = Vec::with_capacity(engines.len());
        for (e, engine) in engines.iter().enumerate() {
            let r = encode_tiles(images, engine, &probes, &all_probes, options, &|_| {})?;
            for (id, bytes, _) in &r {
                cost[e][probes[*id].image] += bytes.len();
            }
            let r = encode_tiles(images, engine, &tiles, &sample, options, &|_| {})?;
            for (id, bytes, _) in &r {
                cost[e][tiles[*id].image] += bytes.len();
            }
            results.push(r);
        }
        for (k, c) in choice.iter_mut().enumerate() {
            *c = (0..engines.len())
                .min_by_key(|&e| (cost[e][k] * weight(e, probed[k]), e))
                .unwrap_or(0);
        }
        for (e, r) in results.into_iter().enumerate() {
            for (id, bytes, bits) in r {
                if choice[tiles[id].image] == e {
                    sampled[id] = true;
                    coded[id] = Some((bytes, bits));
                }
            }
        }
        progress(sample.len());
    }
    for (e, engine) in engines.iter().enumerate() {
        let rest: Vec<usize> = (0..tiles.len())
            .filter(|&id| choice[tiles[id].image] == e && !sampled[id])
            .collect();
        if rest.is_empty() {
            continue;
        }
        for (id, bytes, bits) in encode_tiles(images, engine, &tiles, &rest, options, progress)? {
            coded[id] = Some((bytes, bits));
        }
    }
    let mut files = Vec::with_capacity(images.len());
    for (k, image) in images.iter().enumerate() {
        let mut s = Stats::default();
        let mut own = Vec::with_capacity(starts[k + 1] - starts[k]);
        // tiles are listed image by image, each image's in raster order
        for c in &mut coded[starts[k]..starts[k + 1]] {
            let (bytes, bits) = c.take().expect("every tile coded once");
            s.model_bits += bits;
            s.payload_bytes += bytes.len();
            s.tiles += 1;
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
        files.push((
            container::write_coded_with(&header, meta, &own, options.logarithm),
            s,
            choice[k],
        ));
    }
    Ok(files)
}

/// Range coder words to bytes, little-endian, trailing zero bytes dropped (the decoder reads
/// missing words as zeros).
fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

/// The network's RGB view of a pixel: gray is fed as `[v, v, v]`.
fn network_pixel(px: &[u8], color_channels: usize) -> [u8; 3] {
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

/// Reads the header of a `.snz` file and checks that `engine` is the model it was made with.
///
/// # Errors
/// [`Error::Format`] / [`Error::Limits`] for bad headers, [`Error::ModelMismatch`] for a
/// different model.
pub fn check_model(bytes: &[u8], engine: &Engine, limits: &Limits) -> Result<Header> {
    let (header, _) = container::read_header(bytes, limits)?;
    if !header.model_id.matches(&engine.id()) {
        return Err(Error::ModelMismatch {
            file: header.model_id.to_string(),
            loaded: crate::error::hex_id(&engine.id()),
        });
    }
    Ok(header)
}

/// Decompresses a `.snz` file. `progress` is called with the number of tiles finished by
/// each completed batch.
///
/// # Errors
/// [`Error::Format`] for corrupt or truncated data, [`Error::Limits`] for oversized images,
/// [`Error::ModelMismatch`] if the file was made with another model, [`Error::Checksum`] if
/// the decoded pixels do not match.
pub fn decompress(
    bytes: &[u8],
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Image> {
    let mut out = decompress_many(&[bytes], engine, options, progress);
    out.pop().expect("one file in, one result out")
}

/// Decompresses several files at once, pooling their tiles like [`compress_many`]. Each
/// file gets its own result; a bad file does not affect the others.
pub fn decompress_many(
    files: &[&[u8]],
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<Image>> {
    decompress_many_with_metadata(files, engine, options, progress)
        .into_iter()
        .map(|r| r.map(|(image, _)| image))
        .collect()
}

/// Decompresses a `.snz` file and returns its metadata too (empty for version 1 and 2
/// files).
///
/// # Errors
/// As [`decompress`].
pub fn decompress_with_metadata(
    bytes: &[u8],
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Image, Metadata)> {
    let mut out = decompress_many_with_metadata(&[bytes], engine, options, progress);
    out.pop().expect("one file in, one result out")
}

/// [`decompress_many`] returning each file's metadata too.
pub fn decompress_many_with_metadata(
    files: &[&[u8]],
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<(Image, Metadata)>> {
    let parsed: Vec<Result<container::Container<'_>>> = files
        .iter()
        .map(|bytes| {
            check_model(bytes, engine, &options.limits)?;
            container::read(bytes, &options.limits)
        })
        .collect();
    let mut tiles = Vec::new();
    let mut payloads: Vec<&[u8]> = Vec::new();
    for (k, file) in parsed.iter().enumerate() {
        if let Ok(f) = file {
            tiles.extend(tiles_of(k, f.header.width, f.header.height));
            payloads.extend_from_slice(&f.payloads);
        }
    }
    // empty payloads decode without the network (see the module docs)
    let (coded, empty): (Vec<usize>, Vec<usize>) =
        (0..tiles.len()).partition(|&i| !payloads[i].is_empty());
    let color_of = |id: usize| match &parsed[tiles[id].image] {
        Ok(f) => f.header.color,
        Err(_) => unreachable!("tiles exist only for parsed files"),
    };
    let groups = batches_of(&tiles, &coded, options.batch_for(engine));
    let mut decoded: Vec<Result<Vec<DecodedTile>>> = groups
        .par_iter()
        .map(|ids| {
            let r = decode_batch(&parsed, &payloads, engine, &tiles, ids);
            progress(ids.len());
            r
        })
        .collect();
    let mut groups = groups;
    if !empty.is_empty() {
        decoded.push(Ok(empty
            .iter()
            .map(|&id| {
                (
                    id,
                    empty_tile(color_of(id), tiles[id].h, tiles[id].w),
                    Vec::new(),
                )
            })
            .collect()));
        progress(empty.len());
        groups.push(empty);
    }
    // the last tile of each file, where extra bytes mean trailing data
    let mut last_tile = vec![usize::MAX; files.len()];
    for (id, t) in tiles.iter().enumerate() {
        last_tile[t.image] = id;
    }
    // pixel buffers only for files whose header parsed (sizes were checked against limits);
    // a corrupt tile fails the files it belongs to
    let mut data: Vec<Vec<u8>> = parsed
        .iter()
        .map(|f| match f {
            Ok(f) => vec![0u8; f.header.width * f.header.height * f.header.color.channels()],
            Err(_) => Vec::new(),
        })
        .collect();
    let mut failed: Vec<Option<String>> = vec![None; files.len()];
    // the first tile whose payload is not what the encoder writes, per file
    let mut unfaithful: Vec<Option<String>> = vec![None; files.len()];
    for (ids, batch) in groups.iter().zip(decoded) {
        match batch {
            Ok(tiles_out) => {
                for (id, pixels, honest) in tiles_out {
                    let t = tiles[id];
                    if honest != payloads[id] && unfaithful[t.image].is_none() {
                        let last = last_tile[t.image] == id;
                        unfaithful[t.image] = Some(describe_unfaithful(
                            files[t.image],
                            payloads[id],
                            &honest,
                            last,
                        ));
                    }
                    if let Ok(f) = &parsed[t.image] {
                        let (ch, width) = (f.header.color.channels(), f.header.width);
                        for i in 0..t.h {
                            let dst = ((t.y0 + i) * width + t.x0) * ch;
                            data[t.image][dst..dst + t.w * ch]
                                .copy_from_slice(&pixels[i * t.w * ch..(i + 1) * t.w * ch]);
                        }
                    }
                }
            }
            Err(e) => {
                let message = match e {
                    Error::Format(m) => m,
                    other => other.to_string(),
                };
                for &id in ids {
                    failed[tiles[id].image].get_or_insert_with(|| message.clone());
                }
            }
        }
    }
    parsed
        .into_iter()
        .zip(data)
        .zip(failed.into_iter().zip(unfaithful))
        .map(|((f, d), (failed, unfaithful))| {
            let f = f?;
            let h = f.header;
            if let Some(message) = failed {
                return Err(Error::Format(message));
            }
            let image = Image::new(h.width, h.height, h.color, d)?;
            let actual = checksum(&image);
            match unfaithful {
                // extra bytes at the end are the likelier story than a bad checksum
                Some(message) if message.contains("after the end") => {
                    return Err(Error::Format(message))
                }
                _ if actual != h.checksum => {
                    return Err(Error::Checksum {
                        expected: h.checksum,
                        actual,
                    })
                }
                Some(message) => return Err(Error::Format(message)),
                None => {}
            }
            Ok((image, f.metadata))
        })
        .collect()
}

/// Decompresses several files with their metadata, each with the model of `engines` whose
/// id its header names (files are grouped by model and each group decoded like
/// [`decompress_many_with_metadata`]). A file that none of them made fails with
/// [`Error::ModelMismatch`].
pub fn decompress_choosing(
    files: &[&[u8]],
    engines: &[&Engine],
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<(Image, Metadata)>> {
    let mut out: Vec<Option<Result<(Image, Metadata)>>> = (0..files.len()).map(|_| None).collect();
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); engines.len()];
    for (k, bytes) in files.iter().enumerate() {
        match container::read_header(bytes, &options.limits) {
            Err(e) => out[k] = Some(Err(e)),
            Ok((h, _)) => match engines.iter().position(|e| h.model_id.matches(&e.id())) {
                Some(e) => groups[e].push(k),
                None => {
                    out[k] = Some(Err(Error::ModelMismatch {
                        file: h.model_id.to_string(),
                        loaded: engines
                            .iter()
                            .map(|e| crate::error::hex_id(&e.id()))
                            .collect::<Vec<_>>()
                            .join(" or "),
                    }))
                }
            },
        }
    }
    for (e, ks) in groups.iter().enumerate() {
        if ks.is_empty() {
            continue;
        }
        let these: Vec<&[u8]> = ks.iter().map(|&k| files[k]).collect();
        for (&k, r) in ks.iter().zip(decompress_many_with_metadata(
            &these, engines[e], options, progress,
        )) {
            out[k] = Some(r);
        }
    }
    out.into_iter()
        .map(|r| r.expect("every file decided"))
        .collect()
}

/// The message for a tile whose stored payload differs from what the encoder writes for the
/// decoded symbols (`honest`).
fn describe_unfaithful(file: &[u8], stored: &[u8], honest: &[u8], last: bool) -> String {
    if last && stored.len() > honest.len() && stored.starts_with(honest) {
        return format!(
            "{} bytes of unexpected data after the end of the image (concatenated or damaged \
             file?)",
            stored.len() - honest.len()
        );
    }
    if last {
        // a second file appended to the first: its magic shows up in the last payload
        let base = file.len() - stored.len();
        if let Some(at) = stored
            .windows(4)
            .position(|w| w[..3] == container::MAGIC && (1..=3).contains(&w[3]))
        {
            return format!(
                "unexpected data after the end of the image: another .snz file seems to start \
                 at byte {} (concatenated files are not supported; split them first)",
                base + at
            );
        }
    }
    "corrupt payload: a tile's bytes are not what the encoder writes for its pixels".into()
}

/// A decoded tile: its index, its interleaved pixels, and the payload the encoder writes
/// for them.
type DecodedTile = (usize, Vec<u8>, Vec<u8>);

/// The pixels of a tile whose payload is empty: every symbol decodes to the one with
/// cumulative frequency 0, i.e. color value 0 and alpha residual 0 (alpha as predicted).
fn empty_tile(color: ColorType, h: usize, w: usize) -> Vec<u8> {
    let ch = color.channels();
    let mut out = vec![0u8; h * w * ch];
    if color.has_alpha() {
        let mut alphas = vec![0u8; h * w];
        for p in 0..h * w {
            let a = AlphaModel::predict(&alphas, w, p / w, p % w);
            alphas[p] = a;
            out[p * ch + ch - 1] = a;
        }
    }
    out
}

/// A decoder model that remembers the interval of the last decoded symbol, so that the
/// symbol can be coded again at no extra cost.
struct Recording<'m, M> {
    model: &'m M,
    last: Cell<(u32, u32)>,
}

impl<'m, M> Recording<'m, M> {
    fn new(model: &'m M) -> Self {
        Recording {
            model,
            last: Cell::new((0, 0)),
        }
    }

    /// The interval of the last decoded symbol as an encoder model.
    fn replay<const P: usize>(&self) -> Interval<P> {
        let (left, p) = self.last.get();
        Interval {
            left,
            probability: NonZeroU32::new(p).expect("decoded symbols have nonzero probability"),
        }
    }
}

impl<const P: usize, M: EntropyModel<P, Probability = u32>> EntropyModel<P> for Recording<'_, M> {
    type Symbol = M::Symbol;
    type Probability = u32;
}

impl<const P: usize, M: DecoderModel<P, Probability = u32>> DecoderModel<P> for Recording<'_, M> {
    fn quantile_function(&self, quantile: u32) -> (M::Symbol, u32, NonZeroU32) {
        let (symbol, left, probability) = self.model.quantile_function(quantile);
        self.last.set((left, probability.get()));
        (symbol, left, probability)
    }
}

/// A fixed interval, to code one symbol again.
struct Interval<const P: usize> {
    left: u32,
    probability: NonZeroU32,
}

impl<const P: usize> EntropyModel<P> for Interval<P> {
    type Symbol = ();
    type Probability = u32;
}

impl<const P: usize> EncoderModel<P> for Interval<P> {
    fn left_cumulative_and_probability(
        &self,
        _symbol: impl std::borrow::Borrow<()>,
    ) -> Option<(u32, NonZeroU32)> {
        Some((self.left, self.probability))
    }
}

fn decode_batch(
    files: &[Result<container::Container<'_>>],
    payloads: &[&[u8]],
    engine: &Engine,
    tiles: &[Tile],
    ids: &[usize],
) -> Result<Vec<DecodedTile>> {
    let (h, w) = (tiles[ids[0]].h, tiles[ids[0]].w);
    let n_out = engine.config().output_size();
    let file_of = |id: usize| match &files[tiles[id].image] {
        Ok(f) => f,
        Err(_) => unreachable!("tiles exist only for parsed files"),
    };
    let color_of = |id: usize| -> ColorType { file_of(id).header.color };
    let mut session = engine.session(ids.len(), h, w);
    let mut coders = ids
        .iter()
        .map(|&id| DefaultRangeDecoder::from_compressed(bytes_to_words(payloads[id])))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(coder_error)?;
    let mut again: Vec<DefaultRangeEncoder> =
        ids.iter().map(|_| DefaultRangeEncoder::new()).collect();
    let mut alpha_models = vec![AlphaModel::default(); ids.len()];
    let mut alphas = vec![vec![0u8; h * w]; ids.len()];
    let mut out: Vec<Vec<u8>> = ids
        .iter()
        .map(|&id| vec![0u8; h * w * color_of(id).channels()])
        .collect();
    let mut pixels = vec![[0u8; 3]; ids.len()];
    let corrupt = |e| Error::Format(format!("corrupt payload: {e:?}"));
    for p in 0..h * w {
        let (i, j) = (p / w, p % w);
        let params = session.predict();
        for (t, &id) in ids.iter().enumerate() {
            let color = color_of(id);
            let (ch, cc) = (color.channels(), color.color_channels());
            let coder = &mut coders[t];
            let enc = &mut again[t];
            let px = &mut out[t][p * ch..(p + 1) * ch];
            if color.has_alpha() {
                let model = &mut alpha_models[t];
                let flags = model.flag_table();
                let flags = Recording::new(&flags);
                let nonzero = coder.decode_symbol(&flags).map_err(corrupt)?;
                enc.encode_symbol((), flags.replay::<{ alpha::PRECISION }>())
                    .map_err(coder_error)?;
                let residual = if nonzero == 1 {
                    let table = model.residual_table();
                    let table = Recording::new(&table);
                    let r = coder.decode_symbol(&table).map_err(corrupt)? as u8 + 1;
                    enc.encode_symbol((), table.replay::<{ alpha::PRECISION }>())
                        .map_err(coder_error)?;
                    r
                } else {
                    0
                };
                model.update(residual);
                let a = AlphaModel::predict(&alphas[t], w, i, j).wrapping_add(residual);
                alphas[t][p] = a;
                px[ch - 1] = a;
            }
            let log = container::logarithm(file_of(id).version);
            let mut mix = PixelMixture::with_logarithm(&params[t * n_out..(t + 1) * n_out], log);
            for c in 0..cc {
                let cdf = mix.channel(c);
                let rec = Recording::new(&cdf);
                let v = coder.decode_symbol(&rec).map_err(corrupt)?;
                enc.encode_symbol((), rec.replay::<{ mixture::PRECISION }>())
                    .map_err(coder_error)?;
                px[c] = v;
                if c + 1 < cc {
                    mix.observe(&cdf, c, v);
                }
            }
            pixels[t] = network_pixel(px, cc);
        }
        session.advance(&pixels);
    }
    ids.iter()
        .zip(out)
        .zip(again)
        .map(|((&id, pixels), enc)| {
            let words = enc.into_compressed().map_err(coder_error)?;
            Ok((id, pixels, words_to_bytes(&words)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::weights::Weights;

    #[test]
    fn tiles_cover_the_image_once() {
        let tiles: Vec<Tile> = tiles_of(0, 70, 33).collect();
        assert_eq!(tiles.len(), 6);
        let area: usize = tiles.iter().map(|t| t.w * t.h).sum();
        assert_eq!(area, 70 * 33);
        let groups = batches_of(&tiles, &(0..tiles.len()).collect::<Vec<_>>(), 2);
        let mut seen: Vec<usize> = groups.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn trailing_zero_bytes_round_trip() {
        let words = [0x0102_0304u32, 0x0000_0500, 0];
        let bytes = words_to_bytes(&words);
        assert_eq!(bytes, vec![4, 3, 2, 1, 0, 5]);
        assert_eq!(bytes_to_words(&bytes), vec![0x0102_0304, 0x0000_0500]);
    }

    #[test]
    fn samples_spread_over_full_tiles() {
        let tiles: Vec<Tile> = tiles_of(0, 768, 512).collect();
        let Sample::Tiles(s) = sample_tiles(&tiles) else {
            panic!("a photo is sampled by whole tiles")
        };
        assert_eq!(s.len(), 32);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s[0] < 12 && s[31] > 370, "{s:?}");
        // partial edge tiles are not sampled when full ones exist
        let edge: Vec<Tile> = tiles_of(0, 100, 300).collect();
        let Sample::Tiles(s) = sample_tiles(&edge) else {
            panic!("30 tiles are sampled by whole tiles")
        };
        assert!(s.iter().all(|&i| edge[i].w == TILE && edge[i].h == TILE));
        // small images: the top rows of every tile
        let small: Vec<Tile> = tiles_of(0, 40, 34).collect();
        let Sample::Probes(p) = sample_tiles(&small) else {
            panic!("4 tiles are probed")
        };
        let shapes: Vec<_> = p.iter().map(|t| (t.x0, t.y0, t.w, t.h)).collect();
        assert_eq!(
            shapes,
            [(0, 0, 32, 4), (32, 0, 8, 4), (0, 32, 32, 2), (32, 32, 8, 2)]
        );
    }

    #[test]
    fn choice_takes_the_smaller_model_and_decodes_by_id() {
        let a = Engine::new(&Weights::random(&Config::tiny(), 5));
        let b = Engine::new(&Weights::random(&Config::tiny(), 6));
        let opts = Options::default();
        let images: Vec<Image> = (0..3)
            .map(|k| {
                let data = (0..40 * 36 * 3)
                    .map(|i| ((i * (k + 3)) % 251) as u8)
                    .collect();
                Image::new(40, 36, ColorType::Rgb, data).unwrap()
            })
            .collect();
        let out = compress_choosing(&images, &[], &[&a, &b], &opts, &|_| {}).unwrap();
        // the payload bytes of an image's probes: the top PROBE_ROWS rows of each tile,
        // which cost what a crop of them costs on its own
        let probe_cost = |image: &Image, engine: &Engine| -> usize {
            tiles_of(0, image.width, image.height)
                .map(|t| {
                    let h = t.h.min(PROBE_ROWS);
                    let mut data = Vec::new();
                    for y in t.y0..t.y0 + h {
                        let at = (y * image.width + t.x0) * 3;
                        data.extend_from_slice(&image.data[at..at + t.w * 3]);
                    }
                    let crop = Image::new(t.w, h, ColorType::Rgb, data).unwrap();
                    compress(&crop, engine, &opts, &|_| {})
                        .unwrap()
                        .1
                        .payload_bytes
                })
                .sum()
        };
        for (image, (bytes, stats, chosen)) in images.iter().zip(&out) {
            let which = usize::from(probe_cost(image, &b) * 13 < probe_cost(image, &a) * 10);
            let alone = compress(image, [&a, &b][which], &opts, &|_| {}).unwrap().0;
            assert_eq!((bytes, *chosen), (&alone, which));
            assert_eq!(stats.tiles, 4);
        }
        let refs: Vec<&[u8]> = out.iter().map(|f| f.0.as_slice()).collect();
        let back = decompress_choosing(&refs, &[&b, &a], &opts, &|_| {});
        for (image, r) in images.iter().zip(back) {
            assert_eq!(&r.unwrap().0, image);
        }
        let c = Engine::new(&Weights::random(&Config::tiny(), 7));
        let wrong = decompress_choosing(&refs[..1], &[&c], &opts, &|_| {});
        assert!(matches!(wrong[0], Err(Error::ModelMismatch { .. })));
        // a larger image is judged on a sample; its file is still exactly the chosen
        // model's, with the sampled tiles' payloads reused
        let data = (0..300 * 70 * 3).map(|i| ((i * 13) % 241) as u8).collect();
        let big = Image::new(300, 70, ColorType::Rgb, data).unwrap();
        let (bytes, stats, chosen) =
            compress_choosing(std::slice::from_ref(&big), &[], &[&a, &b], &opts, &|_| {})
                .unwrap()
                .pop()
                .unwrap();
        assert_eq!(stats.tiles, 30);
        let alone = compress(&big, [&a, &b][chosen], &opts, &|_| {}).unwrap().0;
        assert_eq!(bytes, alone);
    }

    #[test]
    fn small_round_trip_with_alpha() {
        let engine = Engine::new(&Weights::random(&Config::tiny(), 5));
        let data: Vec<u8> = (0..9 * 5 * 4).map(|i| (i * 97 % 251) as u8).collect();
        let image = Image::new(9, 5, ColorType::Rgba, data).unwrap();
        let (bytes, _) = compress(&image, &engine, &Options::default(), &|_| {}).unwrap();
        let back = decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap();
        assert_eq!(back, image);
    }
}
