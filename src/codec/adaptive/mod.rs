//! The adaptive stage: learns each image while coding it, with the network as its strongest
//! input (container versions 6 to 8: [`Variant`]).
//!
//! Every 8-bit value is coded as 8 binary decisions, most significant bit first (a binary
//! tree over 0..=255). For each decision, [`CONTEXTS`] context models
//! ([`contexts`](self::contexts)) give adaptive probabilities learnt from the pixels already
//! coded in this stream; the network, when the tile uses it, gives its own, read exactly from
//! its mixture CDF at the node's bin boundaries (R, then G given R, then B given R and G, as
//! in versions 1 to 5). A gated logistic mixer combines their logits and an APM refines the
//! result ([`mixer`](self::mixer)); the binary decision is then coded with the stream's range
//! coder at 16-bit precision.
//!
//! Everything here is integer arithmetic in a fixed order, so the encoder and the decoder
//! agree bit for bit on every machine, instruction set and thread count; the network's
//! probabilities enter as the integer cumulative frequencies the mixture coder computes.

pub mod contexts;
mod counters;
pub mod logistic;
mod mixer;

use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

use crate::error::Result;

use super::coder_error;
use super::mixture::ChannelCdf;
pub use contexts::{Border, Neighbours, Site, CONTEXTS};
use counters::Tables;
use mixer::{Apm, Mixer, WEIGHT_ONE};

/// The arithmetic variants of the stage; each stays selectable by the container version
/// that wrote it, so every file keeps decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Container version 6: 14 context models on neighbours inside the tile.
    V6,
    /// Container version 7: neighbours also come from the tiles above and to the left where
    /// the stream has already coded them, and three contexts more for text, dithering and
    /// graphics (a wide neighbourhood's exact values; its pattern of equal neighbours; the
    /// pixels 4 and 8 up and to the left, for periodic patterns).
    V7,
    /// Container version 8 (effort 1, the fast mode): version 7 with fewer context models,
    /// those of [`contexts::FAST`].
    V8,
}

impl Variant {
    /// The variant a container version codes with (none: not an adaptive version).
    pub fn of_version(version: u8) -> Option<Variant> {
        match version {
            6 => Some(Variant::V6),
            7 => Some(Variant::V7),
            8 => Some(Variant::V8),
            _ => None,
        }
    }

    /// Its context models.
    pub fn contexts(self) -> usize {
        match self {
            Variant::V6 => contexts::CONTEXTS_V6,
            Variant::V7 => CONTEXTS,
            Variant::V8 => contexts::FAST_CONTEXTS,
        }
    }

    /// Whether its neighbourhoods reach into the coded tiles above and to the left and
    /// include the wide template (versions 7 and 8).
    pub fn wide(self) -> bool {
        self != Variant::V6
    }
}

/// Network confidence classes of the mixer's weight sets (0: no network).
const CONFIDENCE: usize = 5;
/// Weight sets: channel id × bit position × network confidence.
const SETS: usize = 4 * 8 * CONFIDENCE;
/// Count limit of the context models' counters.
const LIMIT: u32 = 255;
/// Mixer learning rate of the weight sets with the network: low, since the network is
/// already well calibrated and a photo's few thousand decisions per set are noisy.
const NET_RATE: i32 = 2;
/// Mixer learning rate of the weight sets without the network (graphics learn fast).
const ALONE_RATE: i32 = 8;
/// The network confidence (|logit|, 1/256 units) per class of weight sets.
const CONFIDENCE_STEP: usize = 640;
/// APM step shift.
const APM_RATE: u32 = 5;
/// The APM's share of the final probability, in quarters.
const APM_SHARE: u32 = 2;

/// One binary decision with probability `p1 / 65536` of a 1.
struct Bit(u32);

impl EntropyModel<16> for Bit {
    type Symbol = u32;
    type Probability = u32;
}

impl EncoderModel<16> for Bit {
    #[inline]
    fn left_cumulative_and_probability(
        &self,
        symbol: impl std::borrow::Borrow<u32>,
    ) -> Option<(u32, NonZeroU32)> {
        let p0 = 65536 - self.0;
        if *symbol.borrow() == 0 {
            Some((0, NonZeroU32::new(p0)?))
        } else {
            Some((p0, NonZeroU32::new(self.0)?))
        }
    }
}

impl DecoderModel<16> for Bit {
    #[inline]
    fn quantile_function(&self, quantile: u32) -> (u32, u32, NonZeroU32) {
        let p0 = 65536 - self.0;
        if quantile < p0 {
            (0, 0, NonZeroU32::new(p0).unwrap_or(NonZeroU32::MIN))
        } else {
            (1, p0, NonZeroU32::new(self.0).unwrap_or(NonZeroU32::MIN))
        }
    }
}

