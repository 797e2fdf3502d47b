//! Photo training data: whole photos held in memory at their training scale, from which
//! random 32×32 crops are drawn anew every epoch (position, an extra downscale, a mirror),
//! and whole photos held out for validation.
//!
//! Photos are lossy JPEG/WebP as published; each source is first shrunk by an integer box
//! filter (the factor is per source, see [`crate::corpus::PhotoPart`]) so that 8×8 block
//! artifacts average away. A crop is a function of (run seed, epoch, index) alone, so a
//! resumed run draws exactly the crops it would have drawn.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::{COLORS, TILE};
use crate::error::{Error, Result};
use crate::weights::SplitMix64;

use super::tiles::Tiles;

/// One photo at its training scale, interleaved RGB.
#[derive(Clone, Debug)]
pub struct Photo {
    /// File name (the held-out choice depends on it).
    pub name: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

/// The largest extra downscale of a crop (log-uniform in [1, this) for half of the crops;
/// the other half are taken at the training scale).
const MAX_EXTRA: f64 = 2.0;

/// Photos and the number of crops an epoch draws from each (one per 32×32 of area).
#[derive(Clone, Debug, Default)]
pub struct PhotoSet {
    photos: Vec<Photo>,
    /// `starts[i]`: index of photo `i`'s first crop in an epoch; last = crops per epoch.
    starts: Vec<u64>,
}

impl PhotoSet {
    /// A set of photos of at least 32×32 pixels (smaller ones are dropped).
    pub fn new(photos: Vec<Photo>) -> PhotoSet {
        let photos: Vec<Photo> = photos
            .into_iter()
            .filter(|p| p.width >= TILE && p.height >= TILE)
            .collect();
        let mut starts = vec![0u64];
        for p in &photos {
            let n = ((p.width * p.height) / (TILE * TILE)).max(1) as u64;
            starts.push(starts.last().copied().unwrap_or(0) + n);
        }
        PhotoSet { photos, starts }
    }

    /// Crops per epoch.
    pub fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0) as usize
    }

    /// Whether the set holds no photo.
    pub fn is_empty(&self) -> bool {
        self.photos.is_empty()
    }

    /// Number of photos.
    pub fn photos(&self) -> usize {
        self.photos.len()
    }

    /// Pixels over all photos.
    pub fn pixels(&self) -> usize {
        self.photos.iter().map(|p| p.width * p.height).sum()
    }

    /// Writes crop `index` of epoch `epoch` of run `seed` (NHWC u8, 32×32×3 bytes) to `out`.
    pub fn crop(&self, index: u64, seed: u64, epoch: u64, out: &mut [u8]) {
        let i = self.starts.partition_point(|&s| s <= index) - 1;
        let p = &self.photos[i.min(self.photos.len() - 1)];
        let mut r = SplitMix64(
            seed ^ epoch.wrapping_mul(0xd1b5_4a32_d192_ed03)
                ^ index.wrapping_mul(0x8cb9_2ba7_2f3d_8dd7),
        );
        r.next_u64();
        let flip = r.next_u64() & 1 == 1;
        let max_s = (p.width.min(p.height) as f64 / TILE as f64).min(MAX_EXTRA);
        let s = if r.next_u64() & 1 == 0 || max_s <= 1.0 {
            1.0
        } else {
            max_s.powf(r.next_f64())
        };
        let span = s * TILE as f64;
        if s == 1.0 {
            let x0 = (r.next_u64() % (p.width - TILE + 1) as u64) as usize;
            let y0 = (r.next_u64() % (p.height - TILE + 1) as u64) as usize;
            for y in 0..TILE {
                for x in 0..TILE {
                    let sx = if flip { x0 + TILE - 1 - x } else { x0 + x };
                    let src = ((y0 + y) * p.width + sx) * COLORS;
                    let dst = (y * TILE + x) * COLORS;
                    out[dst..dst + COLORS].copy_from_slice(&p.rgb[src..src + COLORS]);
                }
            }
        } else {
            let x0 = r.next_f64() * (p.width as f64 - span);
            let y0 = r.next_f64() * (p.height as f64 - span);
            area_resample(p, x0, y0, s, flip, out);
        }
    }

    /// Every photo cut into non-overlapping 32×32 tiles at the training scale (no
    /// augmentation), in a fixed shuffle, so that the first tiles spread over all photos.
    pub fn grid_tiles(&self) -> Tiles {
        let mut tiles = Tiles::default();
        for p in &self.photos {
            for ty in 0..p.height / TILE {
                for tx in 0..p.width / TILE {
                    for y in 0..TILE {
                        let row = ((ty * TILE + y) * p.width + tx * TILE) * COLORS;
                        tiles
                            .data
                            .extend_from_slice(&p.rgb[row..row + TILE * COLORS]);
                    }
                }
            }
        }
        let order = super::data::permutation(tiles.len(), 0x7a11_0f00_d5ee_d001);
        Tiles {
            data: tiles.gather(&order),
        }
    }
}

