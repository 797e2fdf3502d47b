//! Fused CPU ops recorded on dfdx's autodiff tape.
//!
//! dfdx 0.13 has no convolution on stable Rust and its composite ops are slow and memory
//! hungry for this network, so every layer is one hand-written op: the forward pass computes
//! with `gemm` and rayon, and pushes a backward closure onto a dfdx [`OwnedTape`] through
//! [`Tape::add_backward_op`]. Gradients live in dfdx's [`Gradients`], keyed by the id of a
//! one-element dfdx tensor that each [`Var`] and [`Param`] carries. dfdx then runs the
//! closures in reverse creation order.
//!
//! Activations are row-major matrices `(pixels, channels)`, pixels in NHWC order
//! `((image * H + row) * W + col)`.

use std::sync::Arc;

use dfdx::prelude::{Cpu, Tensor};
use dfdx::tensor::{CpuError, Gradients, OwnedTape, PutTape, Tape, TensorFromVec};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::gemm::{matmul, matmul_long_k, matmul_rows, Mat};

/// Result of a backward closure.
pub(crate) type BackResult = std::result::Result<(), CpuError>;

/// Elements per rayon task in flat elementwise loops.
const CHUNK: usize = 1 << 14;

/// A gradient slot in dfdx's [`Gradients`], keyed by the id of a one-element dfdx tensor.
///
/// The slot holds a `Vec` of `len` values that this module writes itself; dfdx only stores it
/// by id. (A slot dfdx allocated on its own holds one element and reads as "no gradient yet".)
/// Keying by a tiny tensor keeps activations from carrying a second, never-read buffer.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    id: Tensor<(usize,), f32, Cpu>,
    len: usize,
}

impl Key {
    fn new(dev: &Cpu, len: usize) -> Key {
        Key {
            id: dev.tensor_from_vec(vec![0.0f32], (1,)),
            len,
        }
    }

    /// Removes and returns the gradient (zeros if none was written yet).
    pub(crate) fn take(&self, grads: &mut Gradients<f32, Cpu>) -> Result<Vec<f32>, CpuError> {
        let slot: &mut Vec<f32> = &mut *grads.get_or_alloc_mut(&self.id)?;
        let v = std::mem::take(slot);
        Ok(if v.len() == self.len {
            v
        } else {
            vec![0.0; self.len]
        })
    }

    /// Stores a gradient taken with [`Key::take`].
    fn put(&self, grads: &mut Gradients<f32, Cpu>, value: Vec<f32>) -> BackResult {
        let slot: &mut Vec<f32> = &mut *grads.get_or_alloc_mut(&self.id)?;
        *slot = value;
        Ok(())
    }

    /// Adds `f(i)` to element `i` of the gradient, in parallel.
    pub(crate) fn accumulate(
        &self,
        grads: &mut Gradients<f32, Cpu>,
        f: impl Fn(&mut [f32], usize) + Sync,
    ) -> BackResult {
        let mut g = self.take(grads)?;
        g.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| f(chunk, i * CHUNK));
        self.put(grads, g)
    }
}

/// An activation: a row-major `(rows, cols)` matrix with a gradient slot.
#[derive(Clone, Debug)]
pub struct Var {
    pub(crate) data: Arc<Vec<f32>>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) key: Key,
    /// Whether gradients flow into this value (false for inputs and constants).
    pub(crate) grad: bool,
}

impl Var {
    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

/// A trainable tensor: its current value and its gradient slot.
#[derive(Clone, Debug)]
pub struct Param {
    pub(crate) value: Arc<Vec<f32>>,
    pub(crate) key: Key,
}

impl Param {
    pub(crate) fn new(dev: &Cpu, value: Vec<f32>) -> Param {
        let key = Key::new(dev, value.len());
        Param {
            value: Arc::new(value),
            key,
        }
    }

    /// The current values.
    pub fn value(&self) -> &[f32] {
        &self.value
    }
}

/// Geometry of a causal convolution: tap `(dy, dx)` of a `kh × kw` kernel at output pixel
/// `(i, j)` reads input pixel `(i + oy + dy, j + ox + dx)` (zero outside the tile). The bias
/// is added only at rows `i ≥ bias_row` and columns `j ≥ bias_col` (a shift applied after a
/// convolution fills the first row/column with zeros, bias included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ConvGeom {
    pub kh: usize,
    pub kw: usize,
    pub oy: isize,
    pub ox: isize,
    pub bias_row: usize,
    pub bias_col: usize,
}

