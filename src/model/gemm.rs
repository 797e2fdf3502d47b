//! The one place the trainer calls the `gemm` crate (the only `unsafe` in `model`).
//!
//! Training may use multithreaded, runtime-dispatched SIMD matrix products: its results need
//! not be bit-reproducible (only the inference engine's must be).

use rayon::prelude::*;

/// A read-only matrix view: element `(r, c)` lives at `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn rows_t(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat {
            data,
            rs: 1,
            cs: cols,
        }
    }

    /// The view starting `r` rows further down.
    fn skip_rows(self, r: usize) -> Mat<'a> {
        Mat {
            data: &self.data[r * self.rs..],
            ..self
        }
    }

    /// The view starting `c` columns further right.
    fn skip_cols(self, c: usize) -> Mat<'a> {
        Mat {
            data: &self.data[c * self.cs..],
            ..self
        }
    }
}

/// `C (m×n, row-major) = [C +] A (m×k) · B (k×n)`, single- or multithreaded.
///
/// # Panics
/// If a view is too short for the given sizes.
pub(crate) fn matmul(
    (m, n, k): (usize, usize, usize),
    c: &mut [f32],
    accumulate: bool,
    a: Mat<'_>,
    b: Mat<'_>,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(c.len() >= m * n, "gemm: output too short");
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    assert!(
        (m - 1) * a.rs + (k - 1) * a.cs < a.data.len(),
        "gemm: A too short"
    );
    assert!(
        (k - 1) * b.rs + (n - 1) * b.cs < b.data.len(),
        "gemm: B too short"
    );
    let par = if parallel && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every element the strides reach inside its slice; `c` is
    // borrowed mutably and cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// Like [`matmul`], but splits the rows of `C` across rayon tasks, each running a
/// single-threaded product (better for tall, thin products than gemm's own threading).
pub(crate) fn matmul_rows(
    (m, n, k): (usize, usize, usize),
    c: &mut [f32],
    accumulate: bool,
    a: Mat<'_>,
    b: Mat<'_>,
) {
    let threads = rayon::current_num_threads().max(1);
    let block = m.div_ceil(threads * 4).max(64);
    c[..m * n]
        .par_chunks_mut(block * n)
        .enumerate()
        .for_each(|(i, cb)| {
            let rows = cb.len() / n;
            matmul(
                (rows, n, k),
                cb,
                accumulate,
                a.skip_rows(i * block),
                b,
                false,
            );
        });
}

/// `C (m×n, row-major) += A (m×k) · B (k×n)` for a long inner dimension `k` (weight
/// gradients, where `k` counts pixels): `k` is split across threads and the partial products
/// are summed.
pub(crate) fn matmul_long_k(
    (m, n, k): (usize, usize, usize),
    c: &mut [f32],
    a: Mat<'_>,
    b: Mat<'_>,
) {
    let threads = rayon::current_num_threads().max(1);
    if threads == 1 || k < 4096 {
        matmul((m, n, k), c, true, a, b, false);
        return;
    }
    let block = k.div_ceil(threads);
    let parts: Vec<Vec<f32>> = (0..threads)
        .into_par_iter()
        .filter(|t| t * block < k)
        .map(|t| {
            let k0 = t * block;
            let kk = block.min(k - k0);
            let mut part = vec![0f32; m * n];
            matmul(
                (m, n, kk),
                &mut part,
                false,
                a.skip_cols(k0),
                b.skip_rows(k0),
                false,
            );
            part
        })
        .collect();
    for part in parts {
        for (d, v) in c.iter_mut().zip(&part) {
            *d += *v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_match_naive() {
        let (m, n, k) = (70, 9, 5000);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 11) as f32 / 11.0 - 0.5)
            .collect();
        let want = naive(m, n, k, &a, &b);
        let close = |c: &[f32]| want.iter().zip(c).all(|(w, c)| (w - c).abs() < 1e-3);
        let mut c = vec![1f32; m * n];
        matmul(
            (m, n, k),
            &mut c,
            false,
            Mat::rows(&a, k),
            Mat::rows(&b, n),
            true,
        );
        assert!(close(&c));
        let mut c = vec![0f32; m * n];
        matmul_rows((m, n, k), &mut c, true, Mat::rows(&a, k), Mat::rows(&b, n));
        assert!(close(&c));
        let mut c = vec![0f32; m * n];
        matmul_long_k((m, n, k), &mut c, Mat::rows(&a, k), Mat::rows(&b, n));
        assert!(close(&c));
        // transposed views: (B^T A^T)^T = A B
        let mut ct = vec![0f32; n * m];
        matmul(
            (n, m, k),
            &mut ct,
            false,
            Mat::rows_t(&b, n),
            Mat::rows_t(&a, k),
            false,
        );
        assert!((0..m).all(|i| (0..n).all(|j| (ct[j * m + i] - want[i * n + j]).abs() < 1e-3)));
    }
}
