//! Shared by the fuzz targets: a tiny model and limits that keep one execution short.

use std::sync::OnceLock;

use snailzip::codec::container::Limits;
use snailzip::codec::Options;
use snailzip::{Config, Engine, Weights};

/// The tiny random model every target without "builtin" in its name uses.
pub fn tiny() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(&Weights::random(&Config::tiny(), 7)))
}

/// At most 64×64 pixels of decoding per execution: crafted files cannot make one execution
/// slow (the library's default limit allows minutes).
pub fn options() -> Options {
    Options {
        limits: Limits {
            max_pixels: 64 * 64,
            ..Limits::default()
        },
        ..Options::default()
    }
}
