//! Tiles: how an image is cut into 32×32 pieces (edge tiles keep only their real pixels) and
//! how tiles of one shape are grouped into batches that the engine steps together.
//!
//! Tiles are coded independently, so any grouping gives the same bytes: batches only decide
//! speed.

use crate::config::TILE;

/// A tile's place: which image, and where in it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tile {
    pub image: usize,
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

pub(crate) fn tiles_of(image: usize, width: usize, height: usize) -> impl Iterator<Item = Tile> {
    (0..height).step_by(TILE).flat_map(move |y0| {
        (0..width).step_by(TILE).map(move |x0| Tile {
            image,
            x0,
            y0,
            w: TILE.min(width - x0),
            h: TILE.min(height - y0),
        })
    })
}

/// Groups the tiles `ids` (indices into `tiles`) into batches of equal shape, at most
/// `batch` each, in a fixed order.
pub(crate) fn batches_of(tiles: &[Tile], ids: &[usize], batch: usize) -> Vec<Vec<usize>> {
    let mut shapes: Vec<(usize, usize)> = ids.iter().map(|&i| (tiles[i].h, tiles[i].w)).collect();
    shapes.sort_unstable();
    shapes.dedup();
    let mut out = Vec::new();
    for shape in shapes {
        let of_shape: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| (tiles[i].h, tiles[i].w) == shape)
            .collect();
        out.extend(of_shape.chunks(batch.max(1)).map(<[usize]>::to_vec));
    }
    out
}

/// The tiles of several images, pooled so that tiles of one shape share batches whatever
/// image they come from: image `k`'s tiles, in raster order, are `tiles[starts[k]..starts[k +
/// 1]]`.
pub(crate) struct Pool {
    pub tiles: Vec<Tile>,
    pub starts: Vec<usize>,
}

impl Pool {
    /// The tiles of images of these `(width, height)`.
    pub fn of(sizes: impl Iterator<Item = (usize, usize)>) -> Pool {
        let mut pool = Pool {
            tiles: Vec::new(),
            starts: vec![0],
        };
        for (k, (width, height)) in sizes.enumerate() {
            pool.tiles.extend(tiles_of(k, width, height));
            pool.starts.push(pool.tiles.len());
        }
        pool
    }

    /// Image `k`'s tiles.
    pub fn of_image(&self, k: usize) -> &[Tile] {
        &self.tiles[self.starts[k]..self.starts[k + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_image_once() {
        let tiles: Vec<Tile> = tiles_of(0, 70, 33).collect();
        assert_eq!(tiles.len(), 6);
        let area: usize = tiles.iter().map(|t| t.w * t.h).sum();
        assert_eq!(area, 70 * 33);
        let groups = batches_of(&tiles, &(0..tiles.len()).collect::<Vec<_>>(), 2);
        let mut seen: Vec<usize> = groups.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
    }
}
