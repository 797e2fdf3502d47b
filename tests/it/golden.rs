//! `.snz` files written on x86-64 and committed (`tests/data/golden/`) decode to the expected
//! pixels and metadata, in process (no binary spawned, so that the check runs under an
//! emulator's test runner too), and the encoder of the machine running the test writes them
//! again byte for byte. Every container version the decoder reads is here, and a file from
//! every built-in model, current and retired. `scripts/cross.sh` runs this on aarch64 and on
//! big-endian s390x.
//!
//! `SNAILZIP_WRITE_GOLDEN=1 cargo test golden_files` writes the files afresh; do that only on
//! x86-64, after an intended change of the format or of the arithmetic (and say so in the
//! commit), since the point of the files is that they were made on another machine.

use std::path::PathBuf;

use snailzip::codec::{self, container, Codec, Logarithm, NetworkUse, Options};
use snailzip::config::{KvCache, MulAdd};
use snailzip::image_io::{Chunk, Metadata};
use snailzip::{builtin, ColorType, Config, Engine, Image, Weights};

use super::util::{as_version_1, structured};

/// One golden file: its name, the model that codes it, the image and its metadata, and the
/// logarithm it is coded with (the version follows from that and the metadata).
struct Golden {
    name: String,
    engine: Engine,
    image: Image,
    metadata: Metadata,
    logarithm: Logarithm,
    /// The effort (0: the network alone, versions 1 to 5; else an adaptive version).
    effort: u8,
    /// The adaptive version written at efforts 1 to 3 (6, 7 or 8).
    adaptive_version: u8,
}

fn text() -> Metadata {
    Metadata {
        chunks: vec![Chunk {
            kind: *b"tEXt",
            after_image: true,
            data: b"Comment\0golden".to_vec(),
        }],
    }
}

fn goldens() -> Vec<Golden> {
    let tiny = || Engine::new(&Weights::random(&Config::tiny(), 0));
    let mut out = Vec::new();
    // the tiny model, in every version this build writes and the legacy ones; two tiles
    // across, an odd height
    for (logarithm, metadata, v) in [
        (Logarithm::Libm, Metadata::default(), 4),
        (Logarithm::Libm, text(), 5),
        (Logarithm::Platform, Metadata::default(), 2),
        (Logarithm::Platform, text(), 3),
    ] {
        out.push(Golden {
            name: format!("tiny-v{v}.snz"),
            engine: tiny(),
            image: structured(37, 9, ColorType::Rgba, 3),
            metadata,
            logarithm,
            effort: 0,
            adaptive_version: 7,
        });
    }
    // versions 6 to 8: the adaptive stage alone (metadata, alpha), and with the network
    // (gray; version 8 is effort 1's, but decodes with the network too)
    for v in [6, 7, 8] {
        out.push(Golden {
            name: format!("tiny-v{v}-e1.snz"),
            engine: tiny(),
            image: structured(37, 9, ColorType::Rgba, 3),
            metadata: text(),
            logarithm: Logarithm::Libm,
            effort: 1,
            adaptive_version: v,
        });
        out.push(Golden {
            name: format!("tiny-v{v}-e2.snz"),
            engine: tiny(),
            image: structured(45, 35, ColorType::Gray, 5),
            metadata: Metadata::default(),
            logarithm: Logarithm::Libm,
            effort: 2,
            adaptive_version: v,
        });
    }
    out.push(Golden {
        name: "tiny-f16-v4.snz".into(),
        engine: Engine::new(&Weights::random(&Config::tiny(), 0).with_kv_cache(KvCache::F16)),
        image: structured(20, 33, ColorType::GrayAlpha, 4),
        metadata: Metadata::default(),
        logarithm: Logarithm::Libm,
        effort: 0,
        adaptive_version: 7,
    });
    // fused multiply-adds, the arithmetic of the built-in models since 2026-12-03
    out.push(Golden {
        name: "tiny-fused-e2.snz".into(),
        engine: Engine::new(
            &Weights::random(&Config::tiny(), 0)
                .with_kv_cache(KvCache::F16)
                .with_mul_add(MulAdd::Fused),
        ),
        image: structured(33, 20, ColorType::Rgb, 6),
        metadata: Metadata::default(),
        logarithm: Logarithm::Libm,
        effort: 2,
        adaptive_version: 7,
    });
    for m in builtin::models().into_iter().chain(builtin::retired()) {
        out.push(Golden {
            name: format!("builtin-{}.snz", m.name),
            engine: Engine::new(&m.weights().unwrap()),
            image: structured(14, 11, ColorType::Rgb, 10 + image_seed(m.name)),
            metadata: Metadata::default(),
            logarithm: Logarithm::Libm,
            effort: 0,
            adaptive_version: 7,
        });
    }
    // the current built-in models, and those they replaced by a change of arithmetic only, in
    // versions 6 and 7, the network on every tile that pays
    let current_weights = builtin::models().into_iter().chain(
        builtin::retired()
            .into_iter()
            .filter(|m| m.name.ends_with("-f16")),
    );
    for v in [6, 7] {
        for m in current_weights.clone() {
            out.push(Golden {
                name: format!("builtin-{}-v{v}.snz", m.name),
                engine: Engine::new(&m.weights().unwrap()),
                image: structured(40, 33, ColorType::Rgb, 20 + image_seed(m.name)),
                metadata: Metadata::default(),
                logarithm: Logarithm::Libm,
                effort: 2,
                adaptive_version: v,
            });
        }
    }
    out
}

