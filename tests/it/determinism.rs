//! The same bytes for any thread count and batch size, and golden values that pin the
//! arithmetic on every platform that runs the tests.

use snailzip::codec::{self, Codec, Logarithm, NetworkUse, Options};
use snailzip::config::KvCache;
use snailzip::{ColorType, Config, Engine, Weights};

use super::util::{sha256_hex, structured, tiny_engine};

fn compress_with(threads: usize, batch: usize, engine: &Engine, img: &snailzip::Image) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let options = Options {
        batch,
        ..Options::default()
    };
    pool.install(|| codec::compress(img, engine, &options, &|_| {}).unwrap().0)
}

#[test]
fn threads_and_batch_sizes_give_identical_bytes() {
    let engine = tiny_engine(21);
    let img = structured(130, 70, ColorType::Rgb, 5);
    let reference = compress_with(1, 16, &engine, &img);
    for (threads, batch) in [(2, 16), (3, 1), (1, 3), (2, 5), (4, 64)] {
        assert_eq!(
            compress_with(threads, batch, &engine, &img),
            reference,
            "threads {threads} batch {batch}"
        );
    }
}

#[test]
fn engine_output_is_bitwise_stable() {
    // Golden hash of the raw f32 outputs of the seed-0 tiny model on a fixed 8x8 tile, and of
    // one base-size layer stack on a 4x4 tile. Regenerate (only after an intended change to
    // the engine's arithmetic or to Weights::random) with:
    //   cargo test engine_output_is_bitwise_stable -- --nocapture
    let pixels: Vec<u8> = (0..8 * 8 * 3).map(|i| (i * 53 % 256) as u8).collect();
    let tiny = Engine::new(&Weights::random(&Config::tiny(), 0));
    let out = tiny.forward_tile(&pixels, 8, 8);
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    let tiny_hash = sha256_hex(&bytes);
    let base = Engine::new(&Weights::random(&Config::base(), 0));
    let out = base.forward_tile(&pixels[..4 * 4 * 3], 4, 4);
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    let base_hash = sha256_hex(&bytes);
    // the f16 key/value cache is another arithmetic, pinned by its own hash
    let half = Engine::new(&Weights::random(&Config::tiny(), 0).with_kv_cache(KvCache::F16));
    let out = half.forward_tile(&pixels, 8, 8);
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    let half_hash = sha256_hex(&bytes);
    println!("tiny {tiny_hash}\nbase {base_hash}\ntiny f16 {half_hash}");
    assert_eq!(
        tiny_hash,
        "bec659eca4e769121841f9cabf2398596a09f10263a2b4e31172e3959e1a3e4d"
    );
    assert_eq!(
        base_hash,
        "c2f78c025196ce6702eff65bab24195b3a7e14cfdabe507812bd06d4de18a136"
    );
    assert_eq!(
        half_hash,
        "4b513d9cc2ab2d23cceed696ac4ae242b5936c2b6d25c1b2324aca4a2a238680"
    );
}

#[test]
fn golden_file_bytes() {
    // The complete .snz file of a fixed image with the seed-0 tiny model: any change to the
    // engine, the quantization, the coder or the container shows up here. The version 2 file
    // is what builds before the portable logarithm wrote; it must stay reproducible. The
    // third file is coded with the f16 key/value cache (another model id and arithmetic).
    // The last four are the adaptive stage: version 8 without the network (effort 1), version
    // 7 with it where it pays (the default), the smallest of every way (version 7 without
    // the network), and version 7 asked for at effort 1 (what builds of 2026-12-03 wrote).
    let img = structured(37, 9, ColorType::Rgba, 3);
    let f16 = Engine::new(&Weights::random(&Config::tiny(), 0).with_kv_cache(KvCache::F16));
    let mut hashes = Vec::new();
    for (log, engine, effort, adaptive_version) in [
        (Logarithm::Libm, tiny_engine(0), 0, None),
        (Logarithm::Platform, tiny_engine(0), 0, None),
        (Logarithm::Libm, f16, 0, None),
        (Logarithm::Libm, tiny_engine(0), 1, None),
        (Logarithm::Libm, tiny_engine(0), 2, None),
        (Logarithm::Libm, tiny_engine(0), 3, None),
        (Logarithm::Libm, tiny_engine(0), 1, Some(7)),
    ] {
        let options = Options {
            batch: 16,
            logarithm: log,
            effort,
            adaptive_version,
            network_use: NetworkUse::Tiles,
            ..Options::default()
        };
        let bytes = codec::compress(&img, &engine, &options, &|_| {}).unwrap().0;
        let hash = sha256_hex(&bytes);
        println!(
            "{log:?} effort {effort}: version {}, {} bytes, {hash}",
            bytes[3],
            bytes.len()
        );
        // decoding follows the file's version, whatever the options say
        let back = codec::decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap();
        assert_eq!(back, img);
        hashes.push(hash);
    }
    assert_eq!(
        hashes,
        [
            "f0364ba20a394deda9c5b4d938404658583b1100d77ef335061daf5a5b117912",
            "926b930beb1faf1254a7ed99a10ed2c5b21cd805b3a6464494b7319cd2d7ebcc",
            "24b47116b550c2b6611e6b5c1ee63dcf44f85932ef02faadc1d210a7a825fee2",
            "9b6ae3d18c08286e9f43a940c18a0b636445e8ec0992d4bd0da363b49dc91561",
            "80022d63e9a1e65677318b886b88a26522442b765dcb926c3dd8a1136bbe5edd",
            "520e8a4da3f0ae2b4d991ca5f99a94598c08d4e11188acffaf85be566e2f7547",
            "520e8a4da3f0ae2b4d991ca5f99a94598c08d4e11188acffaf85be566e2f7547"
        ]
    );
}

#[test]
fn pooled_images_give_the_same_files_as_single_ones() {
    let engine = tiny_engine(22);
    let images: Vec<_> = (0..7)
        .map(|s| structured(20 + s as usize * 9, 32, ColorType::Rgb, s))
        .chain([
            structured(32, 32, ColorType::Gray, 9),
            structured(32, 32, ColorType::Rgba, 10),
        ])
        .collect();
    let options = Options {
        batch: 4,
        ..Options::default()
    };
    let snz = Codec::with_engine(engine.clone())
        .with_options(options)
        .unwrap();
    let pooled = snz.compress_many(&images, &[], &|_| {}).unwrap();
    for (img, file) in images.iter().zip(&pooled) {
        assert_eq!(
            file.bytes,
            codec::compress(img, &engine, &Options::default(), &|_| {})
                .unwrap()
                .0
        );
    }
    // decode them pooled too, with one corrupt file among them
    let mut files: Vec<Vec<u8>> = pooled.into_iter().map(|f| f.bytes).collect();
    let last = files[3].len() - 1;
    files[3][last] ^= 0x40;
    files[5].truncate(10);
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    let decoded = snz.decompress_many(&refs, &|_| {});
    for (k, (img, got)) in images.iter().zip(decoded).enumerate() {
        match k {
            3 | 5 => assert!(got.is_err(), "file {k} should fail"),
            _ => assert_eq!(&got.unwrap().image, img, "file {k}"),
        }
    }
}
