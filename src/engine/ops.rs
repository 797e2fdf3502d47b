//! Deterministic numeric kernels of the inference engine.
//!
//! Every output value is computed by one fixed sequence of IEEE-754 f32 operations that does
//! not depend on the CPU, the SIMD width, the batch size or the thread count: products are
//! summed strictly in input order starting from the bias, vectorization only ever runs across
//! *independent* outputs (lanes), a product joins its sum by a fused multiply-add exactly
//! where the model's [`MulAdd`] says so (Rust never contracts `a * b + c` on its own), and
//! transcendental functions come from the pure-Rust `libm` crate.

use crate::arith::{expo, fused, half, multiversion};
pub use crate::arith::{Half, Isa};
pub use crate::config::MulAdd;

/// Outputs per register block.
const PANEL: usize = 16;

/// A dense layer with its weights stored input-major (`wt[i * cout + o]`), so that the inner
/// loop runs over independent outputs and vectorizes lane-wise.
#[derive(Clone, Debug)]
pub struct Linear {
    /// Number of inputs.
    pub cin: usize,
    /// Number of outputs.
    pub cout: usize,
    /// Weights, `[cin][cout]`.
    wt: Vec<f32>,
    /// Bias, `[cout]`.
    pub bias: Vec<f32>,
    /// How each product joins its sum.
    mul_add: MulAdd,
}

impl Linear {
    /// A layer from weights `wt` stored input-major, `wt[i * cout + o]`.
    pub fn new(cin: usize, cout: usize, wt: &[f32], bias: Vec<f32>) -> Linear {
        assert!(wt.len() == cin * cout && bias.len() == cout);
        Linear {
            cin,
            cout,
            wt: wt.to_vec(),
            bias,
            mul_add: MulAdd::Separate,
        }
    }

    /// Joins the layer's products to their sums as `mul_add` says (new layers: separately).
    pub fn set_mul_add(&mut self, mul_add: MulAdd) {
        self.mul_add = mul_add;
    }

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
        Linear::new(cin, cout, &wt, bias)
    }

    /// `out[r][o] = bias[o] + Σ_i input[r][i] · wt[i][o]`, summed in ascending `i`, for
    /// `rows` rows, each product added as the layer's [`MulAdd`] says. Register blocks are
    /// sized per instruction set (8 rows with AVX-512's 32 registers, 6 with AVX2, 4
    /// otherwise); the sum of each output is the same at every size.
    pub fn forward(&self, isa: Isa, input: &[f32], rows: usize, out: &mut [f32]) {
        linear(isa, self, input, rows, out, self.mul_add);
    }
}

multiversion! {
    fn linear(layer: &Linear, input: &[f32], rows: usize, out: &mut [f32], mul_add: MulAdd) {
        avx512: match mul_add {
            MulAdd::Separate => linear_avx512::<Separate>(layer, input, rows, out),
            MulAdd::Fused => linear_avx512::<Fused>(layer, input, rows, out),
        },
        avx2: match mul_add {
            MulAdd::Separate => linear_avx2::<Separate>(layer, input, rows, out),
            MulAdd::Fused => linear_avx2::<Fused>(layer, input, rows, out),
        },
        portable: match mul_add {
            MulAdd::Separate => linear_kernel::<4, Separate>(layer, input, rows, out),
            MulAdd::Fused => linear_kernel::<4, FusedPortable>(layer, input, rows, out),
        },
    }
}

/// How a kernel joins each product to its running sum (a model's [`MulAdd`]). Rust never
/// contracts `acc + x * w` on its own, so the choice is always this type's.
pub(crate) trait Join {
    /// Whether the product is rounded with the sum, once (read by the x86 hand kernels).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    const FUSED: bool;
    /// `acc + x · w`.
    fn madd(acc: f32, x: f32, w: f32) -> f32;
}

/// An IEEE multiply, then an IEEE add ([`MulAdd::Separate`]).
pub(crate) struct Separate;

/// One fused multiply-add by `f32::mul_add`, in kernels compiled for a level whose CPUs have
/// the instruction ([`MulAdd::Fused`]).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the x86 levels use it
pub(crate) struct Fused;

/// One fused multiply-add in the portable kernels: the same number as [`Fused`], computed by
/// the instruction where the target always has one and from f64 operations where it may not
/// (see [`fused`](crate::arith::fused)).
pub(crate) struct FusedPortable;

