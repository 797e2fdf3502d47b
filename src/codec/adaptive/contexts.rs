//! What the context models look at: the causal neighbours of a subpixel in its tile, in its
//! own channel and in the channels already coded for the pixel, and the hashed contexts built
//! from them (orders of neighbours, classic predictors, gradients and inter-channel
//! predictions).
//!
//! Neighbours outside the tile come from the tile above or to the left where the stream has
//! already coded it (version 7; never in version 6), else are replaced by the nearest known
//! one (W for N on the first row, N for W on the first column, 0 at the first pixel), so every
//! subpixel has a full set.

/// Number of context models (version 7).
pub const CONTEXTS: usize = 17;
/// Number of context models of version 6 (the first 14).
pub const CONTEXTS_V6: usize = 14;
/// The context models of version 8 (effort 1, the fast mode), as indices into version 7's:
/// those that pay on photos, chosen by dropping each from version 7 on our tuning sets (see
/// the README).
pub const FAST: [usize; FAST_CONTEXTS] = [0, 1, 2, 5, 7, 8, 9, 11, 12, 13];
/// Number of context models of version 8.
pub const FAST_CONTEXTS: usize = 10;
// `Adaptive::hashes` picks them in place: the list must increase
const _: () = {
    let mut i = 1;
    while i < FAST_CONTEXTS {
        assert!(FAST[i - 1] < FAST[i] && FAST[i] < CONTEXTS);
        i += 1;
    }
};

/// Channel ids of the adaptive stage: colour channels 0..3 (gray is 0), alpha 3.
pub const ALPHA: usize = 3;

/// Stands for a neighbour of the wide template that does not exist (outside every coded
/// tile).
const ABSENT: i32 = 256;

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
    /// The wide template (version 7): WWW, NWW, NEE, NNE, NNW, [`ABSENT`] where unknown.
    pub far: [i32; 5],
    /// The same channel 4 and 8 pixels up and to the left (version 7): N4, N8, W4, W8,
    /// [`ABSENT`] where unknown (periodic patterns such as ordered dithering).
    pub period: [i32; 4],
}

/// A tile next to the one being coded, already coded in the same stream.
#[derive(Clone, Copy, Debug)]
pub struct Border<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub height: usize,
}

/// A tile's pixels (interleaved, `channels` per pixel, `width` per row) during coding, with
/// the coded tiles above and to the left, if any.
pub struct Site<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub channels: usize,
    pub above: Option<Border<'a>>,
    pub left: Option<Border<'a>>,
}

