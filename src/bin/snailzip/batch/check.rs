//! The checks of a batch that look at files, all made before any work: inputs exist, are
//! regular files and are not given twice; no output is an input (by device and inode, with
//! or without `-f`); no binary data goes to or comes from a terminal; every output folder is
//! writable. An output that already exists (without `-f`) refuses the one input when there
//! is one; among several, that input is reported and skipped and the others go on, as zstd
//! does.

use std::collections::HashSet;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use snailzip::atomic::{check_writable, file_id};

use super::plan::{Dest, Job, Mode};
use crate::input::has_extension;

/// Jobs that can run, and jobs refused with the reason.
pub struct Checked {
    pub run: Vec<Job>,
    pub refused: Vec<(Job, anyhow::Error)>,
}

/// Checks `jobs` against the file system (`paths`: the command line's paths, for hints).
pub fn check(
    mode: Mode,
    jobs: Vec<Job>,
    paths: &[PathBuf],
    force: bool,
    to_folder: bool,
) -> anyhow::Result<Checked> {
    let mut input_ids = HashSet::new();
    for job in &jobs {
        let p = &job.input;
        if job.is_stdin() {
            if io::stdin().is_terminal() {
                bail!(
                    "standard input is a terminal: pipe {} into snailzip or name a file",
                    if mode == Mode::Compress {
                        "an image"
                    } else {
                        "a .snz file"
                    }
                );
            }
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => bail!("{} is not a regular file", p.display()),
            Err(e) => {
                let hint = if mode == Mode::Compress
                    && paths.len() == 2
                    && *p == paths[1]
                    && has_extension(p, &["snz"])
                {
                    format!(
                        " (every path is an input; name the output with -o: snailzip compress {} \
                         -o {})",
                        paths[0].display(),
                        p.display()
                    )
                } else {
                    String::new()
                };
                bail!("cannot read {}: {e}{hint}", p.display());
            }
        }
        if mode == Mode::Compress && has_extension(p, &["snz"]) && !force {
            bail!(
                "{} already has the .snz suffix (use -f to compress it anyway)",
                p.display()
            );
        }
        if let Some(id) = file_id(p) {
            if !input_ids.insert(id) {
                bail!("{} is given twice", p.display());
            }
        }
    }
    let several = jobs.len() > 1;
    let mut checked = Checked {
        run: Vec::new(),
        refused: Vec::new(),
    };
    let mut folders: Vec<PathBuf> = Vec::new();
    for job in jobs {
        match &job.output {
            Dest::File(p) => {
                if let Some(id) = file_id(p) {
                    if input_ids.contains(&id) {
                        bail!(
                            "refusing to write {}: it is one of the inputs (with or without -f)",
                            p.display()
                        );
                    }
                    if p.is_dir() {
                        bail!("{} is a folder", p.display());
                    }
                    if !force {
                        let e =
                            anyhow!("{} already exists (use --force to overwrite)", p.display());
                        if several {
                            checked.refused.push((job, e));
                            continue;
                        }
                        return Err(e);
                    }
                }
                let parent = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if !folders.contains(&parent) {
                    folders.push(parent);
                }
            }
            Dest::Stdout => {
                if io::stdout().is_terminal() && !force {
                    bail!(
                        "refusing to write {} data to a terminal (redirect it, use -o FILE, or \
                         -f to force)",
                        if mode == Mode::Compress {
                            "compressed"
                        } else {
                            "PNG"
                        }
                    );
                }
            }
            Dest::Nothing => {}
        }
        checked.run.push(job);
    }
    for dir in &folders {
        writable(dir, to_folder)?;
    }
    Ok(checked)
}

fn writable(dir: &Path, create: bool) -> anyhow::Result<()> {
    if create {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    check_writable(dir).with_context(|| format!("cannot write to {}", dir.display()))
}