/// The seed of a built-in model's golden images: its place in the list the files were first
/// written from, so that a model keeps its image when the list changes. A model that is the
/// weights of another with an older arithmetic (`-f16`: separate multiplies and adds) has
/// the image of the name it was shipped under.
fn image_seed(name: &str) -> u64 {
    const FIRST_WRITTEN: [&str; 7] = [
        "cifar",
        "photo",
        "cifar-64k",
        "cifar-157k",
        "photo-80k",
        "cifar-f32",
        "photo-f32",
    ];
    let shipped_as = name.strip_suffix("-f16").unwrap_or(name);
    FIRST_WRITTEN
        .iter()
        .position(|n| *n == shipped_as)
        .unwrap_or_else(|| panic!("built-in model {name} needs a golden image seed")) as u64
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

fn encode(g: &Golden) -> Vec<u8> {
    let options = Options {
        logarithm: g.logarithm,
        effort: g.effort,
        adaptive_version: Some(g.adaptive_version),
        // effort 2 as the first adaptive builds did it: the network wherever a tile may use it
        network_use: NetworkUse::Tiles,
        ..Options::default()
    };
    Codec::with_engine(g.engine.clone())
        .with_options(options)
        .unwrap()
        .compress_many(
            std::slice::from_ref(&g.image),
            std::slice::from_ref(&g.metadata),
            &|_| {},
        )
        .unwrap()
        .remove(0)
        .bytes
}

#[test]
fn golden_files_decode_and_encode_bit_exactly() {
    let dir = golden_dir();
    let goldens = goldens();
    if std::env::var_os("SNAILZIP_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for g in &goldens {
            let bytes = encode(g);
            std::fs::write(dir.join(&g.name), &bytes).unwrap();
            if g.name == "tiny-v2.snz" {
                std::fs::write(dir.join("tiny-v1.snz"), as_version_1(&bytes, &g.engine)).unwrap();
            }
        }
    }
    let read = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("tests/data/golden/{name}: {e}"))
    };
    let builtins = Codec::builtin().unwrap();
    let mut versions = Vec::new();
    for g in &goldens {
        let file = read(&g.name);
        versions.push(file[3]);
        // adaptive files made with a model use it (the flags byte says so)
        let opened = Codec::with_engine(g.engine.clone()).open(&file).unwrap();
        assert_eq!(
            opened.header().network,
            g.effort != 1,
            "{}: network flag",
            g.name
        );
        assert_eq!(
            container::logarithm(file[3]),
            g.logarithm,
            "{}: version {}",
            g.name,
            file[3]
        );
        // decoded as the CLI does: built-in files by the model their id names
        let decoded = if g.name.starts_with("builtin-") {
            builtins.decompress(&file)
        } else {
            Codec::with_engine(g.engine.clone()).decompress(&file)
        }
        .unwrap_or_else(|e| panic!("{}: {e}", g.name));
        let (image, metadata) = (decoded.image, decoded.metadata);
        assert!(image == g.image, "{}: decoded pixels differ", g.name);
        assert_eq!(metadata, g.metadata, "{}", g.name);
        assert!(
            encode(g) == file,
            "{}: this machine's encoder writes other bytes",
            g.name
        );
    }
    // version 1: the version 2 file's payloads behind the older header
    let v1 = read("tiny-v1.snz");
    let tiny = &goldens[0];
    assert_eq!(v1, as_version_1(&read("tiny-v2.snz"), &tiny.engine));
    let back = codec::decompress(&v1, &tiny.engine, &Options::default(), &|_| {}).unwrap();
    assert!(back == tiny.image, "tiny-v1.snz: decoded pixels differ");
    versions.push(v1[3]);
    versions.sort();
    versions.dedup();
    assert_eq!(
        versions,
        (1..=container::NEWEST_VERSION).collect::<Vec<_>>()
    );
}
