//! The pure part of planning a batch: which output each input goes to, and every rule that
//! can be decided from the command line alone. It touches no file, so its unit tests pin the
//! gzip/zstd conventions exactly; `super::check` then looks at the files.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::input::{is_stdin, Found, IMAGE_EXTENSIONS};

/// What to do with the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Images → .snz files.
    Compress,
    /// .snz files → PNGs.
    Decompress,
    /// Decode .snz files and verify them; write nothing.
    Test,
}

impl Mode {
    /// Extensions of the inputs taken from folders.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Mode::Compress => &IMAGE_EXTENSIONS,
            _ => &["snz"],
        }
    }
}

/// Where one output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    File(PathBuf),
    Stdout,
    Nothing,
}

/// One input and its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// `-` is standard input.
    pub input: PathBuf,
    pub output: Dest,
}

impl Job {
    pub fn is_stdin(&self) -> bool {
        is_stdin(&self.input)
    }

    pub fn input_name(&self) -> String {
        if self.is_stdin() {
            "<stdin>".into()
        } else {
            self.input.display().to_string()
        }
    }

    pub fn output_name(&self) -> String {
        match &self.output {
            Dest::File(p) => p.display().to_string(),
            Dest::Stdout => "<stdout>".into(),
            Dest::Nothing => String::new(),
        }
    }
}

/// The output flags of the command line.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `-o PATH`.
    pub output: Option<PathBuf>,
    /// `-c`.
    pub stdout: bool,
    /// `-r`.
    pub recursive: bool,
    /// `--rm`.
    pub remove: bool,
}

/// `NAME.snz` for compression; for decompression `.snz` removed and the image extension
/// made `.png` (`a.png.snz` → `a.png`, `a.tif.snz` → `a.png`, `a.snz` → `a.png`).
pub fn output_name(input: &Path, mode: Mode) -> PathBuf {
    if mode == Mode::Compress {
        let mut s = input.as_os_str().to_owned();
        s.push(".snz");
        return PathBuf::from(s);
    }
    let stem = if input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("snz"))
    {
        input.with_extension("")
    } else {
        input.to_path_buf()
    };
    match stem.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("png") => stem,
        Some(e) if IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()) => {
            stem.with_extension("png")
        }
        _ => {
            let mut s = stem.into_os_string();
            s.push(".png");
            PathBuf::from(s)
        }
    }
}

fn ends_with_separator(p: &Path) -> bool {
    p.as_os_str()
        .to_str()
        .is_some_and(|s| s.ends_with(std::path::MAIN_SEPARATOR) || s.ends_with('/'))
}

