//! The PixelSNAIL architecture description shared by the trainer and the inference engine.
//!
//! A [`Config`] fixes every shape in the network; together with the tensor names listed
//! below it is the contract between `train` (which writes weights) and `engine` (which reads
//! them). Both sides implement exactly this network:
//!
//! ```text
//! input  x ∈ [-1,1]^3 (v/127.5 - 1), plus a ones channel          -> xin: 4 channels
//!        background b = ((i - T/2)/T, (j - T/2)/T), T = tile size 32 -> 2 channels
//! u = down_shift(conv_{1x3}(xin)) + right_shift(conv_{2x1}(xin))    "input.down", "input.right"
//!     (pixel (i,j) sees xin at (i-1,j-1), (i-1,j), (i-1,j+1), (i,j-1); zero padding; the
//!     shifts fill row 0 resp. column 0 with zeros, so those get no bias from that conv)
//! for b in 0..blocks:
//!   for r in 0..res_per_block:                                       "blocks.{b}.res.{r}"
//!     h = elu(conv1(elu(u)))         conv1: 2x2 down-right causal, C -> C
//!     (dropout on h while training)
//!     c = conv2(h)                   conv2: 2x2 down-right causal, C -> 2C
//!     u = u + c[..C] * sigmoid(c[C..])
//!   kv_in = [x, u, b]  (3 + C + 2)   key = W_k kv_in + b_k  (key_size)  "blocks.{b}.attn.key"
//!                                    val = W_v kv_in + b_v  (value_size) "blocks.{b}.attn.value"
//!   q_in  = [u, b]     (C + 2)       q   = W_q q_in + b_q   (key_size)  "blocks.{b}.attn.query"
//!   a_p = sum_{p' < p} softmax_{p'}(q_p . key_{p'} / sqrt(key_size)) val_{p'}   (raster order;
//!         a_0 = 0)
//!   h = elu(W_1 elu(u) + b_1 + W_a elu(a))                             "blocks.{b}.merge.conv1", ".aux"
//!   c = W_2 h + b_2                   (2C)                              "blocks.{b}.merge.conv2"
//!   u = u + c[..C] * sigmoid(c[C..])
//! out = W_o elu(u) + b_o              (10 K)                            "output"
//! ```
//!
//! A 2x2 down-right causal conv at (i,j) reads its input at (i-1,j-1), (i-1,j), (i,j-1), (i,j)
//! (zero outside the tile). Conv weights are stored `[out, in, kh, kw]`, kernel tap `(dy, dx)`
//! reading input row `i - (kh-1) + dy`, column `j - (kw-1) + dx` for the down-right convs; the
//! `1x3` input conv tap `dx` reads column `j - 1 + dx` of row `i - 1`; the `2x1` input conv tap
//! `dy` reads row `i - 1 + dy` of column `j - 1`. 1x1 weights are stored `[out, in]`. Every
//! layer has a bias `[out]` except `merge.aux`.
//!
//! The output holds, for K mixture components (PixelCNN++ parametrisation):
//! `[0,K)` logits; `[K + c*K + k]` mean of channel c; `[4K + c*K + k]` log-scale of channel c
//! (clamped below at -7); `[7K + j*K + k]` raw coefficients, `tanh` applied, j = 0: G from R,
//! 1: B from R, 2: B from G. Means shift as μ_G += α x_R, μ_B += β x_R + γ x_G.

use std::fmt;

use crate::error::{Error, Result};

/// Side length of the square tiles the model is trained on and images are cut into.
pub const TILE: usize = 32;
/// Image channels the network models (RGB; gray is fed as R = G = B).
pub const COLORS: usize = 3;
/// Input channels of the first layer: RGB plus a constant ones channel.
pub const INPUT_CHANNELS: usize = COLORS + 1;
/// Largest number of mixture components the coder supports.
pub const MAX_MIXTURES: usize = 32;
/// Positional "background" channels fed to attention.
pub const BACKGROUND_CHANNELS: usize = 2;

/// Every shape of a PixelSNAIL network.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Width C of the residual stream.
    pub channels: usize,
    /// Number of blocks, each `res_per_block` gated residual blocks plus one attention layer.
    pub blocks: usize,
    /// Gated residual blocks per block.
    pub res_per_block: usize,
    /// Attention key (and query) size.
    pub key_size: usize,
    /// Attention value size.
    pub value_size: usize,
    /// Components K of the discretized logistic mixture.
    pub mixtures: usize,
    /// Dropout probability inside residual blocks (training only).
    pub dropout: f32,
    /// How inference stores attention keys and values: part of the model's arithmetic, and
    /// so of its id (training always computes in f32).
    pub kv_cache: KvCache,
    /// How inference forms each product-and-sum of the dense layers and of attention: part
    /// of the model's arithmetic, and so of its id.
    pub mul_add: MulAdd,
}

