//! What the context models look at: the causal neighbours of a subpixel in its tile, in its
//! own channel and in the channels already coded for the pixel, and the hashed contexts built
//! from them (orders of neighbours, classic predictors, gradients and inter-channel
//! predictions).
//!
//! Neighbours outside the tile are replaced by the nearest known one (W for N on the first
//! row, N for W on the first column, 0 at the first pixel), so every subpixel has a full set.

/// Number of context models.
pub const CONTEXTS: usize = 14;

/// Channel ids of the adaptive stage: colour channels 0..3 (gray is 0), alpha 3.
pub const ALPHA: usize = 3;

/// The neighbourhood of one subpixel.
#[derive(Clone, Copy, Debug, Default)]
pub struct Neighbours {
    /// Channel id (0, 1, 2; [`ALPHA`]).
    pub channel: usize,
    pub w: i32,
    pub n: i32,
    pub nw: i32,
    pub ne: i32,
    pub ww: i32,
    pub nn: i32,
    /// The colour channel coded just before in this pixel: its value, W, N and NW.
    pub prev: Option<[i32; 4]>,
    /// The colour channel before that (R when coding B): its value.
    pub first: Option<i32>,
    /// This pixel's alpha, when coding a colour channel of an image with alpha.
    pub alpha: Option<i32>,
}

/// A tile's pixels (interleaved, `channels` per pixel, `width` per row) during coding.
pub struct Site<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub channels: usize,
}

impl Site<'_> {
    #[inline]
    fn at(&self, i: usize, j: usize, k: usize) -> i32 {
        self.pixels[(i * self.width + j) * self.channels + k] as i32
    }

    /// Same-channel neighbours of `(i, j)` in storage channel `k`: W, N, NW, NE, WW, NN.
    #[inline]
    fn around(&self, i: usize, j: usize, k: usize) -> [i32; 6] {
        let w = self.width;
        if i == 0 && j == 0 {
            return [0; 6];
        }
        if i == 0 {
            let west = self.at(0, j - 1, k);
            let ww = if j >= 2 { self.at(0, j - 2, k) } else { west };
            return [west, west, west, west, ww, west];
        }
        let n = self.at(i - 1, j, k);
        let west = if j > 0 { self.at(i, j - 1, k) } else { n };
        let nw = if j > 0 { self.at(i - 1, j - 1, k) } else { n };
        let ne = if j + 1 < w {
            self.at(i - 1, j + 1, k)
        } else {
            n
        };
        let ww = if j >= 2 { self.at(i, j - 2, k) } else { west };
        let nn = if i >= 2 { self.at(i - 2, j, k) } else { n };
        [west, n, nw, ne, ww, nn]
    }

    /// The neighbourhood of pixel `(i, j)` for the channel coded `pos`-th, channels being
    /// coded in storage order `order` (alpha first if the image has it, `alpha` its storage
    /// channel).
    pub fn gather(
        &self,
        i: usize,
        j: usize,
        order: &[usize],
        pos: usize,
        alpha: Option<usize>,
    ) -> Neighbours {
        let k = order[pos];
        let [w, n, nw, ne, ww, nn] = self.around(i, j, k);
        let is_alpha = alpha == Some(k);
        let here = |k: usize| self.at(i, j, k);
        let (mut before, mut count) = ([0usize; 4], 0);
        for &c in &order[..pos] {
            if Some(c) != alpha {
                before[count] = c;
                count += 1;
            }
        }
        let prev = (count > 0).then(|| {
            let p = before[count - 1];
            let [pw, pn, pnw, ..] = self.around(i, j, p);
            [here(p), pw, pn, pnw]
        });
        let first = (count >= 2).then(|| here(before[0]));
        Neighbours {
            channel: if is_alpha { ALPHA } else { k },
            w,
            n,
            nw,
            ne,
            ww,
            nn,
            prev,
            first,
            alpha: match alpha {
                Some(a) if !is_alpha => Some(here(a)),
                _ => None,
            },
        }
    }
}

/// LOCO-I's median edge detector.
#[inline]
pub fn med(w: i32, n: i32, nw: i32) -> i32 {
    if nw >= w.max(n) {
        w.min(n)
    } else if nw <= w.min(n) {
        w.max(n)
    } else {
        w + n - nw
    }
}