impl ConvGeom {
    /// A 1×1 layer.
    pub const DENSE: ConvGeom = ConvGeom {
        kh: 1,
        kw: 1,
        oy: 0,
        ox: 0,
        bias_row: 0,
        bias_col: 0,
    };
    /// `down_shift(conv_1x3)`: taps at `(i-1, j-1+dx)`.
    pub const DOWN_1X3: ConvGeom = ConvGeom {
        kh: 1,
        kw: 3,
        oy: -1,
        ox: -1,
        bias_row: 1,
        bias_col: 0,
    };
    /// `right_shift(conv_2x1)`: taps at `(i-1+dy, j-1)`.
    pub const RIGHT_2X1: ConvGeom = ConvGeom {
        kh: 2,
        kw: 1,
        oy: -1,
        ox: -1,
        bias_row: 0,
        bias_col: 1,
    };
    /// 2×2 down-right causal conv: taps at `(i-1+dy, j-1+dx)`.
    pub const DOWN_RIGHT_2X2: ConvGeom = ConvGeom {
        kh: 2,
        kw: 2,
        oy: -1,
        ox: -1,
        bias_row: 0,
        bias_col: 0,
    };

    fn taps(&self) -> usize {
        self.kh * self.kw
    }

    fn is_dense(&self) -> bool {
        *self == ConvGeom::DENSE
    }

    #[inline]
    fn biased(&self, row: usize, h: usize, w: usize) -> bool {
        (row / w) % h >= self.bias_row && row % w >= self.bias_col
    }

    /// Source pixel of tap `t` for output `(i, j)`, if inside the tile.
    #[inline]
    fn source(&self, t: usize, i: usize, j: usize, h: usize, w: usize) -> Option<usize> {
        let si = i as isize + self.oy + (t / self.kw) as isize;
        let sj = j as isize + self.ox + (t % self.kw) as isize;
        (si >= 0 && si < h as isize && sj >= 0 && sj < w as isize)
            .then(|| si as usize * w + sj as usize)
    }
}

/// Image geometry of a batch of activations: `(images, height, width)`.
pub(crate) type Geom = (usize, usize, usize);

