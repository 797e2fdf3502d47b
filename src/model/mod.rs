//! The PixelSNAIL network of [`crate::config`] for training, on dfdx's autodiff tape.
//!
//! [`Network`] holds the parameters (one [`Param`] per tensor of
//! [`Config::tensor_shapes`], in that order) and builds the forward pass from the fused ops
//! of `ops` on a [`Graph`]; recording graphs give gradients through dfdx's tape.
//! [`forward_params`] is the plain forward pass used to check parity with the inference
//! engine: for the same [`Weights`] both must return the same mixture parameters.
//!
//! ```
//! use snailzip::{model, Config, Weights};
//! let weights = Weights::random(&Config::tiny(), 1);
//! let image = vec![128u8; 32 * 32 * 3];
//! let out = model::forward_params(&weights, &image, 1).unwrap();
//! assert_eq!(out.len(), 32 * 32 * Config::tiny().output_size());
//! ```

mod gemm;
mod loss;
mod ops;

use std::collections::HashMap;
use std::sync::Arc;

pub use loss::pixel_nll;
use ops::{ConvGeom, Geom};
pub use ops::{Graph, Param, Var};

use crate::config::{Config, BACKGROUND_CHANNELS, COLORS, TILE};
use crate::error::{Error, Result};
use crate::weights::Weights;

/// Images per chunk in [`forward_params`] (bounds the attention buffers).
const FORWARD_CHUNK: usize = 16;

/// The trainable PixelSNAIL: config plus parameters in canonical tensor order.
#[derive(Clone, Debug)]
pub struct Network {
    config: Config,
    names: Vec<String>,
    index: HashMap<String, usize>,
    params: Vec<Param>,
}

impl Network {
    /// A network holding a copy of `weights`.
    pub fn new(weights: &Weights) -> Network {
        let config = weights.config().clone();
        let dev = dfdx::prelude::Cpu::default();
        let names: Vec<String> = config.tensor_shapes().into_iter().map(|(n, _)| n).collect();
        let params = names
            .iter()
            .map(|n| Param::new(&dev, weights.get(n).to_vec()))
            .collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Network {
            config,
            names,
            index,
            params,
        }
    }

    /// The network's shapes.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Tensor names, in the order of [`Network::params`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The parameters, in canonical order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Mutable access to parameter `i`'s values (copy-on-write if a graph still holds them).
    pub fn value_mut(&mut self, i: usize) -> &mut Vec<f32> {
        Arc::make_mut(&mut self.params[i].value)
    }

    /// Replaces every parameter value (canonical order).
    ///
    /// # Errors
    /// [`Error::Format`] if the count or a size differs.
    pub fn set_values(&mut self, values: &[Vec<f32>]) -> Result<()> {
        if values.len() != self.params.len() {
            return Err(Error::Format("wrong number of parameter tensors".into()));
        }
        for (i, v) in values.iter().enumerate() {
            if v.len() != self.params[i].value.len() {
                return Err(Error::Format(format!(
                    "tensor `{}` has the wrong size",
                    self.names[i]
                )));
            }
            *self.value_mut(i) = v.clone();
        }
        Ok(())
    }

    /// Exports the current values as [`Weights`].
    ///
    /// # Errors
    /// [`Error::Format`] if a value is not finite.
    pub fn to_weights(&self) -> Result<Weights> {
        weights_from(
            &self.config,
            &self.names,
            self.params.iter().map(|p| p.value.as_slice()),
        )
    }

    fn p(&self, name: &str) -> &Param {
        &self.params[self.index[name]]
    }

