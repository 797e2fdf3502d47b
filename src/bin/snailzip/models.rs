//! `--model NAME|PATH`: which models a command may use. Without it, compression chooses per
//! image among all built-in models and decompression takes the one the file names.

use std::path::Path;

use anyhow::Context;
use snailzip::{builtin, Engine, Weights};

/// The models a command may use, in the order ties are broken.
pub(crate) struct Models {
    /// One engine per model.
    pub engines: Vec<Engine>,
    /// Their names for messages (`cifar`, `photo`, or a path).
    pub names: Vec<String>,
}

impl Models {
    /// `None`: all built-in models; a built-in name: that one; else a model file.
    pub fn load(model: Option<&Path>) -> anyhow::Result<Models> {
        let mut out = Models {
            engines: Vec::new(),
            names: Vec::new(),
        };
        let mut add = |w: &Weights, name: String| {
            out.engines.push(Engine::new(w));
            out.names.push(name);
        };
        match model {
            None => {
                for m in builtin::models() {
                    add(&m.weights()?, m.name.to_string());
                }
            }
            Some(p) => {
                if is_builtin_name(p) {
                    let m = builtin::find(&p.to_string_lossy())?;
                    add(&m.weights()?, m.name.to_string());
                } else {
                    let w = Weights::load(p)
                        .with_context(|| format!("cannot load model {}", p.display()))?;
                    add(&w, p.display().to_string());
                }
            }
        }
        Ok(out)
    }

    /// The engines, borrowed, for the codec.
    pub fn refs(&self) -> Vec<&Engine> {
        self.engines.iter().collect()
    }
}

/// Whether `--model` names a built-in model rather than a file: no `/` or `.` in it and no
/// file of that name here.
pub(crate) fn is_builtin_name(p: &Path) -> bool {
    !p.to_string_lossy().contains(['/', '.']) && !p.is_file()
}
