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
    pub fn forward(&self, input: &[f32], rows: usize, out: &mut [f32]) {
        let (cin, cout) = (self.cin, self.cout);
        debug_assert!(input.len() >= rows * cin && out.len() >= rows * cout);
        let mut r = 0;
        // Four rows at a time share each weight row load; the per-output summation order is
        // unchanged (bias, then i = 0, 1, 2, ...).
        while r + 4 <= rows {
            let (o0, rest) = out[r * cout..(r + 4) * cout].split_at_mut(cout);
            let (o1, rest) = rest.split_at_mut(cout);
            let (o2, o3) = rest.split_at_mut(cout);
            for o in [&mut *o0, &mut *o1, &mut *o2, &mut *o3] {
                o.copy_from_slice(&self.bias);
            }
            let x = &input[r * cin..(r + 4) * cin];
            for i in 0..cin {
                let w = &self.wt[i * cout..(i + 1) * cout];
                let (x0, x1, x2, x3) = (x[i], x[cin + i], x[2 * cin + i], x[3 * cin + i]);
                for k in 0..cout {
                    let wk = w[k];
                    o0[k] += x0 * wk;
                    o1[k] += x1 * wk;
                    o2[k] += x2 * wk;
                    o3[k] += x3 * wk;
                }
            }
            r += 4;
        }
        while r < rows {
            let o = &mut out[r * cout..(r + 1) * cout];
            o.copy_from_slice(&self.bias);
            let x = &input[r * cin..(r + 1) * cin];
            for (i, &xi) in x.iter().enumerate() {
                let w = &self.wt[i * cout..(i + 1) * cout];
                for (ok, &wk) in o.iter_mut().zip(w) {
                    *ok += xi * wk;
                }
            }
            r += 1;
        }
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
        let (cin, cout) = (37, 19);
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
