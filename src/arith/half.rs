//! IEEE-754 binary16 numbers for the attention cache of models whose arithmetic asks for it
//! ([`crate::config::KvCache::F16`]).
//!
//! Attention reads every cached key and value of a tile at every position, which makes it
//! bound by memory traffic rather than arithmetic; storing them in 16 bits halves that
//! traffic. Rounding happens once, when a key or value is stored, in one portable function
//! ([`Half::from_f32`]), which only ever produces finite halves; widening a finite half back
//! to f32 is exact, so the hardware conversions (`vcvtph2ps`) and the portable one give the
//! same bits by construction, which the tests check for all 63,488 finite halves.

/// The bits of an IEEE binary16 number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Half(pub u16);

/// The largest finite binary16 value.
const MAX: f32 = 65504.0;

impl Half {
    /// `x` rounded to the nearest binary16 value, ties to even. Magnitudes above 65504 are
    /// clamped to ±65504 and a NaN becomes +0, so the result is always finite.
    pub fn from_f32(x: f32) -> Half {
        if x.is_nan() {
            return Half(0);
        }
        let x = x.clamp(-MAX, MAX);
        let bits = x.to_bits();
        let sign = ((bits >> 16) & 0x8000) as u16;
        let a = bits & 0x7fff_ffff;
        if a < 0x3880_0000 {
            // below 2^-14: a multiple of 2^-24 (subnormal or zero, or the smallest normal
            // after rounding up); scaling by 2^24 is exact for every f32 in this range, and
            // adding 2^23 rounds the result (< 1024) to an integer, ties to even
            const SHIFT: f32 = 8_388_608.0;
            let m = (f32::from_bits(a) * 16_777_216.0 + SHIFT) - SHIFT;
            return Half(sign | m as u16);
        }
        let exp = (a >> 23) - (127 - 15); // 1..=30: from 2^-14 up to 65504
        let mant = a & 0x007f_ffff;
        let mut h = (exp << 10) | (mant >> 13);
        let rest = mant & 0x1fff;
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
            h += 1; // a carry into the exponent is the correct next value
        }
        Half(sign | h as u16)
    }

    /// The exact f32 value of a finite half (the only kind [`Half::from_f32`] makes; the
    /// result for an infinity or NaN is unspecified).
    #[inline(always)]
    pub fn to_f32(self) -> f32 {
        // sign-extended and shifted, the sign lands in bit 31 (its copies in bits 28-30 are
        // cleared), the exponent in bits 23-27 and the mantissa in bits 13-22: as an f32 that
        // is the value times 2^-112 for normal and subnormal halves alike, and the scaling
        // back is exact
        let bits = ((self.0 as i16 as i32) << 13) as u32 & 0x8fff_ffff;
        f32::from_bits(bits) * f32::from_bits(0x7780_0000) // 2^112
    }
}

/// Sixteen halves widened with the portable conversion.
#[inline(always)]
pub fn widen16(h: &[Half; 16]) -> [f32; 16] {
    let mut out = [0.0f32; 16];
    for (o, x) in out.iter_mut().zip(h) {
        *o = x.to_f32();
    }
    out
}

/// Sixteen halves widened with AVX-512's `vcvtph2ps`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn widen16_avx512(h: &[Half; 16]) -> [f32; 16] {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm512_cvtph_ps};
    // SAFETY: `h` is 32 readable bytes; `[f32; 16]` and `__m512` have the same size and
    // every bit pattern is valid for both.
    unsafe {
        let v = _mm512_cvtph_ps(_mm256_loadu_si256(h.as_ptr().cast::<__m256i>()));
        std::mem::transmute::<std::arch::x86_64::__m512, [f32; 16]>(v)
    }
}

