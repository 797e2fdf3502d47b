//! The fuzzers' seed corpora (`fuzz/seeds/`) are valid inputs of today's code: `.snz` seeds
//! decode with the fuzzers' tiny model (seed 7), image seeds decode or are refused as
//! intended, the model seed loads. `SNAILZIP_WRITE_FUZZ_SEEDS=1 cargo test --release
//! fuzz_seeds` writes them afresh.

use std::path::{Path, PathBuf};

use snailzip::codec::{self, Codec, Options};
use snailzip::image_io::{Chunk, Metadata};
use snailzip::Limits;
use snailzip::{ColorType, Config, Engine, Image, Weights};

use super::util::{cmyk_tiff, png_with_chunks, png_with_metadata, structured};

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

fn tiny() -> (Weights, Engine) {
    let w = Weights::random(&Config::tiny(), 7);
    let e = Engine::new(&w);
    (w, e)
}

/// The seeds, by fuzz target: (target, file name, bytes).
fn generate() -> Vec<(&'static str, String, Vec<u8>)> {
    let (weights, engine) = tiny();
    let mut out = Vec::new();
    let o = Options::default();
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
    for (k, img) in images.iter().enumerate() {
        let meta = if k == 2 {
            text.clone()
        } else {
            Metadata::default()
        };
        let file = Codec::with_engine(engine.clone())
            .with_options(o.clone())
            .unwrap()
            .compress_many(
                std::slice::from_ref(img),
                std::slice::from_ref(&meta),
                &|_| {},
            )
            .unwrap()
            .remove(0)
            .bytes;
        out.push(("decompress", format!("file{k}.snz"), file.clone()));
        // decompress_header: width, height, color (+0x80: version 3), 4 checksum bytes, then
        // the file's bytes after its header
        let header_end = 13 + 2;
        let mut tail = vec![
            (img.width - 1) as u8,
            (img.height - 1) as u8,
            img.color.code() - 1 + if k == 2 { 0x80 } else { 0 },
        ];
        tail.extend_from_slice(&file[9..13]);
        tail.extend_from_slice(&file[header_end..]);
        out.push(("decompress_header", format!("tail{k}"), tail));
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
    for p in read_dir("decompress") {
        codec::decompress(&bytes(&p), &engine, &Options::default(), &|_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
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
    for t in ["decompress_header", "decompress_builtin", "roundtrip"] {
        assert!(!read_dir(t).is_empty(), "{t}");
    }
}