/// The jobs for `found` inputs (`folders`: some came from a folder), and whether `-o` names
/// a folder (to be created if missing). `is_dir` tells whether `-o` names an existing folder
/// (the one fact about the file system a plan needs).
pub fn plan(
    mode: Mode,
    found: &[Found],
    folders: bool,
    target: &Target,
    is_dir: bool,
) -> anyhow::Result<(Vec<Job>, bool)> {
    let mut seen = std::collections::HashSet::new();
    if let Some(f) = found.iter().find(|f| !seen.insert(&f.path)) {
        bail!("{} is given twice", f.path.display());
    }
    let stdin_inputs = found.iter().filter(|f| is_stdin(&f.path)).count();
    if stdin_inputs > 0 && found.len() > 1 {
        bail!("standard input (-) cannot be combined with other inputs");
    }
    let to_stdout = target.stdout || target.output.as_deref().is_some_and(is_stdin);
    if to_stdout && found.len() > 1 {
        bail!("only one input can be written to standard output; use -o DIR for several");
    }
    let to_folder = match &target.output {
        Some(o) if !is_stdin(o) => {
            found.len() > 1 || folders || target.recursive || is_dir || ends_with_separator(o)
        }
        _ => false,
    };
    let jobs: Vec<Job> = found
        .iter()
        .map(|f| {
            let output = if mode == Mode::Test {
                Dest::Nothing
            } else if to_stdout {
                Dest::Stdout
            } else if to_folder {
                let dir = target.output.as_ref().expect("folder output");
                Dest::File(dir.join(output_name(&f.rel, mode)))
            } else if let Some(o) = &target.output {
                Dest::File(o.clone())
            } else if is_stdin(&f.path) {
                Dest::Stdout
            } else {
                Dest::File(output_name(&f.path, mode))
            };
            Job {
                input: f.path.clone(),
                output,
            }
        })
        .collect();
    let mut outputs = std::collections::HashSet::new();
    for job in &jobs {
        if let Dest::File(p) = &job.output {
            if !outputs.insert(p) {
                bail!("two inputs would both be written to {}", p.display());
            }
        }
    }
    if target.remove && jobs.iter().any(|j| !matches!(j.output, Dest::File(_))) {
        bail!("--rm removes inputs only after writing output files (not with -c, -t or stdin)");
    }
    Ok((jobs, to_folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(paths: &[&str]) -> Vec<Found> {
        paths
            .iter()
            .map(|p| Found {
                path: PathBuf::from(p),
                rel: PathBuf::from(Path::new(p).file_name().unwrap_or("-".as_ref())),
            })
            .collect()
    }

    fn jobs(
        mode: Mode,
        found: &[Found],
        folders: bool,
        target: &Target,
        is_dir: bool,
    ) -> anyhow::Result<Vec<Job>> {
        plan(mode, found, folders, target, is_dir).map(|p| p.0)
    }

    fn outputs(jobs: &[Job]) -> Vec<String> {
        jobs.iter().map(Job::output_name).collect()
    }

    #[test]
    fn output_names() {
        assert_eq!(
            output_name(Path::new("a/b.png"), Mode::Compress),
            Path::new("a/b.png.snz")
        );
        assert_eq!(
            output_name(Path::new("b.png.snz"), Mode::Decompress),
            Path::new("b.png")
        );
        assert_eq!(
            output_name(Path::new("x.snz"), Mode::Decompress),
            Path::new("x.png")
        );
        assert_eq!(
            output_name(Path::new("x.tif.SNZ"), Mode::Decompress),
            Path::new("x.png")
        );
        assert_eq!(
            output_name(Path::new("x.data"), Mode::Decompress),
            Path::new("x.data.png")
        );
    }

    #[test]
    fn outputs_go_next_to_inputs_or_where_o_says() {
        let t = Target::default();
        let j = jobs(
            Mode::Compress,
            &found(&["a.png", "d/b.png"]),
            false,
            &t,
            false,
        )
        .unwrap();
        assert_eq!(outputs(&j), ["a.png.snz", "d/b.png.snz"]);
        // one input: -o names the file; several, or an existing folder: -o names a folder
        let o = |p: &str| Target {
            output: Some(PathBuf::from(p)),
            ..Target::default()
        };
        let j = jobs(
            Mode::Decompress,
            &found(&["a.png.snz"]),
            false,
            &o("x.png"),
            false,
        )
        .unwrap();
        assert_eq!(outputs(&j), ["x.png"]);
        let j = jobs(
            Mode::Decompress,
            &found(&["a.png.snz"]),
            false,
            &o("out"),
            true,
        )
        .unwrap();
        assert_eq!(outputs(&j), ["out/a.png"]);
        let j = jobs(
            Mode::Compress,
            &found(&["a.png", "d/b.png"]),
            false,
            &o("out/"),
            false,
        )
        .unwrap();
        assert_eq!(outputs(&j), ["out/a.png.snz", "out/b.png.snz"]);
        // test mode writes nothing; standard input goes to standard output
        let j = jobs(Mode::Test, &found(&["a.snz"]), false, &t, false).unwrap();
        assert_eq!(j[0].output, Dest::Nothing);
        let j = jobs(Mode::Compress, &found(&["-"]), false, &t, false).unwrap();
        assert_eq!(j[0].output, Dest::Stdout);
        let c = Target {
            stdout: true,
            ..Target::default()
        };
        let j = jobs(Mode::Compress, &found(&["a.png"]), false, &c, false).unwrap();
        assert_eq!(j[0].output, Dest::Stdout);
    }

    #[test]
    fn impossible_plans_are_refused() {
        let t = Target::default();
        let err = |r: anyhow::Result<Vec<Job>>| r.unwrap_err().to_string();
        let e = err(jobs(
            Mode::Compress,
            &found(&["-", "a.png"]),
            false,
            &t,
            false,
        ));
        assert!(e.contains("cannot be combined"), "{e}");
        let c = Target {
            stdout: true,
            ..Target::default()
        };
        let e = err(jobs(
            Mode::Compress,
            &found(&["a.png", "b.png"]),
            false,
            &c,
            false,
        ));
        assert!(e.contains("only one input"), "{e}");
        // two inputs of one name from different folders into one output folder
        let o = Target {
            output: Some(PathBuf::from("out")),
            ..Target::default()
        };
        let e = err(jobs(
            Mode::Compress,
            &found(&["x/a.png", "y/a.png"]),
            false,
            &o,
            false,
        ));
        assert!(e.contains("both be written to out/a.png.snz"), "{e}");
        let rm = Target {
            remove: true,
            stdout: true,
            ..Target::default()
        };
        let e = err(jobs(Mode::Compress, &found(&["a.png"]), false, &rm, false));
        assert!(e.contains("--rm"), "{e}");
    }
}
