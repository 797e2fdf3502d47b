//! Where inputs come from: paths, folders (walked in sorted order) and standard input, the
//! one place that knows what `-` means.

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Extensions of the images `compress` picks from folders.
pub(crate) const IMAGE_EXTENSIONS: [&str; 8] =
    ["png", "ppm", "pgm", "pnm", "bmp", "tif", "tiff", "qoi"];

/// Whether a path argument means standard input (or output).
pub(crate) fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// The inputs of a command: the paths given, or standard input (`-`) when none is given and
/// standard input is not a terminal (as gzip and zstd do).
///
/// # Errors
/// When no path is given and standard input is a terminal.
pub(crate) fn paths_or_stdin(paths: &[PathBuf], what: &str) -> anyhow::Result<Vec<PathBuf>> {
    if !paths.is_empty() {
        return Ok(paths.to_vec());
    }
    if io::stdin().is_terminal() {
        bail!("no input: name {what} (or folders), or pipe one into snailzip");
    }
    Ok(vec![PathBuf::from("-")])
}

/// The bytes of a file, or of standard input for `-`.
pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if is_stdin(path) {
        let mut buf = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// An input found on the command line or in a folder, with its path relative to that folder
/// (for mirroring into `-o DIR`).
pub(crate) struct Found {
    pub path: PathBuf,
    pub rel: PathBuf,
}

pub(crate) fn has_extension(p: &Path, extensions: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
}

/// Files of `dir` with one of `extensions`, sorted; subfolders too if `recursive`, else
/// named in a note.
fn walk(
    root: &Path,
    dir: &Path,
    extensions: &[&str],
    recursive: bool,
    quiet: bool,
    out: &mut Vec<Found>,
) -> anyhow::Result<()> {
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        // symbolic links to folders are not followed (no cycles)
        if kind.is_dir() {
            if recursive {
                walk(root, &path, extensions, recursive, quiet, out)?;
            } else if !quiet {
                eprintln!(
                    "snailzip: skipping folder {} (use -r to include subfolders)",
                    path.display()
                );
            }
        } else if has_extension(&path, extensions) && path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.push(Found { path, rel });
        }
    }
    Ok(())
}

/// Expands the command line's paths; returns the inputs and whether any was a folder.
pub(crate) fn expand(
    paths: &[PathBuf],
    extensions: &[&str],
    recursive: bool,
    quiet: bool,
) -> anyhow::Result<(Vec<Found>, bool)> {
    let mut out = Vec::new();
    let mut folders = false;
    for p in paths {
        if p.is_dir() {
            folders = true;
            walk(p, p, extensions, recursive, quiet, &mut out)?;
        } else {
            if is_stdin(p) {
                out.push(Found {
                    path: p.clone(),
                    rel: p.clone(),
                });
                continue;
            }
            let rel = PathBuf::from(p.file_name().unwrap_or(p.as_os_str()));
            out.push(Found {
                path: p.clone(),
                rel,
            });
        }
    }
    if out.is_empty() {
        bail!("no input files found");
    }
    Ok((out, folders))
}