impl Join for Separate {
    const FUSED: bool = false;
    #[inline(always)]
    fn madd(acc: f32, x: f32, w: f32) -> f32 {
        acc + x * w
    }
}

impl Join for Fused {
    const FUSED: bool = true;
    #[inline(always)]
    fn madd(acc: f32, x: f32, w: f32) -> f32 {
        x.mul_add(w, acc)
    }
}

impl Join for FusedPortable {
    const FUSED: bool = true;
    #[inline(always)]
    fn madd(acc: f32, x: f32, w: f32) -> f32 {
        fused::mul_add_portable(x, w, acc)
    }
}

/// One register block: `R` rows × `C` outputs, accumulated in registers over all inputs in
/// ascending order from weights `w[i * stride + c]`, written to outputs `o0..o0 + C`.
#[inline(always)]
fn block<const R: usize, const C: usize, J: Join>(
    layer: &Linear,
    x: &[f32],
    (w, stride): (&[f32], usize),
    o0: usize,
    out: &mut [f32],
) {
    let (cin, cout) = (layer.cin, layer.cout);
    let mut acc = [[0.0f32; C]; R];
    for row in acc.iter_mut() {
        row.copy_from_slice(&layer.bias[o0..o0 + C]);
    }
    for i in 0..cin {
        let w: &[f32; C] = w[i * stride..i * stride + C]
            .try_into()
            .expect("block width");
        for r in 0..R {
            let xv = x[r * cin + i];
            for c in 0..C {
                acc[r][c] = J::madd(acc[r][c], xv, w[c]);
            }
        }
    }
    for r in 0..R {
        out[r * cout + o0..r * cout + o0 + C].copy_from_slice(&acc[r]);
    }
}

#[inline(always)]
fn row_block<const R: usize, J: Join>(layer: &Linear, x: &[f32], out: &mut [f32]) {
    let cout = layer.cout;
    let mut o0 = 0;
    while o0 + PANEL <= cout {
        block::<R, PANEL, J>(layer, x, (&layer.wt[o0..], cout), o0, out);
        o0 += PANEL;
    }
    while o0 < cout {
        block::<R, 1, J>(layer, x, (&layer.wt[o0..], cout), o0, out);
        o0 += 1;
    }
}

/// The dense layer with AVX-512: 8-row blocks by hand (see [`super::avx512`]), the rest
/// with the portable blocks.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn linear_avx512<J: Join>(layer: &Linear, input: &[f32], rows: usize, out: &mut [f32]) {
    use super::avx512::{block as hand, ROWS};
    let (cin, cout) = (layer.cin, layer.cout);
    assert!(input.len() >= rows * cin && out.len() >= rows * cout);
    let full = rows / ROWS * ROWS;
    for r in (0..full).step_by(ROWS) {
        let x = &input[r * cin..(r + ROWS) * cin];
        let o = &mut out[r * cout..(r + ROWS) * cout];
        let mut o0 = 0;
        // SAFETY (all three calls): the CPU supports AVX-512F (this function's contract).
        while o0 + 32 <= cout {
            unsafe { hand::<2, J>(&layer.wt, &layer.bias, (cin, cout), x, o0, o) };
            o0 += 32;
        }
        while o0 + 16 <= cout {
            unsafe { hand::<1, J>(&layer.wt, &layer.bias, (cin, cout), x, o0, o) };
            o0 += 16;
        }
        while o0 < cout {
            block::<ROWS, 1, J>(layer, x, (&layer.wt[o0..], cout), o0, o);
            o0 += 1;
        }
    }
    linear_kernel::<4, J>(
        layer,
        &input[full * cin..],
        rows - full,
        &mut out[full * cout..],
    );
}

