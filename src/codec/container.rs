//! The `.snz` container: a small header, then one independently decodable payload per tile.
//!
//! ```text
//! offset size  field
//! 0      3     magic "SNZ"
//! 3      1     format version (4; 2 in files of earlier builds)
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
//! Version 3 is version 2 plus a metadata section right after the height, written only when
//! the image carries metadata (a file without metadata is a version 2 file, byte for byte).
//! Versions 4 and 5 have exactly the layouts of 2 and 3; the version tells that the payloads
//! were coded with the portable logarithm (see [`Logarithm`]), which this build writes:
//!
//! ```text
//!        var   section length M in bytes, unsigned LEB128 (M ≥ 1)
//!        M     entries, each: 4-byte PNG chunk type (one of METADATA_CHUNKS), 1 flag byte
//!              (0: before the image data, 1: after it), data length (LEB128), data
//! ```
//!
//! Version 6 is the adaptive format (the `adaptive` and `streams` modules): the version 2
//! header, then a flags byte, the metadata section if flagged, and one payload per stream
//! instead of one per tile:
//!
//! ```text
//!        1     flags: bit 0 a metadata section follows; bit 1 tiles may use the network
//!              (else the model id is 0 and no model is needed to decode)
//!        var   metadata section, as in version 5, if bit 0
//!        var   per stream except the last: payload length, unsigned LEB128
//!        ...   payloads: each a mode byte (0 adaptive-coded, 1 stored: the raw pixels of the
//!              stream's tiles in coding order) and the data
//! ```
//!
//! Version 7 has version 6's fields. Its streams are coded with the adaptive stage's second
//! variant (neighbours from the coded tiles above and to the left, three contexts more),
//! and a file that uses no network cuts its tiles into streams of up to 256 tiles instead of
//! 96; the version names the arithmetic and the layout that decode it.
//!
//! Version 8 (effort 1, the fast mode) has version 7's fields, layout and neighbourhoods; its
//! streams are coded with the variant of fewer context models (those that pay on photos).
//!
//! Every field is checked before anything is allocated from it: dimensions against
//! [`Limits`], tile lengths against the bytes actually present and against the most an
//! honest encoder can write for the tile's pixels ([`max_payload_bytes`]), metadata entries
//! against the section. A wrong model is caught by the id (a chance of 2⁻³² for an unrelated
//! model to share the prefix) and, failing that, by the pixel checksum.

use super::mixture::Logarithm;
use crate::error::{Error, Result};
use crate::image_io::{Chunk, ColorType, Metadata, METADATA_CHUNKS};
use crate::limits::{Limits, MAX_DIMENSION};
use crate::weights::ModelId;

/// File signature.
pub const MAGIC: [u8; 3] = *b"SNZ";
/// Container format version written by this build for images without metadata: the version 2
/// layout, coded with the portable logarithm ([`Logarithm::Libm`]).
pub const VERSION: u8 = 4;
/// Container format version written by this build for images with metadata: the version 3
/// layout (version 2 plus a metadata section), coded with the portable logarithm.
pub const VERSION_METADATA: u8 = 5;
/// Versions written by earlier builds, coded with the platform's logarithm
/// ([`Logarithm::Platform`]), with the same layouts as 4 and 5.
pub const LEGACY_VERSION: u8 = 2;
/// See [`LEGACY_VERSION`].
pub const LEGACY_VERSION_METADATA: u8 = 3;
/// The adaptive format this build writes (with or without metadata, as its flags say):
/// version 6's fields, coded with the adaptive stage's version 7 variant (contexts reach
/// into the coded tiles above and to the left; three contexts more), in larger streams
/// when no tile uses the network.
pub const ADAPTIVE_VERSION: u8 = 7;
/// The adaptive format effort 1 writes: version 7's fields, layout and neighbourhoods, coded
/// with the adaptive stage's fast variant (fewer context models).
pub const FAST_VERSION: u8 = 8;
/// The newest version this build reads.
pub const NEWEST_VERSION: u8 = FAST_VERSION;
/// The first adaptive version (builds of 2026-12-02): same layout, the version 6 variant of
/// the adaptive stage. Decoded as ever; written only to test that.
pub const FIRST_ADAPTIVE_VERSION: u8 = 6;
/// Flags of versions 6 to 8: a metadata section follows.
const FLAG_METADATA: u8 = 1;
/// Flags of versions 6 to 8: tiles may use the network.
const FLAG_NETWORK: u8 = 2;
/// Mode byte of a version 6 to 8 stream payload: adaptive-coded.
pub const STREAM_CODED: u8 = 0;
/// Mode byte of a version 6 to 8 stream payload: stored.
pub const STREAM_STORED: u8 = 1;

