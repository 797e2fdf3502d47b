//! Images in and out: decode PNG (and the other formats the `image` crate reads) into
//! 8-bit interleaved pixels, and encode decoded pixels back to PNG.
//!
//! Nothing is lost silently: input that would lose pixels (animated PNG, CMYK, 16-bit) is
//! refused with a message, and the PNG metadata a user expects back (ICC profile, EXIF, text,
//! gAMA/cHRM/sRGB/cICP, pHYs, tIME) is captured as raw chunks ([`Metadata`]) that
//! [`Image::to_png_with_metadata`] writes back byte for byte. Chunks that describe the old
//! encoding rather than the picture (bKGD, sBIT, hIST, sPLT, unknown private chunks) are
//! dropped and named in [`Decoded::dropped`], so that callers can tell the user.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat};

use crate::error::{Error, Result};
use crate::limits::Limits;

/// PNG chunk types kept as metadata (the container refuses any other kind).
pub const METADATA_CHUNKS: [&[u8; 4]; 13] = [
    b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"cICP", b"mDCv", b"cLLi", b"pHYs", b"eXIf", b"tEXt",
    b"zTXt", b"iTXt", b"tIME",
];

/// One metadata item: a PNG ancillary chunk, kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Chunk type, one of [`METADATA_CHUNKS`].
    pub kind: [u8; 4],
    /// Whether the chunk came after the image data (text and tIME may).
    pub after_image: bool,
    /// Chunk data, as in the file (compressed chunks stay compressed).
    pub data: Vec<u8>,
}

/// Metadata that travels with an image through a `.snz` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Chunks in file order.
    pub chunks: Vec<Chunk>,
}

impl Metadata {
    /// Whether there is no metadata.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// A short listing such as `iCCP (3144 bytes), pHYs (9 bytes)`.
    pub fn describe(&self) -> String {
        self.chunks
            .iter()
            .map(|c| {
                format!(
                    "{} ({} bytes)",
                    String::from_utf8_lossy(&c.kind),
                    c.data.len()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An image file decoded for compression: pixels, metadata kept, and what was not kept.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The pixels.
    pub image: Image,
    /// Metadata kept (PNG input only).
    pub metadata: Metadata,
    /// Human-readable names of metadata that was not kept (e.g. `bKGD chunk`, `ICC profile
    /// of a TIFF file`); empty if nothing was lost.
    pub dropped: Vec<String>,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A chunk of a PNG file: type, data and whether its CRC is right.
struct RawChunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    crc_ok: bool,
    /// Offset of the chunk's length field in the file.
    start: usize,
}

/// The chunks of a PNG file up to and including IEND (or up to where it stops making sense:
/// the image decoder reports broken files).
fn png_chunks(bytes: &[u8]) -> Vec<RawChunk<'_>> {
    let mut out = Vec::new();
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return out;
    }
    let mut pos = PNG_SIGNATURE.len();
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let Some(end) = (pos + 12).checked_add(len).filter(|&e| e <= bytes.len()) else {
            break;
        };
        let kind: [u8; 4] = bytes[pos + 4..pos + 8].try_into().expect("4 bytes");
        let data = &bytes[pos + 8..pos + 8 + len];
        let crc = u32::from_be_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        out.push(RawChunk {
            kind,
            data,
            crc_ok: crc32fast::hash(&bytes[pos + 4..end - 4]) == crc,
            start: pos,
        });
        pos = end;
        if &kind == b"IEND" {
            break;
        }
    }
    out
}

/// Metadata of a PNG file, the names of chunks not kept, and an error for animated PNGs.
fn png_metadata(bytes: &[u8]) -> Result<(Metadata, Vec<String>)> {
    let mut metadata = Metadata::default();
    let mut dropped = Vec::new();
    let mut after_image = false;
    for c in png_chunks(bytes) {
        let name = String::from_utf8_lossy(&c.kind).into_owned();
        match &c.kind {
            b"acTL" => {
                let frames = c
                    .data
                    .get(..4)
                    .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
                    .unwrap_or(0);
                return Err(Error::Unsupported(format!(
                    "animated PNG ({frames} frames): snailzip stores one still image and would \
                     keep only the first frame"
                )));
            }
            b"IDAT" => after_image = true,
            // regenerated from the pixels, or folded into them (tRNS becomes alpha)
            b"IHDR" | b"PLTE" | b"IEND" | b"tRNS" => {}
            kind if METADATA_CHUNKS.contains(&kind) => {
                if c.crc_ok {
                    metadata.chunks.push(Chunk {
                        kind: c.kind,
                        after_image,
                        data: c.data.to_vec(),
                    });
                } else {
                    dropped.push(format!("{name} chunk (bad CRC)"));
                }
            }
            _ => dropped.push(format!("{name} chunk")),
        }
    }
    Ok((metadata, dropped))
}

/// Pixel layout of an [`Image`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorType {
    /// One gray channel.
    Gray,
    /// Gray plus alpha.
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, alpha.
    Rgba,
}