/// The dense layer with AVX2: 6-row blocks by hand (see [`super::avx2`]), the rest with the
/// portable blocks.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn linear_avx2<J: Join>(layer: &Linear, input: &[f32], rows: usize, out: &mut [f32]) {
    use super::avx2::{block as hand, ROWS};
    let (cin, cout) = (layer.cin, layer.cout);
    assert!(input.len() >= rows * cin && out.len() >= rows * cout);
    let full = rows / ROWS * ROWS;
    for r in (0..full).step_by(ROWS) {
        let x = &input[r * cin..(r + ROWS) * cin];
        let o = &mut out[r * cout..(r + ROWS) * cout];
        let mut o0 = 0;
        while o0 + 16 <= cout {
            // SAFETY: the CPU supports AVX2 and FMA (this function's contract).
            unsafe { hand::<J>(&layer.wt, &layer.bias, (cin, cout), x, o0, o) };
            o0 += 16;
        }
        while o0 < cout {
            block::<ROWS, 1, J>(layer, x, (&layer.wt[o0..], cout), o0, o);
            o0 += 1;
        }
    }
    linear_kernel::<4, J>(
        layer,
        &input[full * cin..],
        rows - full,
        &mut out[full * cout..],
    );
}

#[inline(always)]
fn linear_kernel<const R: usize, J: Join>(
    layer: &Linear,
    input: &[f32],
    rows: usize,
    out: &mut [f32],
) {
    let (cin, cout) = (layer.cin, layer.cout);
    assert!(input.len() >= rows * cin && out.len() >= rows * cout);
    let mut r = 0;
    while r + R <= rows {
        row_block::<R, J>(
            layer,
            &input[r * cin..(r + R) * cin],
            &mut out[r * cout..(r + R) * cout],
        );
        r += R;
    }
    while r + 2 <= rows {
        row_block::<2, J>(
            layer,
            &input[r * cin..(r + 2) * cin],
            &mut out[r * cout..(r + 2) * cout],
        );
        r += 2;
    }
    while r < rows {
        row_block::<1, J>(
            layer,
            &input[r * cin..(r + 1) * cin],
            &mut out[r * cout..(r + 1) * cout],
        );
        r += 1;
    }
}

/// Positions per block of the key cache layout.
pub const KEY_BLOCK: usize = 16;
/// Key blocks whose scores are accumulated at once (independent chains).
const KEY_GROUP: usize = 4;
/// Value dimensions accumulated in registers at once.
const VALUE_BLOCK: usize = 64;

/// Index of key dimension `d` of position `j` in the blocked key cache: blocks of
/// [`KEY_BLOCK`] positions, each stored `[key_size][KEY_BLOCK]`, so a block's scores read one
/// contiguous run of memory.
#[inline]
pub fn key_index(j: usize, d: usize, dk: usize) -> usize {
    ((j / KEY_BLOCK) * dk + d) * KEY_BLOCK + j % KEY_BLOCK
}

/// Shapes of one [`attend`] call: every tile of a batch attends over its first `positions`
/// cached positions.
#[derive(Clone, Copy, Debug)]
pub struct AttendShape {
    /// Tiles in the batch.
    pub tiles: usize,
    /// Cached positions attended to (at least 1).
    pub positions: usize,
    /// Key (and query) size.
    pub key_size: usize,
    /// Value size.
    pub value_size: usize,
    /// Numbers from one tile's key cache to the next's (see [`key_index`]).
    pub key_stride: usize,
    /// Numbers from one tile's value cache (`[positions][value_size]`) to the next's.
    pub value_stride: usize,
    /// Floats from one tile's output row to the next's.
    pub out_stride: usize,
}

impl AttendShape {
    /// Floats of the `scores` scratch an [`attend`] call needs.
    pub fn scores_len(&self) -> usize {
        AttendShape::scores_len_for(self.positions)
    }

    /// Floats of the `scores` scratch for every call over up to `positions` positions.
    pub fn scores_len_for(positions: usize) -> usize {
        TILES_AT_ONCE * positions.div_ceil(KEY_BLOCK) * KEY_BLOCK
    }
}

/// Tiles whose weighted values are summed in one pass (independent chains of additions).
const TILES_AT_ONCE: usize = 2;

multiversion! {
    /// Causal attention of each tile's query (`q`, `[tiles][key_size]`) over its cached
    /// keys and values: `out = Σ_j softmax_j(q · k_j · scale) v_j` for `j <` `positions`,
    /// written to `out[t * out_stride..][..value_size]`. Keys are stored in blocks (see
    /// [`key_index`]) so that scores for many positions are computed lane-wise. Each score
    /// is summed over `d` in ascending order, the softmax normalizer and every output over
    /// `j` in ascending order, exactly as scalar loops would; `scaling` is the scores' scale
    /// and how each product joins its sum. `exp` is `libm`'s `expf`.
    pub fn attend(
        q: &[f32],
        keys_t: &[f32],
        values: &[f32],
        shape: AttendShape,
        scaling: (f32, MulAdd),
        scores: &mut [f32],
        out: &mut [f32],
    ) {
        avx512: attend_kernel::<2, Fused, _>(q, (keys_t, values), shape, scaling, scores, out,
            |x| *x),
        avx2: attend_kernel::<1, Fused, _>(q, (keys_t, values), shape, scaling, scores, out,
            |x| *x),
        portable: attend_kernel::<2, FusedPortable, _>(q, (keys_t, values), shape, scaling, scores,
            out, |x| *x),
    }
}

