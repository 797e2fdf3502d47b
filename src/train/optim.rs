//! Adam with exponential learning-rate decay, and Polyak (EMA) averaging of the weights.
//!
//! The update is dfdx's `Adam` formula (bias-corrected moments, `ε` outside the square root).
//! It is written out here, over the trainer's own buffers, because dfdx 0.13 keeps its Adam
//! moments private (they could not be checkpointed) and its optimizers need const-shaped
//! modules, while our shapes come from a runtime [`crate::Config`].

use rayon::prelude::*;

use crate::model::Network;

/// Adam's hyperparameters and state.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Base learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
    /// Learning rate multiplier per step.
    pub lr_decay: f64,
    /// Extra multiplier of the schedule (a cool-down sets it each step; not checkpointed).
    pub scale: f32,
    /// Steps taken.
    pub t: u64,
    /// First moments, one per tensor.
    pub m: Vec<Vec<f32>>,
    /// Second moments, one per tensor.
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// Fresh state for `net`.
    pub fn new(net: &Network, lr: f32) -> Adam {
        let zeros: Vec<Vec<f32>> = net
            .params()
            .iter()
            .map(|p| vec![0.0; p.value().len()])
            .collect();
        Adam {
            lr,
            beta1: 0.95,
            beta2: 0.9995,
            eps: 1e-8,
            lr_decay: 0.999_998,
            scale: 1.0,
            t: 0,
            m: zeros.clone(),
            v: zeros,
        }
    }

    /// The learning rate of the next step.
    pub fn current_lr(&self) -> f32 {
        (f64::from(self.lr) * f64::from(self.scale) * self.lr_decay.powf(self.t as f64)) as f32
    }

    /// One update of every parameter of `net` with `grads` (canonical order).
    pub fn step(&mut self, net: &mut Network, grads: &[Vec<f32>]) {
        let lr = self.current_lr();
        self.t += 1;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let c1 = 1.0 - b1.powi(self.t.min(i32::MAX as u64) as i32);
        let c2 = 1.0 - b2.powi(self.t.min(i32::MAX as u64) as i32);
        for (i, g) in grads.iter().enumerate() {
            let p = net.value_mut(i);
            p.par_iter_mut()
                .zip(self.m[i].par_iter_mut())
                .zip(self.v[i].par_iter_mut())
                .zip(g.par_iter())
                .with_min_len(4096)
                .for_each(|(((p, m), v), g)| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                });
        }
    }
}

/// Polyak averaging with warm-up: `decay_t = min(decay, (1 + t) / (10 + t))`, so that early
/// evaluations are not dominated by the random initialization.
#[derive(Clone, Debug)]
pub struct Ema {
    /// Target decay.
    pub decay: f32,
    /// Updates so far.
    pub updates: u64,
    /// The averaged values, canonical order.
    pub values: Vec<Vec<f32>>,
}

impl Ema {
    /// Starts at the current values of `net`.
    pub fn new(net: &Network, decay: f32) -> Ema {
        Ema {
            decay,
            updates: 0,
            values: net.params().iter().map(|p| p.value().to_vec()).collect(),
        }
    }

    /// Folds the current values of `net` in.
    pub fn update(&mut self, net: &Network) {
        let t = self.updates as f32;
        let d = self.decay.min((1.0 + t) / (10.0 + t));
        self.updates += 1;
        for (e, p) in self.values.iter_mut().zip(net.params()) {
            for (e, p) in e.iter_mut().zip(p.value()) {
                *e = d * *e + (1.0 - d) * p;
            }
        }
    }
}
