//! `--model NAME|PATH`: the one place that turns a model argument into models. Without it,
//! compression chooses per image among the current built-in models and decompression takes
//! the model each file names, retired ones included.

use std::path::Path;

use anyhow::{bail, Context};
use snailzip::builtin::{self, Builtin};
use snailzip::codec::{Codec, Model, Options};
use snailzip::Weights;

/// What a `--model` argument names.
enum Named {
    Builtin(Builtin),
    File,
}

/// Whether `--model` names a built-in model rather than a file: no `/` or `.` in it and no
/// file of that name here.
fn is_builtin_name(p: &Path) -> bool {
    !p.to_string_lossy().contains(['/', '.']) && !p.is_file()
}

fn resolve(p: &Path) -> anyhow::Result<Named> {
    if !is_builtin_name(p) {
        return Ok(Named::File);
    }
    let name = p.to_string_lossy();
    match builtin::find(&name) {
        Ok(b) => Ok(Named::Builtin(b)),
        Err(_) => {
            let names = |retired: bool| -> Vec<&str> {
                builtin::all()
                    .iter()
                    .filter(|m| m.retired == retired)
                    .map(|m| m.name)
                    .collect()
            };
            bail!(
                "no built-in model `{name}` (built in: {}; decode only: {}; or name a \
                 .safetensors file)",
                names(false).join(", "),
                names(true).join(", ")
            )
        }
    }
}

fn from_file(p: &Path) -> anyhow::Result<Weights> {
    Weights::load(p).with_context(|| format!("cannot load model {}", p.display()))
}

/// The model `p` names, for a codec.
fn model(p: &Path) -> anyhow::Result<Model> {
    Ok(match resolve(p)? {
        Named::Builtin(b) => Model::builtin(&b)?,
        Named::File => Model::new(p.display().to_string(), &from_file(p)?),
    })
}

/// A codec to compress with: the current built-in models (chosen per image), or the one
/// `--model` names, which must not be a retired one.
pub(crate) fn to_compress(arg: Option<&Path>, options: Options) -> anyhow::Result<Codec> {
    let models = match arg {
        None => builtin::models()
            .iter()
            .map(Model::builtin)
            .collect::<snailzip::Result<Vec<_>>>()?,
        Some(p) => {
            let m = model(p)?;
            if m.decode_only {
                let current: Vec<&str> = builtin::models().iter().map(|b| b.name).collect();
                bail!(
                    "model {} is retired: it only decodes the files it wrote (compress with {})",
                    m.name,
                    current.join(" or ")
                );
            }
            vec![m]
        }
    };
    Ok(Codec::from_models(models)?.with_options(options)?)
}

/// A codec to decode with: every built-in model, retired ones included, or the one `--model`
/// names.
pub(crate) fn to_decode(arg: Option<&Path>, options: Options) -> anyhow::Result<Codec> {
    let codec = match arg {
        None => Codec::builtin()?,
        Some(p) => Codec::from_models(vec![model(p)?])?,
    };
    Ok(codec.with_options(options)?)
}

/// One model's weights and a description for messages (`None`: `cifar`).
pub(crate) fn weights(arg: Option<&Path>) -> anyhow::Result<(Weights, String)> {
    match arg {
        None => weights(Some(Path::new("cifar"))),
        Some(p) => match resolve(p)? {
            Named::Builtin(b) => Ok((
                b.weights()?,
                format!("built-in model {} ({})", b.name, b.file),
            )),
            Named::File => Ok((from_file(p)?, p.display().to_string())),
        },
    }
}
