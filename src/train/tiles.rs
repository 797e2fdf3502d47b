//! A set of 32×32 training tiles in one buffer: what the CIFAR-10 loader and the photo
//! cropper both produce and the trainer consumes, so neither data source depends on the
//! other.

use crate::config::{COLORS, TILE};

/// Bytes of one tile (NHWC u8).
pub const TILE_BYTES: usize = TILE * TILE * COLORS;
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
