//! Branch-free, bit-exact copies of `libm`'s `expf` and `expm1f`, so that the engine's
//! exponentials vectorize.
//!
//! The engine's coding probabilities are defined by the `libm` crate (0.2, the FreeBSD
//! algorithms): a change of one bit in any `exp` would change the files. Called one value at
//! a time, those functions took a third of the engine's time (softmax, gates, ELUs). The
//! functions here perform *the same IEEE-754 f32 operations* as `libm` on every path, but
//! compute every path for every value and select the result instead of branching, so that a
//! loop over a slice becomes SIMD code lane by lane. Their results equal `libm`'s bit for bit
//! for every one of the 2³² inputs (`cargo test --release --lib -- --ignored exhaustive` checks all
//! of them; the regular tests check a fixed stride of them and every path's boundaries).

/// Bits of `2^e` as an f32, for `e` in `-126..=127`.
#[inline(always)]
fn pow2(e: i32) -> f32 {
    f32::from_bits(((0x7f + e) as u32) << 23)
}

/// `libm::expf(x)`, for every `x`, without branches.
#[inline(always)]
#[allow(clippy::excessive_precision)] // libm's literals, verbatim
pub fn expf(x: f32) -> f32 {
    const HALF: f32 = 0.5;
    const LN2_HI: f32 = 6.9314575195e-01; // 0x3f317200
    const LN2_LO: f32 = 1.4286067653e-06; // 0x35bfbe8e
    const INV_LN2: f32 = 1.4426950216e+00; // 0x3fb8aa3b
    const P1: f32 = 1.6666625440e-1; // 0xaaaa8f.0p-26
    const P2: f32 = -2.7667332906e-3; // -0xb55215.0p-32
    let bits = x.to_bits();
    let neg = (bits >> 31) != 0;
    let hx = bits & 0x7fff_ffff;
    // argument reduction: k = 0 for |x| <= 0.5 ln2, ±1 up to 1.5 ln2, else rounded x / ln2
    let kr = (INV_LN2 * x + if neg { -HALF } else { HALF }) as i32;
    let k1 = if neg { -1 } else { 1 };
    let k = if hx > 0x3f85_1592 {
        kr
    } else if hx > 0x3eb1_7218 {
        k1
    } else {
        0
    };
    let kf = k as f32;
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * P2);
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // scalbnf(y, k): one pre-scale when 2^k is not a normal f32, then one exact scale
    let (pre, n) = if k > 127 {
        (pow2(127), k - 127)
    } else if k < -126 {
        (pow2(-102), k + 102)
    } else {
        (1.0, k)
    };
    let scaled = (y * pre) * pow2(n.clamp(-126, 127));
    let main = if k == 0 { y } else { scaled };
    // the special cases, in libm's order of precedence
    let tiny = 1.0 + x;
    let mut out = if hx > 0x3900_0000 { main } else { tiny };
    if hx >= 0x42ae_ac50 {
        if neg && hx >= 0x42cf_f1b5 {
            out = 0.0;
        }
        if !neg && hx >= 0x42b1_7218 {
            out = x * pow2(127);
        }
        if hx > 0x7f80_0000 {
            out = x;
        }
    }
    out
}

/// `libm::expm1f(x)`, for every `x <= 0` and every NaN, without branches. Positive `x`
/// (which the engine's ELU never passes) are not handled.
#[inline(always)]
#[allow(clippy::excessive_precision)] // libm's literals, verbatim
pub fn expm1f_nonpositive(x: f32) -> f32 {
    const LN2_HI: f32 = 6.9313812256e-01; // 0x3f317180
    const LN2_LO: f32 = 9.0580006145e-06; // 0x3717f7d1
    const INV_LN2: f32 = 1.4426950216e+00; // 0x3fb8aa3b
    const Q1: f32 = -3.3333212137e-2; // -0x888868.0p-28
    const Q2: f32 = 1.5807170421e-3; // 0xcf3010.0p-33
    let hx = x.to_bits() & 0x7fff_ffff;
    // argument reduction (x is negative): k = 0, -1, or rounded x / ln2 below 1.5 ln2
    let reduce = hx > 0x3eb1_7218;
    let near = hx < 0x3f85_1592;
    let kr = (INV_LN2 * x + -0.5) as i32;
    let t = kr as f32;
    let (hi, lo, k) = if near {
        (x + LN2_HI, -LN2_LO, -1)
    } else {
        (x - t * LN2_HI, t * LN2_LO, kr)
    };
    let xr = hi - lo;
    let cr = (hi - xr) - lo;
    let (x2, c, k) = if reduce { (xr, cr, k) } else { (x, 0.0, 0) };
    let hfx = 0.5 * x2;
    let hxs = x2 * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * Q2);
    let tt = 3.0 - r1 * hfx;
    let e0 = hxs * ((r1 - tt) / (6.0 - x2 * tt));
    let at_zero = x2 - (x2 * e0 - hxs);
    let e = x2 * (e0 - c) - c;
    let e = e - hxs;
    let at_minus_one = 0.5 * (x2 - e) - 0.5;
    // k <= -2 here: 2^k is a normal f32 (k >= -27)
    let below = (x2 - e + 1.0) * pow2(k.clamp(-126, 127)) - 1.0;
    let mut out = if k == 0 {
        at_zero
    } else if k == -1 {
        at_minus_one
    } else {
        below
    };
    if hx < 0x3300_0000 {
        out = x;
    }
    if hx >= 0x4195_b844 {
        out = if hx > 0x7f80_0000 { x } else { -1.0 };
    }
    out
}

/// Exponential linear unit with `libm`'s `expm1f`: `x` for `x > 0`, `exp(x) - 1` otherwise.
#[inline(always)]
pub fn elu(x: f32) -> f32 {
    let m = expm1f_nonpositive(x);
    if x > 0.0 {
        x
    } else {
        m
    }
}

/// Logistic sigmoid `1 / (1 + expf(-x))` with `libm`'s `expf`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + expf(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits()
    }

    fn reference_elu(x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            libm::expm1f(x)
        }
    }

    /// Every input whose bits are a multiple of `stride` away from `start`, plus every path's
    /// boundary (±1 ulp) on both signs.
    fn inputs(stride: u32) -> impl Iterator<Item = u32> {
        let edges = [
            0x3900_0000u32,
            0x3eb1_7218,
            0x3f85_1592,
            0x42ae_ac50,
            0x42b1_7218,
            0x42cf_f1b5,
            0x7f80_0000,
            0x3300_0000,
            0x4195_b844,
            0x0080_0000,
            0,
        ];
        let near = edges.into_iter().flat_map(|e| {
            (e.saturating_sub(2)..=e.saturating_add(2)).flat_map(|b| [b, b | 0x8000_0000])
        });
        (0..=u32::MAX / stride).map(move |i| i * stride).chain(near)
    }

    fn check(stride: u32) {
        for b in inputs(stride) {
            let x = f32::from_bits(b);
            assert!(same(expf(x), libm::expf(x)), "expf({x:e}) [{b:#010x}]");
            assert!(same(elu(x), reference_elu(x)), "elu({x:e}) [{b:#010x}]");
        }
    }

    #[test]
    fn equal_to_libm_on_a_stride_of_all_inputs() {
        check(4099);
    }

    #[test]
    #[ignore = "all 2^32 inputs: about four minutes in release"]
    fn exhaustive_equal_to_libm() {
        check(1);
    }
}
