//! The adaptive versions' (6, 7) streams: how an image's tiles are laid out into independent adaptive streams,
//! and the driver that codes (or decodes) them, with the network stepping batches of tiles.
//!
//! The layout is part of the format and depends only on the image size:
//! - the tiles, in raster order, are cut into `ceil(tiles / T)` streams of
//!   consecutive tiles, as equal as possible (`T` = [`STREAM_TILES`], or
//!   [`STREAM_TILES_ALONE`] in version 7 files that use no network); each stream has its own
//!   adaptive state and range coder, so streams decode in parallel;
//! - within a stream, tiles of one shape (in their order; shapes in order of first
//!   appearance) are cut into groups of at most [`GROUP_TILES`]. A group is coded in lockstep:
//!   pixel 0 of each of its tiles, then pixel 1 of each, and so on, every channel of a pixel
//!   in turn (alpha first). That is the order in which the network steps a batch of tiles, so
//!   the decoder can run the network on a group while it decodes it.
//! - at the start of each group, a file that uses the network codes for each tile whether it
//!   does (with probability 1/2, so that decoding work stays bounded by the bytes present: at
//!   most 8 network tiles per payload byte).
//!
//! The driver steps all streams of a wave round by round (group `r` of every stream), merging
//! groups of one shape from several streams into one engine batch. Neither the batch size nor
//! the thread count changes a bit.

use std::collections::BTreeMap;
use std::ops::Range;

use rayon::prelude::*;

use crate::engine::{Engine, Session};
use crate::error::Result;
use crate::image_io::ColorType;

use super::adaptive::{Adaptive, BitIo, Border, Hashes, Neighbours, Site, Variant};
use super::encode::network_pixel;
use super::mixture::{Logarithm, PixelMixture};
use super::tiles::Tile;

/// Tiles per stream (at most; streams of an image differ by at most one tile) of files that
/// use the network: the network's work is spread over the streams' batches, so they must be
/// many enough to keep the cores busy.
pub const STREAM_TILES: usize = 96;
/// Tiles per stream of version 7 files that use no network: fewer, larger streams learn
/// more (on our screen-content set, streams of 192 tiles instead of 96 code a terminal
/// screenshot and a text page 22–25% smaller), and a photo of 384 tiles still has two.
pub const STREAM_TILES_ALONE: usize = 256;

/// The most tiles per stream of a file coded with `variant`, using the network or not.
pub fn stream_tiles(variant: Variant, network: bool) -> usize {
    match (variant, network) {
        (Variant::V7 | Variant::V8, false) => STREAM_TILES_ALONE,
        _ => STREAM_TILES,
    }
}
/// Tiles per lockstep group (at most).
pub const GROUP_TILES: usize = 8;
/// The adaptive state a wave of streams may hold, in bytes (an execution bound, not format).
const WAVE_BYTES: usize = 384 << 20;

/// The tiles (indices into an image's raster-ordered tiles) of each stream, in coding order,
/// and its lockstep groups (ranges of that order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamLayout {
    pub tiles: Vec<usize>,
    pub groups: Vec<Range<usize>>,
}

/// The streams of an image whose tiles, in raster order, are `tiles`, with at most
/// `per_stream` tiles each ([`stream_tiles`]).
pub fn layout(tiles: &[Tile], per_stream: usize) -> Vec<StreamLayout> {
    let n = tiles.len();
    let streams = n.div_ceil(per_stream).max(1);
    (0..streams)
        .map(|s| {
            let range = s * n / streams..(s + 1) * n / streams;
            let mut shapes: Vec<(usize, usize)> = Vec::new();
            for t in range.clone() {
                let shape = (tiles[t].h, tiles[t].w);
                if !shapes.contains(&shape) {
                    shapes.push(shape);
                }
            }
            let mut order = Vec::with_capacity(range.len());
            let mut groups = Vec::new();
            for shape in shapes {
                let of_shape: Vec<usize> = range
                    .clone()
                    .filter(|&t| (tiles[t].h, tiles[t].w) == shape)
                    .collect();
                for chunk in of_shape.chunks(GROUP_TILES) {
                    groups.push(order.len()..order.len() + chunk.len());
                    order.extend_from_slice(chunk);
                }
            }
            StreamLayout {
                tiles: order,
                groups,
            }
        })
        .collect()
}

