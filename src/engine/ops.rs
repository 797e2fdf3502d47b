//! Deterministic numeric kernels of the inference engine.
//!
//! Every output value is computed by one fixed sequence of IEEE-754 f32 operations that does
//! not depend on the CPU, the SIMD width, the batch size or the thread count: products are
//! summed strictly in input order starting from the bias, vectorization only ever runs across
//! *independent* outputs (lanes), there is no fused multiply-add (Rust never contracts
//! `a * b + c`), and transcendental functions come from the pure-Rust `libm` crate.

/// A dense layer with its weights stored input-major (`wt[i * cout + o]`), so that the inner
/// loop runs over independent outputs and vectorizes lane-wise.
#[derive(Clone, Debug)]
pub struct Linear {
    /// Number of inputs.
    pub cin: usize,
    /// Number of outputs.
    pub cout: usize,
    /// Weights, `[cin][cout]`.
    pub wt: Vec<f32>,
    /// Bias, `[cout]`.
    pub bias: Vec<f32>,
}

impl Linear {
    /// Builds a layer from weights in `[cout][taps][cin_per_tap]` order as produced by
    /// `weight(o, t, ci)`, storing taps-major inputs (`i = t * cin_per_tap + ci`).
    pub fn from_fn(
        cout: usize,
        taps: usize,
        cin_per_tap: usize,
        bias: Vec<f32>,
        weight: impl Fn(usize, usize, usize) -> f32,
    ) -> Linear {
        let cin = taps * cin_per_tap;
        let mut wt = vec![0.0; cin * cout];
        for t in 0..taps {
            for ci in 0..cin_per_tap {
                for o in 0..cout {
                    wt[(t * cin_per_tap + ci) * cout + o] = weight(o, t, ci);
                }
            }
        }
        debug_assert_eq!(bias.len(), cout);
        Linear {
            cin,
            cout,
            wt,
            bias,
        }
    }

    /// `out[r][o] = bias[o] + Σ_i input[r][i] · wt[i][o]`, summed in ascending `i`, for
    /// `rows` rows.
    ///
    /// On x86-64 CPUs with AVX2 this runs a copy of the same kernel compiled for AVX2; the
    /// kernel only vectorizes across independent outputs, so both copies produce identical
    /// bits (checked by a test against [`Linear::forward_portable`]).
    pub fn forward(&self, input: &[f32], rows: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { self.forward_avx2(input, rows, out) };
            return;
        }
        self.forward_portable(input, rows, out);
    }

    /// [`Linear::forward`] compiled for the baseline instruction set.
    pub fn forward_portable(&self, input: &[f32], rows: usize, out: &mut [f32]) {
        linear_kernel(self, input, rows, out);
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2(&self, input: &[f32], rows: usize, out: &mut [f32]) {
        linear_kernel(self, input, rows, out);
    }
}

/// Rows per register block.
const RB: usize = 4;
/// Outputs per register block.
const CB: usize = 16;

/// One register block: `R` rows × `C` outputs starting at `o0`, accumulated in registers
/// over all inputs in ascending order.
#[inline(always)]
fn block<const R: usize, const C: usize>(layer: &Linear, x: &[f32], o0: usize, out: &mut [f32]) {
    let (cin, cout) = (layer.cin, layer.cout);
    let mut acc = [[0.0f32; C]; R];
    for row in acc.iter_mut() {
        row.copy_from_slice(&layer.bias[o0..o0 + C]);
    }
    for i in 0..cin {
        let w: &[f32; C] = layer.wt[i * cout + o0..i * cout + o0 + C]
            .try_into()
            .expect("block width");
        for r in 0..R {
            let xv = x[r * cin + i];
            for c in 0..C {
                acc[r][c] += xv * w[c];
            }
        }
    }
    for r in 0..R {
        out[r * cout + o0..r * cout + o0 + C].copy_from_slice(&acc[r]);
    }
}

#[inline(always)]
fn row_block<const R: usize>(layer: &Linear, x: &[f32], out: &mut [f32]) {
    let cout = layer.cout;
    let mut o0 = 0;
    while o0 + CB <= cout {
        block::<R, CB>(layer, x, o0, out);
        o0 += CB;
    }
    while o0 < cout {
        block::<R, 1>(layer, x, o0, out);
        o0 += 1;
    }
}

#[inline(always)]
fn linear_kernel(layer: &Linear, input: &[f32], rows: usize, out: &mut [f32]) {
    let (cin, cout) = (layer.cin, layer.cout);
    assert!(input.len() >= rows * cin && out.len() >= rows * cout);
    let mut r = 0;
    while r + RB <= rows {
        row_block::<RB>(
            layer,
            &input[r * cin..(r + RB) * cin],
            &mut out[r * cout..(r + RB) * cout],
        );
        r += RB;
    }
    while r < rows {
        row_block::<1>(
            layer,
            &input[r * cin..(r + 1) * cin],
            &mut out[r * cout..(r + 1) * cout],
        );
        r += 1;
    }
}

/// Positions per block of the key cache layout.
pub const KEY_BLOCK: usize = 16;
/// Value dimensions accumulated in registers at once.
const VALUE_BLOCK: usize = 64;

/// Index of key dimension `d` of position `j` in the blocked key cache: blocks of
/// [`KEY_BLOCK`] positions, each stored `[key_size][KEY_BLOCK]`, so a block's scores read one
/// contiguous run of memory.
#[inline]
pub fn key_index(j: usize, d: usize, dk: usize) -> usize {
    ((j / KEY_BLOCK) * dk + d) * KEY_BLOCK + j % KEY_BLOCK
}

