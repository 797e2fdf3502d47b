//! From the network's mixture parameters to exact integer CDFs for the range coder.
//!
//! A pixel's output holds a K-component discretized logistic mixture shared by its three
//! channels (PixelCNN++). R is coded with the prior component weights π_k; G with the
//! posterior weights ∝ π_k p_k(R); B with ∝ π_k p_k(R) p_k(G | R). This makes the coded
//! probability of the pixel exactly the model's joint likelihood Σ_k π_k Π_c p_k(c).
//!
//! Quantization is deterministic and never gives a symbol zero frequency: with the mixture
//! CDF `F` evaluated at the 255 inner bin boundaries in f64, the cumulative frequency of
//! symbol `v` is `Q(v) = floor(F(b_v) · (2^24 − 512)) + 2v`, with `Q(0) = 0` and
//! `Q(256) = 2^24`. Every frequency `Q(v+1) − Q(v)` is therefore at least 2 minus the one
//! unit that a last-bit wobble of `F` could cost, i.e. at least 1. Only the CDF values a
//! symbol needs are computed: two for encoding, a search for decoding.
//!
//! The arithmetic is `libm`'s (f64 `exp`, `log`, `log1p`, `tanh`); `exp` is its branch-free
//! copy (`arith::expo::exp`), equal to it for every input, and every per-component
//! quantity is computed for all components first and summed afterwards in ascending order,
//! so that the exponentials of a pixel's components vectorize. Like the engine's kernels, each
//! step is compiled for every instruction set and the CPU's best is used: all give the same
//! bits.

use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};

use crate::arith::expo::exp;
use crate::arith::{multiversion, Isa};

/// Bits of precision of the coder's probabilities.
pub const PRECISION: usize = 24;
const TOTAL: u32 = 1 << PRECISION;
/// Mass spread by the CDF; the remaining 512 units give every symbol 2 units.
const SPREAD: f64 = (TOTAL - 512) as f64;
/// Log-scales are clamped below at this value (PixelCNN++).
pub const MIN_LOG_SCALE: f64 = -7.0;

pub use crate::config::MAX_MIXTURES;

/// Upper boundary in `[-1, 1]` space of symbol `v - 1`, i.e. lower boundary of symbol `v`.
#[inline]
fn boundary(v: usize) -> f64 {
    (2.0 * v as f64 - 256.0) / 255.0
}

#[inline(always)]
fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + exp(-t))
}

/// `ln(1 + e^x)`, stable for any `x`.
#[inline]
fn softplus(x: f64) -> f64 {
    x.max(0.0) + libm::log1p(exp(-x.abs()))
}

/// The scaled value of a subpixel in the network's input space.
#[inline]
fn to_unit(v: u8) -> f64 {
    v as f64 / 127.5 - 1.0
}

/// The natural logarithm inside the coding probabilities (a component's log-probability of
/// the observed value, which reweights the components for the next channel).
///
/// Files of container versions 1 to 3 were coded with Rust's `f64::ln`, which calls the
/// platform's C library: glibc's `log` differs from `libm::log` in the last bit for about 4%
/// of inputs, and other C libraries (or glibc without FMA) may differ again, so such a file
/// could in rare cases decode differently on another system. Version 4 and 5 files use
/// `libm::log`, the same function everywhere. Decoding follows the file's version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Logarithm {
    /// `libm::log`, portable (container versions 4 and 5).
    #[default]
    Libm,
    /// `f64::ln` of the platform (container versions 1 to 3).
    Platform,
}

impl Logarithm {
    #[inline]
    fn ln(self, x: f64) -> f64 {
        match self {
            Logarithm::Libm => libm::log(x),
            Logarithm::Platform => x.ln(),
        }
    }
}

/// The mixture of one pixel, updated channel by channel as values become known.
#[derive(Clone, Debug)]
pub struct PixelMixture<'a> {
    params: &'a [f32],
    k: usize,
    /// Log of the current (unnormalized) component weights.
    log_w: [f64; MAX_MIXTURES],
    /// Normalized current component weights.
    w: [f64; MAX_MIXTURES],
    /// Values of channels coded so far, in `[-1, 1]`.
    known: [f64; 2],
    /// `ln Σ_k exp(log_w[k])`, the log of the current weights' normalizer.
    log_norm: f64,
    /// The logarithm of the file's arithmetic.
    log: Logarithm,
    /// The instruction set the steps run with.
    isa: Isa,
}