multiversion! {
    /// [`attend`] over keys and values stored as binary16 ([`Half`]): every cached number is
    /// widened exactly to f32 (by `vcvtph2ps` where the CPU has it) and then takes part in
    /// exactly the operations of [`attend`].
    pub fn attend_half(
        q: &[f32],
        keys_t: &[Half],
        values: &[Half],
        shape: AttendShape,
        scaling: (f32, MulAdd),
        scores: &mut [f32],
        out: &mut [f32],
    ) {
        // SAFETY (both SIMD arms): the closures run inside this level's function, on a CPU
        // that has the level's instruction set.
        avx512: attend_kernel::<2, Fused, _>(q, (keys_t, values), shape, scaling, scores, out,
            |h| unsafe { half::widen16_avx512(h) }),
        avx2: attend_kernel::<1, Fused, _>(q, (keys_t, values), shape, scaling, scores, out,
            |h| unsafe { half::widen16_f16c(h) }),
        portable: attend_kernel::<2, FusedPortable, _>(q, (keys_t, values), shape, scaling, scores,
            out, half::widen16),
    }
}

/// A number as the attention cache stores it.
pub trait Cached: Copy {
    /// Its exact f32 value.
    fn value(self) -> f32;
}

impl Cached for f32 {
    #[inline(always)]
    fn value(self) -> f32 {
        self
    }
}

impl Cached for Half {
    #[inline(always)]
    fn value(self) -> f32 {
        self.to_f32()
    }
}

/// Scores of `G` consecutive key blocks starting at position `j0`.
#[inline(always)]
fn score_blocks<const G: usize, J: Join, T: Cached>(
    q: &[f32],
    keys_t: &[T],
    (j0, dk): (usize, usize),
    widen: &impl Fn(&[T; 16]) -> [f32; 16],
    s: &mut [f32],
) {
    let kb = &keys_t[j0 * dk..(j0 + G * KEY_BLOCK) * dk];
    let mut acc = [[0.0f32; KEY_BLOCK]; G];
    for d in 0..dk {
        let qd = q[d];
        for (g, a) in acc.iter_mut().enumerate() {
            let at = (g * dk + d) * KEY_BLOCK;
            let kd = widen(kb[at..at + KEY_BLOCK].try_into().expect("block width"));
            for c in 0..KEY_BLOCK {
                a[c] = J::madd(a[c], qd, kd[c]);
            }
        }
    }
    for (g, a) in acc.iter().enumerate() {
        s[j0 + g * KEY_BLOCK..j0 + (g + 1) * KEY_BLOCK].copy_from_slice(a);
    }
}

/// `s[j] = exp(q · k_j · scale - max)` for the first `p` positions of one tile's key
/// cache; `s` holds `p` rounded up to whole key blocks (the last block's extra lanes are
/// scratch: each lane is its own score).
#[inline(always)]
fn exp_scores<J: Join, T: Cached>(
    q: &[f32],
    keys_t: &[T],
    (p, dk): (usize, usize),
    scale: f32,
    widen: &impl Fn(&[T; 16]) -> [f32; 16],
    s: &mut [f32],
) {
    // scores, blocks of 16 positions held in registers across the key dimension
    let mut j0 = 0;
    while j0 + KEY_GROUP * KEY_BLOCK <= p {
        score_blocks::<KEY_GROUP, J, T>(q, keys_t, (j0, dk), widen, s);
        j0 += KEY_GROUP * KEY_BLOCK;
    }
    while j0 < p {
        score_blocks::<1, J, T>(q, keys_t, (j0, dk), widen, s);
        j0 += KEY_BLOCK;
    }
    let s = &mut s[..p];
    // The maximum of the non-NaN scores does not depend on the order it is taken in (only
    // the sign of a zero maximum might, and `s - (±0)` gives the same `exp` either way), so it
    // is taken lane-wise.
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = s.chunks_exact_mut(16);
    for chunk in &mut chunks {
        for (m, sj) in lanes.iter_mut().zip(chunk.iter_mut()) {
            *sj *= scale;
            *m = m.max(*sj);
        }
    }
    for sj in chunks.into_remainder() {
        *sj *= scale;
        lanes[0] = lanes[0].max(*sj);
    }
    let max = lanes.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for sj in s.iter_mut() {
        *sj = expo::expf(*sj - max);
    }
}

