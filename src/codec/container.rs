//! The `.snz` container: a small header, then one independently decodable payload per tile.
//!
//! ```text
//! offset size  field
//! 0      3     magic "SNZ"
//! 3      1     format version (2)
//! 4      4     model id: its first 4 bytes (the model's SHA-256 prefix)
//! 8      1     color type: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
//! 9      4     CRC-32 of the decoded interleaved pixels, little-endian
//! 13     var   width, unsigned LEB128 (little-endian base 128)
//!        var   height, unsigned LEB128
//!        var   per tile except the last (raster order of tiles): payload length in bytes,
//!              unsigned LEB128; the last tile's payload is the rest of the file
//!        ...   payloads, concatenated in the same order
//! ```
//!
//! A 32×32 image thus carries 15 bytes of header (0.039 bits/subpixel). Tiles are 32×32 in
//! version 2. Version 1 files (written before the header was tightened) are still read: they
//! store all 8 model id bytes at offset 4, then color, a tile-size byte (32) and the CRC.
//!
//! Every field is checked before anything is allocated from it: dimensions against
//! [`Limits`], tile lengths against the bytes actually present. A wrong model is caught by the
//! id (a chance of 2⁻³² for an unrelated model to share the prefix) and, failing that, by the
//! pixel checksum.

use crate::error::{Error, Result};
use crate::image_io::ColorType;
use crate::weights::ModelId;

/// File signature.
pub const MAGIC: [u8; 3] = *b"SNZ";
/// Container format version written by this build.
pub const VERSION: u8 = 2;
/// How many bytes of the model id a version 2 file stores.
const STORED_ID_BYTES: usize = 4;

/// The model id as a file records it: a prefix of the [`ModelId`] (4 bytes in version 2, all
/// 8 in version 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredModelId {
    bytes: ModelId,
    len: usize,
}

impl StoredModelId {
    /// What this build writes for `id`.
    pub fn of(id: &ModelId) -> StoredModelId {
        let mut bytes = [0; 8];
        bytes[..STORED_ID_BYTES].copy_from_slice(&id[..STORED_ID_BYTES]);
        StoredModelId {
            bytes,
            len: STORED_ID_BYTES,
        }
    }

    /// Whether a model with id `id` can have written this file.
    pub fn matches(&self, id: &ModelId) -> bool {
        self.bytes() == &id[..self.len]
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Display for StoredModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::error::hex_id(self.bytes()))
    }
}

/// What a decoder is willing to allocate.
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
            max_dimension: 1 << 20,
            max_pixels: 1 << 28,
        }
    }
}

/// The parsed header of a `.snz` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Id of the model that produced the payload.
    pub model_id: StoredModelId,
    /// Channel layout.
    pub color: ColorType,
    /// Tile side length.
    pub tile: usize,
    /// CRC-32 of the decoded pixels.
    pub checksum: u32,
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
}

impl Header {
    /// Number of tiles along x and y.
    pub fn tile_grid(&self) -> (usize, usize) {
        (
            self.width.div_ceil(self.tile),
            self.height.div_ceil(self.tile),
        )
    }
}

/// A parsed file: header plus per-tile payload slices.
#[derive(Debug)]
pub struct Container<'a> {
    /// The header.
    pub header: Header,
    /// One payload per tile, raster order of tiles.
    pub payloads: Vec<&'a [u8]>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| Error::Format(format!("file is truncated (in {what})")))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self, what: &str) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1, what)?[0];
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                if shift > 0 && b == 0 {
                    return Err(Error::Format(format!("{what}: non-canonical number")));
                }
                return Ok(v);
            }
            if shift == 63 {
                break;
            }
        }
        Err(Error::Format(format!("{what}: number too long")))
    }
}

