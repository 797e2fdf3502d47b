//! Benchmark and training corpora: where the data lives and how to read it.
//!
//! Data is never part of the repository. It is found through the `SNAILZIP_DATA`
//! environment variable (a folder holding `cifar-10-batches-bin/` and `kodak/`), else
//! `../shared/data` relative to the current directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image_io::{ColorType, Image};

/// Environment variable naming the data folder.
pub const DATA_ENV: &str = "SNAILZIP_DATA";

/// Bytes of one CIFAR-10 binary record: a label byte and 32×32×3 planar pixels.
pub const CIFAR_RECORD: usize = 1 + 3 * 1024;

/// The data folder: `$SNAILZIP_DATA`, else `../shared/data`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("../shared/data"),
    }
}

/// The CIFAR-10 binary folder inside a data folder.
pub fn cifar_dir(data: &Path) -> PathBuf {
    data.join("cifar-10-batches-bin")
}

/// The Kodak folder inside a data folder.
pub fn kodak_dir(data: &Path) -> PathBuf {
    data.join("kodak")
}

/// Decodes CIFAR-10 binary records (label byte, then R, G, B planes of 32×32) into labels
/// and interleaved RGB images.
///
/// # Errors
/// [`Error::Format`] if the length is not a whole number of records.
pub fn parse_cifar(bytes: &[u8]) -> Result<Vec<(u8, Image)>> {
    if bytes.is_empty() || bytes.len() % CIFAR_RECORD != 0 {
        return Err(Error::Format(format!(
            "{} bytes is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 records",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(CIFAR_RECORD)
        .map(|rec| {
            let planes = &rec[1..];
            let data = (0..1024)
                .flat_map(|p| [planes[p], planes[1024 + p], planes[2048 + p]])
                .collect();
            Ok((rec[0], Image::new(32, 32, ColorType::Rgb, data)?))
        })
        .collect()
}

/// Reads a CIFAR-10 binary file (`test_batch.bin`, `data_batch_N.bin`).
///
/// # Errors
/// [`Error::Io`] if unreadable, [`Error::Format`] if malformed.
pub fn read_cifar(path: &Path) -> Result<Vec<(u8, Image)>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })?;
    parse_cifar(&bytes)
}

/// The PNG files of a folder, sorted by name.
///
/// # Errors
/// [`Error::Io`] if the folder cannot be listed.
pub fn png_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let listing = std::fs::read_dir(dir).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e} (set {DATA_ENV} to the data folder)", dir.display()),
        ))
    })?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cifar_records_are_deinterleaved_planes() {
        let mut rec = vec![7u8];
        rec.extend((0..3072).map(|i| (i / 1024) as u8 * 100 + (i % 1024 % 3) as u8));
        let out = parse_cifar(&rec).unwrap();
        assert_eq!(out[0].0, 7);
        assert_eq!(&out[0].1.data[..6], &[0, 100, 200, 1, 101, 201]);
        assert!(parse_cifar(&rec[..100]).is_err());
    }
}
