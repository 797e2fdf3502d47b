//! The discretized logistic mixture likelihood of PixelCNN++ as one fused op, in bits/dim.
//!
//! For each pixel, the network's `10K` outputs (layout in [`crate::config`]) define a
//! mixture of `K` components, each a product over R, G, B of discretized logistics whose
//! means depend linearly on the earlier channels of the same pixel:
//! `μ_G += α x_R`, `μ_B += β x_R + γ x_G` with `α, β, γ = tanh(raw)`. A value's probability is
//! the logistic CDF mass of its bin `[x - 1/255, x + 1/255]`, with the outer bins extended to
//! ±∞; where that mass is below `1e-5` the log-density at the bin centre minus `log(127.5)`
//! stands in (PixelCNN++'s guard against `log(0)`). Log-scales are clamped below at −7.
//! Values and gradients are computed in `f64` and written back as `f32`.

use std::sync::Arc;

use rayon::prelude::*;

use super::ops::{Graph, Var};

const LN2: f64 = std::f64::consts::LN_2;

#[inline]
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[inline]
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// `log P(v)` of one discretized logistic, with `d/dμ` and `d/ds` (s = log-scale).
#[inline]
fn log_bin(v: u8, mu: f64, s: f64) -> (f64, f64, f64) {
    let x = f64::from(v) / 127.5 - 1.0;
    let centered = x - mu;
    let inv = (-s).exp();
    let plus = inv * (centered + 1.0 / 255.0);
    let minus = inv * (centered - 1.0 / 255.0);
    if v == 0 {
        // log σ(plus)
        let d = sigmoid(-plus);
        (-softplus(-plus), -inv * d, -plus * d)
    } else if v == 255 {
        // log(1 − σ(minus))
        let d = -sigmoid(minus);
        (-softplus(minus), -inv * d, -minus * d)
    } else {
        let (sp, sm) = (sigmoid(plus), sigmoid(minus));
        let delta = sp - sm;
        if delta > 1e-5 {
            let dp = sp * (1.0 - sp) / delta;
            let dm = -sm * (1.0 - sm) / delta;
            (delta.ln(), -inv * (dp + dm), -(plus * dp + minus * dm))
        } else {
            let mid = inv * centered;
            let lp = mid - s - 2.0 * softplus(mid) - 127.5f64.ln();
            let d = 1.0 - 2.0 * sigmoid(mid);
            (lp, -inv * d, -mid * d - 1.0)
        }
    }
}

/// Negative log-likelihood (nats) of one pixel `v = [R, G, B]` under the `10K` parameters
/// `l`; writes `d nll / d l` into `grad` when given.
pub fn pixel_nll(l: &[f32], v: [u8; 3], k: usize, grad: Option<&mut [f32]>) -> f64 {
    debug_assert_eq!(l.len(), 10 * k);
    let x = v.map(|c| f64::from(c) / 127.5 - 1.0);
    let p = |i: usize| f64::from(l[i]);
    let logit_max = (0..k).map(p).fold(f64::NEG_INFINITY, f64::max);
    let logit_lse = logit_max + (0..k).map(|i| (p(i) - logit_max).exp()).sum::<f64>().ln();
    // per component: total log-prob and the pieces needed for the gradient
    let mut total = [0f64; 64];
    let mut parts = [[0f64; 6]; 64]; // dμ_c, ds_c
    let mut tanh = [[0f64; 3]; 64];
    assert!(k <= 64, "at most 64 mixture components");
    for j in 0..k {
        let t = [
            p(7 * k + j).tanh(),
            p(8 * k + j).tanh(),
            p(9 * k + j).tanh(),
        ];
        let mu = [
            p(k + j),
            p(2 * k + j) + t[0] * x[0],
            p(3 * k + j) + t[1] * x[0] + t[2] * x[1],
        ];
        let mut lp = p(j) - logit_lse;
        for c in 0..3 {
            let s = p(4 * k + c * k + j).max(-7.0);
            let (l, dmu, ds) = log_bin(v[c], mu[c], s);
            lp += l;
            parts[j][c] = dmu;
            parts[j][3 + c] = ds;
        }
        total[j] = lp;
        tanh[j] = t;
    }
    let tmax = total[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = tmax
        + total[..k]
            .iter()
            .map(|t| (t - tmax).exp())
            .sum::<f64>()
            .ln();
    if let Some(g) = grad {
        for j in 0..k {
            let w = (total[j] - lse).exp();
            let soft = (p(j) - logit_lse).exp();
            g[j] = (soft - w) as f32;
            let dmu = [-w * parts[j][0], -w * parts[j][1], -w * parts[j][2]];
            for c in 0..3 {
                g[k + c * k + j] = dmu[c] as f32;
                let raw = p(4 * k + c * k + j);
                g[4 * k + c * k + j] = if raw > -7.0 {
                    (-w * parts[j][3 + c]) as f32
                } else {
                    0.0
                };
            }
            let t = tanh[j];
            g[7 * k + j] = (dmu[1] * x[0] * (1.0 - t[0] * t[0])) as f32;
            g[8 * k + j] = (dmu[2] * x[0] * (1.0 - t[1] * t[1])) as f32;
            g[9 * k + j] = (dmu[2] * x[1] * (1.0 - t[2] * t[2])) as f32;
        }
    }
    -lse
}

impl Graph {
    /// Mean negative log-likelihood in bits per subpixel of `pixels` (`(N, 3)` u8, row-major)
    /// under the mixture parameters `params (N, 10K)`: a `(1, 1)` result.
    pub(crate) fn mixture_bits_per_dim(&mut self, params: &Var, pixels: Arc<Vec<u8>>) -> Var {
        let n = params.rows;
        let k = params.cols / 10;
        assert_eq!(params.cols, 10 * k, "mixture output width");
        assert_eq!(pixels.len(), 3 * n, "pixel count");
        let recording = self.is_recording() && params.grad;
        let mut grad = if recording {
            vec![0f32; n * 10 * k]
        } else {
            Vec::new()
        };
        let per_row = 64;
        let nll: f64 = if recording {
            grad.par_chunks_mut(per_row * 10 * k)
                .enumerate()
                .map(|(ci, g)| {
                    g.chunks_exact_mut(10 * k)
                        .enumerate()
                        .map(|(ri, g)| {
                            let r = ci * per_row + ri;
                            let v = [pixels[3 * r], pixels[3 * r + 1], pixels[3 * r + 2]];
                            pixel_nll(&params.data[r * 10 * k..(r + 1) * 10 * k], v, k, Some(g))
                        })
                        .sum::<f64>()
                })
                .sum()
        } else {
            (0..n)
                .into_par_iter()
                .with_min_len(per_row)
                .map(|r| {
                    let v = [pixels[3 * r], pixels[3 * r + 1], pixels[3 * r + 2]];
                    pixel_nll(&params.data[r * 10 * k..(r + 1) * 10 * k], v, k, None)
                })
                .sum()
        };
        let denom = (3 * n) as f64 * LN2;
        let y = self.output(vec![(nll / denom) as f32], 1, 1, recording);
        if recording {
            let (pk, yk) = (params.key.clone(), y.key.clone());
            self.record(move |grads| {
                let gout = yk.take(grads)?[0];
                let scale = gout / denom as f32;
                pk.accumulate(grads, |d, off| {
                    for (d, g) in d.iter_mut().zip(&grad[off..]) {
                        *d += *g * scale;
                    }
                })
            });
        }
        y
    }
}
