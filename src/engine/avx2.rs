//! Hand-written AVX2 register blocks for the dense layers.
//!
//! Compiled for AVX2 from the portable code, the 4-row blocks reload each weight vector from
//! memory once per row and keep bounds checks in the inner loop (`perf` on kodim23: the dense
//! layers were 42% of an AVX2 decode). These 6-row blocks keep a panel of weights in
//! registers for all six rows: 12 accumulators, 2 weight vectors and 1 broadcast input fill
//! 15 of the 16 registers. They perform exactly the portable kernel's operations: each output
//! starts from its bias and adds `x[r][i] * w[i][o]` for ascending `i`, one IEEE multiply and
//! one IEEE add per step (or one fused multiply-add, for models whose arithmetic is
//! [`MulAdd::Fused`](crate::config::MulAdd::Fused)), eight independent outputs per register.
//! `ops`'s tests compare them bit for bit with the portable path.

use super::ops::Join;
use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps,
    _mm256_setzero_ps, _mm256_storeu_ps,
};

/// Rows of one block.
pub const ROWS: usize = 6;

/// Outputs `o0 .. o0 + 16` of `ROWS` rows: `out[r * cout + o] = bias[o] + Σ_i x[r * cin + i]
/// · wt[i * cout + o]`, summed in ascending `i`; each product joins its sum by one fused
/// multiply-add if `J` says so, else by an IEEE multiply and an IEEE add.
///
/// # Panics
/// If a slice is too short for the shapes.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn block<J: Join>(
    wt: &[f32],
    bias: &[f32],
    (cin, cout): (usize, usize),
    x: &[f32],
    o0: usize,
    out: &mut [f32],
) {
    assert!(cin > 0 && o0 + 16 <= cout && bias.len() >= cout);
    assert!(wt.len() >= cin * cout && x.len() >= ROWS * cin && out.len() >= ROWS * cout);
    let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
    for row in acc.iter_mut() {
        for (k, a) in row.iter_mut().enumerate() {
            // SAFETY: o0 + 8 (k + 1) <= o0 + 16 <= cout <= bias.len(), asserted above.
            *a = unsafe { _mm256_loadu_ps(bias.as_ptr().add(o0 + 8 * k)) };
        }
    }
    let (xp, wp) = (x.as_ptr(), wt.as_ptr());
    for i in 0..cin {
        let mut w: [__m256; 2] = [_mm256_setzero_ps(); 2];
        for (k, wk) in w.iter_mut().enumerate() {
            // SAFETY: i * cout + o0 + 8 (k + 1) <= cin * cout <= wt.len(), asserted above.
            *wk = unsafe { _mm256_loadu_ps(wp.add(i * cout + o0 + 8 * k)) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: r * cin + i < ROWS * cin <= x.len(), asserted above.
            let xv = _mm256_set1_ps(unsafe { *xp.add(r * cin + i) });
            for (a, wk) in row.iter_mut().zip(&w) {
                *a = if J::FUSED {
                    _mm256_fmadd_ps(xv, *wk, *a)
                } else {
                    _mm256_add_ps(*a, _mm256_mul_ps(xv, *wk))
                };
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (k, a) in row.iter().enumerate() {
            // SAFETY: r * cout + o0 + 8 (k + 1) <= ROWS * cout <= out.len(), asserted above.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(r * cout + o0 + 8 * k), *a) };
        }
    }
}