/// The number format of the inference engine's attention key/value cache.
///
/// Every model exported before 2026-12-02 uses [`KvCache::F32`], which its config text does
/// not mention, so those models keep their ids; a model that names `kv_cache=f16` is a
/// different model (another id), coded with its own arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KvCache {
    /// Keys and values as computed.
    #[default]
    F32,
    /// Keys and values rounded to IEEE binary16 when stored (nearest, ties to even,
    /// magnitudes clamped to 65504, NaN stored as 0), then widened exactly: half the memory
    /// traffic of attention.
    F16,
}

impl KvCache {
    /// Its name in config texts and on the command line (`f32`, `f16`).
    pub fn name(self) -> &'static str {
        match self {
            KvCache::F32 => "f32",
            KvCache::F16 => "f16",
        }
    }

    /// The format called `name`.
    ///
    /// # Errors
    /// [`Error::Format`] for any other name.
    pub fn parse(name: &str) -> Result<KvCache> {
        match name.trim() {
            "f32" => Ok(KvCache::F32),
            "f16" => Ok(KvCache::F16),
            other => Err(Error::Format(format!(
                "unknown kv_cache `{other}` (f32 or f16)"
            ))),
        }
    }
}

/// How the engine adds each product to its running sum in the dense layers and in
/// attention (scores and weighted values).
///
/// Every model exported before 2026-12-03 uses [`MulAdd::Separate`], which its config text
/// does not mention, so those models keep their ids; a model that names `mul_add=fused` is a
/// different model (another id), coded with its own arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MulAdd {
    /// An IEEE multiply, then an IEEE add: two roundings.
    #[default]
    Separate,
    /// One fused multiply-add, rounded once (IEEE `fusedMultiplyAdd`, Rust's `f32::mul_add`):
    /// one instruction on every AVX2, AVX-512 and AArch64 CPU, and the same number wherever it
    /// is computed.
    Fused,
}

impl MulAdd {
    /// Its name in config texts and on the command line (`separate`, `fused`).
    pub fn name(self) -> &'static str {
        match self {
            MulAdd::Separate => "separate",
            MulAdd::Fused => "fused",
        }
    }

    /// The arithmetic called `name`.
    ///
    /// # Errors
    /// [`Error::Format`] for any other name.
    pub fn parse(name: &str) -> Result<MulAdd> {
        match name.trim() {
            "separate" => Ok(MulAdd::Separate),
            "fused" => Ok(MulAdd::Fused),
            other => Err(Error::Format(format!(
                "unknown mul_add `{other}` (separate or fused)"
            ))),
        }
    }
}

impl Config {
    /// A very small network for tests: runs in milliseconds.
    pub fn tiny() -> Config {
        Config {
            channels: 8,
            blocks: 1,
            res_per_block: 1,
            key_size: 4,
            value_size: 8,
            mixtures: 3,
            dropout: 0.0,
            kv_cache: KvCache::F32,
            mul_add: MulAdd::Separate,
        }
    }

    /// The CPU-trainable default model.
    pub fn base() -> Config {
        Config {
            channels: 64,
            blocks: 3,
            res_per_block: 2,
            key_size: 16,
            value_size: 64,
            mixtures: 10,
            dropout: 0.0,
            kv_cache: KvCache::F32,
            mul_add: MulAdd::Separate,
        }
    }

    /// The base layout at twice the width (C = 128), for speed and quality comparisons.
    pub fn wide() -> Config {
        Config {
            channels: 128,
            value_size: 128,
            ..Config::base()
        }
    }

    /// The paper's CIFAR-10 setting (256 filters, 12 blocks of 4 residual blocks).
    pub fn paper() -> Config {
        Config {
            channels: 256,
            blocks: 12,
            res_per_block: 4,
            key_size: 16,
            value_size: 128,
            mixtures: 10,
            dropout: 0.5,
            kv_cache: KvCache::F32,
            mul_add: MulAdd::Separate,
        }
    }

    /// Looks up a named preset (`tiny`, `base`, `wide`, `paper`).
    pub fn preset(name: &str) -> Option<Config> {
        match name {
            "tiny" => Some(Config::tiny()),
            "base" => Some(Config::base()),
            "wide" => Some(Config::wide()),
            "paper" => Some(Config::paper()),
            _ => None,
        }
    }