/// Serializes a header and the tile payloads.
pub fn write(header: &Header, payloads: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = payloads.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(32 + 3 * payloads.len() + total);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    debug_assert_eq!(
        header.tile,
        crate::config::TILE,
        "version 2 implies the tile size"
    );
    out.extend_from_slice(&header.model_id.bytes()[..STORED_ID_BYTES]);
    out.push(header.color.code());
    out.extend_from_slice(&header.checksum.to_le_bytes());
    put_varint(&mut out, header.width as u64);
    put_varint(&mut out, header.height as u64);
    for p in payloads.iter().take(payloads.len().saturating_sub(1)) {
        put_varint(&mut out, p.len() as u64);
    }
    for p in payloads {
        out.extend_from_slice(p);
    }
    out
}

/// Parses only the fixed part and dimensions of a header (for `snailzip info` and early
/// model checks).
///
/// # Errors
/// [`Error::Format`] for foreign, truncated or inconsistent data; [`Error::Limits`] for
/// dimensions beyond `limits`.
pub fn read_header(bytes: &[u8], limits: &Limits) -> Result<(Header, usize)> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.len() < 3 || bytes[..3] != MAGIC {
        return Err(Error::Format("not a snailzip (.snz) file".into()));
    }
    r.take(3, "magic")?;
    let version = r.take(1, "header")?[0];
    let id_len = match version {
        1 => 8,
        VERSION => STORED_ID_BYTES,
        _ => {
            return Err(Error::Format(format!(
                "container version {version} is not supported by this build (reads 1 and \
                 {VERSION})"
            )))
        }
    };
    let mut model_id = StoredModelId {
        bytes: [0; 8],
        len: id_len,
    };
    model_id.bytes[..id_len].copy_from_slice(r.take(id_len, "header")?);
    let code = r.take(1, "header")?[0];
    let color = ColorType::from_code(code)
        .ok_or_else(|| Error::Format(format!("unknown color type {code}")))?;
    let tile = if version == 1 {
        r.take(1, "header")?[0] as usize
    } else {
        crate::config::TILE
    };
    if tile != crate::config::TILE {
        return Err(Error::Format(format!(
            "tile size {tile} is not supported (expected {})",
            crate::config::TILE
        )));
    }
    let checksum = u32::from_le_bytes(r.take(4, "header")?.try_into().expect("4 bytes"));
    let width = r.varint("width")?;
    let height = r.varint("height")?;
    let max_dim = limits.max_dimension as u64;
    if width == 0 || height == 0 {
        return Err(Error::Format(format!(
            "image size {width}×{height} is empty"
        )));
    }
    if width > max_dim || height > max_dim || width.saturating_mul(height) > limits.max_pixels {
        return Err(Error::Limits(format!(
            "image size {width}×{height} exceeds the limits ({} per side, {} pixels)",
            limits.max_dimension, limits.max_pixels
        )));
    }
    let header = Header {
        model_id,
        color,
        tile,
        checksum,
        width: width as usize,
        height: height as usize,
    };
    Ok((header, r.pos))
}

