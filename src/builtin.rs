//! The model an installed `snailzip` uses when no `--model` is given.
//!
//! When `models/default.safetensors` exists at build time it is embedded in the binary.
//! Otherwise the fallback is a clearly named *untrained* stand-in: deterministic random
//! weights of the `base` config, which codes correctly but compresses poorly.

#[cfg(not(snailzip_embedded_model))]
use crate::config::Config;
use crate::error::Result;
use crate::weights::Weights;

/// Seed of the untrained stand-in model.
pub const FALLBACK_SEED: u64 = 0;

/// Name of the built-in model, for messages.
pub fn name() -> &'static str {
    if cfg!(snailzip_embedded_model) {
        "built-in default model (models/default.safetensors)"
    } else {
        "UNTRAINED stand-in model (random base weights; no trained model was embedded)"
    }
}

/// Loads the built-in model.
///
/// # Errors
/// Only if the embedded file is corrupt, which a build would not produce.
pub fn weights() -> Result<Weights> {
    #[cfg(snailzip_embedded_model)]
    {
        Weights::from_bytes(include_bytes!("../models/default.safetensors"))
    }
    #[cfg(not(snailzip_embedded_model))]
    {
        Ok(Weights::random(&Config::base(), FALLBACK_SEED))
    }
}

/// Whether a trained model is embedded.
pub fn is_trained() -> bool {
    cfg!(snailzip_embedded_model)
}