/// Area (box) resampling of the `32s × 32s` square at (`x0`, `y0`) of `p` to 32×32: each
/// output pixel is the exact area-weighted mean of the source pixels it covers.
fn area_resample(p: &Photo, x0: f64, y0: f64, s: f64, flip: bool, out: &mut [u8]) {
    // per output column / row: (first source index, weights)
    let taps = |start: f64, limit: usize| -> Vec<(usize, Vec<f64>)> {
        (0..TILE)
            .map(|o| {
                let a = start + o as f64 * s;
                let b = (a + s).min(limit as f64);
                let first = a.floor() as usize;
                let last = (b.ceil() as usize).min(limit).max(first + 1);
                let w = (first..last)
                    .map(|k| ((k + 1) as f64).min(b) - (k as f64).max(a))
                    .map(|w| w.max(0.0))
                    .collect();
                (first, w)
            })
            .collect()
    };
    let xs = taps(x0, p.width);
    let ys = taps(y0, p.height);
    for (oy, (fy, wy)) in ys.iter().enumerate() {
        for (ox, (fx, wx)) in xs.iter().enumerate() {
            let mut acc = [0f64; COLORS];
            let mut total = 0.0;
            for (dy, wy) in wy.iter().enumerate() {
                for (dx, wx) in wx.iter().enumerate() {
                    let w = wy * wx;
                    let src = ((fy + dy) * p.width + fx + dx) * COLORS;
                    for c in 0..COLORS {
                        acc[c] += w * f64::from(p.rgb[src + c]);
                    }
                    total += w;
                }
            }
            let x = if flip { TILE - 1 - ox } else { ox };
            let dst = (oy * TILE + x) * COLORS;
            for c in 0..COLORS {
                out[dst + c] = (acc[c] / total).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Shrinks interleaved RGB by an integer `factor` with a box filter (mean of each
/// `factor × factor` block, rounded; edges that do not fill a block are dropped).
pub fn box_downscale(rgb: &[u8], width: usize, height: usize, factor: usize) -> Photo {
    let (w, h) = (width / factor.max(1), height / factor.max(1));
    if factor <= 1 {
        return Photo {
            name: String::new(),
            width,
            height,
            rgb: rgb.to_vec(),
        };
    }
    let n = (factor * factor) as u32;
    let mut out = vec![0u8; w * h * COLORS];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; COLORS];
            for dy in 0..factor {
                let row = ((y * factor + dy) * width + x * factor) * COLORS;
                for px in rgb[row..row + factor * COLORS].chunks_exact(COLORS) {
                    for c in 0..COLORS {
                        acc[c] += u32::from(px[c]);
                    }
                }
            }
            for c in 0..COLORS {
                out[(y * w + x) * COLORS + c] = ((acc[c] + n / 2) / n) as u8;
            }
        }
    }
    Photo {
        name: String::new(),
        width: w,
        height: h,
        rgb: out,
    }
}

/// Whether the photo named `name` belongs to the fixed held-out tenth (a hash of the name,
/// so adding photos never moves others between training and validation).
pub fn in_held_out_tenth(name: &str) -> bool {
    // FNV-1a, then one SplitMix64 round to spread it
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    SplitMix64(h).next_u64().is_multiple_of(10)
}

/// One file to load: path, name, the box-downscale factor, and whether it is held out.
#[derive(Clone, Debug)]
pub struct PhotoFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name (for the held-out choice and messages).
    pub name: String,
    /// Box-downscale factor (0: choose by size, see [`auto_factor`]).
    pub factor: usize,
    /// Held out for validation.
    pub held_out: bool,
    /// Expected SHA-256 (hex), checked before decoding.
    pub sha256: Option<String>,
}

/// The downscale factor of a large photo (Debian wallpapers): its longer side to at most
/// about 1,600 pixels, at least ½, at most ¼.
pub fn auto_factor(width: usize, height: usize) -> usize {
    width.max(height).div_ceil(1600).clamp(2, 4)
}

/// Decodes and downscales `files` (in parallel), returning (training, held-out) photos.
///
/// # Errors
/// [`Error::Io`]/[`Error::Format`] naming the file that cannot be read or decoded.
pub fn load(files: &[PhotoFile]) -> Result<(Vec<Photo>, Vec<Photo>)> {
    let loaded: Vec<Result<(bool, Photo)>> = files
        .par_iter()
        .map(|f| {
            if let Some(hex) = &f.sha256 {
                crate::corpus::verify_sha256(&f.path, hex)?;
            }
            let img = image::ImageReader::open(&f.path)
                .and_then(|r| r.with_guessed_format())
                .map_err(|e| {
                    Error::Io(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", f.path.display()),
                    ))
                })?
                .decode()
                .map_err(|e| Error::Format(format!("{}: {e}", f.path.display())))?
                .to_rgb8();
            let (w, h) = (img.width() as usize, img.height() as usize);
            let factor = if f.factor == 0 {
                auto_factor(w, h)
            } else {
                f.factor
            };
            let mut p = box_downscale(img.as_raw(), w, h, factor);
            p.name.clone_from(&f.name);
            Ok((f.held_out, p))
        })
        .collect();
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for r in loaded {
        let (held, p) = r?;
        if held {
            val.push(p);
        } else {
            train.push(p);
        }
    }
    Ok((train, val))
}