impl ColorType {
    /// Interleaved channels per pixel.
    pub fn channels(self) -> usize {
        match self {
            ColorType::Gray => 1,
            ColorType::GrayAlpha => 2,
            ColorType::Rgb => 3,
            ColorType::Rgba => 4,
        }
    }

    /// Channels coded by the network (1 or 3).
    pub fn color_channels(self) -> usize {
        match self {
            ColorType::Gray | ColorType::GrayAlpha => 1,
            ColorType::Rgb | ColorType::Rgba => 3,
        }
    }

    /// Whether the last channel is alpha.
    pub fn has_alpha(self) -> bool {
        matches!(self, ColorType::GrayAlpha | ColorType::Rgba)
    }

    /// The container's code for this layout.
    pub fn code(self) -> u8 {
        self.channels() as u8
    }

    /// Inverse of [`ColorType::code`].
    pub fn from_code(code: u8) -> Option<ColorType> {
        match code {
            1 => Some(ColorType::Gray),
            2 => Some(ColorType::GrayAlpha),
            3 => Some(ColorType::Rgb),
            4 => Some(ColorType::Rgba),
            _ => None,
        }
    }

    /// The `image` crate's name for this layout.
    pub fn extended(self) -> image::ExtendedColorType {
        match self {
            ColorType::Gray => image::ExtendedColorType::L8,
            ColorType::GrayAlpha => image::ExtendedColorType::La8,
            ColorType::Rgb => image::ExtendedColorType::Rgb8,
            ColorType::Rgba => image::ExtendedColorType::Rgba8,
        }
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ColorType::Gray => "gray",
            ColorType::GrayAlpha => "gray+alpha",
            ColorType::Rgb => "RGB",
            ColorType::Rgba => "RGBA",
        }
    }
}

/// An 8-bit image with interleaved channels, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Channel layout.
    pub color: ColorType,
    /// `height * width * channels` bytes.
    pub data: Vec<u8>,
}

