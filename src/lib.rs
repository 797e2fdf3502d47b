//! snailzip: lossless image compression driven by a trained PixelSNAIL.
//!
//! [`Codec`] is the front door: built from the models an installed snailzip carries, it
//! compresses an image with whichever model codes it smallest and decompresses any `.snz`
//! file a released snailzip wrote, bit-exactly on every machine.
//!
//! ```
//! use snailzip::{Codec, Image};
//!
//! # let png = snailzip::Image::new(24, 16, snailzip::ColorType::Rgb,
//! #     (0..24 * 16 * 3).map(|i| (i * 7 % 256) as u8).collect())?.to_png()?;
//! // a PNG's bytes (read from a file in real use), as pixels plus metadata
//! let decoded = Image::decode_with_metadata(&png, &Default::default())?;
//! let codec = Codec::builtin()?;
//! let file = codec.compress(&decoded.image)?; // the `.snz` file is `file.bytes`
//! let model = file.model.map_or("no", |m| codec.models()[m].name.as_str());
//! println!("{} bytes with the {model} model", file.bytes.len());
//! let back = codec.decompress(&file.bytes)?;
//! assert_eq!(back.image, decoded.image);
//! # Ok::<(), snailzip::Error>(())
//! ```
//!
//! Data flows one way: the codec (`codec`: container, entropy coding, model choice) asks the
//! engine (`engine`: deterministic inference) for per-subpixel distributions computed from
//! `weights`, using the exact arithmetic both share (`arith`); the trainer (`train`, feature
//! `train`) fits a dfdx copy of the same network (`model`) and writes `weights`. The `image`
//! crate can read `.snz` files too ([`register_image_hooks`]).

#![warn(missing_docs)]
// Numeric kernels index several arrays in lockstep; index loops read clearer there.
#![allow(clippy::needless_range_loop)]

pub mod arith;
pub mod atomic;
pub mod bench;
pub mod builtin;
pub mod codec;
pub mod config;
pub mod corpus;
pub mod engine;
pub mod error;
pub mod image_hooks;
pub mod image_io;
pub mod limits;
pub mod sample;
pub mod weights;

#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod train;

pub use atomic::{atomic_write, PendingFile};
pub use codec::{compress, decompress, Codec};
pub use config::Config;
pub use engine::Engine;
pub use error::{Error, Result};
pub use image_hooks::register_image_hooks;
pub use image_io::{ColorType, Image};
pub use limits::Limits;
pub use weights::{ModelId, Weights};

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
