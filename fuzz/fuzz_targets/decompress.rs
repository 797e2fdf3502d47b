//! Arbitrary bytes into `decompress` with a tiny model: errors are fine, panics are not, and
//! whatever decodes must re-encode to exactly the same file when coded with the arithmetic
//! the file's version names (versions 2 and 3: the platform logarithm; 4 and 5: `libm`).
//! Adaptive files (versions 6 to 8) record no effort, and which tiles use the network is
//! the encoder's choice, so they are not re-encoded here: their decoder itself checks that
//! every coded stream is exactly what the encoder writes for the decoded pixels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use snailzip::codec::{container, Codec, Options};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    let options = common::options();
    let decoded = CODEC.get_or_init(|| common::tiny_codec(options.clone())).decompress(data);
    let version = data.get(3).copied().unwrap_or(0);
    if let (Ok(back), true) = (decoded, !container::is_adaptive(version)) {
        let same_arithmetic = Options {
            logarithm: container::logarithm(version),
            effort: 0,
            ..options.clone()
        };
        let again = common::tiny_codec(same_arithmetic)
            .compress_many(
                std::slice::from_ref(&back.image),
                std::slice::from_ref(&back.metadata),
                &|_| {},
            )
            .unwrap()
            .remove(0)
            .bytes;
        if version == 1 {
            // version 1 files decode but are written as version 2: the same image, checksum
            // and tile payloads in the newer header
            let old = container::read(data, &options.limits).unwrap();
            let new = container::read(&again, &options.limits).unwrap();
            assert_eq!(new.version, container::LEGACY_VERSION);
            assert_eq!(
                (old.header.color, old.header.width, old.header.height),
                (new.header.color, new.header.width, new.header.height)
            );
            assert_eq!(old.header.checksum, new.header.checksum);
            assert_eq!(old.payloads, new.payloads, "a version 1 file's payloads differ");
        } else {
            assert_eq!(
                again, data,
                "a decodable version {version} file is not what the encoder writes"
            );
        }
    }
});
