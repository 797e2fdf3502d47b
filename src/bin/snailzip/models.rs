//! `--model NAME|PATH`: which models a command may use. Without it, compression chooses per
//! image among all built-in models and decompression takes the one the file names.

use std::path::Path;

use anyhow::Context;
use snailzip::codec::container::{self, Header, Limits};
use snailzip::{builtin, Engine, Weights};

/// The models a command may use, in the order ties are broken.
pub(crate) struct Models {
    /// One engine per model.
    pub engines: Vec<Engine>,
    /// Their names for messages (`cifar`, `photo`, or a path).
    pub names: Vec<String>,
}

impl Models {
    /// `None`: all current built-in models (to compress); a built-in name: that one; else a
    /// model file.
    pub fn load(model: Option<&Path>) -> anyhow::Result<Models> {
        Models::load_for(model, false)
    }

    /// As [`Models::load`], with the retired built-in models too when `model` is `None`
    /// (to decode any file a released snailzip wrote).
    pub fn load_to_decode(model: Option<&Path>) -> anyhow::Result<Models> {
        Models::load_for(model, true)
    }

    fn load_for(model: Option<&Path>, retired: bool) -> anyhow::Result<Models> {
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
                let old = if retired {
                    builtin::retired()
                } else {
                    Vec::new()
                };
                for m in builtin::models().into_iter().chain(old) {
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

    /// Reads a file's header and checks that one of the models made it.
    ///
    /// # Errors
    /// As [`container::read_header`], or [`snailzip::Error::ModelMismatch`].
    pub fn check(&self, bytes: &[u8], limits: &Limits) -> snailzip::Result<Header> {
        let (header, _) = container::read_header(bytes, limits)?;
        if !self
            .engines
            .iter()
            .any(|e| header.model_id.matches(&e.id()))
        {
            return Err(snailzip::Error::ModelMismatch {
                file: header.model_id.to_string(),
                loaded: self
                    .engines
                    .iter()
                    .map(|e| snailzip::error::hex_id(&e.id()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        }
        Ok(header)
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