/// Causal attention of one query over the first `p` cached positions of one tile:
/// `out = Σ_j softmax_j(q · k_j · scale) v_j`, with keys stored in blocks (see
/// [`key_index`]) so that scores for many positions are computed lane-wise. Each
/// score is summed over `d` in ascending order, the softmax normalizer over `j` in ascending
/// order, exactly as a scalar loop would.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    q: &[f32],
    keys_t: &[f32],
    values: &[f32],
    p: usize,
    (dk, dv): (usize, usize),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { attend_avx2(q, keys_t, values, p, (dk, dv), scale, scores, out) };
        return;
    }
    attend_kernel(q, keys_t, values, p, (dk, dv), scale, scores, out);
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn attend_avx2(
    q: &[f32],
    keys_t: &[f32],
    values: &[f32],
    p: usize,
    dims: (usize, usize),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    attend_kernel(q, keys_t, values, p, dims, scale, scores, out);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attend_kernel(
    q: &[f32],
    keys_t: &[f32],
    values: &[f32],
    p: usize,
    (dk, dv): (usize, usize),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let s = &mut scores[..p];
    // scores, one block of 16 positions at a time held in registers across the key dimension
    let mut j0 = 0;
    while j0 + KEY_BLOCK <= p {
        let kb = &keys_t[j0 * dk..(j0 + KEY_BLOCK) * dk];
        let mut acc = [0.0f32; KEY_BLOCK];
        for d in 0..dk {
            let qd = q[d];
            let kd: &[f32; KEY_BLOCK] = kb[d * KEY_BLOCK..(d + 1) * KEY_BLOCK]
                .try_into()
                .expect("block width");
            for c in 0..KEY_BLOCK {
                acc[c] += qd * kd[c];
            }
        }
        s[j0..j0 + KEY_BLOCK].copy_from_slice(&acc);
        j0 += KEY_BLOCK;
    }
    for j in j0..p {
        let mut acc = 0.0f32;
        for d in 0..dk {
            acc += q[d] * keys_t[key_index(j, d, dk)];
        }
        s[j] = acc;
    }
    let mut max = f32::NEG_INFINITY;
    for sj in s.iter_mut() {
        *sj *= scale;
        max = max.max(*sj);
    }
    let mut sum = 0.0f32;
    for sj in s.iter_mut() {
        *sj = libm::expf(*sj - max);
        sum += *sj;
    }
    // weighted values: up to 64 value dimensions held in registers, positions streamed
    let out = &mut out[..dv];
    let values = &values[..p * dv];
    let mut o0 = 0;
    while o0 + VALUE_BLOCK <= dv {
        let mut acc = [0.0f32; VALUE_BLOCK];
        for (j, &sj) in s.iter().enumerate() {
            let v: &[f32; VALUE_BLOCK] = values[j * dv + o0..j * dv + o0 + VALUE_BLOCK]
                .try_into()
                .expect("block width");
            for c in 0..VALUE_BLOCK {
                acc[c] += sj * v[c];
            }
        }
        out[o0..o0 + VALUE_BLOCK].copy_from_slice(&acc);
        o0 += VALUE_BLOCK;
    }
    for o in o0..dv {
        let mut acc = 0.0f32;
        for (j, &sj) in s.iter().enumerate() {
            acc += sj * values[j * dv + o];
        }
        out[o] = acc;
    }
    let inv = 1.0 / sum;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

/// Exponential linear unit: `x` for `x > 0`, `exp(x) - 1` otherwise.
#[inline]
pub fn elu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        libm::expm1f(x)
    }
}

/// Logistic sigmoid `1 / (1 + exp(-x))`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// Writes `elu` of every element of `x` into `out`.
pub fn elu_into(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = elu(v);
    }
}

/// Gated residual update for `rows` rows: `u += c[..C] * sigmoid(c[C..])`, with `c` holding
/// `2C` values per row.
pub fn gate_residual(u: &mut [f32], c: &[f32], rows: usize, channels: usize) {
    for r in 0..rows {
        let ur = &mut u[r * channels..(r + 1) * channels];
        let cr = &c[r * 2 * channels..(r + 1) * 2 * channels];
        let (a, g) = cr.split_at(channels);
        for k in 0..channels {
            ur[k] += a[k] * sigmoid(g[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(layer: &Linear, x: &[f32], rows: usize) -> Vec<f32> {
        let mut out = vec![0.0; rows * layer.cout];
        for r in 0..rows {
            for o in 0..layer.cout {
                let mut acc = layer.bias[o];
                for i in 0..layer.cin {
                    acc += x[r * layer.cin + i] * layer.wt[i * layer.cout + o];
                }
                out[r * layer.cout + o] = acc;
            }
        }
        out
    }

    #[test]
    fn blocked_linear_is_bitwise_the_plain_loop() {
        let mut rng = crate::weights::SplitMix64(3);
        let mut rand = || (rng.next_f64() * 2.0 - 1.0) as f32;
        let (cin, cout) = (37, 35);
        let layer = Linear {
            cin,
            cout,
            wt: (0..cin * cout).map(|_| rand()).collect(),
            bias: (0..cout).map(|_| rand()).collect(),
        };
        for rows in [1, 3, 4, 5, 9] {
            let x: Vec<f32> = (0..rows * cin).map(|_| rand()).collect();
            let mut out = vec![0.0; rows * cout];
            layer.forward(&x, rows, &mut out);
            let want = reference(&layer, &x, rows);
            let same = out
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "rows = {rows}");
        }
    }

    #[test]
    fn elu_and_sigmoid_values() {
        assert_eq!(elu(2.5), 2.5);
        assert!((elu(-1.0) - (-0.632_120_56)).abs() < 1e-7);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(2.0) - 0.880_797_1).abs() < 1e-7);
    }
}