/// The distribution of one subpixel: K logistic components with weights.
#[derive(Clone, Debug)]
pub struct ChannelCdf {
    k: usize,
    w: [f64; MAX_MIXTURES],
    mean: [f64; MAX_MIXTURES],
    inv_scale: [f64; MAX_MIXTURES],
    log: Logarithm,
    isa: Isa,
}

multiversion! {
    fn normalize_at(m: &mut PixelMixture<'_>) {
        avx512: m.normalize(),
        avx2: m.normalize(),
        portable: m.normalize(),
    }
}

multiversion! {
    fn channel_at(m: &PixelMixture<'_>, c: usize) -> ChannelCdf {
        avx512: m.channel_kernel(c),
        avx2: m.channel_kernel(c),
        portable: m.channel_kernel(c),
    }
}

multiversion! {
    fn observe_at(m: &mut PixelMixture<'_>, cdf: &ChannelCdf, c: usize, v: u8) -> f64 {
        avx512: m.observe_kernel(cdf, c, v),
        avx2: m.observe_kernel(cdf, c, v),
        portable: m.observe_kernel(cdf, c, v),
    }
}

multiversion! {
    fn cumulative_at(cdf: &ChannelCdf, v: usize) -> u32 {
        avx512: cdf.cumulative_kernel(v),
        avx2: cdf.cumulative_kernel(v),
        portable: cdf.cumulative_kernel(v),
    }
}

multiversion! {
    fn interval_at(cdf: &ChannelCdf, v: usize) -> (u32, u32) {
        avx512: (cdf.cumulative_kernel(v), cdf.cumulative_kernel(v + 1)),
        avx2: (cdf.cumulative_kernel(v), cdf.cumulative_kernel(v + 1)),
        portable: (cdf.cumulative_kernel(v), cdf.cumulative_kernel(v + 1)),
    }
}

multiversion! {
    fn search_at(cdf: &ChannelCdf, quantile: u32) -> (u8, u32, NonZeroU32) {
        avx512: cdf.search(quantile),
        avx2: cdf.search(quantile),
        portable: cdf.search(quantile),
    }
}

