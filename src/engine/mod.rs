//! Deterministic PixelSNAIL inference, stepped one raster position at a time.
//!
//! Encoder and decoder run exactly the same steps: at position `p` the engine computes every
//! layer at `p` from cached activations of earlier positions (two rows per convolution input,
//! all attention keys/values), the codec codes the pixel at `p`, then [`Session::advance`]
//! feeds the pixel back. The encoder simply knows the pixels in advance; both sides therefore
//! see bit-identical mixture parameters by construction, and decoding costs what encoding
//! costs. A session steps a *batch* of independent tiles of one shape at once, so every layer
//! is a `batch × C_in` by `C_in × C_out` product. Results never depend on the batch size
//! or on which tiles share a batch (see [`ops`] for the arithmetic contract).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod machine;
pub mod ops;

use crate::config::{Config, KvCache, BACKGROUND_CHANNELS, COLORS, INPUT_CHANNELS, TILE};
use crate::weights::{ModelId, Weights};
use ops::{elu_in_place, elu_into, gate_residual, Half, Isa, Linear};

/// One gated residual block: two 2x2 down-right causal convs.
#[derive(Clone, Debug)]
struct ResBlock {
    conv1: Linear,
    conv2: Linear,
}

/// One attention layer and its gated 1x1 merge.
#[derive(Clone, Debug)]
struct Attention {
    key: Linear,
    value: Linear,
    query: Linear,
    /// `[elu(u), elu(attended)] -> C`, bias of `merge.conv1`.
    merge1: Linear,
    merge2: Linear,
}

#[derive(Clone, Debug)]
struct Block {
    res: Vec<ResBlock>,
    attn: Attention,
}

/// A model prepared for inference: weights re-laid-out for the engine's kernels.
#[derive(Clone, Debug)]
pub struct Engine {
    config: Config,
    id: ModelId,
    input_down: Linear,
    input_right: Linear,
    blocks: Vec<Block>,
    output: Linear,
}

fn conv2x2(w: &Weights, name: &str, cout: usize, cin: usize) -> Linear {
    let wt = w.get(&format!("{name}.weight"));
    let bias = w.get(&format!("{name}.bias")).to_vec();
    // tap t = dy * 2 + dx reads (i - 1 + dy, j - 1 + dx)
    Linear::from_fn(cout, 4, cin, bias, |o, t, ci| {
        wt[((o * cin + ci) * 2 + t / 2) * 2 + t % 2]
    })
}

fn dense(w: &Weights, name: &str, cout: usize, cin: usize, bias: Option<&str>) -> Linear {
    let wt = w.get(&format!("{name}.weight"));
    let bias = match bias {
        Some(b) => w.get(b).to_vec(),
        None => vec![0.0; cout],
    };
    Linear::from_fn(cout, 1, cin, bias, |o, _, ci| wt[o * cin + ci])
}