impl Site<'_> {
    /// Storage channel `k` at row `i`, column `j` of the tile, where negative rows are the
    /// tile above and negative columns the tile to the left; `None` outside them. Only
    /// causal positions are asked for.
    #[inline]
    fn get(&self, i: isize, j: isize, k: usize) -> Option<i32> {
        let ch = self.channels;
        let w = self.width as isize;
        let (b, i, j) = if i >= 0 && j >= 0 && j < w {
            return Some(self.pixels[(i as usize * self.width + j as usize) * ch + k] as i32);
        } else if i < 0 && j >= 0 && j < w {
            let b = self.above?;
            (b, b.height as isize + i, j)
        } else if i >= 0 && j < 0 {
            let b = self.left?;
            (b, i, b.width as isize + j)
        } else {
            return None;
        };
        (i >= 0 && j >= 0).then(|| b.pixels[(i as usize * b.width + j as usize) * ch + k] as i32)
    }

    /// Same-channel neighbours of `(i, j)` in storage channel `k`: W, N, NW, NE, WW, NN.
    #[inline]
    fn around(&self, i: usize, j: usize, k: usize) -> [i32; 6] {
        let (i, j) = (i as isize, j as isize);
        let g = |di: isize, dj: isize| self.get(i + di, j + dj, k);
        let (w_known, n_known) = (g(0, -1), g(-1, 0));
        let (west, n) = match (w_known, n_known) {
            (None, None) => return [0; 6],
            (Some(a), None) => (a, a),
            (None, Some(b)) => (b, b),
            (Some(a), Some(b)) => (a, b),
        };
        let nw = g(-1, -1).unwrap_or(if n_known.is_some() { n } else { west });
        let ne = g(-1, 1).unwrap_or(n);
        let ww = g(0, -2).unwrap_or(west);
        let nn = g(-2, 0).unwrap_or(n);
        [west, n, nw, ne, ww, nn]
    }

    /// The wide template of `(i, j)` in storage channel `k`: WWW, NWW, NEE, NNE, NNW; and
    /// N4, N8, W4, W8.
    fn far(&self, i: usize, j: usize, k: usize) -> ([i32; 5], [i32; 4]) {
        let (i, j) = (i as isize, j as isize);
        let g = |di: isize, dj: isize| self.get(i + di, j + dj, k).unwrap_or(ABSENT);
        (
            [g(0, -3), g(-1, -2), g(-1, 2), g(-2, 1), g(-2, -1)],
            [g(-4, 0), g(-8, 0), g(0, -4), g(0, -8)],
        )
    }

    /// The neighbourhood of pixel `(i, j)` for the channel coded `pos`-th, channels being
    /// coded in storage order `order` (alpha first if the image has it, `alpha` its storage
    /// channel); `wide`: with the wide template (version 7).
    pub fn gather(
        &self,
        i: usize,
        j: usize,
        order: &[usize],
        pos: usize,
        alpha: Option<usize>,
        wide: bool,
    ) -> Neighbours {
        let k = order[pos];
        let [w, n, nw, ne, ww, nn] = self.around(i, j, k);
        let (far, period) = if wide {
            self.far(i, j, k)
        } else {
            ([ABSENT; 5], [ABSENT; 4])
        };
        let is_alpha = alpha == Some(k);
        let here = |k: usize| self.pixels[(i * self.width + j) * self.channels + k] as i32;
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
            far,
            period,
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
    // version 7: the wide template's exact values (repeated glyphs, dither patterns) and its
    // pattern of neighbours equal to W and to N (shapes whatever their colours)
    let [www, nww, nee, nne, nnw] = nb.far;
    h[14] = hash(&[
        14,
        c,
        u(w),
        u(n),
        u(nw),
        u(ne),
        u(ww),
        u(nn),
        u(www),
        u(nww),
        u(nee),
        u(nne),
        u(nnw),
    ]);
    let mut pattern = 0u32;
    for v in [n, nw, ne, ww, nn, www, nww, nee, nne, nnw] {
        pattern = pattern << 1 | (v == w) as u32;
    }
    for v in [nw, ne, nn, nee, nne, nnw] {
        pattern = pattern << 1 | (v == n) as u32;
    }
    h[15] = hash(&[15, c, pattern, u(w), q(n - w)]);
    let [n4, n8, w4, w8] = nb.period;
    h[16] = hash(&[16, c, u(n4), u(n8), u(w4), u(w8), u(w)]);
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
            above: None,
            left: None,
        };
        let first = site.gather(0, 0, &[0, 1, 2], 0, None, false);
        assert_eq!((first.w, first.n, first.prev), (0, 0, None));
        // pixel (1, 0), channel B: N is (0, 0), W falls back to N, NE is (0, 1)
        let b = site.gather(1, 0, &[0, 1, 2], 2, None, false);
        assert_eq!((b.channel, b.n, b.w, b.ne), (2, 2, 2, 12));
        assert_eq!(b.prev, Some([31, 1, 1, 1]));
        assert_eq!(b.first, Some(30));
        assert_ne!(hashes(&b), hashes(&first));
    }

    #[test]
    fn neighbours_reach_into_coded_tiles_above_and_left() {
        // gray 2×2 tiles: above [1 2; 3 4], left [5 6; 7 8], this one [9 10; 11 12]
        fn border(pixels: &[u8]) -> Border<'_> {
            Border {
                pixels,
                width: 2,
                height: 2,
            }
        }
        let (above, left, here) = ([1u8, 2, 3, 4], [5u8, 6, 7, 8], [9u8, 10, 11, 12]);
        let site = Site {
            pixels: &here,
            width: 2,
            channels: 1,
            above: Some(border(&above)),
            left: Some(border(&left)),
        };
        // pixel (0, 0): N and NN from above, W and WW from the left, NW unknown (N)
        let nb = site.gather(0, 0, &[0], 0, None, true);
        assert_eq!((nb.w, nb.n, nb.nw, nb.ne, nb.ww, nb.nn), (6, 3, 3, 4, 5, 1));
        assert_eq!(nb.far, [ABSENT, ABSENT, ABSENT, 2, ABSENT]);
        // pixel (1, 0): NW from the left tile's first row
        let nb = site.gather(1, 0, &[0], 0, None, true);
        assert_eq!((nb.w, nb.n, nb.nw, nb.ne, nb.nn), (8, 9, 6, 10, 3));
        // without borders (version 6) the fallbacks stay inside the tile
        let alone = Site {
            above: None,
            left: None,
            ..site
        };
        let nb = alone.gather(1, 0, &[0], 0, None, false);
        assert_eq!((nb.w, nb.n, nb.nw, nb.ne, nb.nn), (9, 9, 9, 10, 9));
    }
}
