//! The fuzzers' seed corpora (`fuzz/seeds/`) are valid inputs of today's code: `.snz` seeds
//! decode with the fuzzers' tiny model (seed 7) and cover every container version and the
//! metadata section, and the header target rebuilds each of them from its seed; image seeds
//! decode or are refused as intended; the model seed loads.
//! `SNAILZIP_WRITE_FUZZ_SEEDS=1 cargo test --release fuzz_seeds` writes them afresh.

use std::path::{Path, PathBuf};

use snailzip::codec::container;
use snailzip::codec::{self, Codec, Logarithm, NetworkUse, Options};
use snailzip::image_io::{Chunk, Metadata};
use snailzip::Limits;
use snailzip::{ColorType, Config, Engine, Image, Weights};

use super::util::{as_version_1, cmyk_tiff, png_with_chunks, png_with_metadata, structured};

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

fn tiny() -> (Weights, Engine) {
    let w = Weights::random(&Config::tiny(), 7);
    let e = Engine::new(&w);
    (w, e)
}

/// Where a `.snz` file's color byte and checksum are and its sizes end (sizes below 128: one
/// byte each).
fn header_layout(file: &[u8]) -> (usize, usize, usize) {
    if file[3] == 1 {
        (12, 14, 20) // 8 id bytes, and the tile size after the color
    } else {
        (8, 9, 15)
    }
}

/// The `decompress_header` input from which that target rebuilds `file` (of at most 32×32
/// pixels): width - 1, height - 1, color - 1 plus (version - 1) × 4, the checksum, then the
/// bytes after the sizes.
fn header_input(file: &[u8]) -> Vec<u8> {
    let (color, crc, end) = header_layout(file);
    let (width, height) = (file[end - 2], file[end - 1]);
    assert!((1..=32).contains(&width) && (1..=32).contains(&height));
    let color = file[color];
    let mut input = vec![width - 1, height - 1, (color - 1) | ((file[3] - 1) << 2)];
    input.extend_from_slice(&file[crc..crc + 4]);
    input.extend_from_slice(&file[end..]);
    input
}

/// The file `fuzz/fuzz_targets/decompress_header.rs` builds from `input` (the same steps).
fn header_target_file(input: &[u8], engine: &Engine) -> Vec<u8> {
    let width = 1 + input[0] % 32;
    let height = 1 + input[1] % 32;
    let color = 1 + input[2] % 4;
    let version = 1 + (input[2] >> 2) % container::VERSION_METADATA;
    let mut file = b"SNZ".to_vec();
    file.push(version);
    if version == 1 {
        file.extend_from_slice(&engine.id());
        file.push(color);
        file.push(snailzip::config::TILE as u8);
    } else {
        file.extend_from_slice(&engine.id()[..4]);
        file.push(color);
    }
    file.extend_from_slice(&input[3..7]);
    file.extend_from_slice(&[width, height]);
    file.extend_from_slice(&input[7..]);
    file
}

/// `img` with `meta`, as `engine`'s codec with `options` writes it.
fn encode_with(engine: &Engine, img: &Image, meta: &Metadata, options: Options) -> Vec<u8> {
    Codec::with_engine(engine.clone())
        .with_options(options)
        .unwrap()
        .compress_many(
            std::slice::from_ref(img),
            std::slice::from_ref(meta),
            &|_| {},
        )
        .unwrap()
        .remove(0)
        .bytes
}

/// `img` coded by the adaptive stage in container `version` at `effort` (2: the network on
/// every tile that may use it, as the first adaptive builds chose).
fn encode_adaptive(
    engine: &Engine,
    img: &Image,
    meta: &Metadata,
    version: u8,
    effort: u8,
) -> Vec<u8> {
    let options = Options {
        effort,
        adaptive_version: Some(version),
        network_use: NetworkUse::Tiles,
        ..Options::default()
    };
    encode_with(engine, img, meta, options)
}