/// `out[k * stride + o] = Σ_j s[k][j] v[k][j][o] / Σ_j s[k][j]` for `N` tiles at once (sums
/// in ascending `j`), so that the additions of different tiles overlap.
#[inline(always)]
fn weigh_values<const N: usize, J: Join, T: Cached>(
    values: [&[T]; N],
    s: [&[f32]; N],
    (dv, stride): (usize, usize),
    widen: &impl Fn(&[T; 16]) -> [f32; 16],
    out: &mut [f32],
) {
    let p = s[0].len();
    let values: [&[T]; N] = std::array::from_fn(|k| &values[k][..p * dv]);
    let mut sum: Option<[f32; N]> = None;
    let mut o0 = 0;
    // up to 64 value dimensions per tile held in registers, positions streamed; the
    // normalizers are summed in the first pass over the positions
    while o0 + VALUE_BLOCK <= dv {
        let mut acc = [[0.0f32; VALUE_BLOCK]; N];
        let mut total = [0.0f32; N];
        for j in 0..p {
            for k in 0..N {
                let sj = s[k][j];
                total[k] += sj;
                let vj = &values[k][j * dv + o0..j * dv + o0 + VALUE_BLOCK];
                for (part, a) in acc[k].chunks_exact_mut(16).enumerate() {
                    let v = widen(vj[16 * part..16 * part + 16].try_into().expect("16"));
                    for c in 0..16 {
                        a[c] = J::madd(a[c], sj, v[c]);
                    }
                }
            }
        }
        sum.get_or_insert(total);
        for k in 0..N {
            out[k * stride + o0..k * stride + o0 + VALUE_BLOCK].copy_from_slice(&acc[k]);
        }
        o0 += VALUE_BLOCK;
    }
    for k in 0..N {
        for o in o0..dv {
            let mut acc = 0.0f32;
            for (j, &sj) in s[k].iter().enumerate() {
                acc = J::madd(acc, sj, values[k][j * dv + o].value());
            }
            out[k * stride + o] = acc;
        }
        let sum = sum.map_or_else(|| s[k].iter().fold(0.0f32, |a, &x| a + x), |t| t[k]);
        let inv = 1.0 / sum;
        for o in &mut out[k * stride..k * stride + dv] {
            *o *= inv;
        }
    }
}

/// [`attend`] with `N` tiles' weighted values summed per pass over the positions
/// (`N * VALUE_BLOCK / lanes` accumulator registers: 2 tiles on AVX-512's 32 registers, 1 on
/// AVX2's 16, where 2 would spill), and products fused by `JF` where the model says so.
/// Each output's sums keep their order at every `N`.
#[inline(always)]
fn attend_kernel<const N: usize, JF: Join, T: Cached>(
    q: &[f32],
    cache: (&[T], &[T]),
    shape: AttendShape,
    (scale, mul_add): (f32, MulAdd),
    scores: &mut [f32],
    out: &mut [f32],
    widen: impl Fn(&[T; 16]) -> [f32; 16],
) {
    match mul_add {
        MulAdd::Separate => {
            attend_all::<N, Separate, T>(q, cache, shape, scale, scores, out, widen)
        }
        MulAdd::Fused => attend_all::<N, JF, T>(q, cache, shape, scale, scores, out, widen),
    }
}

