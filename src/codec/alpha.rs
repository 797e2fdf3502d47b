//! A small adaptive model for alpha channels, which the network does not predict.
//!
//! Alpha is coded per pixel before the colors as the residual `(a − prediction) mod 256`,
//! where the prediction is the alpha to the left (above for the first column, 255 for the
//! first pixel of a tile). A binary "residual is zero" flag and the nonzero residuals each
//! have adaptive counts, so a constant alpha plane costs almost nothing and any alpha plane
//! still round-trips exactly.

use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};

/// Precision of the alpha models' probabilities.
pub const PRECISION: usize = 16;
const TOTAL: u32 = 1 << PRECISION;
const INCREMENT: u32 = 32;
const RESCALE_AT: u32 = 1 << 15;

/// A frequency table with cumulative sums totalling `2^PRECISION`.
#[derive(Clone, Debug)]
pub struct Table {
    cumulative: Vec<u32>,
}

impl Table {
    /// Quantizes counts (all ≥ 1) to frequencies summing to `2^PRECISION`, each ≥ 1.
    fn from_counts(counts: &[u32]) -> Table {
        let total: u64 = counts.iter().map(|&c| c as u64).sum();
        let budget = (TOTAL - counts.len() as u32) as u64;
        let mut freqs: Vec<u32> = counts
            .iter()
            .map(|&c| 1 + (c as u64 * budget / total) as u32)
            .collect();
        let sum: u32 = freqs.iter().sum();
        let top = (0..freqs.len()).fold(0, |best, i| if freqs[i] > freqs[best] { i } else { best });
        freqs[top] += TOTAL - sum;
        let mut cumulative = Vec::with_capacity(freqs.len() + 1);
        cumulative.push(0);
        let mut acc = 0;
        for f in freqs {
            acc += f;
            cumulative.push(acc);
        }
        Table { cumulative }
    }
}

impl EntropyModel<PRECISION> for Table {
    type Symbol = usize;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for Table {
    fn left_cumulative_and_probability(
        &self,
        symbol: impl std::borrow::Borrow<usize>,
    ) -> Option<(u32, NonZeroU32)> {
        let s = *symbol.borrow();
        let lo = *self.cumulative.get(s)?;
        let hi = *self.cumulative.get(s + 1)?;
        Some((lo, NonZeroU32::new(hi - lo)?))
    }
}

impl DecoderModel<PRECISION> for Table {
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        let s = self.cumulative.partition_point(|&c| c <= quantile) - 1;
        let s = s.min(self.cumulative.len() - 2);
        let (lo, hi) = (self.cumulative[s], self.cumulative[s + 1]);
        (s, lo, NonZeroU32::new(hi - lo).unwrap_or(NonZeroU32::MIN))
    }
}

/// Adaptive state for one tile's alpha plane.
#[derive(Clone, Debug)]
pub struct AlphaModel {
    zero: [u32; 2],
    residual: [u32; 255],
}

impl Default for AlphaModel {
    fn default() -> AlphaModel {
        AlphaModel {
            zero: [1, 1],
            residual: [1; 255],
        }
    }
}

fn bump(counts: &mut [u32], i: usize) {
    counts[i] += INCREMENT;
    if counts.iter().sum::<u32>() > RESCALE_AT {
        for c in counts.iter_mut() {
            *c = (*c).div_ceil(2);
        }
    }
}

impl AlphaModel {
    /// The prediction for tile position `(i, j)` from already coded alphas `[h][w]`.
    pub fn predict(alphas: &[u8], width: usize, i: usize, j: usize) -> u8 {
        if j > 0 {
            alphas[i * width + j - 1]
        } else if i > 0 {
            alphas[(i - 1) * width]
        } else {
            255
        }
    }

    /// Table for the "residual is nonzero" flag.
    pub fn flag_table(&self) -> Table {
        Table::from_counts(&self.zero)
    }

    /// Table for a nonzero residual (symbol = residual − 1).
    pub fn residual_table(&self) -> Table {
        Table::from_counts(&self.residual)
    }

    /// Learns from a coded residual.
    pub fn update(&mut self, residual: u8) {
        bump(&mut self.zero, (residual != 0) as usize);
        if residual != 0 {
            bump(&mut self.residual, residual as usize - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_complete_and_positive() {
        let t = Table::from_counts(&[1, 1_000_000, 3, 1]);
        assert_eq!(*t.cumulative.last().unwrap(), TOTAL);
        assert!(t.cumulative.windows(2).all(|w| w[1] > w[0]));
        for s in 0..4 {
            let (lo, f) = t.left_cumulative_and_probability(s).unwrap();
            assert_eq!(t.quantile_function(lo + f.get() - 1).0, s);
        }
    }

    #[test]
    fn constant_alpha_becomes_cheap() {
        let mut m = AlphaModel::default();
        for _ in 0..200 {
            m.update(0);
        }
        let (_, f) = m.flag_table().left_cumulative_and_probability(0).unwrap();
        assert!(f.get() as f64 / TOTAL as f64 > 0.99);
    }
}
