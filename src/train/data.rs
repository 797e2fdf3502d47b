//! Training data: CIFAR-10 binary batches or a folder of images cut into 32×32 tiles, as one
//! NHWC u8 buffer, plus the seeded orders that walk it.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::config::{COLORS, TILE};
use crate::error::{Error, Result};

/// Bytes of one tile (NHWC u8).
pub const TILE_BYTES: usize = TILE * TILE * COLORS;
/// The official archive.
pub const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// MD5 of the official archive, as published on <https://www.cs.toronto.edu/~kriz/cifar.html>.
pub const CIFAR_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// Seed of the fixed train/validation split (independent of the training seed, so every run
/// validates on the same images).
const SPLIT_SEED: u64 = 0x5a11_da7a_0000_0001;

/// A set of tiles, NHWC u8, contiguous.
#[derive(Clone, Debug, Default)]
pub struct Tiles {
    /// `len() * TILE_BYTES` bytes.
    pub data: Vec<u8>,
}

impl Tiles {
    /// Number of tiles.
    pub fn len(&self) -> usize {
        self.data.len() / TILE_BYTES
    }

    /// Whether there are no tiles.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Tile `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        &self.data[i * TILE_BYTES..(i + 1) * TILE_BYTES]
    }

    /// The tiles at `indices`, concatenated.
    pub fn gather(&self, indices: &[u32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(indices.len() * TILE_BYTES);
        for &i in indices {
            out.extend_from_slice(self.get(i as usize));
        }
        out
    }

    /// The first `n` tiles (all if fewer).
    pub fn head(&self, n: usize) -> Tiles {
        Tiles {
            data: self.data[..n.min(self.len()) * TILE_BYTES].to_vec(),
        }
    }
}

/// How to get CIFAR-10, for error messages.
pub fn cifar_instructions() -> String {
    format!(
        "CIFAR-10 (binary version) not found. Get it with:\n  \
         curl -LO {CIFAR_URL}\n  \
         echo '{CIFAR_MD5}  cifar-10-binary.tar.gz' | md5sum -c -\n  \
         mkdir -p ~/.cache/snailzip && tar -xzf cifar-10-binary.tar.gz -C ~/.cache/snailzip\n\
         then pass --data-dir ~/.cache/snailzip/cifar-10-batches-bin (or set SNAILZIP_DATA to \
         the folder that contains cifar-10-batches-bin/)."
    )
}

fn has_batches(dir: &Path) -> bool {
    dir.join("data_batch_1.bin").is_file()
}

/// Finds the `cifar-10-batches-bin` folder: `explicit` (the folder itself or its parent),
/// else `$SNAILZIP_DATA/cifar-10-batches-bin`, else `../shared/data/cifar-10-batches-bin`,
/// else `~/.cache/snailzip/cifar-10-batches-bin`.
///
/// # Errors
/// [`Error::Usage`] with download instructions if none holds the batches.
pub fn find_cifar(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = explicit {
        candidates.push(dir.to_path_buf());
        candidates.push(dir.join("cifar-10-batches-bin"));
    } else {
        if let Some(d) = std::env::var_os("SNAILZIP_DATA") {
            candidates.push(PathBuf::from(d).join("cifar-10-batches-bin"));
        }
        candidates.push(PathBuf::from("../shared/data/cifar-10-batches-bin"));
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".cache/snailzip/cifar-10-batches-bin"));
        }
    }
    candidates
        .into_iter()
        .find(|d| has_batches(d))
        .ok_or_else(|| {
            let looked =
                explicit.map_or(String::new(), |d| format!(" (looked in {})", d.display()));
            Error::Usage(format!("{}{looked}", cifar_instructions()))
        })
}

/// Reads CIFAR-10 batches (`data_batch_1..5.bin` for `train`, else `test_batch.bin`) as NHWC
/// tiles, at most `limit` of them.
///
/// # Errors
/// [`Error::Io`] if a file cannot be read, [`Error::Format`] if its size is not a whole
/// number of records.
pub fn load_cifar(dir: &Path, train: bool, limit: usize) -> Result<Tiles> {
    let files: Vec<String> = if train {
        (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
    } else {
        vec!["test_batch.bin".into()]
    };
    let mut tiles = Tiles::default();
    for f in files {
        if tiles.len() >= limit {
            break;
        }
        for (_, image) in crate::corpus::read_cifar(&dir.join(&f))? {
            if tiles.len() >= limit {
                break;
            }
            tiles.data.extend_from_slice(&image.data);
        }
    }
    Ok(tiles)
}

/// Cuts every readable image in `dir` (not recursive) into non-overlapping 32×32 RGB tiles
/// (gray and alpha images are converted to RGB; edges that do not fill a tile are dropped).
///
/// # Errors
/// [`Error::Io`] if the folder cannot be listed, [`Error::Usage`] if it yields no tile.
pub fn load_image_dir(dir: &Path) -> Result<Tiles> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut tiles = Tiles::default();
    for path in paths {
        let Ok(img) = image::open(&path) else {
            continue;
        };
        let rgb = img.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let raw = rgb.as_raw();
        for ty in 0..h / TILE {
            for tx in 0..w / TILE {
                for i in 0..TILE {
                    let row = (ty * TILE + i) * w + tx * TILE;
                    tiles
                        .data
                        .extend_from_slice(&raw[row * COLORS..(row + TILE) * COLORS]);
                }
            }
        }
    }
    if tiles.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no image of at least 32×32 pixels",
            dir.display()
        )));
    }
    Ok(tiles)
}

/// A permutation of `0..n` from `seed`.
pub fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut rand_pcg::Pcg64::seed_from_u64(seed));
    order
}

/// Splits `all` into (train, validation): a fixed shuffle, the last `holdout` for validation.
pub fn split(all: &Tiles, holdout: usize) -> (Tiles, Tiles) {
    let order = permutation(all.len(), SPLIT_SEED);
    let holdout = holdout.min(all.len() / 2);
    let cut = all.len() - holdout;
    (
        Tiles {
            data: all.gather(&order[..cut]),
        },
        Tiles {
            data: all.gather(&order[cut..]),
        },
    )
}

/// The order of epoch `epoch` of training run `seed` (reshuffled every epoch).
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<u32> {
    permutation(n, seed ^ (epoch + 1).wrapping_mul(0x2545_f491_4f6c_dd1d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_disjoint_and_fixed() {
        let all = Tiles {
            data: (0..100 * TILE_BYTES)
                .map(|i| (i / TILE_BYTES) as u8)
                .collect(),
        };
        let (t, v) = split(&all, 10);
        assert_eq!((t.len(), v.len()), (90, 10));
        let mut ids: Vec<u8> = (0..90)
            .map(|i| t.get(i)[0])
            .chain((0..10).map(|i| v.get(i)[0]))
            .collect();
        ids.sort();
        assert_eq!(ids, (0..100).collect::<Vec<u8>>());
        assert_eq!(split(&all, 10).1.data, v.data);
        assert_ne!(epoch_order(50, 1, 0), epoch_order(50, 1, 1));
        assert_eq!(epoch_order(50, 1, 3), epoch_order(50, 1, 3));
    }
}
