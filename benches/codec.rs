//! Throughput of the engine steps, the mixture quantization and the range coder, separate
//! from the compression-ratio table (`snailzip bench`).

use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snailzip::arith::Isa;
use snailzip::codec::mixture::PixelMixture;
use snailzip::codec::Options;
use snailzip::config::{KvCache, MulAdd};
use snailzip::weights::SplitMix64;
use snailzip::{Config, Engine, Image, Weights};

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

/// Floating-point operations (a multiply and an add per product) of one 32×32 tile: the
/// dense layers' products at every position plus attention's scores and weighted values
/// over all earlier positions.
fn tile_flops(c: &Config) -> u64 {
    let ch = c.channels as u64;
    let n = 1024u64;
    let input = ch * 4 * (3 + 2);
    let res = c.res_per_block as u64 * (4 * ch * ch + 4 * ch * 2 * ch);
    let (kv, q) = (c.kv_input_size() as u64, c.query_input_size() as u64);
    let (dk, dv) = (c.key_size as u64, c.value_size as u64);
    let attn_layers = kv * (dk + dv) + q * dk + (ch + dv) * ch + ch * 2 * ch;
    let out = ch * c.output_size() as u64;
    let dense = input + c.blocks as u64 * (res + attn_layers) + out;
    let attended = c.blocks as u64 * (dk + dv) * (n * (n - 1) / 2);
    2 * (dense * n + attended)
}

/// The base engine per instruction set and arithmetic, batch 8, in floating-point operations per second
/// (criterion's elements/s = FLOP/s), to compare with `peak`.
fn engine_flops(c: &mut Criterion) {
    let config = Config::base();
    let batch = 8usize;
    let mut group = c.benchmark_group("engine_flops");
    group.sample_size(10);
    group.throughput(Throughput::Elements(batch as u64 * tile_flops(&config)));
    let arithmetics = [
        (KvCache::F32, MulAdd::Separate),
        (KvCache::F16, MulAdd::Separate),
        (KvCache::F16, MulAdd::Fused),
    ];
    for (isa, (kv, mul_add)) in Isa::available()
        .into_iter()
        .flat_map(|isa| arithmetics.map(|a| (isa, a)))
    {
        let weights = Weights::random(&config, 0).with_kv_cache(kv);
        let engine = Engine::new(&weights.with_mul_add(mul_add));
        let name = format!("{}/kv_{}/{}", isa.name(), kv.name(), mul_add.name());
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut s = engine.session_with(isa, batch, 32, 32);
                let px = vec![[128u8, 64, 32]; batch];
                for _ in 0..1024 {
                    std::hint::black_box(s.predict());
                    s.advance(&px);
                }
            })
        });
    }
    group.finish();
}

/// One Kodak photo (768×512, kodim23 from `$SNAILZIP_DATA/kodak`, default `../shared/data`)
/// compressed and decompressed with the built-in photo model on all cores: the end-to-end
/// figure the README's speed table quotes. Skipped with a note when the file is missing.
fn large_image(c: &mut Criterion) {
    let dir = std::env::var("SNAILZIP_DATA").unwrap_or_else(|_| "../shared/data".into());
    let path = std::path::Path::new(&dir).join("kodak/kodim23.png");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("large_image: {} not found, skipped", path.display());
        return;
    };
    let image = Image::decode(&bytes, u64::MAX).expect("kodim23 decodes");
    let builtin = snailzip::builtin::find("photo")
        .or_else(|_| snailzip::builtin::find("cifar"))
        .expect("a built-in model");
    let engine = Engine::new(&builtin.weights().expect("built-in weights"));
    let opts = Options::default();
    let (file, _) = snailzip::compress(&image, &engine, &opts, &|_| {}).expect("compresses");
    let mut group = c.benchmark_group("large_image");
    group.sample_size(10);
    group.throughput(Throughput::Elements((image.width * image.height) as u64));
    group.bench_function("compress_kodim23", |b| {
        b.iter(|| snailzip::compress(&image, &engine, &opts, &|_| {}).expect("compresses"))
    });
    group.bench_function("decompress_kodim23", |b| {
        b.iter(|| snailzip::decompress(&file, &engine, &opts, &|_| {}).expect("decodes"))
    });
    group.finish();
}

/// The adaptive stage alone (effort 1), one thread, on a photo-like 256×256 image (a
/// gradient with noise): version 8 (effort 1's ten context models) against version 7 (all
/// seventeen), compress and decompress; throughput in subpixels.
fn adaptive_stage(c: &mut Criterion) {
    let (w, h) = (256usize, 256usize);
    let mut rng = SplitMix64(3);
    let data: Vec<u8> = (0..w * h * 3)
        .map(|i| {
            let (p, ch) = (i / 3, i % 3);
            let g = (p % w) / 2 + (p / w) / 3 + ch * 40;
            ((g as u64 + rng.next_u64() % 12) % 256) as u8
        })
        .collect();
    let image = Image::new(w, h, snailzip::ColorType::Rgb, data).expect("an image");
    let engine = Engine::new(&Weights::random(&Config::tiny(), 0));
    let mut group = c.benchmark_group("adaptive_stage");
    group.sample_size(10);
    group.throughput(Throughput::Elements((w * h * 3) as u64));
    for version in [8u8, 7] {
        let codec = snailzip::codec::Codec::with_engine(engine.clone())
            .with_options(Options {
                effort: 1,
                threads: 1,
                adaptive_version: Some(version),
                ..Options::default()
            })
            .expect("options");
        let file = codec.compress(&image).expect("compresses").bytes;
        group.bench_function(format!("compress_v{version}"), |b| {
            b.iter(|| codec.compress(&image).expect("compresses"))
        });
        group.bench_function(format!("decompress_v{version}"), |b| {
            b.iter(|| codec.decompress(&file).expect("decodes"))
        });
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
    /// The same with AVX-512 registers, by hand (the compiler's vectorization of 16-lane
    /// arrays is unreliable): 12 chains of 16 lanes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel_avx512(x: &[f32; 16], n: usize) -> f32 {
        use std::arch::x86_64::*;
        // SAFETY: x holds 16 floats.
        let xv = unsafe { _mm512_loadu_ps(x.as_ptr()) };
        let m = _mm512_set1_ps(0.999_999);
        let mut acc = [_mm512_setzero_ps(); 12];
        for _ in 0..n {
            for a in acc.iter_mut() {
                *a = _mm512_add_ps(_mm512_mul_ps(*a, m), xv);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
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
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        let x16 = [1.0f32; 16];
        group.throughput(Throughput::Elements((n * 12 * 16) as u64));
        // SAFETY: AVX-512F support was checked just above.
        group.bench_function("mul_add_avx512", |b| {
            b.iter(|| unsafe { kernel_avx512(std::hint::black_box(&x16), n) })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    engine_tile,
    engine_flops,
    large_image,
    adaptive_stage,
    mixture_coder,
    peak_mul_add
);
criterion_main!(benches);
