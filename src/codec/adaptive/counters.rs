//! Adaptive bit probabilities and the hashed tables that hold them, laid out for the cache.
//!
//! A counter is a `u32`: a 22-bit probability that the next bit is 1 (upper bits) and a
//! 10-bit count of the bits seen (lower bits). It moves towards each bit by `1 / (n + 1.5)`,
//! so its first bits teach it fast (a context seen twice is already sure), and by at most
//! `1 / (limit + 1.5)` later, so it keeps adapting.
//!
//! A table holds slots of 16 counters, 64 bytes, one cache line: a check word and the 15 nodes
//! of the binary tree of one nibble. A value's 8 bits thus cost two slot lookups per context
//! (its high nibble, then its low nibble given the high one). A slot whose check word differs
//! from the context's is taken over and reset, so unrelated contexts rarely share counters.

/// A counter that has seen nothing: probability 1/2, count 0.
pub const FRESH: u32 = 1 << 31;

/// `65536 / (n + 1.5)` for counts `n` (the adaptation rate as a 16-bit fraction).
const RATE: [u32; 1024] = {
    let mut t = [0u32; 1024];
    let mut n = 0;
    while n < 1024 {
        t[n] = 131_072 / (2 * n as u32 + 3);
        n += 1;
    }
    t
};

/// The 16-bit probability that the next bit is 1.
#[inline]
pub fn p16(c: u32) -> u32 {
    c >> 16
}

/// The count of bits a counter has seen (saturating at its limit).
#[cfg(test)]
pub fn count(c: u32) -> u32 {
    c & 1023
}

/// Moves counter `c` towards `bit`; its count saturates at `limit` (< 1024).
#[inline]
pub fn update(c: &mut u32, bit: u32, limit: u32) {
    let n = *c & 1023;
    let p = (*c >> 10) as i64;
    let target = if bit != 0 { (1i64 << 22) - 1 } else { 0 };
    let p = p + (((target - p) * RATE[n as usize] as i64) >> 16);
    *c = ((p as u32) << 10) | (n + 1).min(limit);
}

/// A hashed table of 64-byte slots.
pub struct Table {
    slots: Vec<[u32; 16]>,
    mask: usize,
}

impl Table {
    /// A table of `2^bits` slots.
    pub fn new(bits: u32) -> Table {
        let mut fresh = [FRESH; 16];
        fresh[0] = 0;
        Table {
            slots: vec![fresh; 1 << bits],
            mask: (1 << bits) - 1,
        }
    }

    /// The slot of context hash `h`, taken over (reset) if another context held it.
    #[inline]
    pub fn slot(&mut self, h: u64) -> usize {
        let i = (h >> 32) as usize & self.mask;
        let check = (h as u32) | 1;
        let s = &mut self.slots[i];
        if s[0] != check {
            *s = [FRESH; 16];
            s[0] = check;
        }
        i
    }

    /// Counter `node` (1..16) of slot `i`.
    #[inline]
    pub fn get(&self, i: usize, node: usize) -> u32 {
        self.slots[i][node]
    }

    /// Mutable counter `node` (1..16) of slot `i`.
    #[inline]
    pub fn get_mut(&mut self, i: usize, node: usize) -> &mut u32 {
        &mut self.slots[i][node]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_learn_fast_then_settle() {
        let mut c = FRESH;
        assert_eq!(p16(c), 32768);
        update(&mut c, 1, 255);
        assert!(
            p16(c) > 54000,
            "one bit teaches a fresh counter most of the way"
        );
        for _ in 0..100 {
            update(&mut c, 1, 255);
        }
        assert!(p16(c) > 65000);
        update(&mut c, 0, 255);
        assert!(
            p16(c) > 64000,
            "a long history is not overturned by one bit"
        );
        assert_eq!(count(c), 102);
    }

    #[test]
    fn slots_are_reset_when_another_context_takes_them() {
        let mut t = Table::new(4);
        let a = t.slot(0x0000_0003_0000_0010);
        update(t.get_mut(a, 1), 1, 255);
        assert_ne!(t.get(a, 1), FRESH);
        assert_eq!(t.slot(0x0000_0003_0000_0010), a);
        assert_ne!(t.get(a, 1), FRESH, "the same context keeps its counters");
        let b = t.slot(0x0000_0003_0000_0020);
        assert_eq!(a, b);
        assert_eq!(t.get(b, 1), FRESH, "another context starts afresh");
    }
}
