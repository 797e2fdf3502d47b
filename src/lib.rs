//! snailzip: lossless image compression driven by a trained PixelSNAIL.
//!
//! Data flows one way: `codec` (container + entropy coding) asks `engine` (deterministic
//! inference) for per-subpixel distributions computed from `weights`; the trainer (`train`,
//! feature `train`) fits a dfdx copy of the same network (`model`) and writes `weights`.
//!
//! ```
//! use snailzip::{codec::Options, ColorType, Config, Engine, Image, Weights};
//!
//! // any model works; real use loads a trained one (`Weights::load`, `builtin::weights`)
//! let engine = Engine::new(&Weights::random(&Config::tiny(), 0));
//! let pixels: Vec<u8> = (0..40 * 30 * 3).map(|i| (i % 251) as u8).collect();
//! let image = Image::new(40, 30, ColorType::Rgb, pixels)?;
//! let (snz, stats) = snailzip::compress(&image, &engine, &Options::default(), &|_| {})?;
//! assert!(stats.model_bits > 0.0);
//! let back = snailzip::decompress(&snz, &engine, &Options::default(), &|_| {})?;
//! assert_eq!(back, image);
//! # Ok::<(), snailzip::Error>(())
//! ```

#![warn(missing_docs)]
// Numeric kernels index several arrays in lockstep; index loops read clearer there.
#![allow(clippy::needless_range_loop)]

pub mod atomic;
pub mod bench;
pub mod builtin;
pub mod codec;
pub mod config;
pub mod corpus;
pub mod engine;
pub mod error;
pub mod image_io;
pub mod sample;
pub mod weights;

#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod train;

pub use atomic::{atomic_write, PendingFile};
pub use codec::{compress, decompress};
pub use config::Config;
pub use engine::Engine;
pub use error::{Error, Result};
pub use image_io::{ColorType, Image};
pub use weights::{ModelId, Weights};