/// One stream during coding.
pub struct Stream<I> {
    /// Its tiles in coding order.
    pub tiles: Vec<Tile>,
    pub groups: Vec<Range<usize>>,
    /// Each tile's pixels (interleaved): the image's when encoding, filled when decoding.
    pub pixels: Vec<Vec<u8>>,
    /// Whether each tile uses the network (the encoder's choice; decoded when decoding).
    pub uses: Vec<bool>,
    /// Whether the file lets tiles use the network (then the flags are coded).
    pub network: bool,
    pub color: ColorType,
    pub io: I,
    pub state: Adaptive,
    /// The network's information content of the values it predicted, in bits.
    pub bits: f64,
    /// For each tile, the tiles (coding-order indices) above and to the left whose pixels
    /// its contexts may read: those of this stream in an earlier group (version 7).
    borders: Vec<[Option<usize>; 2]>,
    /// [`coding_order`] of its colour type.
    order: ([usize; 4], usize, Option<usize>),
    /// The hashes of the next pixel to code, computed ahead ([`prefetch_pixel`]).
    ahead: Option<Ahead>,
}

impl<I> Stream<I> {
    /// A stream of `tiles` (coding order) with `groups`, holding `pixels`, coded with the
    /// adaptive stage's `variant`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tiles: Vec<Tile>,
        groups: Vec<Range<usize>>,
        pixels: Vec<Vec<u8>>,
        network: bool,
        color: ColorType,
        io: I,
        variant: Variant,
    ) -> Stream<I> {
        let subpixels = tiles.iter().map(|t| t.w * t.h).sum::<usize>() * color.channels();
        let borders = match variant.wide() {
            false => vec![[None; 2]; tiles.len()],
            true => borders(&tiles, &groups),
        };
        Stream {
            borders,
            order: coding_order(color),
            ahead: None,
            uses: vec![network; tiles.len()],
            tiles,
            groups,
            pixels,
            network,
            color,
            io,
            state: Adaptive::new(subpixels, variant),
            bits: 0.0,
        }
    }

    /// Its subpixels.
    pub fn subpixels(&self) -> usize {
        self.pixels.iter().map(Vec::len).sum()
    }
}

/// For each tile of a stream (`tiles` in coding order, lockstep `groups`), the tile directly
/// above and the one directly to the left, where they belong to an earlier group of the
/// stream: the decoder has them whole before it starts the tile.
fn borders(tiles: &[Tile], groups: &[Range<usize>]) -> Vec<[Option<usize>; 2]> {
    let mut group = vec![0; tiles.len()];
    for (g, r) in groups.iter().enumerate() {
        for t in r.clone() {
            group[t] = g;
        }
    }
    (0..tiles.len())
        .map(|t| {
            let me = tiles[t];
            let find = |above: bool| {
                (0..tiles.len()).find(|&u| {
                    let o = tiles[u];
                    group[u] < group[t]
                        && if above {
                            o.x0 == me.x0 && o.y0 + o.h == me.y0
                        } else {
                            o.y0 == me.y0 && o.x0 + o.w == me.x0
                        }
                })
            };
            [find(true), find(false)]
        })
        .collect()
}

/// Codes `streams` (all with `engine` where their files use the network) round by round, in
/// waves that bound the adaptive state held at once; `batch` tiles at most per engine batch.
pub fn run<I: BitIo + Send>(
    streams: &mut [Stream<I>],
    engine: Option<&Engine>,
    batch: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<()> {
    let mut start = 0;
    while start < streams.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < streams.len() && (end == start || bytes < WAVE_BYTES) {
            bytes += Adaptive::bytes_for(streams[end].subpixels(), streams[end].state.variant());
            end += 1;
        }
        run_wave(&mut streams[start..end], engine, batch, progress)?;
        start = end;
    }
    Ok(())
}