/// The seeds, by fuzz target: (target, file name, bytes).
fn generate() -> Vec<(&'static str, String, Vec<u8>)> {
    let (weights, engine) = tiny();
    let mut out = Vec::new();
    // the network alone: the seeds are files of versions 1 to 5
    let o = Options {
        effort: 0,
        ..Options::default()
    };
    let images = [
        structured(30, 20, ColorType::Rgb, 1),
        structured(9, 9, ColorType::GrayAlpha, 2),
        structured(24, 3, ColorType::Rgba, 3),
        structured(5, 20, ColorType::Gray, 4),
    ];
    let text = Metadata {
        chunks: vec![Chunk {
            kind: *b"tEXt",
            after_image: true,
            data: b"Comment\0seed".to_vec(),
        }],
    };
    let encode = |img: &Image, meta: &Metadata, logarithm: Logarithm| {
        let options = Options {
            logarithm,
            effort: 0,
            ..Options::default()
        };
        encode_with(&engine, img, meta, options)
    };
    // every container version the decoder reads: today's 4 and 5 (metadata), the legacy 2
    // and 3 (platform logarithm) and 1 (the version 2 payloads behind the older header)
    let mut files = Vec::new();
    for (k, img) in images.iter().enumerate() {
        let meta = if k == 2 {
            text.clone()
        } else {
            Metadata::default()
        };
        files.push((format!("file{k}.snz"), encode(img, &meta, Logarithm::Libm)));
    }
    let v2 = encode(&images[0], &Metadata::default(), Logarithm::Platform);
    files.push(("legacy-v1.snz".into(), as_version_1(&v2, &engine)));
    files.push(("legacy-v2.snz".into(), v2));
    files.push((
        "legacy-v3.snz".into(),
        encode(&images[2], &text, Logarithm::Platform),
    ));
    for (name, file) in files {
        let tail = format!("tail-{}", name.trim_end_matches(".snz"));
        out.push(("decompress_header", tail, header_input(&file)));
        out.push(("decompress", name, file));
    }
    // the adaptive versions (the header target builds only versions 1 to 5): 6 and 8 without
    // the network (metadata, alpha), 7 with it (four tiles, where it pays)
    let four_tiles = structured(45, 35, ColorType::Gray, 5);
    for (version, effort, img, meta) in [
        (6, 1, &images[2], &text),
        (7, 2, &four_tiles, &Metadata::default()),
        (8, 1, &images[1], &Metadata::default()),
    ] {
        out.push((
            "decompress",
            format!("adaptive-v{version}.snz"),
            encode_adaptive(&engine, img, meta, version, effort),
        ));
    }
    for (k, img) in images.iter().enumerate() {
        // roundtrip: size, layout, metadata flags, then pixels
        let mut rt = vec![
            img.width as u8 - 1,
            img.height as u8 - 1,
            img.color.code() - 1,
            k as u8,
        ];
        rt.extend(img.data.iter().take(64));
        out.push(("roundtrip", format!("image{k}"), rt));
    }
    // the built-in model's files start with its id: a real one, cut short
    let builtin = Engine::new(&snailzip::builtin::models()[0].weights().unwrap());
    let small = structured(12, 10, ColorType::Rgb, 5);
    let (file, _) = codec::compress(&small, &builtin, &o, &|_| {}).unwrap();
    out.push(("decompress_builtin", "file0.snz".into(), file));
    // and a retired model's file, of the version it wrote
    let retired = Engine::new(&snailzip::builtin::retired()[0].weights().unwrap());
    let legacy = Options {
        logarithm: Logarithm::Platform,
        effort: 0,
        ..Options::default()
    };
    let (file, _) = codec::compress(&small, &retired, &legacy, &|_| {}).unwrap();
    out.push(("decompress_builtin", "retired-v2.snz".into(), file));
    let png = images[0].to_png().unwrap();
    out.push(("image_input", "plain.png".into(), png.clone()));
    out.push((
        "image_input",
        "metadata.png".into(),
        png_with_metadata(&images[2]),
    ));
    out.push((
        "image_input",
        "animated.png".into(),
        png_with_chunks(&png, &[(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0])], &[]),
    ));
    out.push(("image_input", "cmyk.tif".into(), cmyk_tiff()));
    for (name, format) in [
        ("gray.pgm", image::ImageFormat::Pnm),
        ("image.bmp", image::ImageFormat::Bmp),
        ("image.qoi", image::ImageFormat::Qoi),
        ("image.tif", image::ImageFormat::Tiff),
    ] {
        let img = if name.ends_with("pgm") {
            &images[3]
        } else {
            &images[0]
        };
        out.push(("image_input", name.into(), img.encode(format).unwrap()));
    }
    out.push(("model_load", "tiny.safetensors".into(), weights.to_bytes()));
    out
}

