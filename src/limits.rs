//! What a decoder (or encoder) is willing to spend, in one place: the image reader, the
//! container parser and the codec all check sizes against [`Limits`] before they allocate,
//! and none of them owns it.

use crate::error::{Error, Result};

/// Largest width or height the format describes.
pub const MAX_DIMENSION: usize = 1 << 20;

/// Default [`Limits::max_pixels`]: 64 Mpixel (2^26), at most 256 MiB of pixels. Decoding
/// that many takes about 8 minutes on two cores with AVX-512 (0.13 Mpixel/s) and about 30
/// on two cores with AVX2 only (0.037 Mpixel/s), a few minutes on an 8-core laptop.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// What a decoder (or encoder) is willing to spend: checked from the header, before any work
/// or allocation. Decoding time grows with the pixel count, so `max_pixels` bounds the time a
/// file can ask for; a service that decodes untrusted files sets it to what it can afford.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted width or height.
    pub max_dimension: usize,
    /// Largest accepted pixel count.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_dimension: MAX_DIMENSION,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

impl Limits {
    /// Limits that accept everything the format can describe (for reading headers only, as
    /// `snailzip info` does; never for decoding untrusted files).
    pub fn format_maximum() -> Limits {
        Limits {
            max_dimension: MAX_DIMENSION,
            max_pixels: (MAX_DIMENSION as u64) * (MAX_DIMENSION as u64),
        }
    }

    /// Checks a `width × height` image against the limits.
    ///
    /// # Errors
    /// [`Error::Limits`] naming the limit that is exceeded.
    pub fn check(&self, width: u64, height: u64) -> Result<()> {
        let max_dim = self.max_dimension as u64;
        if width > max_dim || height > max_dim {
            return Err(Error::Limits(format!(
                "image size {width}×{height} exceeds the limit of {} pixels per side",
                self.max_dimension
            )));
        }
        let pixels = width.saturating_mul(height);
        if pixels > self.max_pixels {
            return Err(Error::Limits(format!(
                "image size {width}×{height} = {pixels} pixels exceeds the limit of {} pixels",
                self.max_pixels
            )));
        }
        Ok(())
    }
}