/// A signed difference in 15 classes: 0, ±1, ±2, ±3..4, ±5..8, ±9..16, ±17..32, ±33...
#[inline]
fn q(d: i32) -> u32 {
    let a = d.unsigned_abs();
    let c = match a {
        0 => 0,
        1 => 1,
        2 => 2,
        3..=4 => 3,
        5..=8 => 4,
        9..=16 => 5,
        17..=32 => 6,
        _ => 7,
    };
    if d < 0 {
        c + 7
    } else {
        c
    }
}

#[inline]
fn clamp8(v: i32) -> u32 {
    v.clamp(0, 255) as u32
}

#[inline]
fn hash(values: &[u32]) -> u64 {
    let mut h: u64 = 0x243f_6a88_85a3_08d3;
    for &v in values {
        h = (h ^ v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    h.wrapping_mul(0xd6e8_feb8_6659_fd93)
}

/// The hash of each context model's context for this neighbourhood.
pub fn hashes(nb: &Neighbours) -> [u64; CONTEXTS] {
    let c = nb.channel as u32;
    let (w, n, nw, ne, ww, nn) = (nb.w, nb.n, nb.nw, nb.ne, nb.ww, nb.nn);
    let p = med(w, n, nw);
    let grad = clamp8(w + n - nw);
    let act = (w - nw).abs() + (n - nw).abs() + (n - ne).abs() + (w - ww).abs() + (n - nn).abs();
    let act = 32 - (act as u32).leading_zeros();
    let u = |v: i32| v as u32;
    let mut h = [0u64; CONTEXTS];
    h[0] = hash(&[0, c]);
    h[1] = hash(&[1, c, u(w)]);
    h[2] = hash(&[2, c, u(n)]);
    h[3] = hash(&[3, c, u(w), u(n)]);
    h[4] = hash(&[4, c, u(w), u(n), u(nw), u(ne)]);
    h[5] = hash(&[5, c, u(p)]);
    h[6] = hash(&[6, c, u(w), u(ww), u(n), u(nn)]);
    h[10] = hash(&[10, c, q(w - nw), q(n - nw), q(n - ne), u(p) >> 2]);
    h[11] = hash(&[11, c, grad, act]);
    match nb.prev {
        Some([cur, pw, pn, pnw]) => {
            let first = nb.first.map_or(256, u);
            let alpha = nb.alpha.map_or(256, u);
            let by_w = clamp8(w + cur - pw);
            let by_n = clamp8(n + cur - pn);
            h[7] = hash(&[7, c, u(cur), first, alpha]);
            h[8] = hash(&[8, c, by_w]);
            h[9] = hash(&[9, c, by_n]);
            h[12] = hash(&[12, c, (by_w + by_n) / 2, act]);
            h[13] = hash(&[13, c, q(cur - med(pw, pn, pnw)), u(p)]);
        }
        None => {
            let alpha = nb.alpha.map_or(256, u);
            h[7] = hash(&[7, c, u(w) >> 2, u(n) >> 2, u(ne) >> 2, alpha]);
            h[8] = hash(&[8, c, clamp8(n + ne - nn)]);
            h[9] = hash(&[9, c, u(n), u(ne)]);
            h[12] = hash(&[12, c, clamp8(w + ne - n), act]);
            h[13] = hash(&[13, c, q(w - ww), q(n - nn), u(p) >> 3]);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn med_picks_the_edge_side() {
        assert_eq!(med(10, 20, 30), 10);
        assert_eq!(med(10, 20, 5), 20);
        assert_eq!(med(10, 20, 15), 15);
    }

    #[test]
    fn neighbours_stay_inside_the_tile_and_see_earlier_channels() {
        // 3×2 RGB tile, values = 10 * pixel + channel
        let pixels: Vec<u8> = (0..6)
            .flat_map(|p| (0..3).map(move |c| (10 * p + c) as u8))
            .collect();
        let site = Site {
            pixels: &pixels,
            width: 3,
            channels: 3,
        };
        let first = site.gather(0, 0, &[0, 1, 2], 0, None);
        assert_eq!((first.w, first.n, first.prev), (0, 0, None));
        // pixel (1, 0), channel B: N is (0, 0), W falls back to N, NE is (0, 1)
        let b = site.gather(1, 0, &[0, 1, 2], 2, None);
        assert_eq!((b.channel, b.n, b.w, b.ne), (2, 2, 2, 12));
        assert_eq!(b.prev, Some([31, 1, 1, 1]));
        assert_eq!(b.first, Some(30));
        assert_ne!(hashes(&b), hashes(&first));
    }
}