impl Image {
    /// Wraps pixel data, checking its length.
    ///
    /// # Errors
    /// [`Error::Usage`] if `data` does not hold exactly `width * height * channels` bytes or a
    /// dimension is zero.
    pub fn new(width: usize, height: usize, color: ColorType, data: Vec<u8>) -> Result<Image> {
        if width == 0 || height == 0 {
            return Err(Error::Usage("image dimensions must be at least 1×1".into()));
        }
        let want = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(color.channels()))
            .ok_or_else(|| Error::Limits("image dimensions overflow".into()))?;
        if data.len() != want {
            return Err(Error::Usage(format!(
                "image data has {} bytes, expected {want}",
                data.len()
            )));
        }
        Ok(Image {
            width,
            height,
            color,
            data,
        })
    }

    /// Number of subpixels (`width * height * channels`), the denominator of bits/subpixel.
    pub fn subpixels(&self) -> usize {
        self.data.len()
    }

    /// Decodes an image file (PNG, PPM/PGM, BMP, TIFF, QOI), refusing anything whose pixel
    /// count exceeds `max_pixels`. Metadata is ignored; see [`Image::decode_with_metadata`].
    ///
    /// # Errors
    /// As [`Image::decode_with_metadata`].
    pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Image> {
        let limits = Limits {
            max_pixels,
            ..Limits::default()
        };
        Ok(Image::decode_with_metadata(bytes, &limits)?.image)
    }

    /// Decodes an image file (PNG, PPM/PGM, BMP, TIFF, QOI) with its metadata. The header is
    /// checked against `limits` before any pixel is decoded, and the `image` crate's own
    /// allocation limit is set from them, so a small file declaring a huge image fails at
    /// once.
    ///
    /// # Errors
    /// [`Error::Format`] for unreadable data; [`Error::Unsupported`] for 16-bit, float,
    /// CMYK and animated images (anything that could not be restored pixel for pixel);
    /// [`Error::Limits`] for oversized ones.
    pub fn decode_with_metadata(bytes: &[u8], limits: &Limits) -> Result<Decoded> {
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(Error::Io)?;
        let Some(format) = reader.format() else {
            return Err(Error::Format("not a recognized image format".into()));
        };
        reader.limits(limits_for(limits));
        let decode_error = |e: image::ImageError| match e {
            image::ImageError::Limits(l) => Error::Limits(format!("image too large: {l}")),
            image::ImageError::Unsupported(u) => Error::Unsupported(u.to_string()),
            other => Error::Format(format!("cannot decode image: {other}")),
        };
        let mut decoder = reader.into_decoder().map_err(|e| match e {
            image::ImageError::Limits(l) => Error::Limits(format!("image too large: {l}")),
            other => Error::Format(format!("cannot read image header: {other}")),
        })?;
        let (w, h) = decoder.dimensions();
        limits.check(w as u64, h as u64)?;
        if matches!(
            decoder.original_color_type(),
            image::ExtendedColorType::Cmyk8 | image::ExtendedColorType::Cmyk16
        ) {
            return Err(Error::Unsupported(
                "CMYK images (converting them to RGB would change the pixels)".into(),
            ));
        }
        let (metadata, mut dropped) = if format == ImageFormat::Png {
            png_metadata(bytes)?
        } else {
            let mut dropped = Vec::new();
            let name = format!("{format:?}").to_uppercase();
            if decoder.icc_profile().ok().flatten().is_some() {
                dropped.push(format!("ICC profile of the {name} file"));
            }
            if decoder.exif_metadata().ok().flatten().is_some() {
                dropped.push(format!("EXIF data of the {name} file"));
            }
            (Metadata::default(), dropped)
        };
        dropped.dedup();
        let img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
        let (width, height) = (img.width() as usize, img.height() as usize);
        let (color, data) = match img {
            DynamicImage::ImageLuma8(b) => (ColorType::Gray, b.into_raw()),
            DynamicImage::ImageLumaA8(b) => (ColorType::GrayAlpha, b.into_raw()),
            DynamicImage::ImageRgb8(b) => (ColorType::Rgb, b.into_raw()),
            DynamicImage::ImageRgba8(b) => (ColorType::Rgba, b.into_raw()),
            other => {
                return Err(Error::Unsupported(format!(
                    "{:?} images (only 8-bit gray, gray+alpha, RGB and RGBA are coded losslessly)",
                    other.color()
                )))
            }
        };
        Ok(Decoded {
            image: Image::new(width, height, color, data)?,
            metadata,
            dropped,
        })
    }

    /// Encodes the image as PNG with `metadata`'s chunks in their places (before or after
    /// the image data), each written back byte for byte.
    ///
    /// # Errors
    /// [`Error::Format`] if the encoder fails.
    pub fn to_png_with_metadata(&self, metadata: &Metadata) -> Result<Vec<u8>> {
        let png = self.to_png()?;
        if metadata.is_empty() {
            return Ok(png);
        }
        let chunks = png_chunks(&png);
        let (Some(ihdr), Some(iend)) = (chunks.first(), chunks.last()) else {
            return Err(Error::Format("PNG encoder wrote no chunks".into()));
        };
        if &ihdr.kind != b"IHDR" || &iend.kind != b"IEND" {
            return Err(Error::Format(
                "PNG encoder wrote an unexpected layout".into(),
            ));
        }
        let after_ihdr = ihdr.start + 12 + ihdr.data.len();
        let put = |out: &mut Vec<u8>, c: &Chunk| {
            out.extend_from_slice(&(c.data.len() as u32).to_be_bytes());
            let from = out.len();
            out.extend_from_slice(&c.kind);
            out.extend_from_slice(&c.data);
            let crc = crc32fast::hash(&out[from..]);
            out.extend_from_slice(&crc.to_be_bytes());
        };
        let extra: usize = metadata.chunks.iter().map(|c| c.data.len() + 12).sum();
        let mut out = Vec::with_capacity(png.len() + extra);
        out.extend_from_slice(&png[..after_ihdr]);
        for c in metadata.chunks.iter().filter(|c| !c.after_image) {
            put(&mut out, c);
        }
        out.extend_from_slice(&png[after_ihdr..iend.start]);
        for c in metadata.chunks.iter().filter(|c| c.after_image) {
            put(&mut out, c);
        }
        out.extend_from_slice(&png[iend.start..]);
        Ok(out)
    }

    /// Encodes the image as PNG.
    ///
    /// # Errors
    /// [`Error::Format`] if the encoder fails.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        self.encode(ImageFormat::Png)
    }

    /// Encodes the image in any format the `image` crate writes.
    ///
    /// # Errors
    /// [`Error::Format`] if the encoder fails or does not support the layout.
    pub fn encode(&self, format: ImageFormat) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        image::write_buffer_with_format(
            &mut Cursor::new(&mut out),
            &self.data,
            self.width as u32,
            self.height as u32,
            self.color.extended(),
            format,
        )
        .map_err(|e| Error::Format(format!("cannot encode {format:?}: {e}")))?;
        Ok(out)
    }
}

