//! The models an installed `snailzip` carries, so that no `--model` is ever needed.
//!
//! Each shipped model that exists at build time is embedded in the binary: `cifar`
//! (`models/default.safetensors`, trained on CIFAR-10's 32×32 images) and `photo`
//! (`models/photo.safetensors`, trained on photographs). Compression tries them all on a
//! sample of each image's tiles and keeps the smaller (`Codec::builtin` in the codec);
//! a file's model id names the one that decodes it. Models that shipped earlier and were
//! replaced stay embedded as *retired* models ([`retired`]): never used to compress, they
//! decode the files they wrote. A retired model may be the weights of a current one with
//! another arithmetic (the f32 key/value cache that both shipped with until 2026-12-02, the
//! separate multiplies and adds until 2026-12-03): it then reuses the current file's bytes,
//! so it costs no space. Without any embedded model
//! the fallback
//! is a clearly named *untrained* stand-in: deterministic random weights of the `base`
//! config, which codes correctly but compresses poorly.

#[cfg(not(snailzip_embedded_model))]
use crate::config::Config;
use crate::config::{KvCache, MulAdd};
use crate::error::{Error, Result};
use crate::weights::Weights;

/// Seed of the untrained stand-in model.
pub const FALLBACK_SEED: u64 = 0;

/// The current models' files, each embedded once (a retired variant shares its bytes).
#[cfg(snailzip_embedded_model)]
static CIFAR: &[u8] = include_bytes!("../models/default.safetensors");
#[cfg(snailzip_embedded_photo)]
static PHOTO: &[u8] = include_bytes!("../models/photo.safetensors");

/// A built-in model.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// Its name for `--model NAME`.
    pub name: &'static str,
    /// The file it was built from.
    pub file: &'static str,
    /// What it is for, in a few words.
    pub about: &'static str,
    /// The safetensors bytes (`None`: the untrained stand-in).
    bytes: Option<&'static [u8]>,
    /// The arithmetic (attention cache format, multiply-add), where it is not the file's own.
    arithmetic: Option<(KvCache, MulAdd)>,
    /// Replaced by a newer model: decodes the files it wrote, never compresses.
    pub retired: bool,
}

impl Builtin {
    /// Its weights.
    ///
    /// # Errors
    /// Only if the embedded file is corrupt, which a build would not produce.
    pub fn weights(&self) -> Result<Weights> {
        let w = match self.bytes {
            Some(b) => Weights::from_bytes(b)?,
            None => fallback(),
        };
        Ok(match self.arithmetic {
            Some((kv, mul_add)) => w.with_kv_cache(kv).with_mul_add(mul_add),
            None => w,
        })
    }
}

#[cfg(snailzip_embedded_model)]
fn fallback() -> Weights {
    unreachable!("a trained model is embedded")
}

#[cfg(not(snailzip_embedded_model))]
fn fallback() -> Weights {
    Weights::random(&Config::base(), FALLBACK_SEED)
}

/// The built-in models, in the order ties are broken (`cifar` first).
pub fn models() -> Vec<Builtin> {
    #[cfg_attr(not(snailzip_embedded_photo), allow(unused_mut))]
    let mut out = vec![Builtin {
        name: "cifar",
        file: "models/default.safetensors",
        about: if cfg!(snailzip_embedded_model) {
            "trained on CIFAR-10 (32×32 images)"
        } else {
            "UNTRAINED stand-in (random base weights; no trained model was embedded)"
        },
        #[cfg(snailzip_embedded_model)]
        bytes: Some(CIFAR),
        #[cfg(not(snailzip_embedded_model))]
        bytes: None,
        arithmetic: None,
        retired: false,
    }];
    #[cfg(snailzip_embedded_photo)]
    out.push(Builtin {
        name: "photo",
        file: "models/photo.safetensors",
        about: "trained on photographs",
        bytes: Some(PHOTO),
        arithmetic: None,
        retired: false,
    });
    out
}

