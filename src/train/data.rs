//! Training data: CIFAR-10 binary batches as one NHWC u8 buffer of 32×32 tiles, photos
//! ([`super::photos`]) cropped anew every epoch, or a weighted mixture of those, behind one
//! [`TrainSet`]; plus the seeded orders that walk it.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::photos::PhotoSet;
use super::tiles::{Tiles, TILE_BYTES};
use crate::error::{Error, Result};

/// The official archive.
pub const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// MD5 of the official archive, as published on <https://www.cs.toronto.edu/~kriz/cifar.html>.
pub const CIFAR_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// Seed of the fixed train/validation split (independent of the training seed, so every run
/// validates on the same images).
const SPLIT_SEED: u64 = 0x5a11_da7a_0000_0001;

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

/// What a training run draws its tiles from.
#[derive(Clone, Debug)]
pub enum TrainSet {
    /// Fixed 32×32 images (CIFAR-10).
    Tiles(Tiles),
    /// Photos, cropped anew every epoch.
    Photos(PhotoSet),
    /// Each tile from part `k` with probability `weight_k / Σ weight`.
    Mix(Vec<(f64, TrainSet)>),
}

impl TrainSet {
    /// Tiles per epoch.
    pub fn len(&self) -> usize {
        match self {
            TrainSet::Tiles(t) => t.len(),
            TrainSet::Photos(p) => p.len(),
            TrainSet::Mix(parts) => parts.iter().map(|(_, p)| p.len()).sum(),
        }
    }

    /// Whether an epoch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes tile `index` of epoch `epoch` of run `seed` to `out` ([`TILE_BYTES`]).
    pub fn fill(&self, index: u64, seed: u64, epoch: u64, out: &mut [u8]) {
        match self {
            TrainSet::Tiles(t) => out.copy_from_slice(t.get(index as usize)),
            TrainSet::Photos(p) => p.crop(index, seed, epoch, out),
            TrainSet::Mix(parts) => {
                let mut r = crate::weights::SplitMix64(
                    seed ^ epoch.wrapping_mul(0x9e6c_63d0_676a_9a99)
                        ^ index.wrapping_mul(0xa076_1d64_78bd_642f),
                );
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                let mut u = r.next_f64() * total;
                let k = parts
                    .iter()
                    .position(|(w, _)| {
                        u -= w;
                        u < 0.0
                    })
                    .unwrap_or(parts.len() - 1);
                let part = &parts[k].1;
                let j = r.next_u64() % part.len().max(1) as u64;
                part.fill(j, seed ^ (k as u64 + 1), epoch, out);
            }
        }
    }

    /// The tiles at `indices` of epoch `epoch`, concatenated.
    pub fn batch(&self, indices: &[u32], seed: u64, epoch: u64) -> Vec<u8> {
        let mut out = vec![0u8; indices.len() * TILE_BYTES];
        for (&i, o) in indices.iter().zip(out.chunks_exact_mut(TILE_BYTES)) {
            self.fill(u64::from(i), seed, epoch, o);
        }
        out
    }
}

/// Interleaves validation sets in proportion to `weights`, so that every prefix holds
/// the parts in about those proportions.
pub fn interleave(parts: &[(f64, Tiles)]) -> Tiles {
    let total: f64 = parts.iter().map(|(w, _)| w).sum();
    let mut taken = vec![0usize; parts.len()];
    let mut out = Tiles::default();
    loop {
        let n = out.len() as f64 + 1.0;
        let next = (0..parts.len())
            .filter(|&k| taken[k] < parts[k].1.len())
            .max_by(|&a, &b| {
                let da = parts[a].0 / total * n - taken[a] as f64;
                let db = parts[b].0 / total * n - taken[b] as f64;
                da.total_cmp(&db)
            });
        let Some(k) = next else { break };
        out.data.extend_from_slice(parts[k].1.get(taken[k]));
        taken[k] += 1;
    }
    out
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

    #[test]
    fn mixtures_draw_by_weight_and_validation_interleaves() {
        let part = |v: u8, n: usize| Tiles {
            data: vec![v; n * TILE_BYTES],
        };
        let mix = TrainSet::Mix(vec![
            (3.0, TrainSet::Tiles(part(1, 10))),
            (1.0, TrainSet::Tiles(part(2, 50))),
        ]);
        assert_eq!(mix.len(), 60);
        let idx: Vec<u32> = (0..4000).collect();
        let b = mix.batch(&idx, 7, 0);
        let ones = b.chunks(TILE_BYTES).filter(|t| t[0] == 1).count();
        assert!((2800..3200).contains(&ones), "{ones}");
        assert_eq!(b, mix.batch(&idx, 7, 0));
        let v = interleave(&[(3.0, part(1, 30)), (1.0, part(2, 5))]);
        assert_eq!(v.len(), 35);
        let head: Vec<u8> = (0..8).map(|i| v.get(i)[0]).collect();
        assert_eq!(head.iter().filter(|&&x| x == 2).count(), 2, "{head:?}");
    }
}
