//! Hand-written AVX-512 register blocks for the dense layers.
//!
//! The compiler's vectorization of the portable register blocks is fragile at AVX-512 sizes
//! (an 8 × 32 block came out several times slower than 8 × 16), so the 8-row blocks are
//! written with intrinsics. They perform exactly the portable kernel's operations: each
//! output starts from its bias and adds `x[r][i] * w[i][o]` for ascending `i`, one IEEE
//! multiply and one IEEE add per step (or one fused multiply-add, for models whose
//! arithmetic is [`MulAdd::Fused`](crate::config::MulAdd::Fused)), sixteen independent
//! outputs per register. `ops`'s tests compare them bit for bit with the portable path.

use super::ops::Join;
use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mul_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps,
};

/// Rows of one block.
pub const ROWS: usize = 8;

/// Outputs `o0 .. o0 + 16 P` of `ROWS` rows: `out[r * cout + o] = bias[o] + Σ_i x[r * cin + i]
/// · wt[i * cout + o]`, summed in ascending `i`; each product joins its sum by one fused
/// multiply-add if `J` says so, else by an IEEE multiply and an IEEE add.
///
/// # Panics
/// If a slice is too short for the shapes.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn block<const P: usize, J: Join>(
    wt: &[f32],
    bias: &[f32],
    (cin, cout): (usize, usize),
    x: &[f32],
    o0: usize,
    out: &mut [f32],
) {
    assert!(cin > 0 && o0 + 16 * P <= cout && bias.len() >= cout);
    assert!(wt.len() >= cin * cout && x.len() >= ROWS * cin && out.len() >= ROWS * cout);
    let mut acc = [[_mm512_setzero_ps(); P]; ROWS];
    for row in acc.iter_mut() {
        for (k, a) in row.iter_mut().enumerate() {
            // SAFETY: o0 + 16 (k + 1) <= cout <= bias.len(), asserted above.
            *a = unsafe { _mm512_loadu_ps(bias.as_ptr().add(o0 + 16 * k)) };
        }
    }
    let (xp, wp) = (x.as_ptr(), wt.as_ptr());
    for i in 0..cin {
        let mut w: [__m512; P] = [_mm512_setzero_ps(); P];
        for (k, wk) in w.iter_mut().enumerate() {
            // SAFETY: i * cout + o0 + 16 (k + 1) <= cin * cout <= wt.len(), asserted above.
            *wk = unsafe { _mm512_loadu_ps(wp.add(i * cout + o0 + 16 * k)) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: r * cin + i < ROWS * cin <= x.len(), asserted above.
            let xv = _mm512_set1_ps(unsafe { *xp.add(r * cin + i) });
            for (a, wk) in row.iter_mut().zip(&w) {
                *a = if J::FUSED {
                    _mm512_fmadd_ps(xv, *wk, *a)
                } else {
                    _mm512_add_ps(*a, _mm512_mul_ps(xv, *wk))
                };
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (k, a) in row.iter().enumerate() {
            // SAFETY: r * cout + o0 + 16 (k + 1) <= ROWS * cout <= out.len(), asserted above.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(r * cout + o0 + 16 * k), *a) };
        }
    }
}
