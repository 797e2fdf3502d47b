//! `.snz` inside the `image` crate: after [`register_image_hooks`], `image::open("x.snz")`,
//! `image::ImageReader` (with a guessed format) and everything built on them decode `.snz`
//! files with the built-in models, so a Rust program needs no snailzip-specific code to
//! read them.
//!
//! ```no_run
//! snailzip::register_image_hooks();
//! let img = image::open("photo.png.snz")?;
//! println!("{}×{}", img.width(), img.height());
//! # Ok::<(), image::ImageError>(())
//! ```
//!
//! The file is decoded when the decoder is created (its header alone does not give the
//! pixels), with the default [`crate::Limits`]; its ICC profile and EXIF data, if stored,
//! are handed to the `image` crate too.

use std::io::Read;
use std::sync::OnceLock;

use image::error::{DecodingError, ImageFormatHint};
use image::hooks::{register_decoding_hook, register_format_detection_hook, GenericReader};
use image::{ColorType as ImageColor, ImageDecoder, ImageError, ImageResult};

use crate::codec::{container, Codec};
use crate::error::Error;
use crate::image_io::{ColorType, Image};

/// The file extension the hooks are registered for.
pub const EXTENSION: &str = "snz";

/// Registers the `.snz` decoder with the `image` crate: by extension (`image::open`) and by
/// the file's first bytes (`ImageReader::with_guessed_format`). Returns `false` if a decoder
/// for the extension was registered already (by an earlier call, or by someone else).
pub fn register_image_hooks() -> bool {
    let fresh = register_decoding_hook(EXTENSION.into(), Box::new(|r| Ok(Box::new(decoder(r)?))));
    if fresh {
        // every version this build reads starts with the magic and a version byte
        for version in SIGNATURES {
            register_format_detection_hook(EXTENSION.into(), version, None);
        }
    }
    fresh
}

/// The first four bytes of each container version this build reads.
const SIGNATURES: [&[u8]; 8] = [
    b"SNZ\x01", b"SNZ\x02", b"SNZ\x03", b"SNZ\x04", b"SNZ\x05", b"SNZ\x06", b"SNZ\x07", b"SNZ\x08",
];

fn codec() -> Result<&'static Codec, Error> {
    static CODEC: OnceLock<Result<Codec, String>> = OnceLock::new();
    CODEC
        .get_or_init(|| Codec::builtin().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Format(e.clone()))
}

fn image_error(e: Error) -> ImageError {
    let hint = ImageFormatHint::Name("snz".into());
    match e {
        Error::Io(io) => ImageError::IoError(io),
        other => ImageError::Decoding(DecodingError::new(hint, other)),
    }
}

fn decoder(mut reader: GenericReader<'_>) -> ImageResult<SnzDecoder> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    debug_assert_eq!(container::MAGIC, *b"SNZ");
    let decoded = codec()
        .and_then(|c| c.decompress(&bytes))
        .map_err(image_error)?;
    let chunk = |kind: &[u8; 4]| {
        decoded
            .metadata
            .chunks
            .iter()
            .find(|c| &c.kind == kind)
            .map(|c| c.data.clone())
    };
    // iCCP holds a name, a compression byte and the deflated profile
    let icc = chunk(b"iCCP").and_then(|d| inflate_iccp(&d));
    let exif = chunk(b"eXIf");
    Ok(SnzDecoder {
        image: decoded.image,
        icc,
        exif,
    })
}

/// The profile of an iCCP chunk's data: a name, a NUL, compression method 0, zlib data
/// (at most 16 MiB inflated).
fn inflate_iccp(data: &[u8]) -> Option<Vec<u8>> {
    let nul = data.iter().position(|&b| b == 0)?;
    if data.get(nul + 1) != Some(&0) {
        return None;
    }
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&data[nul + 2..], 16 << 20).ok()
}

/// A decoded `.snz` image, handed to the `image` crate.
struct SnzDecoder {
    image: Image,
    icc: Option<Vec<u8>>,
    exif: Option<Vec<u8>>,
}

impl ImageDecoder for SnzDecoder {
    fn dimensions(&self) -> (u32, u32) {
        // the container's limits keep both sides far below 2^32
        (self.image.width as u32, self.image.height as u32)
    }

    fn color_type(&self) -> ImageColor {
        match self.image.color {
            ColorType::Gray => ImageColor::L8,
            ColorType::GrayAlpha => ImageColor::La8,
            ColorType::Rgb => ImageColor::Rgb8,
            ColorType::Rgba => ImageColor::Rgba8,
        }
    }

    fn icc_profile(&mut self) -> ImageResult<Option<Vec<u8>>> {
        Ok(self.icc.clone())
    }

    fn exif_metadata(&mut self) -> ImageResult<Option<Vec<u8>>> {
        Ok(self.exif.clone())
    }

    fn read_image(self, buf: &mut [u8]) -> ImageResult<()> {
        buf.copy_from_slice(&self.image.data);
        Ok(())
    }

    fn read_image_boxed(self: Box<Self>, buf: &mut [u8]) -> ImageResult<()> {
        (*self).read_image(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Options;
    use crate::config::Config;
    use crate::engine::Engine;
    use crate::weights::Weights;

    #[test]
    fn a_foreign_or_damaged_file_is_an_image_error() {
        register_image_hooks();
        // a second registration reports that the decoder is there already
        assert!(!register_image_hooks());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.snz");
        std::fs::write(&p, b"SNZ\x04 not really").unwrap();
        assert!(matches!(image::open(&p), Err(ImageError::Decoding(_))));
        // made with a model that is not built in: a decoding error naming the model
        let engine = Engine::new(&Weights::random(&Config::tiny(), 1));
        let img = Image::new(5, 4, ColorType::Gray, (0..20).collect()).unwrap();
        let network = Options {
            effort: 0,
            ..Options::default()
        };
        let file = Codec::with_engine(engine)
            .with_options(network)
            .unwrap()
            .compress(&img)
            .unwrap();
        std::fs::write(&p, &file.bytes).unwrap();
        let err = image::open(&p).unwrap_err().to_string();
        assert!(err.contains("model"), "{err}");
    }
}