impl Engine {
    /// Prepares weights for inference.
    pub fn new(weights: &Weights) -> Engine {
        let cfg = weights.config().clone();
        let c = cfg.channels;
        let ic = INPUT_CHANNELS;
        let down = weights.get("input.down.weight");
        let input_down = Linear::from_fn(
            c,
            3,
            ic,
            weights.get("input.down.bias").to_vec(),
            |o, t, ci| down[(o * ic + ci) * 3 + t],
        );
        let right = weights.get("input.right.weight");
        let input_right = Linear::from_fn(
            c,
            2,
            ic,
            weights.get("input.right.bias").to_vec(),
            |o, t, ci| right[(o * ic + ci) * 2 + t],
        );
        let mut blocks = Vec::with_capacity(cfg.blocks);
        for b in 0..cfg.blocks {
            let res = (0..cfg.res_per_block)
                .map(|r| ResBlock {
                    conv1: conv2x2(weights, &format!("blocks.{b}.res.{r}.conv1"), c, c),
                    conv2: conv2x2(weights, &format!("blocks.{b}.res.{r}.conv2"), 2 * c, c),
                })
                .collect();
            let p = format!("blocks.{b}");
            let (kv, q) = (cfg.kv_input_size(), cfg.query_input_size());
            let (dk, dv) = (cfg.key_size, cfg.value_size);
            let bias = |n: &str| Some(format!("{p}.{n}.bias"));
            let key = dense(
                weights,
                &format!("{p}.attn.key"),
                dk,
                kv,
                bias("attn.key").as_deref(),
            );
            let value = dense(
                weights,
                &format!("{p}.attn.value"),
                dv,
                kv,
                bias("attn.value").as_deref(),
            );
            let query = dense(
                weights,
                &format!("{p}.attn.query"),
                dk,
                q,
                bias("attn.query").as_deref(),
            );
            let w1 = weights.get(&format!("{p}.merge.conv1.weight"));
            let wa = weights.get(&format!("{p}.merge.aux.weight"));
            // inputs: [elu(u) (C), elu(attended) (dv)]
            let merge1 = Linear::from_fn(
                c,
                1,
                c + dv,
                weights.get(&format!("{p}.merge.conv1.bias")).to_vec(),
                |o, _, i| {
                    if i < c {
                        w1[o * c + i]
                    } else {
                        wa[o * dv + (i - c)]
                    }
                },
            );
            let merge2 = dense(
                weights,
                &format!("{p}.merge.conv2"),
                2 * c,
                c,
                bias("merge.conv2").as_deref(),
            );
            blocks.push(Block {
                res,
                attn: Attention {
                    key,
                    value,
                    query,
                    merge1,
                    merge2,
                },
            });
        }
        let output = dense(weights, "output", cfg.output_size(), c, Some("output.bias"));
        let mut engine = Engine {
            config: cfg,
            id: weights.id(),
            input_down,
            input_right,
            blocks,
            output,
        };
        let mul_add = engine.config.mul_add;
        engine.for_each_layer(|layer| layer.set_mul_add(mul_add));
        engine
    }

    /// Calls `f` on every dense layer.
    fn for_each_layer(&mut self, mut f: impl FnMut(&mut Linear)) {
        f(&mut self.input_down);
        f(&mut self.input_right);
        for b in &mut self.blocks {
            for r in &mut b.res {
                f(&mut r.conv1);
                f(&mut r.conv2);
            }
            let a = &mut b.attn;
            for layer in [
                &mut a.key,
                &mut a.value,
                &mut a.query,
                &mut a.merge1,
                &mut a.merge2,
            ] {
                f(layer);
            }
        }
        f(&mut self.output);
    }

    /// The network's shapes.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Id of the model the engine was built from.
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// Tiles per [`Session`] that run fastest on this machine: [`default_batch`] of the
    /// model's config. Never changes any output.
    pub fn batch_hint(&self) -> usize {
        default_batch(&self.config)
    }

    /// Starts stepping `batch` tiles of `height × width` pixels (each at most [`TILE`]).
    ///
    /// # Panics
    /// If a dimension is zero or larger than [`TILE`], or `batch` is zero.
    pub fn session(&self, batch: usize, height: usize, width: usize) -> Session<'_> {
        Session::new(self, Isa::best(), batch, height, width)
    }

    /// [`Engine::session`] with the kernels of one instruction set (all give the same bits).
    pub fn session_with(&self, isa: Isa, batch: usize, height: usize, width: usize) -> Session<'_> {
        Session::new(self, isa, batch, height, width)
    }

    /// Convenience for tests and parity checks: the raw mixture parameters
    /// (`[position][output_size]`, raster order) of one tile of RGB pixels (`[h][w][3]`).
    pub fn forward_tile(&self, pixels: &[u8], height: usize, width: usize) -> Vec<f32> {
        self.forward_tile_with(Isa::best(), pixels, height, width)
    }

    /// [`Engine::forward_tile`] with the kernels of one instruction set.
    pub fn forward_tile_with(
        &self,
        isa: Isa,
        pixels: &[u8],
        height: usize,
        width: usize,
    ) -> Vec<f32> {
        let mut s = self.session_with(isa, 1, height, width);
        let n = self.config.output_size();
        let mut out = Vec::with_capacity(height * width * n);
        for p in 0..height * width {
            out.extend_from_slice(s.predict());
            let px = [pixels[p * 3], pixels[p * 3 + 1], pixels[p * 3 + 2]];
            s.advance(&[px]);
        }
        out
    }
}