    /// Names of the presets, for help texts.
    pub const PRESETS: [&'static str; 4] = ["tiny", "base", "wide", "paper"];

    /// Output channels of the network: 10 per mixture component.
    pub fn output_size(&self) -> usize {
        10 * self.mixtures
    }

    /// Input width of the key/value projections: pixels, features, background.
    pub fn kv_input_size(&self) -> usize {
        COLORS + self.channels + BACKGROUND_CHANNELS
    }

    /// Input width of the query projection: features, background.
    pub fn query_input_size(&self) -> usize {
        self.channels + BACKGROUND_CHANNELS
    }

    /// Checks that all sizes are usable.
    ///
    /// # Errors
    /// [`Error::Format`] if a size is zero or absurdly large.
    pub fn validate(&self) -> Result<()> {
        let sizes = [
            ("channels", self.channels, 4096),
            ("blocks", self.blocks, 256),
            ("res_per_block", self.res_per_block, 64),
            ("key_size", self.key_size, 4096),
            ("value_size", self.value_size, 4096),
            ("mixtures", self.mixtures, MAX_MIXTURES),
        ];
        for (name, value, max) in sizes {
            if value == 0 || value > max {
                return Err(Error::Format(format!(
                    "model config: {name} = {value} is outside 1..={max}"
                )));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Format(format!(
                "model config: dropout = {} is outside [0, 1)",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Every tensor of the network: name and shape, in a fixed canonical order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let c = self.channels;
        let mut out = vec![
            (
                "input.down.weight".to_string(),
                vec![c, INPUT_CHANNELS, 1, 3],
            ),
            ("input.down.bias".to_string(), vec![c]),
            (
                "input.right.weight".to_string(),
                vec![c, INPUT_CHANNELS, 2, 1],
            ),
            ("input.right.bias".to_string(), vec![c]),
        ];
        for b in 0..self.blocks {
            for r in 0..self.res_per_block {
                let p = format!("blocks.{b}.res.{r}");
                out.push((format!("{p}.conv1.weight"), vec![c, c, 2, 2]));
                out.push((format!("{p}.conv1.bias"), vec![c]));
                out.push((format!("{p}.conv2.weight"), vec![2 * c, c, 2, 2]));
                out.push((format!("{p}.conv2.bias"), vec![2 * c]));
            }
            let p = format!("blocks.{b}");
            let (kv, q) = (self.kv_input_size(), self.query_input_size());
            out.push((format!("{p}.attn.key.weight"), vec![self.key_size, kv]));
            out.push((format!("{p}.attn.key.bias"), vec![self.key_size]));
            out.push((format!("{p}.attn.value.weight"), vec![self.value_size, kv]));
            out.push((format!("{p}.attn.value.bias"), vec![self.value_size]));
            out.push((format!("{p}.attn.query.weight"), vec![self.key_size, q]));
            out.push((format!("{p}.attn.query.bias"), vec![self.key_size]));
            out.push((format!("{p}.merge.conv1.weight"), vec![c, c]));
            out.push((format!("{p}.merge.conv1.bias"), vec![c]));
            out.push((format!("{p}.merge.aux.weight"), vec![c, self.value_size]));
            out.push((format!("{p}.merge.conv2.weight"), vec![2 * c, c]));
            out.push((format!("{p}.merge.conv2.bias"), vec![2 * c]));
        }
        out.push(("output.weight".to_string(), vec![self.output_size(), c]));
        out.push(("output.bias".to_string(), vec![self.output_size()]));
        out
    }

    /// Total number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Multiply-adds per pixel of the network at inference, averaged over a tile of
    /// `positions` pixels (attention at position p reads p earlier keys and values).
    pub fn multiply_adds_per_pixel(&self, positions: usize) -> f64 {
        let c = self.channels as f64;
        let (dk, dv) = (self.key_size as f64, self.value_size as f64);
        let input = (3 + 2) as f64 * INPUT_CHANNELS as f64 * c;
        let res = 12.0 * c * c;
        let attended = positions.saturating_sub(1) as f64 / 2.0;
        let attn = self.kv_input_size() as f64 * (dk + dv)
            + self.query_input_size() as f64 * dk
            + (c + dv) * c
            + 2.0 * c * c
            + attended * (dk + dv);
        let blocks = self.blocks as f64 * (self.res_per_block as f64 * res + attn);
        input + blocks + c * self.output_size() as f64
    }

    /// Parses the `key=value,...` form written by [`Display`](fmt::Display).
    ///
    /// # Errors
    /// [`Error::Format`] on unknown keys, missing keys or bad numbers.
    pub fn parse(text: &str) -> Result<Config> {
        let bad = |what: &str| Error::Format(format!("model config `{text}`: {what}"));
        let mut fields: [Option<f64>; 7] = [None; 7];
        const KEYS: [&str; 7] = [
            "channels",
            "blocks",
            "res_per_block",
            "key_size",
            "value_size",
            "mixtures",
            "dropout",
        ];
        let mut kv_cache = KvCache::F32;
        let mut mul_add = MulAdd::Separate;
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad("expected key=value"))?;
            if key.trim() == "kv_cache" {
                kv_cache = KvCache::parse(value).map_err(|e| bad(&e.to_string()))?;
                continue;
            }
            if key.trim() == "mul_add" {
                mul_add = MulAdd::parse(value).map_err(|e| bad(&e.to_string()))?;
                continue;
            }
            let slot = KEYS
                .iter()
                .position(|k| *k == key.trim())
                .ok_or_else(|| bad(&format!("unknown key `{}`", key.trim())))?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| bad(&format!("bad number for {key}")))?;
            fields[slot] = Some(v);
        }
        let get = |i: usize| fields[i].ok_or_else(|| bad(&format!("missing `{}`", KEYS[i])));
        let int = |i: usize| -> Result<usize> {
            let v = get(i)?;
            if v < 0.0 || v.fract() != 0.0 || v > 1e9 {
                return Err(bad(&format!("`{}` must be a whole number", KEYS[i])));
            }
            Ok(v as usize)
        };
        let config = Config {
            channels: int(0)?,
            blocks: int(1)?,
            res_per_block: int(2)?,
            key_size: int(3)?,
            value_size: int(4)?,
            mixtures: int(5)?,
            dropout: get(6)? as f32,
            kv_cache,
            mul_add,
        };
        config.validate()?;
        Ok(config)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::base()
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "channels={},blocks={},res_per_block={},key_size={},value_size={},mixtures={},dropout={}",
            self.channels,
            self.blocks,
            self.res_per_block,
            self.key_size,
            self.value_size,
            self.mixtures,
            self.dropout
        )?;
        // only a non-default arithmetic is written, so that older models keep their ids
        if self.kv_cache != KvCache::F32 {
            write!(f, ",kv_cache={}", self.kv_cache.name())?;
        }
        if self.mul_add != MulAdd::Separate {
            write!(f, ",mul_add={}", self.mul_add.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        for name in Config::PRESETS {
            let c = Config::preset(name).unwrap();
            assert_eq!(Config::parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn kv_cache_is_written_only_when_not_f32() {
        let base = Config::base().to_string();
        assert!(!base.contains("kv_cache"));
        let half = Config {
            kv_cache: KvCache::F16,
            ..Config::base()
        };
        assert_eq!(half.to_string(), format!("{base},kv_cache=f16"));
        assert_eq!(Config::parse(&half.to_string()).unwrap(), half);
        assert_eq!(
            Config::parse(&format!("{base},kv_cache=f32")).unwrap(),
            Config::base()
        );
        assert!(Config::parse(&format!("{base},kv_cache=bf16")).is_err());
    }

    #[test]
    fn mul_add_is_written_only_when_fused() {
        let base = Config::base().to_string();
        assert!(!base.contains("mul_add"));
        let fused = Config {
            kv_cache: KvCache::F16,
            mul_add: MulAdd::Fused,
            ..Config::base()
        };
        assert_eq!(
            fused.to_string(),
            format!("{base},kv_cache=f16,mul_add=fused")
        );
        assert_eq!(Config::parse(&fused.to_string()).unwrap(), fused);
        assert_eq!(
            Config::parse(&format!("{base},mul_add=separate")).unwrap(),
            Config::base()
        );
        assert!(Config::parse(&format!("{base},mul_add=fast")).is_err());
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(Config::parse("channels=64").is_err());
        assert!(Config::parse("bogus=1").is_err());
        let mut c = Config::tiny().to_string();
        c = c.replace("channels=8", "channels=0");
        assert!(Config::parse(&c).is_err());
        assert!(
            Config::parse(&Config::tiny().to_string().replace("blocks=1", "blocks=1.5")).is_err()
        );
    }

    #[test]
    fn base_multiply_adds() {
        // input 5*4*64 = 1280; per block 2 * 12 * 64^2 = 98304 plus attention
        // 69*80 + 66*16 + 128*64 + 2*64^2 + 511.5*80 = 63880; output 64*100 = 6400
        let want = 1280.0 + 3.0 * (98304.0 + 63880.0) + 6400.0;
        assert_eq!(Config::base().multiply_adds_per_pixel(1024), want);
    }

    #[test]
    fn tiny_parameter_count() {
        // input (8*4*3+8) + (8*4*2+8) = 176; res (8*8*4+8) + (16*8*4+16) = 792;
        // attn key 4*13+4 = 56, value 8*13+8 = 112, query 4*10+4 = 44;
        // merge (8*8+8) + 8*8 + (16*8+16) = 280; output 30*8+30 = 270
        assert_eq!(
            Config::tiny().parameter_count(),
            176 + 792 + 56 + 112 + 44 + 280 + 270
        );
    }
}
