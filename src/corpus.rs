//! Benchmark and training corpora: where the data lives and how to read it.
//!
//! Data is never part of the repository. It is found through the `SNAILZIP_DATA`
//! environment variable (a folder holding `cifar-10-batches-bin/`, `kodak/` and `photos/`),
//! else `../shared/data` relative to the current directory. The photo training corpus has a
//! third part, photos inside Debian packages, that `corpus/fetch-debian-photos.sh` assembles
//! in `~/.cache/snailzip/photos/debian`; the manifests of all three parts are compiled in,
//! and every file is checked against its SHA-256 before it is used.

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

/// The photo training corpus inside a data folder (`bsds500/`, `gcompris/`).
pub fn photos_dir(data: &Path) -> PathBuf {
    data.join("photos")
}

/// Where `corpus/fetch-debian-photos.sh` puts the Debian part of the photo corpus:
/// `$SNAILZIP_PHOTOS_DEBIAN`, else `~/.cache/snailzip/photos/debian`.
pub fn debian_photos_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("SNAILZIP_PHOTOS_DEBIAN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
        .join(".cache/snailzip/photos/debian")
}

/// One part of the photo training corpus.
#[derive(Clone, Debug)]
pub struct PhotoPart {
    /// Short name: `bsds500`, `gcompris` or `debian`.
    pub name: &'static str,
    /// The folder its files are in.
    pub dir: PathBuf,
    /// (file name, SHA-256 in hex), from the compiled-in manifest.
    pub files: Vec<(String, String)>,
    /// Box-downscale factor to the training scale; 0: by size (½ to ¼).
    pub factor: usize,
}

const BSDS500_SHA256: &str = include_str!("../corpus/photos-bsds500.sha256");
const GCOMPRIS_SHA256: &str = include_str!("../corpus/photos-gcompris.sha256");
const DEBIAN_TSV: &str = include_str!("../corpus/photos-debian.tsv");

fn sha256_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(h, n)| (n.trim().to_string(), h.trim().to_string()))
        .collect()
}

/// The file name `fetch-debian-photos.sh` gives a photo at `path` inside package `pkg`.
pub fn debian_photo_name(pkg: &str, path: &str) -> String {
    let rest = path.strip_prefix("/usr/share/").unwrap_or(path);
    let safe: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{pkg}__{safe}")
}

/// The three parts of the photo corpus: BSDS500 (native size) and GCompris (½) under
/// `photos`, the Debian photos (½ to ¼ by size) under `debian`.
pub fn photo_parts(photos: &Path, debian: &Path) -> Vec<PhotoPart> {
    let debian_files = DEBIAN_TSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7).then(|| (debian_photo_name(f[0], f[2]), f[6].to_string()))
        })
        .collect();
    vec![
        PhotoPart {
            name: "bsds500",
            dir: photos.join("bsds500"),
            files: sha256_lines(BSDS500_SHA256),
            factor: 1,
        },
        PhotoPart {
            name: "gcompris",
            dir: photos.join("gcompris"),
            files: sha256_lines(GCOMPRIS_SHA256),
            factor: 2,
        },
        PhotoPart {
            name: "debian",
            dir: debian.to_path_buf(),
            files: debian_files,
            factor: 0,
        },
    ]
}

/// Checks that `path` holds bytes with SHA-256 `hex`.
///
/// # Errors
/// [`Error::Io`] if unreadable, [`Error::Format`] on a mismatch.
pub fn verify_sha256(path: &Path, hex: &str) -> Result<()> {
    use sha2::Digest;
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })?;
    let got: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != hex {
        return Err(Error::Format(format!(
            "{}: SHA-256 {got} does not match the manifest's {hex}",
            path.display()
        )));
    }
    Ok(())
}

/// Decodes CIFAR-10 binary records (label byte, then R, G, B planes of 32×32) into labels
/// and interleaved RGB images.
///
/// # Errors
/// [`Error::Format`] if the length is not a whole number of records.
pub fn parse_cifar(bytes: &[u8]) -> Result<Vec<(u8, Image)>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR_RECORD) {
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

    #[test]
    fn photo_manifests_are_complete() {
        let parts = photo_parts(Path::new("p"), Path::new("d"));
        let counts: Vec<usize> = parts.iter().map(|p| p.files.len()).collect();
        assert_eq!(counts, vec![500, 126, 53]);
        assert!(parts
            .iter()
            .flat_map(|p| &p.files)
            .all(|(n, h)| !n.is_empty() && h.len() == 64));
        let mut names: Vec<&String> = parts[2].files.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 53, "Debian photo names must be unique");
        assert_eq!(
            debian_photo_name("pkg", "/usr/share/wallpapers/A b/x.jpg"),
            "pkg__wallpapers_A_b_x.jpg"
        );
    }
}