/// Where bits go (encoding) or come from (decoding): one code path serves both.
pub trait BitIo {
    /// Codes a decision of probability `p1 / 65536` (in `1..=65535`) of a 1: encoding
    /// writes `bit` and returns it, decoding ignores `bit` and returns the decoded one.
    fn code(&mut self, bit: u32, p1: u32) -> Result<u32>;

    /// Whether the values are known before they are coded (encoding): the stage then fetches
    /// a value's counters ahead. Bits never depend on it.
    const KNOWS_VALUES: bool = false;
}

impl BitIo for DefaultRangeEncoder {
    const KNOWS_VALUES: bool = true;

    #[inline]
    fn code(&mut self, bit: u32, p1: u32) -> Result<u32> {
        self.encode_symbol(bit, Bit(p1)).map_err(coder_error)?;
        Ok(bit)
    }
}

/// A decoder that codes every decoded bit again, so that the caller can check that the
/// payload is exactly what the encoder writes for the decoded values (no trailing data, no
/// other bytes that happen to decode).
pub struct Checked {
    decoder: DefaultRangeDecoder,
    again: DefaultRangeEncoder,
}

impl Checked {
    /// Decodes `words`.
    pub fn new(words: Vec<u32>) -> Result<Checked> {
        Ok(Checked {
            decoder: DefaultRangeDecoder::from_compressed(words).map_err(coder_error)?,
            again: DefaultRangeEncoder::new(),
        })
    }

    /// The words the encoder writes for what was decoded.
    pub fn honest(self) -> Result<Vec<u32>> {
        self.again.into_compressed().map_err(coder_error)
    }
}

impl BitIo for Checked {
    #[inline]
    fn code(&mut self, _bit: u32, p1: u32) -> Result<u32> {
        let bit = self.decoder.decode_symbol(Bit(p1)).map_err(coder_error)?;
        self.again.code(bit, p1)
    }
}

/// Slots per context table (log2) for a stream of `subpixels` values: about one slot per 16
/// values, between 2^6 and 2^16.
fn table_bits(subpixels: usize) -> u32 {
    (usize::BITS - subpixels.max(1).leading_zeros()).clamp(10, 20) - 4
}

/// A value's context hashes ([`Adaptive::hashes`]), computed once whether they serve a
/// prefetch, the coding, or both: `h[t]` is table `t`'s.
#[derive(Clone, Copy, Debug)]
pub struct Hashes {
    channel: usize,
    h: [u64; CONTEXTS],
}

impl Hashes {
    /// The hashes of the first `N` tables.
    #[inline]
    fn first<const N: usize>(&self) -> &[u64; N] {
        self.h[..N].try_into().expect("at most CONTEXTS tables")
    }
}

