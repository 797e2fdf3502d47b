//! Arbitrary bytes as an input image (PNG, PNM, BMP, TIFF, QOI): errors are fine, panics and
//! huge allocations are not; whatever decodes must come back from PNG with the same pixels
//! and the same metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snailzip::Limits;
use snailzip::Image;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_pixels: 1 << 16,
        ..Limits::default()
    };
    if let Ok(decoded) = Image::decode_with_metadata(data, &limits) {
        let png = decoded
            .image
            .to_png_with_metadata(&decoded.metadata)
            .unwrap();
        let back = Image::decode_with_metadata(&png, &limits).unwrap();
        assert_eq!(back.image, decoded.image);
        assert_eq!(back.metadata, decoded.metadata);
    }
});