fn run_wave<I: BitIo + Send>(
    streams: &mut [Stream<I>],
    engine: Option<&Engine>,
    batch: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<()> {
    let rounds = streams.iter().map(|s| s.groups.len()).max().unwrap_or(0);
    for round in 0..rounds {
        // groups of round `round`, by shape, merged into batches of at most `batch` tiles
        let mut shapes: BTreeMap<(usize, usize), Vec<&mut Stream<I>>> = BTreeMap::new();
        for s in streams.iter_mut() {
            if let Some(g) = s.groups.get(round) {
                let t = s.tiles[g.start];
                shapes.entry((t.h, t.w)).or_default().push(s);
            }
        }
        let mut batches: Vec<Vec<&mut Stream<I>>> = Vec::new();
        for (_, list) in shapes {
            let mut current: Vec<&mut Stream<I>> = Vec::new();
            let mut tiles = 0;
            for s in list {
                let n = s.groups[round].len();
                if !current.is_empty() && tiles + n > batch.max(1) {
                    batches.push(std::mem::take(&mut current));
                    tiles = 0;
                }
                tiles += n;
                current.push(s);
            }
            if !current.is_empty() {
                batches.push(current);
            }
        }
        // cores left over by few batches split each batch's network work
        let parts = (rayon::current_num_threads() / batches.len().max(1)).max(1);
        batches
            .into_par_iter()
            .map(|mut b| {
                let tiles = code_batch(&mut b, round, engine, parts)?;
                progress(tiles);
                Ok(())
            })
            .collect::<Result<Vec<()>>>()?;
    }
    Ok(())
}

/// Codes group `round` of each stream of `batch` (one shape), the network's tiles stepped in
/// up to `parts` engine sessions in parallel; returns the tiles coded.
fn code_batch<I: BitIo>(
    batch: &mut [&mut Stream<I>],
    round: usize,
    engine: Option<&Engine>,
    parts: usize,
) -> Result<usize> {
    let first = &batch[0];
    let shape = first.tiles[first.groups[round].start];
    let (h, w) = (shape.h, shape.w);
    let mut net_tiles = 0;
    let mut tiles = 0;
    for s in batch.iter_mut() {
        let g = s.groups[round].clone();
        tiles += g.len();
        for t in g {
            if s.network {
                // probability 1/2: see the module docs
                let bit = s.io.code(s.uses[t] as u32, 32768)?;
                s.uses[t] = bit == 1;
            }
            net_tiles += s.uses[t] as usize;
        }
    }
    let engine = engine.filter(|_| net_tiles > 0);
    // the network's tiles in parts of `chunk`, each part its own session (the engine's
    // outputs for a tile depend on no other tile of its batch)
    let chunk = net_tiles.div_ceil(parts.max(1)).max(1);
    let mut sessions: Vec<_> = match engine {
        Some(e) => (0..net_tiles)
            .step_by(chunk)
            .map(|start| e.session(chunk.min(net_tiles - start), h, w))
            .collect(),
        None => Vec::new(),
    };
    let n_out = engine.map_or(0, |e| e.config().output_size());
    let mut pixels = vec![[0u8; 3]; net_tiles];
    let mut params = vec![0f32; net_tiles * n_out];
    for p in 0..h * w {
        // the previous pixel's values in, this pixel's distributions out
        let step = |((out, session), px): ((&mut [f32], &mut Session), &[[u8; 3]])| {
            if p > 0 {
                session.advance(px);
            }
            out.copy_from_slice(session.predict());
        };
        if sessions.is_empty() {
            // no network in this batch
        } else if sessions.len() > 1 {
            params
                .par_chunks_mut(chunk * n_out)
                .zip(sessions.par_iter_mut())
                .zip(pixels.par_chunks(chunk))
                .for_each(step);
        } else {
            params
                .chunks_mut(chunk * n_out)
                .zip(sessions.iter_mut())
                .zip(pixels.chunks(chunk))
                .for_each(step);
        }
        let params = &params[..];
        let mut n = 0;
        for b in 0..batch.len() {
            let g = batch[b].groups[round].clone();
            for t in g.clone() {
                // the hashes computed for this pixel a pixel ago
                let ahead = batch[b].ahead.take().filter(|a| (a.tile, a.p) == (t, p));
                // the next pixel in coding order: the next tile's, or the first tile's next
                if t + 1 < g.end {
                    prefetch_pixel(batch[b], t + 1, p);
                } else if b + 1 < batch.len() {
                    let start = batch[b + 1].groups[round].start;
                    prefetch_pixel(batch[b + 1], start, p);
                } else if p + 1 < h * w {
                    // (unless it is this tile's next pixel: its neighbours include this
                    // pixel, which a decoder does not know yet)
                    let start = batch[0].groups[round].start;
                    if I::KNOWS_VALUES || (b, t) != (0, start) {
                        prefetch_pixel(batch[0], start, p + 1);
                    }
                }
                let s = &mut *batch[b];
                let net = s.uses[t].then(|| &params[n * n_out..(n + 1) * n_out]);
                code_pixel(s, t, p, net, ahead.as_ref())?;
                if net.is_some() {
                    let ch = s.color.channels();
                    pixels[n] =
                        network_pixel(&s.pixels[t][p * ch..(p + 1) * ch], s.color.color_channels());
                    n += 1;
                }
            }
        }
    }
    Ok(tiles)
}

/// The channels of a pixel in coding order (alpha first, then the colour channels), and the
/// alpha channel's storage index.
fn coding_order(color: ColorType) -> ([usize; 4], usize, Option<usize>) {
    let ch = color.channels();
    let alpha = color.has_alpha().then_some(ch - 1);
    let mut order = [0usize; 4];
    let mut len = 0;
    if let Some(a) = alpha {
        order[0] = a;
        len = 1;
    }
    for c in 0..color.color_channels() {
        order[len] = c;
        len += 1;
    }
    (order, len, alpha)
}

/// The neighbourhood of the `pos`-th channel (coding order) of pixel `p` of tile `t`.
fn neighbours<I>(s: &Stream<I>, t: usize, p: usize, pos: usize) -> Neighbours {
    let tile = s.tiles[t];
    let border = |u: Option<usize>| {
        u.map(|u| Border {
            pixels: &s.pixels[u],
            width: s.tiles[u].w,
            height: s.tiles[u].h,
        })
    };
    let [above, left] = s.borders[t];
    let site = Site {
        pixels: &s.pixels[t],
        width: tile.w,
        channels: s.color.channels(),
        above: border(above),
        left: border(left),
    };
    let (order, len, alpha) = s.order;
    let wide = s.state.variant().wide();
    site.gather(p / tile.w, p % tile.w, &order[..len], pos, alpha, wide)
}

/// The context hashes of the channels of a pixel, computed a pixel ahead (see
/// [`prefetch_pixel`]): of the channels (coding order) of pixel `p` of tile `tile` whose
/// neighbourhoods were known then.
#[derive(Clone, Copy)]
struct Ahead {
    tile: usize,
    p: usize,
    hashes: [Option<Hashes>; 4],
}

/// Asks the cache for the counters that pixel `p` of tile `t` will use, and keeps the hashes
/// for [`code_pixel`]. When encoding, every value is known: all its channels, both nibbles.
/// When decoding, only the first channel's neighbourhood is (the pixels before `p`, which the
/// caller has decoded): its high nibble. It changes no coding state.
fn prefetch_pixel<I: BitIo>(s: &mut Stream<I>, t: usize, p: usize) {
    let (order, len, _) = s.order;
    let ch = s.color.channels();
    let channels = if I::KNOWS_VALUES { len } else { 1 };
    let mut hashes = [None; 4];
    for (pos, &k) in order[..channels].iter().enumerate() {
        let value = I::KNOWS_VALUES.then(|| s.pixels[t][p * ch + k]);
        let h = s.state.hashes(&neighbours(s, t, p, pos));
        s.state.prefetch(&h, value);
        hashes[pos] = Some(h);
    }
    s.ahead = Some(Ahead { tile: t, p, hashes });
}

/// Codes pixel `p` of tile `t` of stream `s`, with the network's outputs `net` if it uses it,
/// and the hashes `ahead` computed for this pixel, if any.
fn code_pixel<I: BitIo>(
    s: &mut Stream<I>,
    t: usize,
    p: usize,
    net: Option<&[f32]>,
    ahead: Option<&Ahead>,
) -> Result<()> {
    let ch = s.color.channels();
    let (order, len, alpha) = s.order;
    let mut mix = net.map(|params| PixelMixture::with_logarithm(params, Logarithm::Libm));
    for (pos, &k) in order[..len].iter().enumerate() {
        let hashes = match ahead.and_then(|a| a.hashes[pos]) {
            Some(h) => h,
            None => s.state.hashes(&neighbours(s, t, p, pos)),
        };
        let value = s.pixels[t][p * ch + k];
        let v = match (&mut mix, Some(k) == alpha) {
            (Some(m), false) => {
                let cdf = m.channel(k);
                let v = s.state.code_hashed(&mut s.io, value, &hashes, Some(&cdf))?;
                s.bits += m.observe(&cdf, k, v);
                v
            }
            _ => s.state.code_hashed(&mut s.io, value, &hashes, None)?,
        };
        s.pixels[t][p * ch + k] = v;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tiles::tiles_of;

    #[test]
    fn layout_covers_every_tile_once_in_groups_of_one_shape() {
        for (w, h) in [(32, 32), (70, 33), (800, 775), (4000, 40)] {
            let tiles: Vec<Tile> = tiles_of(0, w, h).collect();
            let streams = layout(&tiles, STREAM_TILES);
            assert_eq!(streams.len(), tiles.len().div_ceil(STREAM_TILES));
            let mut seen: Vec<usize> = streams.iter().flat_map(|s| s.tiles.clone()).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..tiles.len()).collect::<Vec<_>>());
            for s in &streams {
                assert!(s.tiles.len() <= STREAM_TILES);
                let mut next = 0;
                for g in &s.groups {
                    assert_eq!(g.start, next);
                    next = g.end;
                    assert!(!g.is_empty() && g.len() <= GROUP_TILES);
                    let t0 = tiles[s.tiles[g.start]];
                    assert!(s.tiles[g.clone()]
                        .iter()
                        .all(|&t| (tiles[t].w, tiles[t].h) == (t0.w, t0.h)));
                }
                assert_eq!(next, s.tiles.len());
            }
        }
    }
}