#[test]
fn fuzz_seeds_are_valid_inputs() {
    let seeds = generate();
    let dir = seeds_dir();
    if std::env::var_os("SNAILZIP_WRITE_FUZZ_SEEDS").is_some() {
        for (target, name, bytes) in &seeds {
            std::fs::create_dir_all(dir.join(target)).unwrap();
            std::fs::write(dir.join(target).join(name), bytes).unwrap();
        }
    }
    let (_, engine) = tiny();
    let read_dir = |t: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(t))
            .unwrap_or_else(|e| panic!("fuzz/seeds/{t}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    // .snz seeds decode, and re-encode to the same file with the arithmetic their version
    // names (what the decompress target asserts); every version is among them
    let mut versions = Vec::new();
    let mut adaptive = 0;
    for p in read_dir("decompress") {
        let file = bytes(&p);
        let back = Codec::with_engine(engine.clone())
            .decompress(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        versions.push(file[3]);
        if container::is_adaptive(file[3]) {
            // (the version 7 seed uses the network, the others do not)
            assert_eq!(back.model.is_some(), file[3] == 7, "{}", p.display());
            // re-encoded with the options that wrote it (the file records no effort)
            let effort = if back.model.is_some() { 2 } else { 1 };
            let again = encode_adaptive(&engine, &back.image, &back.metadata, file[3], effort);
            assert!(again == file, "{}: re-encodes differently", p.display());
            adaptive += 1;
            continue;
        }
        let options = Options {
            logarithm: container::logarithm(file[3]),
            effort: 0,
            ..Options::default()
        };
        let again = Codec::with_engine(engine.clone())
            .with_options(options)
            .unwrap()
            .compress_many(&[back.image], &[back.metadata], &|_| {})
            .unwrap()
            .remove(0)
            .bytes;
        if file[3] == 1 {
            assert_eq!(as_version_1(&again, &engine), file, "{}", p.display());
        } else {
            assert!(again == file, "{}: re-encodes differently", p.display());
        }
        // the header target rebuilds exactly this file from its seed
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        let tail = bytes(&dir.join("decompress_header").join(format!("tail-{stem}")));
        assert!(header_target_file(&tail, &engine) == file, "tail-{stem}");
    }
    versions.sort();
    versions.dedup();
    assert_eq!(
        versions,
        (1..=container::NEWEST_VERSION).collect::<Vec<_>>()
    );
    for p in read_dir("image_input") {
        let r = Image::decode_with_metadata(&bytes(&p), &Limits::default());
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let refused = name.starts_with("animated") || name.starts_with("cmyk");
        assert_eq!(r.is_err(), refused, "{name}");
    }
    for p in read_dir("model_load") {
        let w = Weights::from_bytes(&bytes(&p)).unwrap();
        assert_eq!(w.id(), tiny().0.id());
    }
    // one header seed per .snz seed of versions 1 to 5 (each checked above)
    assert_eq!(
        read_dir("decompress_header").len(),
        read_dir("decompress").len() - adaptive
    );
    let builtins = Codec::builtin().unwrap();
    for p in read_dir("decompress_builtin") {
        builtins
            .decompress(&bytes(&p))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    assert!(!read_dir("roundtrip").is_empty());
}