/// The image files of a folder (not recursive), sorted, each held out by
/// [`in_held_out_tenth`], at factor 1.
///
/// # Errors
/// [`Error::Io`] if the folder cannot be listed, [`Error::Usage`] if it has no image.
pub fn dir_files(dir: &Path) -> Result<Vec<PhotoFile>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", dir.display()),
            ))
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && image::ImageFormat::from_path(p).is_ok())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(Error::Usage(format!("{} holds no image", dir.display())));
    }
    Ok(paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            PhotoFile {
                held_out: in_held_out_tenth(&name),
                name,
                path,
                factor: 1,
                sha256: None,
            }
        })
        .collect())
}

/// The files of the photo corpus ([`crate::corpus::photo_parts`]) with their hashes; BSDS500's
/// `val_*` and a fixed tenth of the rest are held out. A missing Debian part is skipped with
/// a note (it is assembled by `corpus/fetch-debian-photos.sh`); a missing BSDS500 or
/// GCompris file is an error. Returns the files and notes for the model card.
///
/// # Errors
/// [`Error::Usage`] naming the missing file.
pub fn corpus_files(photos: &Path, debian: &Path) -> Result<(Vec<PhotoFile>, Vec<String>)> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for part in crate::corpus::photo_parts(photos, debian) {
        let present = part
            .files
            .iter()
            .filter(|(n, _)| part.dir.join(n).is_file())
            .count();
        if present < part.files.len() {
            if part.name == "debian" {
                let msg = format!(
                    "Debian photos: {present} of {} found in {} (run corpus/fetch-debian-photos.sh \
                     to add them); training without them",
                    part.files.len(),
                    part.dir.display()
                );
                eprintln!("note: {msg}");
                notes.push(msg);
                if present == 0 {
                    continue;
                }
            } else {
                let missing = part
                    .files
                    .iter()
                    .find(|(n, _)| !part.dir.join(n).is_file())
                    .map_or(String::new(), |(n, _)| n.clone());
                return Err(Error::Usage(format!(
                    "photo corpus part {}: {} is missing in {} (see corpus/README.md; set \
                     SNAILZIP_DATA or --data-dir to the folder that holds photos/)",
                    part.name,
                    missing,
                    part.dir.display()
                )));
            }
        }
        for (name, hex) in &part.files {
            let path = part.dir.join(name);
            if !path.is_file() {
                continue;
            }
            files.push(PhotoFile {
                held_out: (part.name == "bsds500" && name.starts_with("val_"))
                    || (!name.starts_with("val_") && in_held_out_tenth(name)),
                name: name.clone(),
                path,
                factor: part.factor,
                sha256: Some(hex.clone()),
            });
        }
    }
    Ok((files, notes))
}