    /// The forward pass on `n` NHWC u8 tiles of `TILE × TILE × 3`: the mixture parameters,
    /// `(n · TILE², 10K)`. `dropout_seed` draws the dropout masks (recording graphs only).
    ///
    /// # Panics
    /// If `images.len() != n · TILE² · 3`.
    pub fn forward(&self, g: &mut Graph, images: &[u8], n: usize, dropout_seed: u64) -> Var {
        assert_eq!(images.len(), n * TILE * TILE * COLORS, "image buffer size");
        let c = &self.config;
        let rows = n * TILE * TILE;
        let geom: Geom = (n, TILE, TILE);
        let x: Vec<f32> = images.iter().map(|&v| f32::from(v) / 127.5 - 1.0).collect();
        let mut xin = Vec::with_capacity(rows * 4);
        for px in x.chunks_exact(3) {
            xin.extend_from_slice(px);
            xin.push(1.0);
        }
        let mut bg = Vec::with_capacity(rows * BACKGROUND_CHANNELS);
        for _ in 0..n {
            for i in 0..TILE {
                for j in 0..TILE {
                    bg.push((i as f32 - (TILE / 2) as f32) / TILE as f32);
                    bg.push((j as f32 - (TILE / 2) as f32) / TILE as f32);
                }
            }
        }
        let x = g.constant(x, rows, COLORS);
        let xin = g.constant(xin, rows, 4);
        let bg = g.constant(bg, rows, BACKGROUND_CHANNELS);

        let down = g.conv(
            &xin,
            geom,
            self.p("input.down.weight"),
            Some(self.p("input.down.bias")),
            ConvGeom::DOWN_1X3,
            false,
        );
        let right = g.conv(
            &xin,
            geom,
            self.p("input.right.weight"),
            Some(self.p("input.right.bias")),
            ConvGeom::RIGHT_2X1,
            false,
        );
        let mut u = g.add(&down, &right); // (rows, C)
        for b in 0..c.blocks {
            for r in 0..c.res_per_block {
                let pre = format!("blocks.{b}.res.{r}");
                let h = g.conv(
                    &u,
                    geom,
                    self.p(&format!("{pre}.conv1.weight")),
                    Some(self.p(&format!("{pre}.conv1.bias"))),
                    ConvGeom::DOWN_RIGHT_2X2,
                    true,
                );
                let h = g.elu(&h); // (rows, C)
                let salt = ((b * 64 + r) as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let h = g.dropout(&h, c.dropout, dropout_seed ^ salt);
                let gates = g.conv(
                    &h,
                    geom,
                    self.p(&format!("{pre}.conv2.weight")),
                    Some(self.p(&format!("{pre}.conv2.bias"))),
                    ConvGeom::DOWN_RIGHT_2X2,
                    false,
                ); // (rows, 2C)
                u = g.gate(&u, &gates);
            }
            let pre = format!("blocks.{b}");
            let dense = |g: &mut Graph, x: &Var, name: &str, bias: bool, elu: bool| {
                let bias = bias.then(|| self.p(&format!("{pre}.{name}.bias")));
                g.conv(
                    x,
                    geom,
                    self.p(&format!("{pre}.{name}.weight")),
                    bias,
                    ConvGeom::DENSE,
                    elu,
                )
            };
            let kv_in = g.concat(&[&x, &u, &bg]); // (rows, 3 + C + 2)
            let key = dense(g, &kv_in, "attn.key", true, false); // (rows, key_size)
            let value = dense(g, &kv_in, "attn.value", true, false); // (rows, value_size)
            let q_in = g.concat(&[&u, &bg]); // (rows, C + 2)
            let query = dense(g, &q_in, "attn.query", true, false); // (rows, key_size)
            let a = g.attention(&query, &key, &value, n); // (rows, value_size)
            let h1 = dense(g, &u, "merge.conv1", true, true);
            let h2 = dense(g, &a, "merge.aux", false, true);
            let h = g.add(&h1, &h2);
            let h = g.elu(&h); // (rows, C)
            let gates = dense(g, &h, "merge.conv2", true, false); // (rows, 2C)
            u = g.gate(&u, &gates);
        }
        g.conv(
            &u,
            geom,
            self.p("output.weight"),
            Some(self.p("output.bias")),
            ConvGeom::DENSE,
            true,
        ) // (rows, 10K)
    }

    /// Mean bits per subpixel of `n` NHWC u8 tiles: a `(1, 1)` [`Var`].
    pub fn loss(&self, g: &mut Graph, images: &[u8], n: usize, dropout_seed: u64) -> Var {
        let out = self.forward(g, images, n, dropout_seed);
        g.mixture_bits_per_dim(&out, Arc::new(images.to_vec()))
    }
}

/// Builds [`Weights`] from values in canonical order.
///
/// # Errors
/// [`Error::Format`] on a size mismatch or a non-finite value.
pub fn weights_from<'a>(
    config: &Config,
    names: &[String],
    values: impl Iterator<Item = &'a [f32]>,
) -> Result<Weights> {
    let tensors: HashMap<String, Vec<f32>> = names
        .iter()
        .cloned()
        .zip(values.map(<[f32]>::to_vec))
        .collect();
    Weights::new(config.clone(), tensors)
}

/// The raw mixture parameters `(n, 32, 32, 10K)` (flattened) of `n` NHWC u8 tiles under
/// `weights`: the reference for parity with the inference engine.
///
/// # Errors
/// [`Error::Usage`] if `images` does not hold `n` tiles of `32 × 32 × 3`.
pub fn forward_params(weights: &Weights, images: &[u8], n: usize) -> Result<Vec<f32>> {
    let tile = TILE * TILE * COLORS;
    if images.len() != n * tile {
        return Err(Error::Usage(format!(
            "forward_params: {} bytes are not {n} tiles of {tile}",
            images.len()
        )));
    }
    let net = Network::new(weights);
    let mut out = Vec::with_capacity(n * TILE * TILE * weights.config().output_size());
    for chunk in images.chunks(FORWARD_CHUNK * tile) {
        let mut g = Graph::new(false);
        let y = net.forward(&mut g, chunk, chunk.len() / tile, 0);
        out.extend_from_slice(y.data());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