/// Per-block cached state of a session.
struct BlockState {
    /// Per residual block: ring of two rows of `elu(u)` and of `h`, `[2][width][batch][C]`.
    ring_in: Vec<Vec<f32>>,
    ring_hidden: Vec<Vec<f32>>,
    /// The stream `u` entering attention at the current position, `[batch][C]`, kept until
    /// the pixel is known and the position's key/value can be computed.
    pending: Vec<f32>,
    /// Keys and values of every position so far.
    cache: Cache,
}

/// Keys in blocks (see [`ops::key_index`]), `[batch][...]`, and values
/// `[batch][positions][value_size]`, in the model's [`KvCache`] format.
enum Cache {
    /// f32 numbers; `round`: each rounded through binary16 when stored (the f16 format
    /// held in f32, exactly the same values).
    F32 {
        keys: Vec<f32>,
        values: Vec<f32>,
        round: bool,
    },
    F16 {
        keys: Vec<Half>,
        values: Vec<Half>,
    },
}

impl Cache {
    /// The cache of `format` for kernels of `isa`. The portable kernels have no
    /// instruction that widens halves, and widening them in software costs more than the
    /// memory it saves, so they read the f16 format's values held in f32: the same numbers,
    /// so the same bits.
    fn new(format: KvCache, isa: Isa, keys: usize, values: usize) -> Cache {
        match format {
            KvCache::F16 if isa != Isa::PORTABLE => Cache::F16 {
                keys: vec![Half::default(); keys],
                values: vec![Half::default(); values],
            },
            _ => Cache::F32 {
                keys: vec![0.0; keys],
                values: vec![0.0; values],
                round: format == KvCache::F16,
            },
        }
    }

    /// Stores the key (`[key_size]`) and value (`[value_size]`) of position `p` of tile `t`.
    fn store(
        &mut self,
        (t, p): (usize, usize),
        (n_keys, n): (usize, usize),
        key: &[f32],
        value: &[f32],
    ) {
        /// Writes `key` into its blocked slots and `value` into its row, each number as
        /// `stored` gives it.
        fn put<T>(
            (keys, values): (&mut [T], &mut [T]),
            (key, value): (&[f32], &[f32]),
            p: usize,
            stored: impl Fn(f32) -> T,
        ) {
            let (dk, dv) = (key.len(), value.len());
            for (d, &k) in key.iter().enumerate() {
                keys[ops::key_index(p, d, dk)] = stored(k);
            }
            for (dst, &v) in values[p * dv..(p + 1) * dv].iter_mut().zip(value) {
                *dst = stored(v);
            }
        }
        let (keys, values) = (t * n_keys..(t + 1) * n_keys, t * n * value.len()..);
        match self {
            Cache::F32 {
                keys: k,
                values: v,
                round,
            } => {
                let round = *round;
                let stored = move |x| if round { Half::from_f32(x).to_f32() } else { x };
                put((&mut k[keys], &mut v[values]), (key, value), p, stored);
            }
            Cache::F16 { keys: k, values: v } => {
                put(
                    (&mut k[keys], &mut v[values]),
                    (key, value),
                    p,
                    Half::from_f32,
                );
            }
        }
    }
}

