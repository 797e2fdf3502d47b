//! The decoder: decodes tiles batch by batch with the model a file names, and accepts
//! exactly what the encoder writes.
//!
//! While a tile is decoded, its symbols are coded again with the same probabilities, and the
//! result must equal the stored payload byte for byte: a payload with extra bytes (trailing
//! data, concatenated files) or any change that happens to decode is rejected. A tile with
//! an empty payload can only hold symbols of cumulative frequency 0 (color value 0, alpha as
//! predicted), whatever the model, so it is filled in without running the network: decoding
//! work is bounded by the payload bytes present (at most one 32×32 tile per two bytes), not
//! by the declared size alone.

use std::cell::Cell;
use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use rayon::prelude::*;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image_io::{ColorType, Image, Metadata};

use super::adaptive::{Checked, Variant};
use super::alpha::{self, AlphaModel};
use super::container::{self, Container};
use super::encode::{network_pixel, words_to_bytes};
use super::mixture::{self, Logarithm, PixelMixture};
use super::streams::{self, Stream};
use super::tiles::{batches_of, tiles_of, Tile};
use super::{checksum, coder_error, Options};

/// Decodes files whose headers were read and checked: `parsed[k]` is `files[k]` parsed (an
/// `Err` stays that file's result), every `Ok` one made by `engine`. Tiles of all files are
/// pooled into batches; each file gets its own result, and a bad file does not affect the
/// others.
pub(super) fn decode_files<'a>(
    files: &[&'a [u8]],
    parsed: Vec<Result<Container<'a>>>,
    engine: &Engine,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<(Image, Metadata)>> {
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
    let mut data = pixel_buffers(&parsed);
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

/// A zeroed pixel buffer for each file whose header parsed (its size was checked against the
/// limits), none for the others.
fn pixel_buffers(parsed: &[Result<Container<'_>>]) -> Vec<Vec<u8>> {
    parsed
        .iter()
        .map(|f| match f {
            Ok(f) => vec![0u8; f.header.width * f.header.height * f.header.color.channels()],
            Err(_) => Vec::new(),
        })
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
    files: &[Result<Container<'_>>],
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
    // each tile's logarithm, which its file's version names
    let logs: Vec<Logarithm> = ids
        .iter()
        .map(|&id| container::logarithm(file_of(id).version))
        .collect();
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
            let mut mix =
                PixelMixture::with_logarithm(&params[t * n_out..(t + 1) * n_out], logs[t]);
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

/// Decodes adaptive files (versions 6, 7) that [`Codec::open`](super::Codec::open) read: `parsed[k]` (an
/// `Err` stays that file's result), with `engine` for those whose tiles use the network.
/// Streams of all files are stepped together; a stored stream is copied without coding.
pub(super) fn decode_adaptive(
    parsed: Vec<Result<Container<'_>>>,
    engine: Option<&Engine>,
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<(Image, Metadata)>> {
    let mut streams: Vec<Stream<Checked>> = Vec::new();
    let mut owner = Vec::new();
    let mut coded: Vec<&[u8]> = Vec::new();
    let mut failed: Vec<Option<Error>> = (0..parsed.len()).map(|_| None).collect();
    let mut stored: Vec<(usize, Vec<Tile>, Vec<Vec<u8>>)> = Vec::new();
    for (k, file) in parsed.iter().enumerate() {
        let Ok(f) = file else { continue };
        let h = &f.header;
        if h.network && engine.is_none() {
            failed[k] = Some(Error::Usage("this file needs its model to decode".into()));
            continue;
        }
        let ch = h.color.channels();
        let tiles: Vec<Tile> = tiles_of(k, h.width, h.height).collect();
        let Some(variant) = Variant::of_version(f.version) else {
            failed[k] = Some(Error::Format(format!(
                "version {} is not adaptive",
                f.version
            )));
            continue;
        };
        let per_stream = streams::stream_tiles(variant, h.network);
        for (layout, payload) in streams::layout(&tiles, per_stream)
            .into_iter()
            .zip(&f.payloads)
        {
            let order: Vec<Tile> = layout.tiles.iter().map(|&t| tiles[t]).collect();
            let raw: usize = order.iter().map(|t| t.w * t.h * ch).sum();
            match payload.first() {
                Some(&container::STREAM_STORED) if payload.len() == 1 + raw => {
                    let mut at = 1;
                    let pixels = order
                        .iter()
                        .map(|t| {
                            let n = t.w * t.h * ch;
                            at += n;
                            payload[at - n..at].to_vec()
                        })
                        .collect();
                    stored.push((k, order, pixels));
                }
                Some(&container::STREAM_CODED) => {
                    let io = match Checked::new(bytes_to_words(&payload[1..])) {
                        Ok(io) => io,
                        Err(e) => {
                            failed[k] = Some(e);
                            break;
                        }
                    };
                    coded.push(&payload[1..]);
                    let pixels = order.iter().map(|t| vec![0u8; t.w * t.h * ch]).collect();
                    streams.push(Stream::new(
                        order,
                        layout.groups,
                        pixels,
                        h.network,
                        h.color,
                        io,
                        variant,
                    ));
                    owner.push(k);
                }
                _ => {
                    failed[k] = Some(Error::Format(
                        "corrupt payload: a stream is neither coded nor stored whole".into(),
                    ));
                    break;
                }
            }
        }
    }
    let mut data = pixel_buffers(&parsed);
    let batch = engine.map_or(1, |e| options.batch_for(e));
    if let Err(e) = streams::run(&mut streams, engine, batch, progress) {
        for &k in &owner {
            failed[k].get_or_insert_with(|| Error::Format(e.to_string()));
        }
    }
    let mut decoded = Vec::with_capacity(streams.len());
    for ((s, k), payload) in streams.into_iter().zip(owner).zip(coded) {
        // the payload must be exactly what the encoder writes for the decoded pixels
        let honest = s.io.honest().map(|w| words_to_bytes(&w));
        let raw: usize = s.pixels.iter().map(Vec::len).sum();
        match honest {
            Ok(h) if h == payload && h.len() < raw => {}
            Ok(h) if payload.len() > h.len() && payload.starts_with(&h) => {
                failed[k].get_or_insert_with(|| {
                    Error::Format(format!(
                        "{} bytes of unexpected data after the end of the image (concatenated \
                         or damaged file?)",
                        payload.len() - h.len()
                    ))
                });
            }
            Ok(_) => {
                failed[k].get_or_insert_with(|| {
                    Error::Format(
                        "corrupt payload: a stream's bytes are not what the encoder writes for \
                         its pixels"
                            .into(),
                    )
                });
            }
            Err(e) => {
                failed[k].get_or_insert(e);
            }
        }
        decoded.push((k, s.tiles, s.pixels));
    }
    for (k, tiles, pixels) in decoded.into_iter().chain(stored) {
        let Ok(f) = &parsed[k] else { continue };
        let (ch, width) = (f.header.color.channels(), f.header.width);
        for (t, px) in tiles.iter().zip(pixels) {
            for i in 0..t.h {
                let dst = ((t.y0 + i) * width + t.x0) * ch;
                data[k][dst..dst + t.w * ch].copy_from_slice(&px[i * t.w * ch..(i + 1) * t.w * ch]);
            }
        }
    }
    parsed
        .into_iter()
        .zip(data)
        .zip(failed)
        .map(|((f, d), failed)| {
            let f = f?;
            if let Some(e) = failed {
                return Err(e);
            }
            let h = f.header;
            let image = Image::new(h.width, h.height, h.color, d)?;
            let actual = checksum(&image);
            if actual != h.checksum {
                return Err(Error::Checksum {
                    expected: h.checksum,
                    actual,
                });
            }
            Ok((image, f.metadata))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_zero_bytes_round_trip() {
        let words = [0x0102_0304u32, 0x0000_0500, 0];
        let bytes = words_to_bytes(&words);
        assert_eq!(bytes, vec![4, 3, 2, 1, 0, 5]);
        assert_eq!(bytes_to_words(&bytes), vec![0x0102_0304, 0x0000_0500]);
    }
}