/// Sixteen halves widened with F16C's `vcvtph2ps`.
///
/// # Safety
/// The CPU must support AVX and F16C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
#[inline]
pub unsafe fn widen16_f16c(h: &[Half; 16]) -> [f32; 16] {
    use std::arch::x86_64::{__m128i, __m256, _mm256_cvtph_ps, _mm_loadu_si128};
    // SAFETY: `h` is 32 readable bytes; two `__m256` and `[f32; 16]` have the same size and
    // every bit pattern is valid for both.
    unsafe {
        let p = h.as_ptr().cast::<__m128i>();
        let lo = _mm256_cvtph_ps(_mm_loadu_si128(p));
        let hi = _mm256_cvtph_ps(_mm_loadu_si128(p.add(1)));
        std::mem::transmute::<[__m256; 2], [f32; 16]>([lo, hi])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hardware's own f32 -> f16 conversion (round to nearest even).
    #[cfg(target_arch = "x86_64")]
    fn hardware_from_f32(x: f32) -> Option<u16> {
        use std::arch::x86_64::{_mm_cvtps_ph, _mm_cvtsi128_si32, _mm_set1_ps};
        if !std::arch::is_x86_feature_detected!("f16c") {
            return None;
        }
        #[target_feature(enable = "f16c")]
        unsafe fn convert(x: f32) -> u16 {
            _mm_cvtsi128_si32(_mm_cvtps_ph::<0>(_mm_set1_ps(x))) as u16
        }
        // SAFETY: the CPU has F16C (checked above).
        Some(unsafe { convert(x) })
    }

    #[test]
    fn widening_is_exact_and_the_same_on_every_path() {
        let finite: Vec<Half> = (0..=u16::MAX)
            .map(Half)
            .filter(|h| h.0 & 0x7c00 != 0x7c00)
            .collect();
        assert_eq!(finite.len(), 63_488);
        for h in &finite {
            let v = h.to_f32();
            // exact: rounding back gives the same bits (±0 included)
            assert_eq!(Half::from_f32(v), *h, "{:#x} -> {v}", h.0);
        }
        assert_eq!(Half(0x3c00).to_f32(), 1.0);
        assert_eq!(Half(0x0001).to_f32(), 2f32.powi(-24));
        assert_eq!(Half(0x8001).to_f32(), -(2f32.powi(-24)));
        assert_eq!(Half(0x0400).to_f32(), 2f32.powi(-14));
        assert_eq!(Half(0xfbff).to_f32(), -65504.0);
        assert_eq!(Half(0x8000).to_f32().to_bits(), (-0.0f32).to_bits());
        #[cfg(target_arch = "x86_64")]
        for chunk in finite.chunks_exact(16) {
            let h: &[Half; 16] = chunk.try_into().unwrap();
            let want: Vec<u32> = widen16(h).iter().map(|v| v.to_bits()).collect();
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                let got = unsafe { widen16_avx512(h) };
                assert_eq!(got.map(f32::to_bits).to_vec(), want);
            }
            if std::arch::is_x86_feature_detected!("f16c") {
                // SAFETY: the CPU has AVX and F16C.
                let got = unsafe { widen16_f16c(h) };
                assert_eq!(got.map(f32::to_bits).to_vec(), want);
            }
        }
    }

    #[test]
    fn rounding_is_nearest_even_and_clamped() {
        assert_eq!(Half::from_f32(1.0), Half(0x3c00));
        assert_eq!(Half::from_f32(-2.0), Half(0xc000));
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1)
        assert_eq!(Half::from_f32(1.0 + 2f32.powi(-11)), Half(0x3c00));
        assert_eq!(Half::from_f32(1.0 + 3.0 * 2f32.powi(-11)), Half(0x3c02));
        assert_eq!(Half::from_f32(1e6), Half(0x7bff));
        assert_eq!(Half::from_f32(f32::NEG_INFINITY), Half(0xfbff));
        assert_eq!(Half::from_f32(f32::NAN), Half(0));
        assert_eq!(Half::from_f32(-f32::NAN), Half(0));
        assert_eq!(Half::from_f32(2f32.powi(-25)), Half(0)); // tie to even zero
        assert_eq!(Half::from_f32(2f32.powi(-25) * 1.5), Half(1));
        assert_eq!(Half::from_f32(-0.0), Half(0x8000));
    }

    /// No hardware conversion off x86-64.
    #[cfg(not(target_arch = "x86_64"))]
    fn hardware_from_f32(_: f32) -> Option<u16> {
        None
    }

    /// The nearest finite half to `x` found by search over the exact values of all finite
    /// halves (ties to the even bit pattern, magnitudes beyond 65504 to ±65504, NaN to +0):
    /// a check of [`Half::from_f32`] that needs no hardware. Both neighbours and `x` are
    /// multiples of `x`'s f32 spacing (or `x` is below every nonzero half), so the distances
    /// are exact in f64.
    fn reference_from_f32(x: f32) -> u16 {
        if x.is_nan() {
            return 0;
        }
        let sign = if x.is_sign_negative() { 0x8000 } else { 0 };
        let a = x.abs();
        let top = 0x7bffu16; // 65504
        if a >= Half(top).to_f32() {
            return sign | top;
        }
        // the largest positive half whose value is at most a (values grow with the bits)
        let (mut lo, mut hi) = (0u16, top);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if Half(mid).to_f32() <= a {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let below = f64::from(a) - f64::from(Half(lo).to_f32());
        let above = f64::from(Half(lo + 1).to_f32()) - f64::from(a);
        let h = if below < above || (below == above && lo % 2 == 0) {
            lo
        } else {
            lo + 1
        };
        sign | h
    }

    #[test]
    fn rounding_matches_a_reference_and_the_hardware() {
        let mut rng = crate::weights::SplitMix64(11);
        let mut hardware_checked = 0u32;
        for i in 0..2_000_000u32 {
            let x = match i % 3 {
                0 => f32::from_bits(rng.next_u64() as u32),
                // the range keys and values live in, and the subnormal boundary
                1 => ((rng.next_f64() * 2.0 - 1.0) * 40.0) as f32,
                _ => ((rng.next_f64() * 2.0 - 1.0) * 1.3e-4) as f32,
            };
            let got = Half::from_f32(x).0;
            assert_eq!(got, reference_from_f32(x), "{x:e} ({:#x})", x.to_bits());
            if x.is_nan() || x.abs() > MAX {
                continue; // the cache's own rules: clamp, and NaN as 0 (tested above)
            }
            if let Some(hw) = hardware_from_f32(x) {
                assert_eq!(got, hw, "{x:e} ({:#x})", x.to_bits());
                hardware_checked += 1;
            }
        }
        if hardware_checked == 0 {
            eprintln!(
                "NOTICE: no hardware f32->f16 conversion on this CPU (x86-64 F16C): \
                 Half::from_f32 was checked against the search reference only"
            );
        }
    }
}