#[cfg(test)]
mod tests {
    use super::super::tiles::TILE_BYTES;
    use super::*;

    fn photo(w: usize, h: usize) -> Photo {
        Photo {
            name: "p".into(),
            width: w,
            height: h,
            rgb: (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect(),
        }
    }

    #[test]
    fn box_downscale_averages_blocks() {
        let rgb = [0, 0, 0, 10, 10, 10, 20, 20, 20, 31, 31, 31];
        let p = box_downscale(&rgb, 2, 2, 2);
        assert_eq!((p.width, p.height), (1, 1));
        assert_eq!(p.rgb, vec![15, 15, 15]); // (0+10+20+31)/4 = 15.25
    }

    #[test]
    fn crops_are_deterministic_and_vary_by_epoch() {
        let set = PhotoSet::new(vec![photo(100, 70), photo(20, 20), photo(64, 64)]);
        assert_eq!(set.photos(), 2);
        assert_eq!(set.len(), 100 * 70 / 1024 + 4);
        let mut a = vec![0u8; TILE_BYTES];
        let mut b = vec![0u8; TILE_BYTES];
        set.crop(3, 1, 0, &mut a);
        set.crop(3, 1, 0, &mut b);
        assert_eq!(a, b);
        let differs = (0..20).any(|e| {
            set.crop(3, 1, e + 1, &mut b);
            a != b
        });
        assert!(differs);
        // every crop index of an epoch is valid
        for i in 0..set.len() as u64 {
            set.crop(i, 9, 4, &mut b);
        }
    }

    #[test]
    fn area_resample_of_a_flat_image_is_flat_and_unit_scale_is_a_copy() {
        let flat = Photo {
            name: "f".into(),
            width: 80,
            height: 80,
            rgb: vec![77; 80 * 80 * 3],
        };
        let mut out = vec![0u8; TILE_BYTES];
        area_resample(&flat, 3.3, 7.9, 1.7, true, &mut out);
        assert!(out.iter().all(|&v| v == 77));
        let p = photo(40, 40);
        area_resample(&p, 2.0, 5.0, 1.0, false, &mut out);
        assert_eq!(&out[..3], &p.rgb[(5 * 40 + 2) * 3..(5 * 40 + 2) * 3 + 3]);
    }

    #[test]
    fn held_out_tenth_is_about_a_tenth_and_fixed() {
        let n = (0..2000)
            .filter(|i| in_held_out_tenth(&format!("img_{i}.jpg")))
            .count();
        assert!((150..250).contains(&n), "{n}");
        assert_eq!(in_held_out_tenth("x.png"), in_held_out_tenth("x.png"));
    }
}