fn limits_for(limits: &Limits) -> image::Limits {
    let mut out = image::Limits::default();
    let side = u32::try_from(limits.max_dimension).unwrap_or(u32::MAX);
    out.max_image_width = Some(side);
    out.max_image_height = Some(side);
    // 8 bytes per pixel covers RGBA plus the decoder's own buffers
    out.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(1 << 20));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_all_layouts() {
        for color in [
            ColorType::Gray,
            ColorType::GrayAlpha,
            ColorType::Rgb,
            ColorType::Rgba,
        ] {
            let n = 5 * 3 * color.channels();
            let data: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
            let img = Image::new(5, 3, color, data).unwrap();
            let back = Image::decode(&img.to_png().unwrap(), 1 << 20).unwrap();
            assert_eq!(back, img);
        }
    }

    #[test]
    fn sixteen_bit_images_are_refused_clearly() {
        let buf = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_pixel(
            4,
            4,
            image::Rgb([1, 2, 3]),
        );
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb16(buf)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let err = Image::decode(&png, 1 << 20).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("8-bit"), "{err}");
    }

    #[test]
    fn rejects_garbage_and_oversized() {
        assert!(matches!(Image::decode(b"", 100), Err(Error::Format(_))));
        assert!(matches!(
            Image::decode(b"definitely not an image", 100),
            Err(Error::Format(_))
        ));
        let img = Image::new(20, 20, ColorType::Rgb, vec![7; 1200]).unwrap();
        assert!(matches!(
            Image::decode(&img.to_png().unwrap(), 399),
            Err(Error::Limits(_))
        ));
    }
}