/// Stepping state for a batch of same-shaped tiles; see the module docs.
pub struct Session<'e> {
    engine: &'e Engine,
    isa: Isa,
    batch: usize,
    height: usize,
    width: usize,
    /// Next position to predict (raster order).
    pos: usize,
    /// Scaled input pixels plus ones channel, `[positions][batch][4]`.
    inputs: Vec<f32>,
    blocks: Vec<BlockState>,
    // scratch
    u: Vec<f32>,
    gather: Vec<f32>,
    tmp: Vec<f32>,
    tmp2: Vec<f32>,
    out: Vec<f32>,
    scores: Vec<f32>,
}

impl<'e> Session<'e> {
    fn new(engine: &'e Engine, isa: Isa, batch: usize, height: usize, width: usize) -> Session<'e> {
        assert!(batch > 0 && (1..=TILE).contains(&height) && (1..=TILE).contains(&width));
        let cfg = &engine.config;
        let c = cfg.channels;
        let n = height * width;
        let ring = 2 * width * batch * c;
        let blocks = (0..cfg.blocks)
            .map(|_| BlockState {
                ring_in: vec![vec![0.0; ring]; cfg.res_per_block],
                ring_hidden: vec![vec![0.0; ring]; cfg.res_per_block],
                pending: vec![0.0; batch * c],
                cache: Cache::new(
                    cfg.kv_cache,
                    isa,
                    batch * key_cache_len(n, cfg.key_size),
                    batch * n * cfg.value_size,
                ),
            })
            .collect();
        let widest = [
            4 * c,
            2 * c,
            c + cfg.value_size,
            cfg.kv_input_size(),
            cfg.output_size(),
            3 * INPUT_CHANNELS,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        Session {
            engine,
            isa,
            batch,
            height,
            width,
            pos: 0,
            inputs: vec![0.0; n * batch * INPUT_CHANNELS],
            blocks,
            u: vec![0.0; batch * c],
            gather: vec![0.0; batch * widest],
            tmp: vec![0.0; batch * widest],
            tmp2: vec![0.0; batch * widest],
            out: vec![0.0; batch * cfg.output_size()],
            scores: vec![0.0; ops::AttendShape::scores_len_for(n)],
        }
    }

    /// Number of tiles stepped together.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The raster position the next [`Session::predict`] is for.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Mixture parameters for the current position, `[batch][output_size]`.
    ///
    /// # Panics
    /// If called again before [`Session::advance`], or past the last position.
    pub fn predict(&mut self) -> &[f32] {
        let cfg = &self.engine.config;
        let (b, c) = (self.batch, cfg.channels);
        let (i, j) = (self.pos / self.width, self.pos % self.width);
        assert!(i < self.height, "predict past the end of the tile");
        self.input_layer(i, j);
        for blk in 0..cfg.blocks {
            for r in 0..cfg.res_per_block {
                self.residual(blk, r, i, j);
            }
            self.attention(blk, i, j);
        }
        elu_into(self.isa, &self.u[..b * c], &mut self.tmp[..b * c]);
        self.engine
            .output
            .forward(self.isa, &self.tmp, b, &mut self.out);
        &self.out
    }

    /// Records the pixels of the current position (one RGB triple per tile; gray images pass
    /// `[v, v, v]`) and moves to the next position.
    pub fn advance(&mut self, pixels: &[[u8; 3]]) {
        let cfg = &self.engine.config;
        let (b, c) = (self.batch, cfg.channels);
        assert_eq!(pixels.len(), b);
        let p = self.pos;
        let (i, j) = (p / self.width, p % self.width);
        let n = self.height * self.width;
        for (t, px) in pixels.iter().enumerate() {
            let dst = &mut self.inputs[(p * b + t) * INPUT_CHANNELS..][..INPUT_CHANNELS];
            for k in 0..COLORS {
                dst[k] = scale_pixel(px[k]);
            }
            dst[COLORS] = 1.0;
        }
        let kv = cfg.kv_input_size();
        let n_keys = key_cache_len(n, cfg.key_size);
        let (bg0, bg1) = background(i, j);
        for blk in 0..cfg.blocks {
            let st = &mut self.blocks[blk];
            for t in 0..b {
                let row = &mut self.gather[t * kv..(t + 1) * kv];
                let px = &self.inputs[(p * b + t) * INPUT_CHANNELS..][..COLORS];
                row[..COLORS].copy_from_slice(px);
                row[COLORS..COLORS + c].copy_from_slice(&st.pending[t * c..(t + 1) * c]);
                row[COLORS + c] = bg0;
                row[COLORS + c + 1] = bg1;
            }
            let attn = &self.engine.blocks[blk].attn;
            let (dk, dv) = (cfg.key_size, cfg.value_size);
            attn.key.forward(self.isa, &self.gather, b, &mut self.tmp);
            attn.value
                .forward(self.isa, &self.gather, b, &mut self.tmp2);
            for t in 0..b {
                st.cache.store(
                    (t, p),
                    (n_keys, n),
                    &self.tmp[t * dk..(t + 1) * dk],
                    &self.tmp2[t * dv..(t + 1) * dv],
                );
            }
        }
        self.pos += 1;
    }

    /// First layer: `down_shift(conv_1x3) + right_shift(conv_2x1)` of the scaled inputs.
    fn input_layer(&mut self, i: usize, j: usize) {
        let e = self.engine;
        let (b, c, w) = (self.batch, e.config.channels, self.width);
        let ic = INPUT_CHANNELS;
        self.u[..b * c].fill(0.0);
        if i >= 1 {
            // taps (i-1, j-1), (i-1, j), (i-1, j+1)
            for t in 0..b {
                let row = &mut self.gather[t * 3 * ic..(t + 1) * 3 * ic];
                for (tap, jj) in [j.wrapping_sub(1), j, j + 1].into_iter().enumerate() {
                    let dst = &mut row[tap * ic..(tap + 1) * ic];
                    if jj < w {
                        let q = (i - 1) * w + jj;
                        dst.copy_from_slice(&self.inputs[(q * b + t) * ic..][..ic]);
                    } else {
                        dst.fill(0.0);
                    }
                }
            }
            e.input_down
                .forward(self.isa, &self.gather, b, &mut self.tmp);
            for (u, v) in self.u[..b * c].iter_mut().zip(&self.tmp) {
                *u += *v;
            }
        }
        if j >= 1 {
            // taps (i-1, j-1), (i, j-1)
            for t in 0..b {
                let row = &mut self.gather[t * 2 * ic..(t + 1) * 2 * ic];
                for (tap, ii) in [i.wrapping_sub(1), i].into_iter().enumerate() {
                    let dst = &mut row[tap * ic..(tap + 1) * ic];
                    if ii < self.height {
                        let q = ii * w + j - 1;
                        dst.copy_from_slice(&self.inputs[(q * b + t) * ic..][..ic]);
                    } else {
                        dst.fill(0.0);
                    }
                }
            }
            e.input_right
                .forward(self.isa, &self.gather, b, &mut self.tmp);
            for (u, v) in self.u[..b * c].iter_mut().zip(&self.tmp) {
                *u += *v;
            }
        }
    }

    /// Gathers the 2x2 down-right neighbourhood of `(i, j)` from a two-row ring buffer into
    /// `gather` as `[batch][4 taps][C]`.
    fn gather_2x2(
        gather: &mut [f32],
        ring: &[f32],
        (b, c, w): (usize, usize, usize),
        i: usize,
        j: usize,
    ) {
        for t in 0..b {
            let row = &mut gather[t * 4 * c..(t + 1) * 4 * c];
            for tap in 0..4 {
                let (dy, dx) = (tap / 2, tap % 2);
                let dst = &mut row[tap * c..(tap + 1) * c];
                if (dy == 0 && i == 0) || (dx == 0 && j == 0) {
                    dst.fill(0.0);
                } else {
                    let (ii, jj) = (i + dy - 1, j + dx - 1);
                    let src = ((ii % 2) * w + jj) * b + t;
                    dst.copy_from_slice(&ring[src * c..(src + 1) * c]);
                }
            }
        }
    }

    fn residual(&mut self, blk: usize, r: usize, i: usize, j: usize) {
        let e = self.engine;
        let (b, c, w) = (self.batch, e.config.channels, self.width);
        let layer = &e.blocks[blk].res[r];
        let st = &mut self.blocks[blk];
        let slot = ((i % 2) * w + j) * b * c;
        elu_into(
            self.isa,
            &self.u[..b * c],
            &mut st.ring_in[r][slot..slot + b * c],
        );
        Self::gather_2x2(&mut self.gather, &st.ring_in[r], (b, c, w), i, j);
        layer
            .conv1
            .forward(self.isa, &self.gather, b, &mut self.tmp);
        elu_into(
            self.isa,
            &self.tmp[..b * c],
            &mut st.ring_hidden[r][slot..slot + b * c],
        );
        Self::gather_2x2(&mut self.gather, &st.ring_hidden[r], (b, c, w), i, j);
        layer
            .conv2
            .forward(self.isa, &self.gather, b, &mut self.tmp);
        gate_residual(self.isa, &mut self.u, &self.tmp, b, c);
    }

    fn attention(&mut self, blk: usize, i: usize, j: usize) {
        let e = self.engine;
        let cfg = &e.config;
        let (b, c) = (self.batch, cfg.channels);
        let (dk, dv) = (cfg.key_size, cfg.value_size);
        let n = self.height * self.width;
        let p = self.pos;
        let layer = &e.blocks[blk].attn;
        let n_keys = key_cache_len(n, dk);
        let st = &mut self.blocks[blk];
        st.pending.copy_from_slice(&self.u[..b * c]);
        // queries from [u, background]
        let qn = cfg.query_input_size();
        let (bg0, bg1) = background(i, j);
        for t in 0..b {
            let row = &mut self.gather[t * qn..(t + 1) * qn];
            row[..c].copy_from_slice(&self.u[t * c..(t + 1) * c]);
            row[c] = bg0;
            row[c + 1] = bg1;
        }
        layer
            .query
            .forward(self.isa, &self.gather, b, &mut self.tmp);
        // merge input: [elu(u), elu(attended)]
        let mi = c + dv;
        let scale = (1.0 / (dk as f32).sqrt(), cfg.mul_add);
        for t in 0..b {
            let row = &mut self.gather[t * mi..(t + 1) * mi];
            elu_into(self.isa, &self.u[t * c..(t + 1) * c], &mut row[..c]);
            row[c..].fill(0.0); // position 0 attends to nothing: zeros (elu(0) = 0)
        }
        if p > 0 {
            let shape = ops::AttendShape {
                tiles: b,
                positions: p,
                key_size: dk,
                value_size: dv,
                key_stride: n_keys,
                value_stride: n * dv,
                out_stride: mi,
            };
            let (q, out) = (&self.tmp[..b * dk], &mut self.gather[c..b * mi]);
            match &st.cache {
                Cache::F32 { keys, values, .. } => ops::attend(
                    self.isa,
                    q,
                    keys,
                    values,
                    shape,
                    scale,
                    &mut self.scores,
                    out,
                ),
                Cache::F16 { keys, values } => ops::attend_half(
                    self.isa,
                    q,
                    keys,
                    values,
                    shape,
                    scale,
                    &mut self.scores,
                    out,
                ),
            }
            for t in 0..b {
                elu_in_place(self.isa, &mut self.gather[t * mi + c..(t + 1) * mi]);
            }
        }
        layer
            .merge1
            .forward(self.isa, &self.gather, b, &mut self.tmp);
        elu_into(self.isa, &self.tmp[..b * c], &mut self.tmp2[..b * c]);
        layer.merge2.forward(self.isa, &self.tmp2, b, &mut self.tmp);
        gate_residual(self.isa, &mut self.u, &self.tmp, b, c);
    }
}

/// Tiles per [`Session`] for a model of `config` on this machine: enough to share each
/// weight load, few enough that the batch's attention keys and values stay in the cache one
/// thread can count on ([`machine::Caches::per_thread`]; a full 32×32 tile of a base-size
/// model holds 480 KiB of f16 keys and values, 240 KiB on average over its positions). Where
/// the OS does not report its caches: 16 tiles with an f16 cache, 8 with f32 (about 4 MB per
/// thread, measured on a 2-core EPYC). Never changes any output.
pub fn default_batch(config: &Config) -> usize {
    let stored = match (config.kv_cache, Isa::best()) {
        // the portable kernels hold f16 values in f32 (see `Cache::new`)
        (KvCache::F16, isa) if isa != Isa::PORTABLE => 2,
        _ => 4,
    };
    let average =
        config.blocks * (TILE * TILE / 2) * (config.key_size + config.value_size) * stored;
    match machine::Caches::detect() {
        Some(caches) => machine::batch_for_cache(caches.per_thread(), average),
        None => match config.kv_cache {
            KvCache::F32 => 8,
            KvCache::F16 => 16,
        },
    }
}

/// Floats of one tile's key cache (whole blocks of [`ops::KEY_BLOCK`] positions).
fn key_cache_len(positions: usize, key_size: usize) -> usize {
    positions.div_ceil(ops::KEY_BLOCK) * ops::KEY_BLOCK * key_size
}

/// Network input value of a subpixel: `v / 127.5 - 1`.
#[inline]
pub fn scale_pixel(v: u8) -> f32 {
    v as f32 / 127.5 - 1.0
}

/// Positional channels of tile position `(i, j)`: `((i - T/2)/T, (j - T/2)/T)`.
#[inline]
pub fn background(i: usize, j: usize) -> (f32, f32) {
    let t = TILE as f32;
    ((i as f32 - t / 2.0) / t, (j as f32 - t / 2.0) / t)
}

const _: () = assert!(BACKGROUND_CHANNELS == 2);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MulAdd};

