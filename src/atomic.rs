//! Atomic file output: write to a temporary file beside the target, then rename, so that a
//! failure never leaves a partial file and readers never see half-written output. The
//! temporary file can be created before any work ([`PendingFile::create`]), so that an
//! unwritable or missing output folder is reported at once rather than after a long encode.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An output file being prepared: a temporary file beside `path`, renamed onto it by
/// [`PendingFile::commit`]. Dropping it without committing removes the temporary file.
#[derive(Debug)]
pub struct PendingFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    overwrite: bool,
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

impl PendingFile {
    /// Creates the temporary file for `path` now. Refuses an existing `path` unless
    /// `overwrite` is set.
    ///
    /// # Errors
    /// [`Error::Usage`] if the file exists and `overwrite` is false; [`Error::Io`] if the
    /// folder is missing or not writable.
    pub fn create(path: &Path, overwrite: bool) -> Result<PendingFile> {
        if !overwrite && path.exists() {
            return Err(Error::Usage(format!(
                "{} already exists (use --force to overwrite)",
                path.display()
            )));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".snailzip-")
            .suffix(".tmp")
            .tempfile_in(folder_of(path))?;
        Ok(PendingFile {
            tmp,
            path: path.to_path_buf(),
            overwrite,
        })
    }

    /// Claims `bytes` of disk space now (by writing zeros), so that a full disk is reported
    /// before the work rather than after it. Callers pass a low estimate of the output size.
    ///
    /// # Errors
    /// [`Error::Io`] if the space cannot be written.
    pub fn reserve(&mut self, bytes: u64) -> Result<()> {
        let file = self.tmp.as_file_mut();
        std::io::copy(&mut std::io::repeat(0).take(bytes), file)?;
        file.flush()?;
        file.rewind()?;
        Ok(())
    }

    /// Writes `bytes`, flushes them to disk and renames the file onto its path.
    ///
    /// # Errors
    /// [`Error::Io`] if writing (for example on a full disk) or renaming fails; the
    /// temporary file is removed and `path` is untouched.
    pub fn commit(mut self, bytes: &[u8]) -> Result<()> {
        self.tmp.rewind()?;
        self.tmp.write_all(bytes)?;
        self.tmp.as_file().set_len(bytes.len() as u64)?;
        // temporary files are created private (0600); outputs get ordinary permissions
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        self.tmp.as_file().sync_all()?;
        if self.overwrite {
            self.tmp
                .persist(&self.path)
                .map_err(|e| Error::Io(e.error))?;
        } else {
            self.tmp
                .persist_noclobber(&self.path)
                .map_err(|e| Error::Io(e.error))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically. Refuses to replace an existing file unless
/// `overwrite` is set.
///
/// # Errors
/// [`Error::Usage`] if the file exists and `overwrite` is false; [`Error::Io`] otherwise.
pub fn atomic_write(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    PendingFile::create(path, overwrite)?.commit(bytes)
}

/// Checks that files can be created in `folder` (by creating and removing a temporary one).
///
/// # Errors
/// [`Error::Io`] if the folder is missing or not writable.
pub fn check_writable(folder: &Path) -> Result<()> {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    tempfile::Builder::new()
        .prefix(".snailzip-")
        .suffix(".tmp")
        .tempfile_in(folder)?;
    Ok(())
}

/// Whether `a` and `b` name the same file: the same device and inode (hard links, `./x`
/// versus `x`, symbolic links), or failing that the same canonical path. Paths that do not
/// exist are never the same file as anything.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// An identity of an existing file that two paths share exactly when they name the same file
/// (device and inode on Unix, the canonical path elsewhere); `None` if `path` does not exist.
pub fn file_id(path: &Path) -> Option<(u64, u64, PathBuf)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some((m.dev(), m.ino(), PathBuf::new()))
    }
    #[cfg(not(unix))]
    {
        Some((0, 0, path.canonicalize().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_clobber_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        atomic_write(&p, b"one", false).unwrap();
        assert!(atomic_write(&p, b"two", false).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        atomic_write(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // no temporary files left behind
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn pending_file_fails_early_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/folder/out.bin");
        assert!(matches!(
            PendingFile::create(&missing, false),
            Err(Error::Io(_))
        ));
        assert!(check_writable(&dir.path().join("nope")).is_err());
        check_writable(dir.path()).unwrap();
        let p = dir.path().join("out.bin");
        let pending = PendingFile::create(&p, false).unwrap();
        // the temporary file exists while the work runs, the output does not yet
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(!p.exists());
        drop(pending);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        PendingFile::create(&p, false)
            .unwrap()
            .commit(b"x")
            .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
        // reserved space is claimed at once and gives way to the real bytes
        let q = dir.path().join("reserved.bin");
        let mut pending = PendingFile::create(&q, false).unwrap();
        pending.reserve(10_000).unwrap();
        let tmp_len: Vec<u64> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .collect();
        assert!(tmp_len.contains(&10_000), "{tmp_len:?}");
        pending.commit(b"abc").unwrap();
        assert_eq!(std::fs::read(&q).unwrap(), b"abc");
    }

    #[test]
    fn same_file_sees_through_links_and_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"a").unwrap();
        let b = dir.path().join("b");
        std::fs::write(&b, b"a").unwrap();
        assert!(same_file(&a, &a));
        assert!(same_file(&a, &dir.path().join(".").join("a")));
        assert!(!same_file(&a, &b));
        assert!(!same_file(&a, &dir.path().join("missing")));
        std::fs::hard_link(&a, dir.path().join("hard")).unwrap();
        assert!(same_file(&a, &dir.path().join("hard")));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&a, dir.path().join("sym")).unwrap();
            assert!(same_file(&a, &dir.path().join("sym")));
        }
    }
}
