//! Training checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! Layout (little-endian): magic `SNZCKPT1`, `u64` header length, a UTF-8 header of
//! `key=value` lines (config, seed, step, data position, timings, ...), then the f32 arrays
//! of the parameters, Adam's first and second moments and the EMA weights, each tensor in
//! [`crate::Config::tensor_shapes`] order.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"SNZCKPT1";

/// The state of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Network shapes.
    pub config: Config,
    /// Run seed (data order, dropout).
    pub seed: u64,
    /// Optimizer steps taken.
    pub step: u64,
    /// Training images consumed.
    pub images_seen: u64,
    /// Training wall time so far, seconds (over all sessions).
    pub elapsed_s: f64,
    /// Current epoch.
    pub epoch: u64,
    /// Position inside the epoch's order.
    pub cursor: u64,
    /// Adam base learning rate.
    pub lr: f32,
    /// Adam steps (equals `step` unless steps were skipped).
    pub adam_t: u64,
    /// EMA updates.
    pub ema_updates: u64,
    /// Last validation bits/dim, if any.
    pub val_bpd: Option<f64>,
    /// Learning-rate warm-up steps (0: none; absent in older checkpoints).
    pub warm_up: u64,
    /// What the run started from, for the card (absent in older checkpoints: `random`).
    pub init: String,
    /// Parameters, Adam moments and EMA weights, canonical order.
    pub params: Vec<Vec<f32>>,
    /// Adam first moments.
    pub m: Vec<Vec<f32>>,
    /// Adam second moments.
    pub v: Vec<Vec<f32>>,
    /// EMA weights.
    pub ema: Vec<Vec<f32>>,
}

impl Checkpoint {
    /// Serializes and writes atomically.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let header = format!(
            "config={}\nseed={}\nstep={}\nimages_seen={}\nelapsed_s={}\nepoch={}\ncursor={}\n\
             lr={}\nadam_t={}\nema_updates={}\nval_bpd={}\nwarm_up={}\ninit={}\n",
            self.config,
            self.seed,
            self.step,
            self.images_seen,
            self.elapsed_s,
            self.epoch,
            self.cursor,
            self.lr,
            self.adam_t,
            self.ema_updates,
            self.val_bpd.map_or(String::new(), |v| v.to_string()),
            self.warm_up,
            self.init.replace('\n', " ")
        );
        let floats: usize = self.params.iter().map(Vec::len).sum::<usize>() * 4;
        let mut bytes = Vec::with_capacity(16 + header.len() + floats * 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for set in [&self.params, &self.m, &self.v, &self.ema] {
            for t in set {
                for v in t {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        crate::atomic::atomic_write(path, &bytes, true)
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// # Errors
    /// [`Error::Io`], or [`Error::Format`] if the file is not a valid checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path)?;
        let bad = |m: &str| Error::Format(format!("checkpoint {}: {m}", path.display()));
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("not a snailzip checkpoint"));
        }
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&bytes[8..16]);
        let hlen = usize::try_from(u64::from_le_bytes(len8)).map_err(|_| bad("bad header"))?;
        let header = bytes
            .get(16..16usize.saturating_add(hlen))
            .ok_or_else(|| bad("truncated header"))?;
        let header = std::str::from_utf8(header).map_err(|_| bad("header is not UTF-8"))?;
        let fields: BTreeMap<&str, &str> =
            header.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| {
            fields
                .get(k)
                .copied()
                .ok_or_else(|| bad(&format!("missing `{k}`")))
        };
        let num =
            |k: &str| -> Result<u64> { get(k)?.parse().map_err(|_| bad(&format!("bad `{k}`"))) };
        let real =
            |k: &str| -> Result<f64> { get(k)?.parse().map_err(|_| bad(&format!("bad `{k}`"))) };
        let config = Config::parse(get("config")?)?;
        let shapes = config.tensor_shapes();
        let mut rest = &bytes[16 + hlen..];
        let mut read_set = || -> Result<Vec<Vec<f32>>> {
            let mut set = Vec::with_capacity(shapes.len());
            for (_, shape) in &shapes {
                let n: usize = shape.iter().product();
                let chunk = rest.get(..n * 4).ok_or_else(|| bad("truncated tensors"))?;
                set.push(
                    chunk
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                );
                rest = &rest[n * 4..];
            }
            Ok(set)
        };
        let (params, m, v, ema) = (read_set()?, read_set()?, read_set()?, read_set()?);
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let val = get("val_bpd")?;
        Ok(Checkpoint {
            config,
            seed: num("seed")?,
            step: num("step")?,
            images_seen: num("images_seen")?,
            elapsed_s: real("elapsed_s")?,
            epoch: num("epoch")?,
            cursor: num("cursor")?,
            lr: real("lr")? as f32,
            adam_t: num("adam_t")?,
            ema_updates: num("ema_updates")?,
            val_bpd: if val.is_empty() {
                None
            } else {
                Some(val.parse().map_err(|_| bad("bad `val_bpd`"))?)
            },
            warm_up: fields.get("warm_up").map_or(Ok(0), |_| num("warm_up"))?,
            init: fields.get("init").map_or("random", |v| v).to_string(),
            params,
            m,
            v,
            ema,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let config = Config::tiny();
        let w = crate::Weights::random(&config, 1);
        let params: Vec<Vec<f32>> = config
            .tensor_shapes()
            .iter()
            .map(|(n, _)| w.get(n).to_vec())
            .collect();
        let ck = Checkpoint {
            config,
            seed: 9,
            step: 3,
            images_seen: 48,
            elapsed_s: 1.5,
            epoch: 2,
            cursor: 7,
            lr: 1e-3,
            adam_t: 3,
            ema_updates: 3,
            val_bpd: Some(5.25),
            warm_up: 500,
            init: "model `x` (id 00)".into(),
            m: params.clone(),
            v: params.clone(),
            ema: params.clone(),
            params,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ck");
        ck.save(&p).unwrap();
        assert_eq!(Checkpoint::load(&p).unwrap(), ck);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        assert!(Checkpoint::load(&p).is_err());
    }
}