/// Models that shipped as built-ins and were replaced: decode-only, so that every file a
/// released `snailzip` wrote keeps decoding.
pub fn retired() -> Vec<Builtin> {
    #[allow(unused_mut)]
    let mut out = vec![
        Builtin {
            name: "cifar-64k",
            file: "models/retired/cifar-64k.safetensors",
            about: "retired (decode only): CIFAR-10 model shipped at 64,000 images, id 052305fd5e2f1d96",
            bytes: Some(include_bytes!("../models/retired/cifar-64k.safetensors")),
            arithmetic: None,
            retired: true,
        },
        Builtin {
            name: "cifar-157k",
            file: "models/retired/cifar-157k.safetensors",
            about: "retired (decode only): CIFAR-10 model shipped at 157,168 images, id a23b242e5f51f534",
            bytes: Some(include_bytes!("../models/retired/cifar-157k.safetensors")),
            arithmetic: None,
            retired: true,
        },
        Builtin {
            name: "photo-80k",
            file: "models/retired/photo-80k.safetensors",
            about: "retired (decode only): photo model shipped at 80,144 crops, id 5e406f658792968f",
            bytes: Some(include_bytes!("../models/retired/photo-80k.safetensors")),
            arithmetic: None,
            retired: true,
        },
    ];
    #[cfg(snailzip_embedded_model)]
    out.push(Builtin {
        name: "cifar-f32",
        file: "models/default.safetensors",
        about: "retired (decode only): the cifar weights with an f32 key/value cache, as shipped until 2026-12-02, id d341fe429ee88a3d",
        bytes: Some(CIFAR),
        arithmetic: Some((KvCache::F32, MulAdd::Separate)),
        retired: true,
    });
    #[cfg(snailzip_embedded_model)]
    out.push(Builtin {
        name: "cifar-f16",
        file: "models/default.safetensors",
        about: "retired (decode only): the cifar weights with separate multiplies and adds, as shipped until 2026-12-03, id ce40b1b2c98e18e2",
        bytes: Some(CIFAR),
        arithmetic: Some((KvCache::F16, MulAdd::Separate)),
        retired: true,
    });
    #[cfg(snailzip_embedded_photo)]
    out.push(Builtin {
        name: "photo-f32",
        file: "models/photo.safetensors",
        about: "retired (decode only): the photo weights with an f32 key/value cache, as shipped until 2026-12-02, id b54f1f0b3eb10570",
        bytes: Some(PHOTO),
        arithmetic: Some((KvCache::F32, MulAdd::Separate)),
        retired: true,
    });
    #[cfg(snailzip_embedded_photo)]
    out.push(Builtin {
        name: "photo-f16",
        file: "models/photo.safetensors",
        about: "retired (decode only): the photo weights with separate multiplies and adds, as shipped until 2026-12-03, id 6dfe0e29dcb05d3c",
        bytes: Some(PHOTO),
        arithmetic: Some((KvCache::F16, MulAdd::Separate)),
        retired: true,
    });
    out
}

/// Every built-in model: the current ones (in the order ties are broken), then the retired.
pub fn all() -> Vec<Builtin> {
    models().into_iter().chain(retired()).collect()
}

/// The built-in model called `name`, current or retired (`default` is another name for
/// `cifar`).
///
/// # Errors
/// [`Error::Usage`] listing the built-in names if there is none of that name.
pub fn find(name: &str) -> Result<Builtin> {
    let name = if name == "default" { "cifar" } else { name };
    let all = all();
    all.iter().find(|m| m.name == name).copied().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|m| m.name).collect();
        Error::Usage(format!(
            "no built-in model `{name}` (built in: {})",
            names.join(", ")
        ))
    })
}

/// Whether a trained model is embedded.
pub fn is_trained() -> bool {
    cfg!(snailzip_embedded_model)
}