/// Parses a whole file into header and tile payloads without copying.
///
/// # Errors
/// As [`read_header`], plus [`Error::Format`] if the tile table does not match the bytes.
pub fn read<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Container<'a>> {
    let (header, pos) = read_header(bytes, limits)?;
    let mut r = Reader { bytes, pos };
    let (tx, ty) = header.tile_grid();
    let tiles = tx * ty;
    // every tile but the last needs at least one length byte: reject impossible counts
    // before allocating
    if tiles - 1 > bytes.len() - r.pos {
        return Err(Error::Format(format!(
            "file is truncated: {tiles} tiles announced, {} bytes left",
            bytes.len() - r.pos
        )));
    }
    let mut lengths = Vec::with_capacity(tiles);
    let mut total: u64 = 0;
    for _ in 1..tiles {
        let len = r.varint("tile table")?;
        total = total.saturating_add(len);
        lengths.push(len as usize);
    }
    let left = (bytes.len() - r.pos) as u64;
    if total > left {
        return Err(Error::Format(format!(
            "tile payloads need {total} bytes but only {left} are present (file is truncated)"
        )));
    }
    lengths.push((left - total) as usize);
    let mut payloads = Vec::with_capacity(tiles);
    for len in lengths {
        payloads.push(r.take(len, "payload")?);
    }
    Ok(Container { header, payloads })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(w: usize, h: usize) -> Header {
        Header {
            model_id: StoredModelId::of(&[1, 2, 3, 4, 5, 6, 7, 8]),
            color: ColorType::Rgb,
            tile: 32,
            checksum: 0xdead_beef,
            width: w,
            height: h,
        }
    }

    #[test]
    fn round_trip() {
        let h = header(70, 33);
        let payloads: Vec<Vec<u8>> = (0..6).map(|i| vec![i as u8; i * 50]).collect();
        let bytes = write(&h, &payloads);
        let c = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(c.header, h);
        assert_eq!(c.payloads.len(), 6);
        for (a, b) in c.payloads.iter().zip(&payloads) {
            assert_eq!(*a, b.as_slice());
        }
    }

    #[test]
    fn header_is_compact() {
        // magic+version 4, id 4, color 1, crc 4, w 1, h 1 = 15 bytes; the only tile's length
        // is implied
        let bytes = write(&header(32, 32), &[vec![0; 200]]);
        assert_eq!(bytes.len() - 200, 15);
        let two = write(&header(64, 32), &[vec![0; 200], vec![1; 100]]);
        assert_eq!(two.len() - 300, 17);
    }

    #[test]
    fn reads_version_1_files() {
        let id = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut v1 = b"SNZ\x01".to_vec();
        v1.extend_from_slice(&id);
        v1.extend_from_slice(&[3, 32]); // RGB, tile 32
        v1.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
        v1.extend_from_slice(&[32, 32]);
        v1.extend_from_slice(&[7; 50]);
        let c = read(&v1, &Limits::default()).unwrap();
        assert_eq!(c.header.model_id.bytes(), &id[..]);
        assert!(c.header.model_id.matches(&id));
        assert!(!c.header.model_id.matches(&[1, 2, 3, 4, 0, 0, 0, 0]));
        assert_eq!(c.header.color, ColorType::Rgb);
        assert_eq!(c.header.checksum, 0xdead_beef);
        assert_eq!((c.header.width, c.header.height), (32, 32));
        assert_eq!(c.payloads, vec![&[7u8; 50][..]]);
        // a version 2 header keeps the prefix only, and still tells models apart
        let v2 = StoredModelId::of(&id);
        assert!(v2.matches(&[1, 2, 3, 4, 0, 0, 0, 0]));
        assert!(!v2.matches(&[1, 2, 3, 5, 5, 6, 7, 8]));
        assert_eq!(v2.to_string(), "01020304");
        let mut future = v1.clone();
        future[3] = 3;
        assert!(matches!(
            read(&future, &Limits::default()),
            Err(Error::Format(_))
        ));
        v1[13] = 16; // a tile size this build cannot decode
        assert!(matches!(
            read(&v1, &Limits::default()),
            Err(Error::Format(_))
        ));
    }

    #[test]
    fn rejects_truncation_and_huge_sizes() {
        let bytes = write(
            &header(40, 40),
            &[vec![9; 10], vec![8; 3], vec![7; 1], vec![6; 5]],
        );
        // cuts before the last payload are caught here; cuts inside it leave a shorter last
        // payload, which the decoder rejects (checksum) — see tests/it/bad_input.rs
        let last_start = bytes.len() - 5;
        for cut in 0..last_start {
            assert!(
                read(&bytes[..cut], &Limits::default()).is_err(),
                "cut {cut}"
            );
        }
        let c = read(&bytes[..last_start + 2], &Limits::default()).unwrap();
        assert_eq!(c.payloads[3], &[6, 6][..]);
        let huge = write(&header(1 << 30, 1 << 30), &[]);
        assert!(matches!(
            read(&huge, &Limits::default()),
            Err(Error::Limits(_))
        ));
        let mut foreign = bytes.clone();
        foreign[0] = b'P';
        assert!(matches!(
            read(&foreign, &Limits::default()),
            Err(Error::Format(_))
        ));
    }
}