    fn pixels(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = crate::weights::SplitMix64(seed);
        (0..n * 3).map(|_| (rng.next_u64() >> 56) as u8).collect()
    }

    #[test]
    fn output_is_causal() {
        // Changing the pixel at position p must not change any output at positions <= p.
        let engine = Engine::new(&Weights::random(&Config::tiny(), 1));
        let (h, w) = (5, 6);
        let a = pixels(h * w, 2);
        let base = engine.forward_tile(&a, h, w);
        let n = engine.config().output_size();
        for p in [0, 3, 7, 17, 29] {
            let mut b = a.clone();
            b[p * 3] ^= 0x55;
            b[p * 3 + 2] ^= 0x0f;
            let other = engine.forward_tile(&b, h, w);
            assert_eq!(base[..(p + 1) * n], other[..(p + 1) * n], "p = {p}");
            if p + 1 < h * w {
                assert_ne!(
                    base[(p + 1) * n..],
                    other[(p + 1) * n..],
                    "p = {p} has no effect"
                );
            }
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        // base-size layers (C = 64, 2C outputs, K = 10 mixtures) and 9 tiles: the 8-row
        // AVX-512 blocks, the 16-wide panels, the single-column tails and the leftover rows;
        // both key/value cache formats (attention over more than one key block), both ways of
        // joining products to sums
        for kv in [KvCache::F32, KvCache::F16] {
            for m in [MulAdd::Separate, MulAdd::Fused] {
                same_bits_on_every_level(kv, m);
            }
        }
    }

    fn same_bits_on_every_level(kv: KvCache, m: MulAdd) {
        let weights = Weights::random(&Config::base(), 7).with_kv_cache(kv);
        let engine = Engine::new(&weights.with_mul_add(m));
        let (h, w, batch) = (5, 7, 9);
        let tiles: Vec<Vec<u8>> = (0..batch).map(|s| pixels(h * w, 30 + s as u64)).collect();
        let run = |isa: Isa| {
            let mut s = engine.session_with(isa, batch, h, w);
            let mut all = Vec::new();
            for p in 0..h * w {
                all.extend(s.predict().iter().map(|v| v.to_bits()));
                let px: Vec<[u8; 3]> = tiles
                    .iter()
                    .map(|t| [t[p * 3], t[p * 3 + 1], t[p * 3 + 2]])
                    .collect();
                s.advance(&px);
            }
            all
        };
        let want = run(Isa::PORTABLE);
        for isa in Isa::available() {
            assert!(
                run(isa) == want,
                "{} differs from the portable build ({kv:?} cache, {m:?})",
                isa.name()
            );
        }
    }

    #[test]
    fn batch_composition_does_not_change_results() {
        for kv in [KvCache::F32, KvCache::F16] {
            batch_composition(kv);
        }
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    }

    #[test]
    fn fused_multiply_add_is_another_arithmetic_close_to_separate() {
        let weights = Weights::random(&Config::tiny(), 4).with_kv_cache(KvCache::F16);
        let separate = Engine::new(&weights.clone());
        let fused = Engine::new(&weights.with_mul_add(MulAdd::Fused));
        assert_ne!(separate.id(), fused.id());
        let tile = pixels(6 * 6, 3);
        let (a, b) = (
            separate.forward_tile(&tile, 6, 6),
            fused.forward_tile(&tile, 6, 6),
        );
        assert_ne!(a, b);
        let worst = largest_difference(&a, &b);
        assert!(worst < 1e-3, "{worst}");
    }

    #[test]
    fn f16_cache_is_another_arithmetic_close_to_f32() {
        let f32s = Engine::new(&Weights::random(&Config::tiny(), 4));
        let f16s = Engine::new(&Weights::random(&Config::tiny(), 4).with_kv_cache(KvCache::F16));
        assert_ne!(f32s.id(), f16s.id());
        let tile = pixels(6 * 6, 3);
        let (a, b) = (
            f32s.forward_tile(&tile, 6, 6),
            f16s.forward_tile(&tile, 6, 6),
        );
        let n = f32s.config().output_size();
        // position 0 attends to nothing; later positions read rounded keys and values
        assert_eq!(a[..n], b[..n]);
        assert_ne!(a, b);
        let worst = largest_difference(&a, &b);
        assert!(worst < 1e-2, "{worst}");
    }

    fn batch_composition(kv: KvCache) {
        let engine = Engine::new(&Weights::random(&Config::tiny(), 4).with_kv_cache(kv));
        let (h, w) = (4, 7);
        let tiles: Vec<Vec<u8>> = (0..6).map(|s| pixels(h * w, 10 + s)).collect();
        let alone: Vec<Vec<f32>> = tiles.iter().map(|t| engine.forward_tile(t, h, w)).collect();
        let mut s = engine.session(6, h, w);
        let n = engine.config().output_size();
        for p in 0..h * w {
            let out = s.predict().to_vec();
            for (t, want) in alone.iter().enumerate() {
                let got = &out[t * n..(t + 1) * n];
                let same = got
                    .iter()
                    .zip(&want[p * n..(p + 1) * n])
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "tile {t} position {p} ({kv:?} cache)");
            }
            let px: Vec<[u8; 3]> = tiles
                .iter()
                .map(|t| [t[p * 3], t[p * 3 + 1], t[p * 3 + 2]])
                .collect();
            s.advance(&px);
        }
    }
}
