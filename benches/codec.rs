//! Throughput of the engine steps, the mixture quantization and the range coder, separate
//! from the compression-ratio table (`snailzip bench`).

use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snailzip::codec::mixture::PixelMixture;
use snailzip::weights::SplitMix64;
use snailzip::{Config, Engine, Weights};

/// One full 32×32 tile through the engine, for a batch of tiles, per model size.
fn engine_tile(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_tile");
    group.sample_size(10);
    for (name, config) in [("tiny", Config::tiny()), ("base", Config::base())] {
        let engine = Engine::new(&Weights::random(&config, 0));
        for batch in [1usize, 8] {
            group.throughput(Throughput::Elements((batch * 1024) as u64));
            group.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, &batch| {
                b.iter(|| {
                    let mut s = engine.session(batch, 32, 32);
                    let px = vec![[128u8, 64, 32]; batch];
                    for _ in 0..1024 {
                        std::hint::black_box(s.predict());
                        s.advance(&px);
                    }
                })
            });
        }
    }
    group.finish();
}

fn random_params(n: usize, k: usize) -> Vec<Vec<f32>> {
    let mut rng = SplitMix64(1);
    (0..n)
        .map(|_| {
            (0..10 * k)
                .map(|_| (rng.next_f64() * 4.0 - 2.0) as f32)
                .collect()
        })
        .collect()
}

/// Mixture → integer CDF → range coder, per subpixel, encode and decode.
fn mixture_coder(c: &mut Criterion) {
    let params = random_params(1024, 10);
    let pixels: Vec<[u8; 3]> = (0..1024).map(|i| [(i % 256) as u8, 100, 200]).collect();
    let encode = || {
        let mut enc = DefaultRangeEncoder::new();
        for (p, px) in params.iter().zip(&pixels) {
            let mut mix = PixelMixture::new(p);
            for (ch, &v) in px.iter().enumerate() {
                let cdf = mix.channel(ch);
                enc.encode_symbol(v, &cdf).unwrap();
                mix.observe(&cdf, ch, v);
            }
        }
        enc.into_compressed().unwrap()
    };
    let words = encode();
    let mut group = c.benchmark_group("mixture_coder");
    group.throughput(Throughput::Elements(3 * 1024));
    group.bench_function("encode", |b| b.iter(encode));
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut dec = DefaultRangeDecoder::from_compressed(words.clone()).unwrap();
            for p in &params {
                let mut mix = PixelMixture::new(p);
                for ch in 0..3 {
                    let cdf = mix.channel(ch);
                    let v = dec.decode_symbol(&cdf).unwrap();
                    mix.observe(&cdf, ch, v);
                }
            }
        })
    });
    group.finish();
}

/// The machine's plain f32 multiply + add rate (separate instructions, as the engine uses
/// them), single thread: 12 independent 8-lane chains `a = a·m + x` keep the multiply and add
/// pipelines full. Elements = multiply-adds, so GFLOP/s = 2 × Gelem/s.
fn peak_mul_add(c: &mut Criterion) {
    #[inline(always)]
    fn kernel(x: &[f32; 8], n: usize) -> f32 {
        let mut acc = [[0.0f32; 8]; 12];
        for _ in 0..n {
            for a in acc.iter_mut() {
                for l in 0..8 {
                    a[l] = a[l] * 0.999_999 + x[l];
                }
            }
        }
        acc.iter().flatten().sum()
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn kernel_avx2(x: &[f32; 8], n: usize) -> f32 {
        kernel(x, n)
    }
    let n = 100_000;
    let x = [1.0f32; 8];
    let mut group = c.benchmark_group("peak");
    group.throughput(Throughput::Elements((n * 12 * 8) as u64));
    group.bench_function("mul_add_portable", |b| {
        b.iter(|| kernel(std::hint::black_box(&x), n))
    });
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was checked just above.
        group.bench_function("mul_add_avx2", |b| {
            b.iter(|| unsafe { kernel_avx2(std::hint::black_box(&x), n) })
        });
    }
    group.finish();
}

criterion_group!(benches, engine_tile, mixture_coder, peak_mul_add);
criterion_main!(benches);