/// What a low nibble's context hashes add to the high nibble's: the tree node the high
/// nibble leads to (`16..32`).
#[inline]
fn low_nibble(node: usize) -> u64 {
    (node as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The adaptive state of one stream.
pub struct Adaptive {
    variant: Variant,
    tables: Tables,
    mixer: Mixer,
    apm: Apm,
}

impl Adaptive {
    /// A fresh state of `variant` for a stream of about `subpixels` values (sizes its
    /// tables).
    pub fn new(subpixels: usize, variant: Variant) -> Adaptive {
        let bits = table_bits(subpixels);
        let contexts = variant.contexts();
        // mixer inputs: the context models, the network, a bias
        let (net, bias) = (contexts, contexts + 1);
        Adaptive {
            variant,
            tables: Tables::new(contexts, bits),
            mixer: Mixer::new(contexts + 2, SETS, |set, i| {
                let with_net = set % CONFIDENCE != 0;
                match (with_net, i) {
                    (_, i) if i == bias => 0,
                    (true, i) if i == net => WEIGHT_ONE,
                    (true, _) => 0,
                    (false, _) => WEIGHT_ONE / 4,
                }
            }),
            apm: Apm::new(4 * 256, APM_RATE),
        }
    }

    /// Its variant.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The bytes [`Adaptive::new`] allocates for a stream of `subpixels` values.
    pub fn bytes_for(subpixels: usize, variant: Variant) -> usize {
        (variant.contexts() * 64) << table_bits(subpixels)
    }

    /// The context hashes of a value with neighbourhood `nb`.
    pub fn hashes(&self, nb: &Neighbours) -> Hashes {
        let mut h = contexts::hashes(nb);
        if self.variant == Variant::V8 {
            // table t holds context FAST[t] (an increasing list: each comes from further on)
            for (t, &c) in contexts::FAST.iter().enumerate() {
                h[t] = h[c];
            }
        }
        Hashes {
            channel: nb.channel,
            h,
        }
    }

    /// Asks the cache for the counters that a value of context hashes `hashes` will use: its
    /// high nibble's, and if the `value` is known, its low nibble's. A hint only: it changes
    /// no state.
    pub fn prefetch(&self, hashes: &Hashes, value: Option<u8>) {
        for (t, &h) in hashes.h[..self.variant.contexts()].iter().enumerate() {
            self.tables.prefetch(t, h);
            if let Some(v) = value {
                self.tables
                    .prefetch(t, h ^ low_nibble(16 | (v >> 4) as usize));
            }
        }
    }

    /// Codes one value (`value` is ignored when decoding) of context hashes `hashes`
    /// ([`Adaptive::hashes`] of its neighbourhood) and, if the tile uses it, the network's
    /// distribution `net`; returns the value.
    pub fn code_hashed<I: BitIo>(
        &mut self,
        io: &mut I,
        value: u8,
        hashes: &Hashes,
        net: Option<&ChannelCdf>,
    ) -> Result<u8> {
        let channel = hashes.channel;
        match self.variant {
            Variant::V6 => {
                let h = hashes.first::<{ contexts::CONTEXTS_V6 }>();
                self.code(io, value, channel, h, net)
            }
            Variant::V7 => self.code(io, value, channel, &hashes.h, net),
            Variant::V8 => {
                let h = hashes.first::<{ contexts::FAST_CONTEXTS }>();
                self.code(io, value, channel, h, net)
            }
        }
    }

    /// [`Adaptive::code_hashed`] with `N` context models.
    #[inline]
    fn code<const N: usize, I: BitIo>(
        &mut self,
        io: &mut I,
        value: u8,
        channel: usize,
        hashes: &[u64; N],
        net: Option<&ChannelCdf>,
    ) -> Result<u8> {
        let lut = logistic::lut();
        let mut slots = [0usize; N];
        for t in 0..N {
            slots[t] = self.tables.slot(t, hashes[t]);
        }
        let (mut lo, mut hi) = (0usize, 256usize);
        let (mut q_lo, mut q_hi) = (0u32, 1u32 << super::mixture::PRECISION);
        let mut node = 1usize;
        let mut x = [0i32; N];
        for depth in 0..8 {
            if depth == 4 {
                // the low nibble's slots, given the high nibble
                for t in 0..N {
                    slots[t] = self.tables.slot(t, hashes[t] ^ low_nibble(node));
                }
            }
            // the node's index in its nibble's tree (1..16)
            let k = if depth < 4 {
                node
            } else {
                let d = depth - 4;
                (1 << d) | (node & ((1 << d) - 1))
            };
            for t in 0..N {
                x[t] = lut.stretch(counters::p16(self.tables.get(slots[t], k)));
            }
            let mid = (lo + hi) / 2;
            let mut q_mid = 0;
            let (x_net, confidence) = match net {
                Some(cdf) => {
                    q_mid = cdf.cumulative(mid);
                    let ones = (q_hi - q_mid) as u64;
                    let zeros = (q_mid - q_lo) as u64;
                    let p = ((ones << 16) / (ones + zeros).max(1)).clamp(1, 65535);
                    let x_net = lut.stretch(p as u32);
                    let class = x_net.unsigned_abs() as usize / CONFIDENCE_STEP;
                    (x_net, 1 + class.min(CONFIDENCE - 2))
                }
                None => (0, 0),
            };
            let set = (channel * 8 + depth) * CONFIDENCE + confidence;
            let (w, tail) = self.mixer.set_mut::<N>(set);
            let dot = mixer::dot(w, tail, &x, x_net);
            let p_mix = lut.squash(dot);
            let (p_apm, at) = self.apm.refine(dot, channel * 256 + node);
            let p = ((p_mix * (4 - APM_SHARE) + APM_SHARE * p_apm + 2) >> 2).clamp(1, 65535);
            let bit = io.code((value as u32 >> (7 - depth)) & 1, p)?;
            for &s in &slots {
                self.tables.update(s, k, bit, LIMIT);
            }
            let rate = if confidence == 0 {
                ALONE_RATE
            } else {
                NET_RATE
            };
            let (w, tail) = self.mixer.set_mut::<N>(set);
            mixer::learn(w, tail, &x, x_net, p_mix, bit, rate);
            self.apm.update(at, bit);
            if bit == 1 {
                (lo, q_lo) = (mid, q_mid);
            } else {
                (hi, q_hi) = (mid, q_mid);
            }
            node = node * 2 + bit as usize;
        }
        Ok((node - 256) as u8)
    }
}
