//! The gated logistic mixer and the adaptive probability map (APM) after it.
//!
//! The mixer adds its inputs' logits with weights chosen by a small context (a weight set per
//! channel, bit position and network confidence) and learns the weights online, by gradient
//! descent on the coding cost. The APM then refines the mixed probability per tree node, from
//! how often bits at that node and that probability turned out to be 1. Integers only.

use super::logistic::{squash, LOGIT_MAX};

/// Weights are 16.16 fixed point.
const ONE: i32 = 1 << 16;

/// A set of weight vectors, one per selector value, each of `n` inputs.
pub struct Mixer {
    n: usize,
    weights: Vec<i32>,
}

impl Mixer {
    /// `sets` weight vectors of `n` inputs, all starting from `init(set, input)` (16.16).
    pub fn new(n: usize, sets: usize, init: impl Fn(usize, usize) -> i32) -> Mixer {
        let mut weights = vec![0; n * sets];
        for s in 0..sets {
            for i in 0..n {
                weights[s * n + i] = init(s, i);
            }
        }
        Mixer { n, weights }
    }

    /// The weights of set `set`, `N` context inputs and then the network's and the bias's
    /// (the mixer must have `N + 2` inputs).
    #[inline]
    pub fn set_mut<const N: usize>(&mut self, set: usize) -> (&mut [i32; N], &mut [i32; 2]) {
        let w = &mut self.weights[set * self.n..(set + 1) * self.n];
        let (contexts, rest) = w.split_at_mut(N);
        (
            contexts.try_into().expect("a mixer of N + 2 inputs"),
            rest.try_into().expect("a mixer of N + 2 inputs"),
        )
    }
}

/// The bias input's value.
pub const BIAS: i32 = 256;

/// The mixed logit of inputs `x` (logits, 1/256 units; then the network's `net`, then
/// [`BIAS`]) with weights `w` and `tail` (the network's and the bias's). Integer sums, so
/// their order changes nothing.
#[inline]
pub fn dot<const N: usize>(w: &[i32; N], tail: &[i32; 2], x: &[i32; N], net: i32) -> i32 {
    let mut sum = tail[0] as i64 * net as i64 + tail[1] as i64 * BIAS as i64;
    for i in 0..N {
        sum += w[i] as i64 * x[i] as i64;
    }
    (sum >> 16).clamp(-(LOGIT_MAX as i64), LOGIT_MAX as i64) as i32
}

/// Learns from `bit` after predicting `p` (16-bit) from the inputs of [`dot`], at `rate`:
/// each weight moves by `x · error · rate / 2^18` (16.16 units, rounded down), within ±32.
/// `|x| ≤ LOGIT_MAX`, `|error| ≤ 2^16` and `rate ≤ 8` keep every product inside `i32`.
#[inline(always)]
pub fn learn<const N: usize>(
    w: &mut [i32; N],
    tail: &mut [i32; 2],
    x: &[i32; N],
    net: i32,
    p: u32,
    bit: u32,
    rate: i32,
) {
    debug_assert!(rate <= 8);
    let e = (((bit as i32) << 16) - p as i32) * rate;
    let step = |w: &mut i32, x: i32| {
        *w = (*w + ((x * e) >> 18)).clamp(-LIMIT, LIMIT);
    };
    for i in 0..N {
        step(&mut w[i], x[i]);
    }
    step(&mut tail[0], net);
    step(&mut tail[1], BIAS);
}

/// The largest weight magnitude (32.0).
const LIMIT: i32 = 32 * ONE;

/// The weight 1.0.
pub const WEIGHT_ONE: i32 = ONE;

/// Buckets of an APM row: the logit range cut into 32 intervals.
const BUCKETS: usize = 33;
const STEP: i32 = 2 * LOGIT_MAX / (BUCKETS as i32 - 1);

/// An adaptive probability map: per context, a piecewise linear map of the logit.
pub struct Apm {
    t: Vec<u32>,
    rate: u32,
}

impl Apm {
    /// `contexts` rows, each starting as the identity; `rate` is the shift of each step.
    pub fn new(contexts: usize, rate: u32) -> Apm {
        let row: Vec<u32> = (0..BUCKETS)
            .map(|j| squash(j as i32 * STEP - LOGIT_MAX))
            .collect();
        Apm {
            t: (0..contexts).flat_map(|_| row.iter().copied()).collect(),
            rate,
        }
    }

    /// The refined probability of logit `x` in context `ctx`, and the entry to update.
    #[inline]
    pub fn refine(&self, x: i32, ctx: usize) -> (u32, usize) {
        let s = x.clamp(-LOGIT_MAX, LOGIT_MAX - 1) + LOGIT_MAX;
        let (j, w) = ((s / STEP) as usize, (s % STEP) as u32);
        let base = ctx * BUCKETS + j;
        let p = (self.t[base] * (STEP as u32 - w) + self.t[base + 1] * w) / STEP as u32;
        let nearer = if w * 2 < STEP as u32 { base } else { base + 1 };
        (p.clamp(1, 65535), nearer)
    }

    /// Moves entry `at` towards `bit`.
    #[inline]
    pub fn update(&mut self, at: usize, bit: u32) {
        let target: i64 = if bit != 0 { 65535 } else { 0 };
        let t = self.t[at] as i64;
        self.t[at] = (t + ((target - t) >> self.rate)) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::adaptive::logistic::stretch;

    #[test]
    fn mixer_learns_to_trust_the_input_that_is_right() {
        // input 0 is always right, input 1 always wrong
        let mut m = Mixer::new(4, 1, |_, _| 0);
        let mut last = 0;
        for k in 0..2000 {
            let bit = (k % 3 == 0) as u32;
            let good = if bit == 1 { 1500 } else { -1500 };
            let x = [good, -good];
            let (w, tail) = m.set_mut::<2>(0);
            let p = squash(dot(w, tail, &x, 0));
            learn(w, tail, &x, 0, p, bit, 8);
            last = if bit == 1 { p } else { 65536 - p };
        }
        assert!(last > 60000, "p of the right bit {last}");
    }

    #[test]
    fn apm_starts_as_identity_and_learns() {
        let mut a = Apm::new(2, 6);
        for x in [-2000, -100, 0, 700, 1900] {
            let (p, _) = a.refine(x, 1);
            assert!((stretch(p) - x).abs() < 40, "x {x} p {p}");
        }
        for _ in 0..500 {
            let (_, at) = a.refine(0, 0);
            a.update(at, 1);
        }
        assert!(a.refine(0, 0).0 > 60000);
        assert_eq!(a.refine(0, 1).0, 32768, "other contexts untouched");
    }
}
