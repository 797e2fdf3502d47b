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

/// The hashed tables of a stream's context models, one block of 64-byte slots: table `t`
/// owns slots `t << bits ..` `(t + 1) << bits`. Counters are stored XORed with [`FRESH`], so
/// that a fresh slot is all zeros (its check word 0 is no context's, which are odd).
pub struct Tables {
    slots: Vec<[u32; 16]>,
    bits: u32,
    mask: usize,
}

impl Tables {
    /// `count` tables of `2^bits` slots each.
    pub fn new(count: usize, bits: u32) -> Tables {
        // all zero: fresh (see `Tables`), and memory the kernel hands out untouched
        let slots = vec![[0u32; 16]; count << bits];
        advise_huge_pages(&slots);
        Tables {
            slots,
            bits,
            mask: (1 << bits) - 1,
        }
    }

    /// The slot of table `t` that context hash `h` maps to (not taken over).
    #[inline]
    fn index(&self, t: usize, h: u64) -> usize {
        (t << self.bits) | ((h >> 32) as usize & self.mask)
    }

    /// The slot of context hash `h` in table `t`, taken over (reset) if another context
    /// held it.
    #[inline]
    pub fn slot(&mut self, t: usize, h: u64) -> usize {
        let i = self.index(t, h);
        let check = (h as u32) | 1;
        let s = &mut self.slots[i];
        if s[0] != check {
            *s = [0; 16];
            s[0] = check;
        }
        i
    }

    /// Asks the cache for the slot that [`Tables::slot`] will return for `(t, h)`: a hint
    /// only, it changes no state.
    #[inline]
    pub fn prefetch(&self, t: usize, h: u64) {
        let i = self.index(t, h);
        #[cfg(target_arch = "x86_64")]
        if let Some(s) = self.slots.get(i) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: prefetching is a hint that never faults; the address is a live slot
            unsafe { _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// Counter `node` (1..16) of slot `i`.
    #[inline]
    pub fn get(&self, i: usize, node: usize) -> u32 {
        self.slots[i][node] ^ FRESH
    }

    /// Moves counter `node` (1..16) of slot `i` towards `bit` ([`update`]).
    #[inline]
    pub fn update(&mut self, i: usize, node: usize, bit: u32, limit: u32) {
        let stored = &mut self.slots[i][node];
        let mut c = *stored ^ FRESH;
        update(&mut c, bit, limit);
        *stored = c ^ FRESH;
    }
}

/// Asks the kernel to back the spare capacity of `v` (not yet touched) with huge pages: the
/// tables are read at random, a few lines per value, and with 4 KiB pages nearly every read
/// would also miss the TLB. A hint only.
fn advise_huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * std::mem::size_of::<T>();
        let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if to > from {
            // SAFETY: madvise on a range inside our own allocation; MADV_HUGEPAGE changes how
            // the kernel backs it, never its contents
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
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
        let mut t = Tables::new(2, 4);
        let a = t.slot(1, 0x0000_0003_0000_0010);
        assert_eq!(a, 16 + 3, "table 1, slot 3");
        t.update(a, 1, 1, 255);
        assert_ne!(t.get(a, 1), FRESH);
        assert_eq!(t.slot(1, 0x0000_0003_0000_0010), a);
        assert_ne!(t.get(a, 1), FRESH, "the same context keeps its counters");
        let b = t.slot(1, 0x0000_0003_0000_0020);
        assert_eq!(a, b);
        assert_eq!(t.get(b, 1), FRESH, "another context starts afresh");
    }
}
