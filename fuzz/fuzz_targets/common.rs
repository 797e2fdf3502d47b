//! Shared by the fuzz targets: a tiny model and limits that keep one execution short.
#![allow(dead_code)]

use std::sync::OnceLock;

use snailzip::Limits;
use snailzip::codec::{Codec, Options};
use snailzip::{Config, Engine, Weights};

/// The tiny random model every target without "builtin" in its name uses.
pub fn tiny() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(&Weights::random(&Config::tiny(), 7)))
}

/// At most `max_pixels` of decoding per execution: crafted files cannot make one execution
/// slow (the library's default limit allows minutes).
pub fn options_for(max_pixels: u64) -> Options {
    Options {
        limits: Limits {
            max_pixels,
            ..Limits::default()
        },
        ..Options::default()
    }
}

/// A codec of the tiny model with `options`.
pub fn tiny_codec(options: Options) -> Codec {
    Codec::with_engine(tiny().clone())
        .with_options(options)
        .unwrap()
}

/// [`options_for`] 32×32 pixels (one tile), for the tiny model.
pub fn options() -> Options {
    options_for(32 * 32)
}