impl<'a> PixelMixture<'a> {
    /// Starts from the raw network outputs of one pixel (`10 K` values).
    ///
    /// # Panics
    /// If `params.len()` is not a multiple of 10 or K exceeds [`MAX_MIXTURES`].
    pub fn new(params: &'a [f32]) -> PixelMixture<'a> {
        PixelMixture::with_logarithm(params, Logarithm::Libm)
    }

    /// [`PixelMixture::new`] with the logarithm of a given file format version.
    ///
    /// # Panics
    /// As [`PixelMixture::new`].
    pub fn with_logarithm(params: &'a [f32], log: Logarithm) -> PixelMixture<'a> {
        PixelMixture::with_isa(params, log, Isa::best())
    }

    /// [`PixelMixture::with_logarithm`] computed with the kernels of one instruction set
    /// (all give the same bits).
    ///
    /// # Panics
    /// As [`PixelMixture::new`].
    pub fn with_isa(params: &'a [f32], log: Logarithm, isa: Isa) -> PixelMixture<'a> {
        assert!(
            params.len().is_multiple_of(10),
            "mixture parameters come in tens"
        );
        let k = params.len() / 10;
        assert!(
            (1..=MAX_MIXTURES).contains(&k),
            "unsupported mixture size {k}"
        );
        let mut m = PixelMixture {
            params,
            k,
            log_w: [0.0; MAX_MIXTURES],
            w: [0.0; MAX_MIXTURES],
            known: [0.0; 2],
            log_norm: 0.0,
            log,
            isa,
        };
        for i in 0..k {
            m.log_w[i] = params[i] as f64;
        }
        normalize_at(isa, &mut m);
        m
    }

    #[inline(always)]
    fn normalize(&mut self) {
        let k = self.k;
        let max = self.log_w[..k]
            .iter()
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        for i in 0..k {
            self.w[i] = exp(self.log_w[i] - max);
        }
        let mut sum = 0.0;
        for &w in &self.w[..k] {
            sum += w;
        }
        for i in 0..k {
            self.w[i] /= sum;
        }
        self.log_norm = max + sum.ln();
    }

    /// The distribution of channel `c` (0 = R, 1 = G, 2 = B) given the channels before it,
    /// which must have been passed to [`PixelMixture::observe`] in order.
    pub fn channel(&self, c: usize) -> ChannelCdf {
        channel_at(self.isa, self, c)
    }

    #[inline(always)]
    fn channel_kernel(&self, c: usize) -> ChannelCdf {
        let (k, p) = (self.k, self.params);
        let mut cdf = ChannelCdf {
            k,
            w: self.w,
            mean: [0.0; MAX_MIXTURES],
            inv_scale: [0.0; MAX_MIXTURES],
            log: self.log,
            isa: self.isa,
        };
        for i in 0..k {
            let mut mean = p[k + c * k + i] as f64;
            let coeff = |j: usize| libm::tanh(p[7 * k + j * k + i] as f64);
            if c == 1 {
                mean += coeff(0) * self.known[0];
            } else if c == 2 {
                mean += coeff(1) * self.known[0] + coeff(2) * self.known[1];
            }
            cdf.mean[i] = mean;
        }
        for i in 0..k {
            let log_scale = (p[4 * k + c * k + i] as f64).max(MIN_LOG_SCALE);
            cdf.inv_scale[i] = exp(-log_scale);
        }
        cdf
    }

    /// Conditions on channel `c` having value `v`: reweights the components by their
    /// probability of `v`. Returns the model's information content of `v` in bits.
    pub fn observe(&mut self, cdf: &ChannelCdf, c: usize, v: u8) -> f64 {
        observe_at(self.isa, self, cdf, c, v)
    }

    #[inline(always)]
    fn observe_kernel(&mut self, cdf: &ChannelCdf, c: usize, v: u8) -> f64 {
        let k = self.k;
        let mut log_p = [0.0f64; MAX_MIXTURES];
        cdf.log_component_probabilities(v, &mut log_p);
        // information content -log2 Σ_i w_i p_i: with w_i = exp(log_w_i - N), Σ_i w_i p_i
        // = exp(N' - N) where N' normalizes the updated log_w_i + ln p_i
        let before = self.log_norm;
        for i in 0..k {
            self.log_w[i] += log_p[i];
        }
        self.normalize();
        let bits = -(self.log_norm - before) / std::f64::consts::LN_2;
        if c < 2 {
            self.known[c] = to_unit(v);
        }
        bits
    }
}

impl ChannelCdf {
    /// The mixture CDF at the lower boundary of symbol `v` (`v` in 1..=255).
    #[inline(always)]
    fn cdf(&self, v: usize) -> f64 {
        let b = boundary(v);
        let k = self.k;
        let mut s = [0.0f64; MAX_MIXTURES];
        for i in 0..k {
            s[i] = sigmoid((b - self.mean[i]) * self.inv_scale[i]);
        }
        let mut f = 0.0;
        for i in 0..k {
            f += self.w[i] * s[i];
        }
        f.clamp(0.0, 1.0)
    }

    /// Cumulative frequency of symbols `< v`, `v` in 0..=256.
    pub fn cumulative(&self, v: usize) -> u32 {
        cumulative_at(self.isa, self, v)
    }

    #[inline(always)]
    fn cumulative_kernel(&self, v: usize) -> u32 {
        match v {
            0 => 0,
            256 => TOTAL,
            _ => (self.cdf(v) * SPREAD) as u32 + 2 * v as u32,
        }
    }

    /// `ln p_i(v)` of every component `i`, accurate in the tails.
    #[inline(always)]
    fn log_component_probabilities(&self, v: u8, out: &mut [f64; MAX_MIXTURES]) {
        let k = self.k;
        let v = v as usize;
        let (b_lo, b_hi) = (boundary(v), boundary(v + 1));
        let t = |i: usize, b: f64| (b - self.mean[i]) * self.inv_scale[i];
        if v == 0 {
            for i in 0..k {
                out[i] = -softplus(-t(i, b_hi)); // ln σ(t_hi)
            }
            return;
        }
        if v == 255 {
            for i in 0..k {
                out[i] = -softplus(t(i, b_lo)); // ln (1 - σ(t_lo))
            }
            return;
        }
        // σ(t_hi) - σ(t_lo), computed on the side where both are small
        let mut d = [0.0f64; MAX_MIXTURES];
        for i in 0..k {
            let (t_lo, t_hi) = (t(i, b_lo), t(i, b_hi));
            let (a, b) = if t_lo > 0.0 {
                (-t_lo, -t_hi)
            } else {
                (t_hi, t_lo)
            };
            d[i] = sigmoid(a) - sigmoid(b);
        }
        for i in 0..k {
            out[i] = if d[i] > 1e-12 {
                self.log.ln(d[i])
            } else {
                // bin mass ≈ density at the centre × bin width
                let (inv, tc) = (self.inv_scale[i], t(i, to_unit(v as u8)));
                self.log.ln(inv) - tc - 2.0 * softplus(-tc) + self.log.ln(2.0 / 255.0)
            };
        }
    }
}

impl ChannelCdf {
    /// A first guess at the symbol of `quantile`: where the heaviest component's CDF reaches
    /// it. Only a starting point for the search; it never changes which symbol is decoded.
    #[inline(always)]
    fn guess(&self, quantile: u32) -> usize {
        let top = (0..self.k)
            .max_by(|&a, &b| self.w[a].total_cmp(&self.w[b]))
            .unwrap_or(0);
        let u = ((quantile as f64 + 0.5) / TOTAL as f64).clamp(1e-9, 1.0 - 1e-9);
        let x = self.mean[top] + (u / (1.0 - u)).ln() / self.inv_scale[top];
        let v = (127.5 * x + 128.0).floor();
        if v.is_finite() {
            v.clamp(0.0, 255.0) as usize
        } else {
            128
        }
    }
}

impl EntropyModel<PRECISION> for ChannelCdf {
    type Symbol = u8;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for ChannelCdf {
    fn left_cumulative_and_probability(
        &self,
        symbol: impl std::borrow::Borrow<u8>,
    ) -> Option<(u32, NonZeroU32)> {
        let v = *symbol.borrow() as usize;
        let (lo, hi) = interval_at(self.isa, self, v);
        Some((lo, NonZeroU32::new(hi.checked_sub(lo)?)?))
    }
}

impl DecoderModel<PRECISION> for ChannelCdf {
    fn quantile_function(&self, quantile: u32) -> (u8, u32, NonZeroU32) {
        search_at(self.isa, self, quantile)
    }
}

impl ChannelCdf {
    /// The symbol of `quantile`, its cumulative frequency and its frequency.
    #[inline(always)]
    fn search(&self, quantile: u32) -> (u8, u32, NonZeroU32) {
        // The symbol is the largest v with Q(v) <= quantile (Q is strictly increasing, Q(0) =
        // 0 <= quantile < Q(256)); any search finds the same one. Start at the heaviest
        // component's quantile, widen the bracket by doubling steps, then bisect: a
        // well-predicted symbol costs two CDF evaluations instead of eight.
        let guess = self.guess(quantile);
        let (mut lo, mut hi, mut q_lo, mut q_hi);
        let q_guess = self.cumulative_kernel(guess);
        if q_guess <= quantile {
            (lo, q_lo) = (guess, q_guess);
            let mut step = 1;
            loop {
                let c = lo + step;
                if c >= 256 {
                    (hi, q_hi) = (256, TOTAL);
                    break;
                }
                let q_c = self.cumulative_kernel(c);
                if q_c > quantile {
                    (hi, q_hi) = (c, q_c);
                    break;
                }
                (lo, q_lo) = (c, q_c);
                step *= 2;
            }
        } else {
            (hi, q_hi) = (guess, q_guess);
            let mut step = 1;
            loop {
                let c = hi.saturating_sub(step);
                let q_c = self.cumulative_kernel(c);
                if q_c <= quantile {
                    (lo, q_lo) = (c, q_c);
                    break;
                }
                (hi, q_hi) = (c, q_c);
                step *= 2;
            }
        }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            let q_mid = self.cumulative_kernel(mid);
            if q_mid <= quantile {
                lo = mid;
                q_lo = q_mid;
            } else {
                hi = mid;
                q_hi = q_mid;
            }
        }
        // q_hi > q_lo always holds because every frequency is at least 1.
        let freq = NonZeroU32::new(q_hi - q_lo).unwrap_or(NonZeroU32::MIN);
        (lo as u8, q_lo, freq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_params(k: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::weights::SplitMix64(seed);
        (0..10 * k)
            .map(|i| {
                let r = rng.next_f64() * 2.0 - 1.0;
                // log-scales between -7.5 and 0.5 to exercise the clamp and sharp peaks
                if (4 * k..7 * k).contains(&i) {
                    (r * 4.0 - 3.5) as f32
                } else {
                    (r * 3.0) as f32
                }
            })
            .collect()
    }

    #[test]
    fn frequencies_are_positive_and_sum_to_total() {
        for seed in 0..50 {
            let params = random_params(5, seed);
            let m = PixelMixture::new(&params);
            for c in 0..3 {
                let cdf = m.channel(c);
                let mut prev = cdf.cumulative(0);
                for v in 1..=256 {
                    let q = cdf.cumulative(v);
                    assert!(q > prev, "seed {seed} c {c} v {v}: {prev} -> {q}");
                    prev = q;
                }
                assert_eq!(prev, TOTAL);
            }
        }
    }

    #[test]
    fn quantile_function_inverts_cumulative() {
        // broad, sharp (log-scales down to the clamp) and multimodal mixtures: the search
        // starts from a guess, which must never change the decoded symbol
        for seed in 0..24u64 {
            let mut params = random_params(4 + (seed as usize % 5), 9 + seed);
            let k = params.len() / 10;
            for s in &mut params[4 * k..7 * k] {
                *s = *s * 4.0 - (seed % 4) as f32 * 2.0;
            }
            let mut m = PixelMixture::new(&params);
            for c in 0..3 {
                let cdf = m.channel(c);
                for v in 0..=255u8 {
                    let (lo, f) = cdf.left_cumulative_and_probability(v).unwrap();
                    for q in [lo, lo + f.get() / 2, lo + f.get() - 1] {
                        let (s, l, ff) = cdf.quantile_function(q);
                        assert_eq!((s, l, ff), (v, lo, f), "seed {seed} c {c}");
                    }
                }
                m.observe(&cdf, c, (seed * 37 % 256) as u8);
            }
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_frequencies_symbols_and_bits() {
        for seed in 0..12u64 {
            let params = random_params(3 + seed as usize % 8, 40 + seed);
            let run = |isa: Isa| {
                let mut out = Vec::new();
                let mut m = PixelMixture::with_isa(&params, Logarithm::Libm, isa);
                for c in 0..3 {
                    let cdf = m.channel(c);
                    for v in 0..=256 {
                        out.push(cdf.cumulative(v) as u64);
                    }
                    for q in (0..TOTAL).step_by(65_537) {
                        let (s, l, f) = cdf.quantile_function(q);
                        out.extend([s as u64, l as u64, f.get() as u64]);
                    }
                    let v = (seed * 91 + c as u64 * 37) as u8;
                    let (l, f) = cdf.left_cumulative_and_probability(v).unwrap();
                    out.extend([l as u64, f.get() as u64]);
                    out.push(m.observe(&cdf, c, v).to_bits());
                }
                out
            };
            let want = run(Isa::PORTABLE);
            for isa in Isa::available() {
                assert!(run(isa) == want, "{} seed {seed}", isa.name());
            }
        }
    }

    #[test]
    fn information_content_matches_quantized_probability() {
        // The coded size of a symbol, -log2(freq / 2^24), is within a hair of the model's
        // information content wherever the probability is not tiny.
        let params = random_params(6, 21);
        let mut m = PixelMixture::new(&params);
        for (c, v) in [(0usize, 130u8), (1, 120), (2, 140)] {
            let cdf = m.channel(c);
            let (_, f) = cdf.left_cumulative_and_probability(v).unwrap();
            let coded = -(f.get() as f64 / TOTAL as f64).log2();
            let bits = m.observe(&cdf, c, v);
            if bits < 12.0 {
                assert!(
                    (coded - bits).abs() < 0.01,
                    "c {c}: coded {coded} vs {bits}"
                );
            }
        }
    }

    #[test]
    fn posterior_weights_sum_to_one_and_follow_evidence() {
        // two components, far apart: observing R near component 1 moves all weight there
        let mut p = vec![0.0f32; 20];
        p[2] = -0.8; // means of R
        p[3] = 0.8;
        for v in &mut p[8..14] {
            *v = -4.0; // log scales
        }
        let mut m = PixelMixture::new(&p);
        assert!((m.w[0] - 0.5).abs() < 1e-12);
        let cdf = m.channel(0);
        m.observe(&cdf, 0, 230);
        assert!(m.w[1] > 0.999_999 && (m.w[0] + m.w[1] - 1.0).abs() < 1e-12);
    }
}