/// [`attend_kernel`] with products joined to their sums as `J` says.
#[inline(always)]
fn attend_all<const N: usize, J: Join, T: Cached>(
    q: &[f32],
    (keys_t, values): (&[T], &[T]),
    shape: AttendShape,
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
    widen: impl Fn(&[T; 16]) -> [f32; 16],
) {
    const _: () = assert!(KEY_BLOCK == 16 && VALUE_BLOCK.is_multiple_of(16));
    const { assert!(N >= 1 && N <= TILES_AT_ONCE) };
    let AttendShape {
        tiles,
        positions: p,
        key_size: dk,
        ..
    } = shape;
    assert!(p > 0 && scores.len() >= shape.scores_len());
    let ks = shape.key_stride;
    let keys = |t: usize| &keys_t[t * ks..t * ks + p.div_ceil(KEY_BLOCK) * KEY_BLOCK * dk];
    let mut t = 0;
    while t + N <= tiles {
        attend_tiles::<N, J, T>(q, (&keys, values), (t, shape), scale, scores, out, &widen);
        t += N;
    }
    // the last tiles, one at a time
    for t in t..tiles {
        attend_tiles::<1, J, T>(q, (&keys, values), (t, shape), scale, scores, out, &widen);
    }
}

/// Attention of tiles `t .. t + N`: their scores, then their weighted values in one pass.
#[inline(always)]
fn attend_tiles<'k, const N: usize, J: Join, T: Cached + 'k>(
    q: &[f32],
    (keys, values): (&impl Fn(usize) -> &'k [T], &[T]),
    (t, shape): (usize, AttendShape),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
    widen: &impl Fn(&[T; 16]) -> [f32; 16],
) {
    let (p, dk, dv) = (shape.positions, shape.key_size, shape.value_size);
    let (vs, os) = (shape.value_stride, shape.out_stride);
    let part = scores.len() / TILES_AT_ONCE;
    for (k, s) in scores.chunks_exact_mut(part).take(N).enumerate() {
        let tk = t + k;
        exp_scores::<J, T>(
            &q[tk * dk..(tk + 1) * dk],
            keys(tk),
            (p, dk),
            scale,
            widen,
            s,
        );
    }
    let s: [&[f32]; N] = std::array::from_fn(|k| &scores[k * part..k * part + p]);
    let v: [&[T]; N] = std::array::from_fn(|k| &values[(t + k) * vs..]);
    weigh_values::<N, J, T>(v, s, (dv, os), widen, &mut out[t * os..]);
}

/// Exponential linear unit: `x` for `x > 0`, `exp(x) - 1` otherwise (`libm`'s `expm1f`).
#[inline]
pub fn elu(x: f32) -> f32 {
    expo::elu(x)
}

/// Logistic sigmoid `1 / (1 + exp(-x))` (`libm`'s `expf`).
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    expo::sigmoid(x)
}

#[inline(always)]
fn elu_kernel(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = expo::elu(v);
    }
}

#[inline(always)]
fn elu_in_place_kernel(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = expo::elu(*v);
    }
}

multiversion! {
    /// Writes `elu` of every element of `x` into `out`.
    pub fn elu_into(x: &[f32], out: &mut [f32]) {
        avx512: elu_kernel(x, out),
        avx2: elu_kernel(x, out),
        portable: elu_kernel(x, out),
    }
}

multiversion! {
    /// Replaces every element of `x` by its `elu`.
    pub fn elu_in_place(x: &mut [f32]) {
        avx512: elu_in_place_kernel(x),
        avx2: elu_in_place_kernel(x),
        portable: elu_in_place_kernel(x),
    }
}

#[inline(always)]
fn gate_kernel(u: &mut [f32], c: &[f32], rows: usize, channels: usize) {
    for r in 0..rows {
        let ur = &mut u[r * channels..(r + 1) * channels];
        let cr = &c[r * 2 * channels..(r + 1) * 2 * channels];
        let (a, g) = cr.split_at(channels);
        for k in 0..channels {
            ur[k] += a[k] * expo::sigmoid(g[k]);
        }
    }
}