/// Whether files of this container version are coded by the adaptive stage, in streams.
pub fn is_adaptive(version: u8) -> bool {
    (FIRST_ADAPTIVE_VERSION..=NEWEST_VERSION).contains(&version)
}

/// The logarithm a file of this container version was coded with.
pub fn logarithm(version: u8) -> Logarithm {
    if version >= VERSION {
        Logarithm::Libm
    } else {
        Logarithm::Platform
    }
}

fn has_metadata(version: u8) -> bool {
    version == VERSION_METADATA || version == LEGACY_VERSION_METADATA
}
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
    /// The id of an adaptive file (version 6, 7) that uses no network.
    pub const NONE: StoredModelId = StoredModelId {
        bytes: [0; 8],
        len: STORED_ID_BYTES,
    };

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

/// The most bytes an honest encoder can write for one tile of `pixels` pixels of `color`:
/// every symbol has a frequency of at least 1 in 2^24 (colors) or 2^16 (alpha flag and
/// residual), so it costs at most 24 (16) bits plus the coder's rounding (< 0.01 bit), and
/// the coder adds at most two sealing words.
pub fn max_payload_bytes(pixels: usize, color: ColorType) -> usize {
    let per_pixel = color.color_channels() * 25 + if color.has_alpha() { 2 * 17 } else { 0 };
    let words = (pixels * per_pixel).div_ceil(32) + 3;
    words * 4
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
    /// Whether the payloads use the network (always for versions 1 to 5); if not, no model
    /// is needed and the model id is 0.
    pub network: bool,
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

/// A parsed file: header, metadata and per-tile payload slices.
#[derive(Debug)]
pub struct Container<'a> {
    /// The header.
    pub header: Header,
    /// Format version of the file (1, 2 or 3).
    pub version: u8,
    /// Metadata stored with the image (empty unless version 3 or 5).
    pub metadata: Metadata,
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

/// Serializes a header and the tile payloads (a version 4 file).
pub fn write(header: &Header, payloads: &[Vec<u8>]) -> Vec<u8> {
    write_with_metadata(header, &Metadata::default(), payloads)
}

/// Serializes a header, metadata and the tile payloads: a version 4 file if `metadata` is
/// empty, else version 5.
pub fn write_with_metadata(header: &Header, metadata: &Metadata, payloads: &[Vec<u8>]) -> Vec<u8> {
    write_coded_with(header, metadata, payloads, Logarithm::Libm)
}

/// [`write_with_metadata`] for payloads coded with logarithm `log`: versions 2 and 3 for
/// [`Logarithm::Platform`] (as earlier builds wrote them).
pub fn write_coded_with(
    header: &Header,
    metadata: &Metadata,
    payloads: &[Vec<u8>],
    log: Logarithm,
) -> Vec<u8> {
    let section = metadata_section(metadata);
    let version = match (section.is_empty(), log) {
        (true, Logarithm::Libm) => VERSION,
        (false, Logarithm::Libm) => VERSION_METADATA,
        (true, Logarithm::Platform) => LEGACY_VERSION,
        (false, Logarithm::Platform) => LEGACY_VERSION_METADATA,
    };
    debug_assert_eq!(
        header.tile,
        crate::config::TILE,
        "version 2 implies the tile size"
    );
    assemble(
        version,
        header.model_id.bytes(),
        header,
        None,
        &section,
        payloads,
    )
}

/// The file: magic, `version`, the model `id`'s first bytes, the header's fields, the flags
/// byte (versions 6, 7), the metadata `section`, the payload table and the payloads.
fn assemble(
    version: u8,
    id: &[u8],
    header: &Header,
    flags: Option<u8>,
    section: &[u8],
    payloads: &[Vec<u8>],
) -> Vec<u8> {
    let total: usize = payloads.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(40 + section.len() + 3 * payloads.len() + total);
    out.extend_from_slice(&MAGIC);
    out.push(version);
    out.extend_from_slice(&id[..STORED_ID_BYTES]);
    out.push(header.color.code());
    out.extend_from_slice(&header.checksum.to_le_bytes());
    put_varint(&mut out, header.width as u64);
    put_varint(&mut out, header.height as u64);
    out.extend(flags);
    if !section.is_empty() {
        put_varint(&mut out, section.len() as u64);
        out.extend_from_slice(section);
    }
    for p in payloads.iter().take(payloads.len().saturating_sub(1)) {
        put_varint(&mut out, p.len() as u64);
    }
    for p in payloads {
        out.extend_from_slice(p);
    }
    out
}

/// Serializes an adaptive file of `version` (6 or 7): header, metadata and the stream
/// payloads.
pub fn write_adaptive(
    version: u8,
    header: &Header,
    metadata: &Metadata,
    payloads: &[Vec<u8>],
) -> Vec<u8> {
    debug_assert!(is_adaptive(version));
    let section = metadata_section(metadata);
    let id = if header.network {
        header.model_id.bytes()
    } else {
        &[0; STORED_ID_BYTES]
    };
    let mut flags = 0;
    if !section.is_empty() {
        flags |= FLAG_METADATA;
    }
    if header.network {
        flags |= FLAG_NETWORK;
    }
    assemble(version, id, header, Some(flags), &section, payloads)
}

fn metadata_section(metadata: &Metadata) -> Vec<u8> {
    let mut section = Vec::new();
    for chunk in &metadata.chunks {
        section.extend_from_slice(&chunk.kind);
        section.push(chunk.after_image as u8);
        put_varint(&mut section, chunk.data.len() as u64);
        section.extend_from_slice(&chunk.data);
    }
    section
}

/// Parses only the fixed part and dimensions of a header (for `snailzip info` and early
/// model checks). Returns the header and the offset where the metadata section (version 3, 5)
/// or the tile table begins.
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
        LEGACY_VERSION..=NEWEST_VERSION => STORED_ID_BYTES,
        _ => {
            return Err(Error::Format(format!(
                "container version {version} is not supported by this build (reads 1 to \
                 {NEWEST_VERSION})"
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
    if width == 0 || height == 0 {
        return Err(Error::Format(format!(
            "image size {width}×{height} is empty"
        )));
    }
    if width > MAX_DIMENSION as u64 || height > MAX_DIMENSION as u64 {
        return Err(Error::Limits(format!(
            "image size {width}×{height} is beyond the format's {MAX_DIMENSION} pixels per side"
        )));
    }
    limits.check(width, height)?;
    let network = if is_adaptive(version) {
        let flags = r.take(1, "header")?[0];
        if flags & !(FLAG_METADATA | FLAG_NETWORK) != 0 {
            return Err(Error::Format(format!("unknown header flags {flags:#04x}")));
        }
        if flags & FLAG_NETWORK == 0 && model_id.bytes() != [0; STORED_ID_BYTES] {
            return Err(Error::Format(
                "a file that uses no network must have model id 0".into(),
            ));
        }
        flags & FLAG_NETWORK != 0
    } else {
        true
    };
    let header = Header {
        model_id,
        color,
        tile,
        checksum,
        width: width as usize,
        height: height as usize,
        network,
    };
    Ok((header, r.pos))
}

/// Parses a whole file into header and tile payloads without copying.
///
/// # Errors
/// As [`read_header`], plus [`Error::Format`] if the tile table does not match the bytes.
pub fn read<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Container<'a>> {
    let (header, pos) = read_header(bytes, limits)?;
    read_body(bytes, header, pos)
}

/// The rest of a file whose header [`read_header`] parsed (`header`, ending at `pos`), so that
/// a caller who checks the header first (its model, its size) parses no byte twice.
///
/// # Errors
/// [`Error::Format`] if the metadata or the tile table does not match the bytes.
pub fn read_body(bytes: &[u8], header: Header, pos: usize) -> Result<Container<'_>> {
    let version = bytes[3];
    let mut r = Reader { bytes, pos };
    // versions 6 and 7: the flags byte ends the header
    let flagged = is_adaptive(version) && bytes[pos - 1] & FLAG_METADATA != 0;
    let metadata = if has_metadata(version) || flagged {
        read_metadata(&mut r)?
    } else {
        Metadata::default()
    };
    let (tx, ty) = header.tile_grid();
    let (tiles, max_len): (usize, Box<dyn Fn(usize) -> usize>) = if is_adaptive(version) {
        // payloads are streams: a mode byte and at most the stored pixels
        let all: Vec<_> = super::tiles::tiles_of(0, header.width, header.height).collect();
        let ch = header.color.channels();
        let variant = super::adaptive::Variant::of_version(version).expect("an adaptive version");
        let per_stream = super::streams::stream_tiles(variant, header.network);
        let raw: Vec<usize> = super::streams::layout(&all, per_stream)
            .iter()
            .map(|s| {
                1 + s
                    .tiles
                    .iter()
                    .map(|&t| all[t].w * all[t].h * ch)
                    .sum::<usize>()
            })
            .collect();
        (raw.len(), Box::new(move |s| raw[s]))
    } else {
        let tile = header.tile;
        let (width, height, color) = (header.width, header.height, header.color);
        let max_len = move |t: usize| {
            let (x, y) = (t % tx, t / tx);
            let w = tile.min(width - x * tile);
            let h = tile.min(height - y * tile);
            max_payload_bytes(w * h, color)
        };
        (tx * ty, Box::new(max_len))
    };
    let max_len = |t: usize| max_len(t) as u64;
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
    for t in 0..tiles - 1 {
        let len = r.varint("tile table")?;
        if len > max_len(t) {
            return Err(Error::Format(format!(
                "tile {t} claims {len} bytes, more than its pixels can cost (at most {})",
                max_len(t)
            )));
        }
        total = total.saturating_add(len);
        lengths.push(len as usize);
    }
    let left = (bytes.len() - r.pos) as u64;
    if total > left {
        return Err(Error::Format(format!(
            "tile payloads need {total} bytes but only {left} are present (file is truncated)"
        )));
    }
    let last = left - total;
    if last > max_len(tiles - 1) {
        return Err(Error::Format(format!(
            "{} bytes of unexpected data after the end of the image (the last tile can take at \
             most {} bytes; concatenated or damaged file?)",
            last - max_len(tiles - 1),
            max_len(tiles - 1)
        )));
    }
    lengths.push(last as usize);
    let mut payloads = Vec::with_capacity(tiles);
    for len in lengths {
        payloads.push(r.take(len, "payload")?);
    }
    Ok(Container {
        header,
        version,
        metadata,
        payloads,
    })
}

fn read_metadata(r: &mut Reader<'_>) -> Result<Metadata> {
    let len = r.varint("metadata length")?;
    if len == 0 {
        return Err(Error::Format("empty metadata section".into()));
    }
    let len =
        usize::try_from(len).map_err(|_| Error::Format("metadata section is too long".into()))?;
    let section = r.take(len, "metadata")?;
    let mut s = Reader {
        bytes: section,
        pos: 0,
    };
    let mut chunks = Vec::new();
    while s.pos < section.len() {
        let kind: [u8; 4] = s.take(4, "metadata")?.try_into().expect("4 bytes");
        if !METADATA_CHUNKS.contains(&&kind) {
            return Err(Error::Format(format!(
                "metadata entry of unknown kind {:?}",
                String::from_utf8_lossy(&kind)
            )));
        }
        let after_image = match s.take(1, "metadata")?[0] {
            0 => false,
            1 => true,
            f => return Err(Error::Format(format!("metadata entry flag {f} is unknown"))),
        };
        let n = s.varint("metadata entry length")?;
        let n =
            usize::try_from(n).map_err(|_| Error::Format("metadata entry is too long".into()))?;
        let data = s.take(n, "metadata")?.to_vec();
        chunks.push(Chunk {
            kind,
            after_image,
            data,
        });
    }
    Ok(Metadata { chunks })
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
            network: true,
        }
    }

    #[test]
    fn round_trip() {
        let h = header(70, 33);
        let payloads: Vec<Vec<u8>> = (0..6).map(|i| vec![i as u8; i * 10]).collect();
        let bytes = write(&h, &payloads);
        let c = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(c.header, h);
        assert_eq!((c.version, c.metadata.is_empty()), (4, true));
        assert_eq!(c.payloads.len(), 6);
        for (a, b) in c.payloads.iter().zip(&payloads) {
            assert_eq!(*a, b.as_slice());
        }
    }

    #[test]
    fn metadata_section_layout() {
        let h = header(32, 32);
        let metadata = Metadata {
            chunks: vec![
                Chunk {
                    kind: *b"gAMA",
                    after_image: false,
                    data: vec![0, 0, 0xb1, 0x8f],
                },
                Chunk {
                    kind: *b"tEXt",
                    after_image: true,
                    data: b"k\0v".to_vec(),
                },
            ],
        };
        let bytes = write_with_metadata(&h, &metadata, &[vec![5; 20]]);
        // version 5; after the 15-byte v4 header: length 19, then the two entries
        assert_eq!(bytes[3], 5);
        assert_eq!(
            &bytes[15..35],
            b"\x13gAMA\x00\x04\x00\x00\xb1\x8ftEXt\x01\x03k\x00v"
        );
        assert_eq!(bytes.len(), 15 + 20 + 20);
        let c = read(&bytes, &Limits::default()).unwrap();
        assert_eq!((c.version, &c.metadata), (5, &metadata));
        assert_eq!(c.payloads, vec![&[5u8; 20][..]]);
        // the same image without metadata is the version 4 file
        assert_eq!(
            write_with_metadata(&h, &Metadata::default(), &[vec![5; 20]]),
            write(&h, &[vec![5; 20]])
        );
        // earlier builds' versions: the same layouts, read the same way
        for (meta, version) in [(&metadata, 3u8), (&Metadata::default(), 2)] {
            let old = write_coded_with(&h, meta, &[vec![5; 20]], Logarithm::Platform);
            let new = write_with_metadata(&h, meta, &[vec![5; 20]]);
            assert_eq!((old[3], &old[4..]), (version, &new[4..]));
            let c = read(&old, &Limits::default()).unwrap();
            assert_eq!((c.version, &c.metadata), (version, meta));
            assert_eq!(logarithm(c.version), Logarithm::Platform);
        }
        assert_eq!(logarithm(5), Logarithm::Libm);
        // an empty section is not canonical
        let mut empty = bytes[..15].to_vec();
        empty.push(0);
        empty.extend_from_slice(&[5; 20]);
        assert!(matches!(
            read(&empty, &Limits::default()),
            Err(Error::Format(_))
        ));
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
