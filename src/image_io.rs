//! Images in and out: decode PNG (and the other formats the `image` crate reads) into
//! 8-bit interleaved pixels, and encode decoded pixels back to PNG.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat};

use crate::error::{Error, Result};

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
    /// count exceeds `max_pixels`.
    ///
    /// # Errors
    /// [`Error::Format`] for unreadable data, [`Error::Unsupported`] for 16-bit or float
    /// images, [`Error::Limits`] for oversized ones.
    pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Image> {
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(Error::Io)?;
        if reader.format().is_none() {
            return Err(Error::Format("not a recognized image format".into()));
        }
        reader.limits(limits_for(max_pixels));
        let (w, h) = reader
            .into_dimensions()
            .map_err(|e| Error::Format(format!("cannot read image header: {e}")))?;
        if (w as u64) * (h as u64) > max_pixels {
            return Err(Error::Limits(format!(
                "image is {w}×{h}, more than the {max_pixels} pixels allowed"
            )));
        }
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(Error::Io)?;
        reader.limits(limits_for(max_pixels));
        let img = reader.decode().map_err(|e| match e {
            image::ImageError::Limits(l) => Error::Limits(format!("image too large: {l}")),
            image::ImageError::Unsupported(u) => Error::Unsupported(u.to_string()),
            other => Error::Format(format!("cannot decode image: {other}")),
        })?;
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
        Image::new(width, height, color, data)
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

fn limits_for(max_pixels: u64) -> image::Limits {
    let mut limits = image::Limits::default();
    // 8 bytes per pixel covers RGBA plus the decoder's own buffers
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(1 << 20));
    limits
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