multiversion! {
    /// Gated residual update for `rows` rows: `u += c[..C] * sigmoid(c[C..])`, with `c`
    /// holding `2C` values per row.
    pub fn gate_residual(u: &mut [f32], c: &[f32], rows: usize, channels: usize) {
        avx512: gate_kernel(u, c, rows, channels),
        avx2: gate_kernel(u, c, rows, channels),
        portable: gate_kernel(u, c, rows, channels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `acc + x · w` as the reference computes it: the fused form through the reference of
    /// [`fused`](crate::arith::fused)'s tests (on x86 `libm`'s software `fmaf`, independent of
    /// the kernels' instructions and of the portable build's f64 emulation).
    fn reference_madd(mul_add: MulAdd, acc: f32, x: f32, w: f32) -> f32 {
        match mul_add {
            MulAdd::Separate => acc + x * w,
            MulAdd::Fused => crate::arith::fused::tests::reference(x, w, acc),
        }
    }

    const BOTH: [MulAdd; 2] = [MulAdd::Separate, MulAdd::Fused];

    fn reference(wt: &[f32], bias: &[f32], x: &[f32], rows: usize, m: MulAdd) -> Vec<f32> {
        let (cin, cout) = (wt.len() / bias.len(), bias.len());
        let mut out = vec![0.0; rows * cout];
        for r in 0..rows {
            for o in 0..cout {
                let mut acc = bias[o];
                for i in 0..cin {
                    acc = reference_madd(m, acc, x[r * cin + i], wt[i * cout + o]);
                }
                out[r * cout + o] = acc;
            }
        }
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn blocked_linear_is_bitwise_the_plain_loop_at_every_level() {
        let mut rng = crate::weights::SplitMix64(3);
        let mut rand = || (rng.next_f64() * 2.0 - 1.0) as f32;
        for (cin, cout) in [(37, 35), (20, 100), (9, 64)] {
            let wt: Vec<f32> = (0..cin * cout).map(|_| rand()).collect();
            let bias: Vec<f32> = (0..cout).map(|_| rand()).collect();
            let mut layer = Linear::new(cin, cout, &wt, bias.clone());
            for rows in [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 16, 17] {
                let x: Vec<f32> = (0..rows * cin).map(|_| rand()).collect();
                let mut sums = Vec::new();
                for m in BOTH {
                    layer.set_mul_add(m);
                    let want = bits(&reference(&wt, &bias, &x, rows, m));
                    for isa in Isa::available() {
                        let mut out = vec![0.0; rows * cout];
                        layer.forward(isa, &x, rows, &mut out);
                        let at = format!("{} {m:?} {cin}x{cout} rows {rows}", isa.name());
                        assert_eq!(bits(&out), want, "{at}");
                    }
                    sums.push(want);
                }
                // the two arithmetics are different ones
                assert_ne!(sums[0], sums[1], "{cin}x{cout} rows {rows}");
            }
        }
    }

    /// Attention as plain scalar loops over unblocked keys, with `libm` itself.
    fn reference_attend(
        q: &[f32],
        keys: &[Vec<f32>],
        values: &[Vec<f32>],
        (scale, m): (f32, MulAdd),
    ) -> Vec<f32> {
        let s: Vec<f32> = keys
            .iter()
            .map(|k| {
                let mut acc = 0.0f32;
                for (&qd, &kd) in q.iter().zip(k) {
                    acc = reference_madd(m, acc, qd, kd);
                }
                acc * scale
            })
            .collect();
        let max = s.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let e: Vec<f32> = s.iter().map(|&x| libm::expf(x - max)).collect();
        let sum = e.iter().fold(0.0f32, |a, &x| a + x);
        (0..values[0].len())
            .map(|o| {
                let mut acc = 0.0f32;
                for (&ej, v) in e.iter().zip(values) {
                    acc = reference_madd(m, acc, ej, v[o]);
                }
                acc * (1.0 / sum)
            })
            .collect()
    }

    #[test]
    fn attention_is_bitwise_the_scalar_loops_at_every_level() {
        // batches of 1 to 3 tiles (pairs and a single tile summed at once), each tile's keys
        // and values stored in f32 and in f16; the reference sees the cached numbers' exact
        // f32 values
        let mut rng = crate::weights::SplitMix64(5);
        let mut rand = |r: f64| ((rng.next_f64() * 2.0 - 1.0) * r) as f32;
        for (dk, dv, tiles) in [(16, 64, 3), (4, 8, 2), (16, 70, 1), (16, 128, 2)] {
            let n: usize = 150;
            let n_keys = n.div_ceil(KEY_BLOCK) * KEY_BLOCK * dk;
            let round = |x: f32| Half::from_f32(x).to_f32();
            let mut caches = Vec::new();
            for _ in 0..tiles {
                let keys: Vec<Vec<f32>> = (0..n)
                    .map(|_| (0..dk).map(|_| round(rand(3.0))).collect())
                    .collect();
                let values: Vec<Vec<f32>> = (0..n)
                    .map(|_| (0..dv).map(|_| round(rand(2.0))).collect())
                    .collect();
                caches.push((keys, values));
            }
            let q: Vec<f32> = (0..tiles * dk).map(|_| rand(3.0)).collect();
            let mut keys_t = vec![0.0; tiles * n_keys];
            let mut flat = Vec::new();
            for (t, (keys, values)) in caches.iter().enumerate() {
                for (j, k) in keys.iter().enumerate() {
                    for (d, &v) in k.iter().enumerate() {
                        keys_t[t * n_keys + key_index(j, d, dk)] = v;
                    }
                }
                flat.extend(values.concat());
            }
            let keys_h: Vec<Half> = keys_t.iter().map(|&x| Half::from_f32(x)).collect();
            let flat_h: Vec<Half> = flat.iter().map(|&x| Half::from_f32(x)).collect();
            for (p, m) in [1, 2, 15, 16, 17, 63, 64, 65, 100, 150]
                .into_iter()
                .flat_map(|p| BOTH.map(|m| (p, m)))
            {
                let scale = (1.0 / (dk as f32).sqrt(), m);
                let mut want = Vec::new();
                for (t, (keys, values)) in caches.iter().enumerate() {
                    let qt = &q[t * dk..(t + 1) * dk];
                    want.extend(bits(&reference_attend(qt, &keys[..p], &values[..p], scale)));
                    want.push(0); // the output row's padding, untouched
                }
                let shape = AttendShape {
                    tiles,
                    positions: p,
                    key_size: dk,
                    value_size: dv,
                    key_stride: n_keys,
                    value_stride: n * dv,
                    out_stride: dv + 1,
                };
                for isa in Isa::available() {
                    for half in [false, true] {
                        let mut scores = vec![0.0; shape.scores_len()];
                        let mut out = vec![0.0; tiles * (dv + 1)];
                        if half {
                            attend_half(
                                isa,
                                &q,
                                &keys_h,
                                &flat_h,
                                shape,
                                scale,
                                &mut scores,
                                &mut out,
                            );
                        } else {
                            attend(isa, &q, &keys_t, &flat, shape, scale, &mut scores, &mut out);
                        }
                        assert_eq!(
                            bits(&out),
                            want,
                            "{} {m:?} f16 {half} dk {dk} dv {dv} tiles {tiles} p {p}",
                            isa.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn elementwise_kernels_are_libm_at_every_level() {
        let mut rng = crate::weights::SplitMix64(9);
        let x: Vec<f32> = (0..1000)
            .map(|i| match i % 7 {
                0 => f32::from_bits(rng.next_u64() as u32), // any bits, NaNs included
                _ => ((rng.next_f64() * 2.0 - 1.0) * 40.0) as f32,
            })
            .collect();
        let elu_ref: Vec<f32> = x
            .iter()
            .map(|&v| if v > 0.0 { v } else { libm::expm1f(v) })
            .collect();
        // finite inputs: which NaN an IEEE operation returns can depend on operand order
        let finite: Vec<f32> = x.iter().copied().filter(|v| v.is_finite()).collect();
        let (rows, ch) = (4, 100);
        let u0: Vec<f32> = finite[..rows * ch].to_vec();
        let c: Vec<f32> = finite[..2 * rows * ch].iter().rev().copied().collect();
        let mut gate_ref = u0.clone();
        for r in 0..rows {
            for k in 0..ch {
                let g = c[r * 2 * ch + ch + k];
                gate_ref[r * ch + k] += c[r * 2 * ch + k] * (1.0 / (1.0 + libm::expf(-g)));
            }
        }
        for isa in Isa::available() {
            let mut out = vec![0.0; x.len()];
            elu_into(isa, &x, &mut out);
            assert_eq!(bits(&out), bits(&elu_ref), "elu_into {}", isa.name());
            let mut inplace = x.clone();
            elu_in_place(isa, &mut inplace);
            assert_eq!(
                bits(&inplace),
                bits(&elu_ref),
                "elu_in_place {}",
                isa.name()
            );
            let mut u = u0.clone();
            gate_residual(isa, &mut u, &c, rows, ch);
            assert_eq!(bits(&u), bits(&gate_ref), "gate_residual {}", isa.name());
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
