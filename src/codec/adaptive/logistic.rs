//! The adaptive stage's logistic functions, `squash` (logit → probability) and `stretch`
//! (probability → logit), as tables built with integer arithmetic only, so that every machine
//! builds the same tables and the stage never touches floating point.
//!
//! Logits are fixed-point with 8 fractional bits, clamped to ±[`LOGIT_MAX`] (±12.0);
//! probabilities are 16-bit (`p / 65536`, in `1..=65535`).

use std::sync::OnceLock;

/// The largest logit magnitude, in 1/256 units.
pub const LOGIT_MAX: i32 = 3072;

/// `e^(-1/256)` in 32-bit fixed point, rounded.
const DECAY: u128 = 4_278_222_805;

/// Both tables; [`lut`] gives them, for loops that look up many values.
pub struct Tables {
    /// `squash[x + LOGIT_MAX]` for `x` in `-LOGIT_MAX..=LOGIT_MAX`.
    squash: Vec<u16>,
    /// `stretch[p]` for `p` in `0..65536`.
    stretch: Vec<i16>,
}

/// The tables, built once.
pub fn lut() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(build)
}

fn build() -> Tables {
    // e^(-k/256) in 32-bit fixed point by repeated multiplication
    let n = LOGIT_MAX as usize;
    let mut e = vec![0u128; n + 1];
    e[0] = 1 << 32;
    for k in 1..=n {
        e[k] = (e[k - 1] * DECAY + (1 << 31)) >> 32;
    }
    let mut squash = vec![0u16; 2 * n + 1];
    for k in 0..=n {
        // 65536 / (1 + e^(-k/256)), rounded, at most 65535
        let den = (1u128 << 32) + e[k];
        let p = (((1u128 << 48) + den / 2) / den).min(65535) as u16;
        squash[n + k] = p;
        squash[n - k] = (65536 - p as u32).clamp(1, 65535) as u16;
    }
    let mut stretch = vec![0i16; 65536];
    let mut x = 0usize;
    for (p, s) in stretch.iter_mut().enumerate() {
        while x < 2 * n && (squash[x] as usize) < p {
            x += 1;
        }
        *s = (x as i32 - LOGIT_MAX) as i16;
    }
    Tables { squash, stretch }
}

/// `65536 / (1 + e^(-x/256))`, in `1..=65535`; `x` is clamped to ±[`LOGIT_MAX`].
#[inline]
pub fn squash(x: i32) -> u32 {
    lut().squash(x)
}

impl Tables {
    /// [`squash`].
    #[inline]
    pub fn squash(&self, x: i32) -> u32 {
        let x = x.clamp(-LOGIT_MAX, LOGIT_MAX);
        self.squash[(x + LOGIT_MAX) as usize] as u32
    }

    /// [`stretch`].
    #[inline]
    pub fn stretch(&self, p: u32) -> i32 {
        self.stretch[p as usize] as i32
    }
}

/// The inverse of [`squash`]: the logit (1/256 units) of `p / 65536`, `p < 65536`.
#[inline]
#[cfg(test)]
pub fn stretch(p: u32) -> i32 {
    lut().stretch(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_is_monotone_symmetric_and_inverted_by_stretch() {
        assert_eq!(squash(0), 32768);
        for x in -LOGIT_MAX..LOGIT_MAX {
            assert!(squash(x) <= squash(x + 1));
            assert_eq!(squash(x) + squash(-x), 65536, "x = {x}");
        }
        // stretch inverts squash exactly where squash is steep, and always up to the
        // 16-bit resolution of probabilities
        for x in -LOGIT_MAX..=LOGIT_MAX {
            assert_eq!(squash(stretch(squash(x))), squash(x), "x = {x}");
            if x.abs() <= 1000 {
                assert!((stretch(squash(x)) - x).abs() <= 1, "x = {x}");
            }
        }
        assert_eq!(stretch(32768), 0);
        assert!(stretch(1) < -2700 && stretch(65535) > 2700);
    }

    #[test]
    fn tables_are_the_same_on_every_machine() {
        // a fingerprint of both tables: any platform difference in the integer build fails
        let t = lut();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &v in &t.squash {
            h = (h ^ v as u64).wrapping_mul(0x0100_0000_01b3);
        }
        for &v in &t.stretch {
            h = (h ^ v as u16 as u64).wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(h, FINGERPRINT, "got {h:#x}");
    }

    const FINGERPRINT: u64 = 0xdf41_c988_9b09_0ee6;
}
