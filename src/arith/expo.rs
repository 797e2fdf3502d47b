//! Branch-free, bit-exact copies of `libm`'s `expf`, `expm1f` and (f64) `exp`, so that the
//! engine's and the mixture coder's exponentials vectorize.
//!
//! The engine's coding probabilities are defined by the `libm` crate (0.2, the FreeBSD
//! algorithms): a change of one bit in any `exp` would change the files. Called one value at
//! a time, those functions took a third of the engine's time (softmax, gates, ELUs). The
//! functions here perform *the same IEEE-754 f32 operations* as `libm` on every path, but
//! compute every path for every value and select the result instead of branching, so that a
//! loop over a slice becomes SIMD code lane by lane. Their results equal `libm`'s bit for bit
//! for every one of the 2³² inputs (`cargo test --release --lib -- --ignored exhaustive` checks all
//! of them; the regular tests check a fixed stride of them and every path's boundaries). The
//! f64 `exp` cannot be checked exhaustively: the tests check every path's boundaries, a dense
//! grid over the whole range where results are neither 0 nor infinite, and random bits.

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

/// Bits of `2^e` as an f64, for `e` in `-1022..=1023`.
#[inline(always)]
fn pow2_f64(e: i32) -> f64 {
    f64::from_bits(((0x3ff + e) as u64) << 52)
}

/// `libm::exp(x)` (f64, FreeBSD's `e_exp.c`), for every `x`, without branches.
#[inline(always)]
#[allow(clippy::excessive_precision, clippy::approx_constant)] // libm's literals, verbatim
pub fn exp(x: f64) -> f64 {
    const LN2_HI: f64 = 6.93147180369123816490e-01; // 0x3fe62e42, 0xfee00000
    const LN2_LO: f64 = 1.90821492927058770002e-10; // 0x3dea39ef, 0x35793c76
    const INV_LN2: f64 = 1.44269504088896338700e+00; // 0x3ff71547, 0x652b82fe
    const P1: f64 = 1.66666666666666019037e-01; // 0x3FC55555, 0x5555553E
    const P2: f64 = -2.77777777770155933842e-03; // 0xBF66C16C, 0x16BEBD93
    const P3: f64 = 6.61375632143793436117e-05; // 0x3F11566A, 0xAF25DE2C
    const P4: f64 = -1.65339022054652515390e-06; // 0xBEBBBD41, 0xC5D26BF1
    const P5: f64 = 4.13813679705723846039e-08; // 0x3E663769, 0x72BEA4D0
    let bits = x.to_bits();
    let neg = (bits >> 63) != 0;
    let hx = (bits >> 32) as u32 & 0x7fff_ffff;
    // argument reduction: k = 0 for |x| <= 0.5 ln2, ±1 up to 1.5 ln2, else rounded x / ln2
    // (Rust's saturating cast keeps the unused lanes of huge or NaN inputs defined)
    let kr = (INV_LN2 * x + if neg { -0.5 } else { 0.5 }) as i32;
    let k1 = if neg { -1 } else { 1 };
    let k = if hx >= 0x3ff0_a2b2 {
        kr
    } else if hx > 0x3fd6_2e42 {
        k1
    } else {
        0
    };
    // with k = 0 these are libm's hi = x, lo = 0 exactly
    let kf = k as f64;
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // scalbn(y, k) for k in -1075..=1024: one pre-scale when 2^k is not a normal f64, then
    // one scale (libm's generic scalbn; y * 1 = y for k = 0)
    let (pre, n) = if k > 1023 {
        (pow2_f64(1023), k - 1023)
    } else if k < -1022 {
        (pow2_f64(-969), k + 969)
    } else {
        (1.0, k)
    };
    let main = (y * pre) * pow2_f64(n.clamp(-1022, 1023));
    // the special cases, in libm's order of precedence
    let mut out = if hx > 0x3e30_0000 { main } else { 1.0 + x };
    if hx >= 0x4086_232b {
        if x < -745.13321910194110842 {
            out = 0.0;
        }
        if x > 709.782712893383973096 {
            out = x * pow2_f64(1023);
        }
        if x.is_nan() {
            out = x;
        }
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

    fn check_exp(x: f64) {
        let (got, want) = (exp(x), libm::exp(x));
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "exp({x:e}) [{:#018x}]: {got:e} vs {want:e}",
            x.to_bits()
        );
    }

    fn check_exp_random(n: u64, seed: u64) {
        let mut rng = crate::weights::SplitMix64(seed);
        for i in 0..n {
            let r = rng.next_u64();
            let x = match i % 4 {
                0 => f64::from_bits(r),                                // any bits
                1 => (rng.next_f64() * 2.0 - 1.0) * 750.0,             // every result range
                2 => (rng.next_f64() * 2.0 - 1.0) * 40.0,              // the mixture's range
                _ => f64::from_bits(r & 0x3fff_ffff_ffff_ffff) * 1e-9, // tiny
            };
            check_exp(x);
        }
    }

    #[test]
    #[allow(clippy::excessive_precision)] // libm's thresholds, verbatim
    fn exp_f64_equal_to_libm_at_every_boundary_and_on_a_sample() {
        // each path's boundary in the high word, a few ulps either side, both signs
        for hw in [
            0x3e30_0000u64,
            0x3fd6_2e42,
            0x3ff0_a2b2,
            0x4086_232b,
            0x7ff0_0000,
        ] {
            for lo in [0u64, 1, 2, 0xffff_fffe, 0xffff_ffff] {
                for d in [-1i64, 0, 1] {
                    let b = ((hw as i64 + d) as u64) << 32 | lo;
                    check_exp(f64::from_bits(b));
                    check_exp(f64::from_bits(b | 1 << 63));
                }
            }
        }
        let edges: [f64; 3] = [
            709.782712893383973096,
            -708.39641853226410622,
            -745.13321910194110842,
        ];
        for e in edges {
            let mut x = e;
            for _ in 0..64 {
                x = f64::from_bits(x.to_bits() - 1);
            }
            for _ in 0..128 {
                check_exp(x);
                x = f64::from_bits(x.to_bits() + 1);
            }
        }
        for x in [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
        ] {
            check_exp(x);
        }
        // a dense grid where results are neither 0 nor infinite, k from -1075 to 1024
        let mut x = -746.0;
        while x < 710.0 {
            check_exp(x);
            x += 1.0 / 1024.0 + 1e-9;
        }
        check_exp_random(2_000_000, 17);
    }

    #[test]
    #[ignore = "10^9 random inputs: about a minute in release"]
    fn exp_f64_equal_to_libm_on_many_random_inputs() {
        check_exp_random(1_000_000_000, 99);
    }
}