/// A vectorizable `exp` (range reduction to `2^n · 2^f` and a degree-6 polynomial; relative
/// error about 2e-7). Training only: the engine uses `libm`.
#[inline(always)]
pub(crate) fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E;
    let r = (t + 12_582_912.0) - 12_582_912.0; // round to nearest integer
    let f = t - r;
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5
                + f * (0.055_504_11
                    + f * (0.009_618_129 + f * (0.001_333_355 + f * 0.000_154_035_3)))));
    p * f32::from_bits(((r as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn elu(z: f32) -> f32 {
    if z > 0.0 {
        z
    } else {
        fast_exp(z) - 1.0
    }
}

/// `elu'(x)` from `y = elu(x)`.
#[inline(always)]
fn elu_grad_from_output(y: f32) -> f32 {
    if y > 0.0 {
        1.0
    } else {
        y + 1.0
    }
}

#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-z))
}

fn elu_all(x: &[f32]) -> Vec<f32> {
    let mut y = x.to_vec();
    y.par_chunks_mut(CHUNK).for_each(|c| {
        for v in c {
            *v = elu(*v);
        }
    });
    y
}

/// Conv weights `[out, in, kh, kw]` as the `(taps · in) × out` matrix of im2col rows
/// `(tap, channel)`.
fn weight_matrix(w: &[f32], out: usize, cin: usize, taps: usize) -> Vec<f32> {
    let mut m = vec![0f32; w.len()];
    for o in 0..out {
        for c in 0..cin {
            for t in 0..taps {
                m[(t * cin + c) * out + o] = w[(o * cin + c) * taps + t];
            }
        }
    }
    m
}

/// The inverse of [`weight_matrix`], added into `dw`.
fn add_weight_matrix_grad(dm: &[f32], dw: &mut [f32], out: usize, cin: usize, taps: usize) {
    for o in 0..out {
        for c in 0..cin {
            for t in 0..taps {
                dw[(o * cin + c) * taps + t] += dm[(t * cin + c) * out + o];
            }
        }
    }
}

/// `cols[pixel, (tap, c)]` from `x (pixels, cin)`.
fn im2col(x: &[f32], (_, h, w): Geom, cin: usize, g: &ConvGeom) -> Vec<f32> {
    let taps = g.taps();
    let kin = taps * cin;
    let mut cols = vec![0f32; x.len() / cin * kin];
    cols.par_chunks_mut(w * kin)
        .enumerate()
        .for_each(|(image_row, crow)| {
            let (img, i) = (image_row / h, image_row % h);
            let xi = &x[img * h * w * cin..(img + 1) * h * w * cin];
            for j in 0..w {
                for t in 0..taps {
                    if let Some(s) = g.source(t, i, j, h, w) {
                        crow[j * kin + t * cin..j * kin + (t + 1) * cin]
                            .copy_from_slice(&xi[s * cin..(s + 1) * cin]);
                    }
                }
            }
        });
    cols
}

/// `dx += col2im(dcols)`; parallel over images (a tap only reads its own image).
fn col2im_add(dcols: &[f32], (_, h, w): Geom, cin: usize, g: &ConvGeom, dx: &mut [f32]) {
    let taps = g.taps();
    let kin = taps * cin;
    dx.par_chunks_mut(h * w * cin)
        .zip(dcols.par_chunks(h * w * kin))
        .for_each(|(dx, dc)| {
            for i in 0..h {
                for j in 0..w {
                    let p = i * w + j;
                    for t in 0..taps {
                        if let Some(s) = g.source(t, i, j, h, w) {
                            let src = &dc[p * kin + t * cin..p * kin + (t + 1) * cin];
                            for (d, v) in dx[s * cin..(s + 1) * cin].iter_mut().zip(src) {
                                *d += *v;
                            }
                        }
                    }
                }
            }
        });
}

/// Records ops when training; a plain forward pass otherwise.
pub struct Graph {
    dev: Cpu,
    tape: Option<OwnedTape<f32, Cpu>>,
}

impl Graph {
    /// A graph that records a backward pass (`train = true`) or only computes forward.
    pub fn new(train: bool) -> Graph {
        Graph {
            dev: Cpu::default(),
            tape: train.then(OwnedTape::default),
        }
    }

    /// The dfdx device.
    pub fn device(&self) -> &Cpu {
        &self.dev
    }

    /// Whether a backward pass is being recorded.
    pub fn is_recording(&self) -> bool {
        self.tape.is_some()
    }

    pub(crate) fn record(
        &mut self,
        op: impl FnOnce(&mut Gradients<f32, Cpu>) -> BackResult + 'static,
    ) {
        if let Some(tape) = &mut self.tape {
            tape.add_backward_op(op);
        }
    }

    pub(crate) fn output(&self, data: Vec<f32>, rows: usize, cols: usize, grad: bool) -> Var {
        debug_assert_eq!(data.len(), rows * cols);
        Var {
            key: Key::new(&self.dev, rows * cols),
            data: Arc::new(data),
            rows,
            cols,
            grad: grad && self.is_recording(),
        }
    }

    /// A constant input (no gradient).
    pub fn constant(&self, data: Vec<f32>, rows: usize, cols: usize) -> Var {
        self.output(data, rows, cols, false)
    }

    /// A variable input whose gradient is wanted (for tests).
    pub fn input(&self, data: Vec<f32>, rows: usize, cols: usize) -> Var {
        self.output(data, rows, cols, true)
    }

    /// Runs the recorded backward pass from the scalar `loss` (seeded with gradient 1).
    ///
    /// # Errors
    /// dfdx's allocation errors.
    ///
    /// # Panics
    /// If the graph was not recording.
    pub fn backward(self, loss: &Var) -> Result<Gradients<f32, Cpu>, CpuError> {
        let n = loss.rows * loss.cols;
        self.backward_from(loss, vec![1.0; n])
    }

    /// Runs the recorded backward pass with `seed` as the gradient of `y`.
    pub(crate) fn backward_from(
        mut self,
        y: &Var,
        seed: Vec<f32>,
    ) -> Result<Gradients<f32, Cpu>, CpuError> {
        use dfdx::prelude::Backward;
        let key = y.key.clone();
        self.record(move |grads| key.put(grads, seed));
        let tape = self
            .tape
            .take()
            .expect("backward on a graph that does not record");
        let anchor: Tensor<(), f32, Cpu> = self.dev.tensor_from_vec(vec![0.0], ());
        anchor.put_tape(tape).try_backward()
    }

    /// Causal convolution (or 1×1 layer) of `x (pixels, cin)` with weights `[out, cin, kh, kw]`
    /// and an optional bias; with `elu_input` the op convolves `elu(x)`.
    pub(crate) fn conv(
        &mut self,
        x: &Var,
        geom: Geom,
        weight: &Param,
        bias: Option<&Param>,
        g: ConvGeom,
        elu_input: bool,
    ) -> Var {
        let (n, cin) = (x.rows, x.cols);
        let taps = g.taps();
        let kin = taps * cin;
        let out_c = weight.value.len() / kin;
        assert_eq!(out_c * kin, weight.value.len(), "conv weight size");
        assert_eq!(n, geom.0 * geom.1 * geom.2, "conv geometry");
        let xin: Arc<Vec<f32>> = if elu_input {
            Arc::new(elu_all(&x.data))
        } else {
            x.data.clone()
        };
        let wm = Arc::new(weight_matrix(&weight.value, out_c, cin, taps));
        let mut out = vec![0f32; n * out_c];
        if let Some(b) = bias {
            let (h, w) = (geom.1, geom.2);
            out.par_chunks_mut(out_c)
                .enumerate()
                .with_min_len(256)
                .for_each(|(r, o)| {
                    if g.biased(r, h, w) {
                        o.copy_from_slice(&b.value);
                    }
                });
        }
        {
            let cols;
            let a = if g.is_dense() {
                Mat::rows(&xin, cin)
            } else {
                cols = im2col(&xin, geom, cin, &g);
                Mat::rows(&cols, kin)
            };
            matmul_rows((n, out_c, kin), &mut out, true, a, Mat::rows(&wm, out_c));
        }
        let y = self.output(out, n, out_c, true);
        if !self.is_recording() {
            return y;
        }
        let (xk, wk, bk, yk) = (
            x.key.clone(),
            weight.key.clone(),
            bias.map(|b| b.key.clone()),
            y.key.clone(),
        );
        let x_grad = x.grad;
        self.record(move |grads| {
            let gout = yk.take(grads)?;
            let cols_buf;
            let a = if g.is_dense() {
                Mat::rows(&xin, cin)
            } else {
                cols_buf = im2col(&xin, geom, cin, &g);
                Mat::rows(&cols_buf, kin)
            };
            // dW = cols^T · gout
            let mut dwm = vec![0f32; kin * out_c];
            matmul_long_k(
                (kin, out_c, n),
                &mut dwm,
                Mat {
                    data: a.data,
                    rs: a.cs,
                    cs: a.rs,
                },
                Mat::rows(&gout, out_c),
            );
            let mut dw = wk.take(grads)?;
            add_weight_matrix_grad(&dwm, &mut dw, out_c, cin, taps);
            wk.put(grads, dw)?;
            if let Some(bk) = bk {
                let (h, w) = (geom.1, geom.2);
                let parts: Vec<Vec<f32>> = gout
                    .par_chunks(out_c * 1024)
                    .enumerate()
                    .map(|(ci, chunk)| {
                        let mut acc = vec![0f32; out_c];
                        for (ri, r) in chunk.chunks_exact(out_c).enumerate() {
                            if g.biased(ci * 1024 + ri, h, w) {
                                for (a, v) in acc.iter_mut().zip(r) {
                                    *a += *v;
                                }
                            }
                        }
                        acc
                    })
                    .collect();
                let mut db = bk.take(grads)?;
                for p in parts {
                    for (d, v) in db.iter_mut().zip(p) {
                        *d += v;
                    }
                }
                bk.put(grads, db)?;
            }
            if x_grad {
                // dcols = gout · Wm^T
                let mut dcols = vec![0f32; n * kin];
                matmul_rows(
                    (n, kin, out_c),
                    &mut dcols,
                    false,
                    Mat::rows(&gout, out_c),
                    Mat::rows_t(&wm, out_c),
                );
                drop(gout);
                let dxin = if g.is_dense() {
                    dcols
                } else {
                    let mut d = vec![0f32; n * cin];
                    col2im_add(&dcols, geom, cin, &g, &mut d);
                    d
                };
                xk.accumulate(grads, |dx, off| {
                    let src = &dxin[off..off + dx.len()];
                    if elu_input {
                        let y = &xin[off..off + dx.len()];
                        for ((d, s), y) in dx.iter_mut().zip(src).zip(y) {
                            *d += *s * elu_grad_from_output(*y);
                        }
                    } else {
                        for (d, s) in dx.iter_mut().zip(src) {
                            *d += *s;
                        }
                    }
                })?;
            }
            Ok(())
        });
        y
    }

    /// Elementwise `a + b`.
    pub(crate) fn add(&mut self, a: &Var, b: &Var) -> Var {
        assert_eq!(a.shape(), b.shape(), "add: shapes differ");
        let mut out = a.data.to_vec();
        out.par_chunks_mut(CHUNK)
            .zip(b.data.par_chunks(CHUNK))
            .for_each(|(o, b)| {
                for (o, b) in o.iter_mut().zip(b) {
                    *o += *b;
                }
            });
        let y = self.output(out, a.rows, a.cols, a.grad || b.grad);
        if y.grad {
            let (ak, bk, yk) = (a.key.clone(), b.key.clone(), y.key.clone());
            let (ag, bg) = (a.grad, b.grad);
            self.record(move |grads| {
                let gout = yk.take(grads)?;
                for (k, on) in [(ak, ag), (bk, bg)] {
                    if on {
                        k.accumulate(grads, |d, off| {
                            for (d, g) in d.iter_mut().zip(&gout[off..]) {
                                *d += *g;
                            }
                        })?;
                    }
                }
                Ok(())
            });
        }
        y
    }

    /// Elementwise ELU.
    pub(crate) fn elu(&mut self, x: &Var) -> Var {
        let out = Arc::new(elu_all(&x.data));
        let y = self.output(out.to_vec(), x.rows, x.cols, x.grad);
        if y.grad {
            let (xk, yk) = (x.key.clone(), y.key.clone());
            self.record(move |grads| {
                let gout = yk.take(grads)?;
                xk.accumulate(grads, |d, off| {
                    for ((d, g), y) in d.iter_mut().zip(&gout[off..]).zip(&out[off..]) {
                        *d += *g * elu_grad_from_output(*y);
                    }
                })
            });
        }
        y
    }

    /// Gated residual `u + c[.., ..C] * sigmoid(c[.., C..])` for `u (N, C)`, `c (N, 2C)`.
    pub(crate) fn gate(&mut self, u: &Var, c: &Var) -> Var {
        let ch = u.cols;
        assert_eq!(c.shape(), (u.rows, 2 * ch), "gate: shapes");
        let mut out = u.data.to_vec();
        let rows = (CHUNK / ch).max(1);
        out.par_chunks_mut(rows * ch)
            .zip(c.data.par_chunks(rows * 2 * ch))
            .for_each(|(o, cc)| {
                for (o, cc) in o.chunks_exact_mut(ch).zip(cc.chunks_exact(2 * ch)) {
                    let (a, g) = cc.split_at(ch);
                    for i in 0..ch {
                        o[i] += a[i] * sigmoid(g[i]);
                    }
                }
            });
        let y = self.output(out, u.rows, ch, u.grad || c.grad);
        if y.grad {
            let (uk, ck, yk) = (u.key.clone(), c.key.clone(), y.key.clone());
            let (ug, cg) = (u.grad, c.grad);
            let cv = c.data.clone();
            self.record(move |grads| {
                let gout = yk.take(grads)?;
                if ug {
                    uk.accumulate(grads, |d, off| {
                        for (d, g) in d.iter_mut().zip(&gout[off..]) {
                            *d += *g;
                        }
                    })?;
                }
                if cg {
                    let mut dc = ck.take(grads)?;
                    dc.par_chunks_mut(rows * 2 * ch)
                        .zip(cv.par_chunks(rows * 2 * ch))
                        .zip(gout.par_chunks(rows * ch))
                        .for_each(|((dc, cc), g)| {
                            for ((dc, cc), g) in dc
                                .chunks_exact_mut(2 * ch)
                                .zip(cc.chunks_exact(2 * ch))
                                .zip(g.chunks_exact(ch))
                            {
                                for i in 0..ch {
                                    let s = sigmoid(cc[ch + i]);
                                    dc[i] += g[i] * s;
                                    dc[ch + i] += g[i] * cc[i] * s * (1.0 - s);
                                }
                            }
                        });
                    ck.put(grads, dc)?;
                }
                Ok(())
            });
        }
        y
    }

    /// Concatenation along channels.
    pub(crate) fn concat(&mut self, parts: &[&Var]) -> Var {
        let rows = parts[0].rows;
        assert!(
            parts.iter().all(|p| p.rows == rows),
            "concat: row counts differ"
        );
        let cols: usize = parts.iter().map(|p| p.cols).sum();
        let mut out = vec![0f32; rows * cols];
        out.par_chunks_mut(cols).enumerate().for_each(|(r, o)| {
            let mut off = 0;
            for p in parts {
                o[off..off + p.cols].copy_from_slice(&p.data[r * p.cols..(r + 1) * p.cols]);
                off += p.cols;
            }
        });
        let y = self.output(out, rows, cols, parts.iter().any(|p| p.grad));
        if y.grad {
            let yk = y.key.clone();
            let inputs: Vec<(Key, usize, bool)> = parts
                .iter()
                .map(|p| (p.key.clone(), p.cols, p.grad))
                .collect();
            self.record(move |grads| {
                let gout = yk.take(grads)?;
                let mut off = 0;
                for (k, c, on) in inputs {
                    if on {
                        let mut d = k.take(grads)?;
                        d.par_chunks_mut(c).enumerate().for_each(|(r, d)| {
                            for (d, g) in d.iter_mut().zip(&gout[r * cols + off..]) {
                                *d += *g;
                            }
                        });
                        k.put(grads, d)?;
                    }
                    off += c;
                }
                Ok(())
            });
        }
        y
    }

    /// Inverted dropout with probability `p`, mask drawn from `seed`.
    pub(crate) fn dropout(&mut self, x: &Var, p: f32, seed: u64) -> Var {
        if p <= 0.0 || !self.is_recording() {
            return x.clone();
        }
        let keep = 1.0 / (1.0 - p);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let mask: Arc<Vec<f32>> = Arc::new(
            (0..x.data.len())
                .map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep })
                .collect(),
        );
        let out: Vec<f32> = x.data.iter().zip(mask.iter()).map(|(a, m)| a * m).collect();
        let y = self.output(out, x.rows, x.cols, x.grad);
        if y.grad {
            let (xk, yk) = (x.key.clone(), y.key.clone());
            self.record(move |grads| {
                let gout = yk.take(grads)?;
                xk.accumulate(grads, |d, off| {
                    for ((d, g), m) in d.iter_mut().zip(&gout[off..]).zip(&mask[off..]) {
                        *d += *g * *m;
                    }
                })
            });
        }
        y
    }

    /// Strictly causal single-head attention over the raster order of each image:
    /// `q, k (B·L, dk)`, `v (B·L, dv)` -> `(B·L, dv)`; position `p` attends to `p' < p` with
    /// logits `q·k / sqrt(dk)`; position 0 gets zeros.
    pub(crate) fn attention(&mut self, q: &Var, k: &Var, v: &Var, images: usize) -> Var {
        let l = q.rows / images;
        let (dk, dv) = (q.cols, v.cols);
        assert_eq!(k.shape(), q.shape(), "attention: q/k shapes");
        assert_eq!(v.rows, q.rows, "attention: v rows");
        let scale = 1.0 / (dk as f32).sqrt();
        let mut probs = vec![0f32; images * l * l];
        let mut out = vec![0f32; images * l * dv];
        probs
            .par_chunks_mut(l * l)
            .zip(out.par_chunks_mut(l * dv))
            .enumerate()
            .for_each(|(b, (pb, ob))| {
                let qb = &q.data[b * l * dk..(b + 1) * l * dk];
                let kb = &k.data[b * l * dk..(b + 1) * l * dk];
                let vb = &v.data[b * l * dv..(b + 1) * l * dv];
                for r0 in (0..l).step_by(ATT_BLOCK) {
                    let r1 = (r0 + ATT_BLOCK).min(l);
                    let m = r1 - r0;
                    // logits of rows r0..r1 against keys 0..r1 (the rest is masked anyway)
                    let mut s = vec![0f32; m * r1];
                    matmul(
                        (m, r1, dk),
                        &mut s,
                        false,
                        Mat::rows(&qb[r0 * dk..], dk),
                        Mat::rows_t(kb, dk),
                        false,
                    );
                    for (ri, srow) in s.chunks_exact(r1).enumerate() {
                        let i = r0 + ri;
                        let prow = &mut pb[i * l..i * l + i];
                        if i == 0 {
                            continue;
                        }
                        let mx = srow[..i].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                        let mut sum = 0f32;
                        for (p, &z) in prow.iter_mut().zip(&srow[..i]) {
                            *p = fast_exp((z - mx) * scale);
                            sum += *p;
                        }
                        let inv = 1.0 / sum;
                        for p in prow.iter_mut() {
                            *p *= inv;
                        }
                    }
                    matmul(
                        (m, dv, r1),
                        &mut ob[r0 * dv..r1 * dv],
                        false,
                        Mat {
                            data: &pb[r0 * l..],
                            rs: l,
                            cs: 1,
                        },
                        Mat::rows(vb, dv),
                        false,
                    );
                }
            });
        let y = self.output(out, q.rows, dv, q.grad || k.grad || v.grad);
        if !y.grad {
            return y;
        }
        let (qk, kk, vk, yk) = (q.key.clone(), k.key.clone(), v.key.clone(), y.key.clone());
        let (qv, kv, vv) = (q.data.clone(), k.data.clone(), v.data.clone());
        self.record(move |grads| {
            let go = yk.take(grads)?;
            let mut dq = qk.take(grads)?;
            let mut dkv = kk.take(grads)?;
            let mut dvv = vk.take(grads)?;
            dq.par_chunks_mut(l * dk)
                .zip(dkv.par_chunks_mut(l * dk))
                .zip(dvv.par_chunks_mut(l * dv))
                .enumerate()
                .for_each(|(b, ((dqb, dkb), dvb))| {
                    let pb = &probs[b * l * l..(b + 1) * l * l];
                    let gob = &go[b * l * dv..(b + 1) * l * dv];
                    let qb = &qv[b * l * dk..(b + 1) * l * dk];
                    let kb = &kv[b * l * dk..(b + 1) * l * dk];
                    let vb = &vv[b * l * dv..(b + 1) * l * dv];
                    for r0 in (0..l).step_by(ATT_BLOCK) {
                        let r1 = (r0 + ATT_BLOCK).min(l);
                        let m = r1 - r0;
                        let goblk = Mat::rows(&gob[r0 * dv..], dv);
                        // dV[0..r1] += P_blk^T dO_blk
                        matmul(
                            (r1, dv, m),
                            &mut dvb[..r1 * dv],
                            true,
                            Mat {
                                data: &pb[r0 * l..],
                                rs: 1,
                                cs: l,
                            },
                            goblk,
                            false,
                        );
                        // dP = dO_blk V[0..r1]^T
                        let mut ds = vec![0f32; m * r1];
                        matmul(
                            (m, r1, dv),
                            &mut ds,
                            false,
                            goblk,
                            Mat::rows_t(vb, dv),
                            false,
                        );
                        // dS = scale · P ∘ (dP − rowsum(P ∘ dP))
                        for (ri, drow) in ds.chunks_exact_mut(r1).enumerate() {
                            let i = r0 + ri;
                            let prow = &pb[i * l..i * l + i];
                            let dot: f32 = prow.iter().zip(&drow[..i]).map(|(p, d)| p * d).sum();
                            for (d, p) in drow[..i].iter_mut().zip(prow) {
                                *d = scale * p * (*d - dot);
                            }
                            drow[i..].fill(0.0);
                        }
                        // dQ_blk += dS K[0..r1];  dK[0..r1] += dS^T Q_blk
                        matmul(
                            (m, dk, r1),
                            &mut dqb[r0 * dk..r1 * dk],
                            true,
                            Mat::rows(&ds, r1),
                            Mat::rows(kb, dk),
                            false,
                        );
                        matmul(
                            (r1, dk, m),
                            &mut dkb[..r1 * dk],
                            true,
                            Mat::rows_t(&ds, r1),
                            Mat::rows(&qb[r0 * dk..], dk),
                            false,
                        );
                    }
                });
            // Inputs without gradients get theirs written too; nothing reads them.
            qk.put(grads, dq)?;
            kk.put(grads, dkv)?;
            vk.put(grads, dvv)?;
            Ok(())
        });
        y
    }
}

/// Rows per block in the attention op: logits are only computed against keys before the
/// block's end, which halves the work of a full `L × L` product.
const ATT_BLOCK: usize = 128;
