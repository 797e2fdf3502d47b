//! Fused ops against naive references (forward) and finite differences (backward), plus
//! whole-network gradient and causality checks.

use super::ops::{fast_exp, ConvGeom, Graph, Param, Var};
use super::*;
use crate::weights::SplitMix64;

fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = SplitMix64(seed);
    (0..n)
        .map(|_| ((r.next_f64() * 2.0 - 1.0) as f32) * scale)
        .collect()
}

type OpFn<'a> = dyn Fn(&mut Graph, &[Var], &[Param]) -> Var + 'a;

/// Checks the gradients of `Σ R ∘ f(inputs, params)` against central differences.
fn gradcheck(inputs: &[(Vec<f32>, usize, usize)], params: &[Vec<f32>], f: &OpFn<'_>) {
    let seed_len = {
        let mut g = Graph::new(false);
        let xs: Vec<Var> = inputs
            .iter()
            .map(|(d, r, c)| g.input(d.clone(), *r, *c))
            .collect();
        let ps: Vec<Param> = params
            .iter()
            .map(|p| Param::new(g.device(), p.clone()))
            .collect();
        f(&mut g, &xs, &ps).data().len()
    };
    let weights = random(seed_len, 99, 1.0);
    let objective = |inputs: &[(Vec<f32>, usize, usize)], params: &[Vec<f32>]| -> f64 {
        let mut g = Graph::new(false);
        let xs: Vec<Var> = inputs
            .iter()
            .map(|(d, r, c)| g.input(d.clone(), *r, *c))
            .collect();
        let ps: Vec<Param> = params
            .iter()
            .map(|p| Param::new(g.device(), p.clone()))
            .collect();
        let y = f(&mut g, &xs, &ps);
        y.data()
            .iter()
            .zip(&weights)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum()
    };
    let mut g = Graph::new(true);
    let xs: Vec<Var> = inputs
        .iter()
        .map(|(d, r, c)| g.input(d.clone(), *r, *c))
        .collect();
    let ps: Vec<Param> = params
        .iter()
        .map(|p| Param::new(g.device(), p.clone()))
        .collect();
    let y = f(&mut g, &xs, &ps);
    let mut grads = g.backward_from(&y, weights.clone()).unwrap();
    let eps = 1e-2f32;
    let mut checked = 0;
    for t in 0..inputs.len() + params.len() {
        let analytic = if t < inputs.len() {
            xs[t].key.take(&mut grads).unwrap()
        } else {
            ps[t - inputs.len()].key.take(&mut grads).unwrap()
        };
        let len = analytic.len();
        let picks: Vec<usize> = (0..len).step_by((len / 25).max(1)).collect();
        for i in picks {
            let (mut a, mut b) = (inputs.to_vec(), params.to_vec());
            let (mut c, mut d) = (inputs.to_vec(), params.to_vec());
            if t < inputs.len() {
                a[t].0[i] += eps;
                c[t].0[i] -= eps;
            } else {
                b[t - inputs.len()][i] += eps;
                d[t - inputs.len()][i] -= eps;
            }
            let numeric = (objective(&a, &b) - objective(&c, &d)) / (2.0 * f64::from(eps));
            let an = f64::from(analytic[i]);
            assert!(
                (an - numeric).abs() <= 2e-3 + 2e-2 * an.abs(),
                "tensor {t} element {i}: analytic {an} vs numeric {numeric}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// Direct evaluation of the conv contract of `crate::config`.
#[allow(clippy::too_many_arguments)]
fn naive_conv(
    x: &[f32],
    (n, h, w): (usize, usize, usize),
    cin: usize,
    weight: &[f32],
    bias: &[f32],
    out_c: usize,
    g: ConvGeom,
    elu_in: bool,
) -> Vec<f32> {
    let mut out = vec![0f32; n * h * w * out_c];
    for b in 0..n {
        for i in 0..h {
            for j in 0..w {
                for o in 0..out_c {
                    let mut acc = if i >= g.bias_row && j >= g.bias_col {
                        bias[o]
                    } else {
                        0.0
                    };
                    for c in 0..cin {
                        for dy in 0..g.kh {
                            for dx in 0..g.kw {
                                let si = i as isize + g.oy + dy as isize;
                                let sj = j as isize + g.ox + dx as isize;
                                if si < 0 || sj < 0 || si >= h as isize || sj >= w as isize {
                                    continue;
                                }
                                let mut v = x[((b * h + si as usize) * w + sj as usize) * cin + c];
                                if elu_in && v <= 0.0 {
                                    v = v.exp() - 1.0;
                                }
                                acc += weight[((o * cin + c) * g.kh + dy) * g.kw + dx] * v;
                            }
                        }
                    }
                    out[((b * h + i) * w + j) * out_c + o] = acc;
                }
            }
        }
    }
    out
}

const GEOMS: [ConvGeom; 4] = [
    ConvGeom::DENSE,
    ConvGeom::DOWN_1X3,
    ConvGeom::RIGHT_2X1,
    ConvGeom::DOWN_RIGHT_2X2,
];

#[test]
fn conv_matches_naive_and_finite_differences() {
    let geom = (2, 4, 5);
    let (cin, out_c) = (3, 4);
    let rows = 2 * 4 * 5;
    for g in GEOMS {
        for elu_in in [false, true] {
            let x = random(rows * cin, 1, 1.0);
            let w = random(out_c * cin * g.kh * g.kw, 2, 0.7);
            let b = random(out_c, 3, 0.5);
            let mut graph = Graph::new(false);
            let xv = graph.constant(x.clone(), rows, cin);
            let (wp, bp) = (
                Param::new(graph.device(), w.clone()),
                Param::new(graph.device(), b.clone()),
            );
            let y = graph.conv(&xv, geom, &wp, Some(&bp), g, elu_in);
            let want = naive_conv(&x, geom, cin, &w, &b, out_c, g, elu_in);
            for (a, b) in y.data().iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{g:?} elu {elu_in}: {a} vs {b}");
            }
            gradcheck(&[(x, rows, cin)], &[w, b], &|gr, xs, ps| {
                gr.conv(&xs[0], geom, &ps[0], Some(&ps[1]), g, elu_in)
            });
        }
    }
}

#[test]
fn elementwise_ops_finite_differences() {
    let (rows, c) = (37, 6);
    let a = random(rows * c, 4, 1.5);
    let b = random(rows * 2 * c, 5, 1.5);
    let b2 = random(rows * c, 6, 1.5);
    gradcheck(&[(a.clone(), rows, c)], &[], &|g, xs, _| g.elu(&xs[0]));
    gradcheck(
        &[(a.clone(), rows, c), (b.clone(), rows, 2 * c)],
        &[],
        &|g, xs, _| g.gate(&xs[0], &xs[1]),
    );
    gradcheck(
        &[(a.clone(), rows, c), (b2.clone(), rows, c)],
        &[],
        &|g, xs, _| g.add(&xs[0], &xs[1]),
    );
    gradcheck(
        &[
            (a.clone(), rows, c),
            (b.clone(), rows, 2 * c),
            (b2, rows, c),
        ],
        &[],
        &|g, xs, _| g.concat(&[&xs[0], &xs[1], &xs[2]]),
    );
    // gate forward against the formula
    let mut g = Graph::new(false);
    let (u, cc) = (
        g.constant(a.clone(), rows, c),
        g.constant(b.clone(), rows, 2 * c),
    );
    let y = g.gate(&u, &cc);
    for r in 0..rows {
        for i in 0..c {
            let want = a[r * c + i] + b[r * 2 * c + i] / (1.0 + (-b[r * 2 * c + c + i]).exp());
            assert!((y.data()[r * c + i] - want).abs() < 1e-5);
        }
    }
}

#[test]
fn dropout_masks_and_scales() {
    let x = random(1000, 7, 1.0);
    let mut g = Graph::new(true);
    let v = g.input(x.clone(), 100, 10);
    let y = g.dropout(&v, 0.5, 11);
    let zeros = y.data().iter().filter(|v| **v == 0.0).count();
    assert!((350..650).contains(&zeros), "{zeros}");
    for (a, b) in y.data().iter().zip(&x) {
        assert!(*a == 0.0 || (a - 2.0 * b).abs() < 1e-6);
    }
    // the gradient is the mask (finite differences cannot see dropout: it is off in
    // non-recording graphs)
    let mut grads = g.backward_from(&y, vec![1.0; 1000]).unwrap();
    let dx = v.key.take(&mut grads).unwrap();
    for (d, y) in dx.iter().zip(y.data()) {
        assert_eq!(*d, if *y == 0.0 { 0.0 } else { 2.0 });
    }
}

fn naive_attention(q: &[f32], k: &[f32], v: &[f32], l: usize, dk: usize, dv: usize) -> Vec<f32> {
    let mut out = vec![0f32; l * dv];
    for i in 1..l {
        let logits: Vec<f64> = (0..i)
            .map(|j| {
                (0..dk)
                    .map(|d| f64::from(q[i * dk + d]) * f64::from(k[j * dk + d]))
                    .sum::<f64>()
                    / (dk as f64).sqrt()
            })
            .collect();
        let mx = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = logits.iter().map(|s| (s - mx).exp()).sum();
        for d in 0..dv {
            out[i * dv + d] = (0..i)
                .map(|j| (logits[j] - mx).exp() / z * f64::from(v[j * dv + d]))
                .sum::<f64>() as f32;
        }
    }
    out
}

#[test]
fn attention_matches_naive_and_finite_differences() {
    // two images of 150 positions: crosses the 128-row block boundary
    let (b, l, dk, dv) = (2, 150, 4, 5);
    let q = random(b * l * dk, 8, 1.5);
    let k = random(b * l * dk, 9, 1.5);
    let v = random(b * l * dv, 10, 1.0);
    let mut g = Graph::new(false);
    let (qv, kv, vv) = (
        g.constant(q.clone(), b * l, dk),
        g.constant(k.clone(), b * l, dk),
        g.constant(v.clone(), b * l, dv),
    );
    let y = g.attention(&qv, &kv, &vv, b);
    for img in 0..b {
        let want = naive_attention(
            &q[img * l * dk..],
            &k[img * l * dk..],
            &v[img * l * dv..],
            l,
            dk,
            dv,
        );
        for (a, w) in y.data()[img * l * dv..(img + 1) * l * dv].iter().zip(&want) {
            assert!((a - w).abs() < 1e-5, "{a} vs {w}");
        }
    }
    gradcheck(
        &[(q, b * l, dk), (k, b * l, dk), (v, b * l, dv)],
        &[],
        &|g, xs, _| g.attention(&xs[0], &xs[1], &xs[2], b),
    );
}

#[test]
fn fast_exp_is_accurate() {
    for i in -600..=800 {
        let x = i as f32 * 0.1;
        let (a, b) = (fast_exp(x), x.exp());
        assert!(
            (a - b).abs() <= 4e-7 * (1.0 + x.abs()) * b,
            "{x}: {a} vs {b}"
        );
    }
}

#[test]
fn mixture_gradient_matches_finite_differences() {
    let k = 3;
    let cases: [[u8; 3]; 5] = [
        [0, 128, 255],
        [255, 0, 17],
        [40, 41, 200],
        [128, 128, 128],
        [3, 250, 90],
    ];
    for (ci, v) in cases.iter().enumerate() {
        let mut l = random(10 * k, 20 + ci as u64, 1.0);
        if ci == 3 {
            // tiny scales far from the value: the small-probability branch
            for c in 0..3 {
                for j in 0..k {
                    l[4 * k + c * k + j] = -6.5;
                    l[k + c * k + j] = 0.9;
                }
            }
        }
        let mut grad = vec![0f32; 10 * k];
        let nll = pixel_nll(&l, *v, k, Some(&mut grad));
        assert!(nll.is_finite() && nll > 0.0);
        for i in 0..10 * k {
            let eps = 1e-4f32;
            let (mut a, mut b) = (l.clone(), l.clone());
            a[i] += eps;
            b[i] -= eps;
            let num =
                (pixel_nll(&a, *v, k, None) - pixel_nll(&b, *v, k, None)) / f64::from(a[i] - b[i]);
            let an = f64::from(grad[i]);
            assert!(
                (an - num).abs() <= 1e-4 + 1e-3 * an.abs(),
                "case {ci} param {i}: {an} vs {num}"
            );
        }
    }
}

fn random_images(n: usize, seed: u64) -> Vec<u8> {
    let mut r = SplitMix64(seed);
    (0..n * TILE * TILE * 3)
        .map(|_| (r.next_u64() >> 56) as u8)
        .collect()
}

#[test]
fn network_gradients_match_finite_differences() {
    let weights = Weights::random(&Config::tiny(), 5);
    let images = random_images(2, 6);
    let net = Network::new(&weights);
    let mut g = Graph::new(true);
    let loss = net.loss(&mut g, &images, 2, 0);
    let mut grads = g.backward(&loss).unwrap();
    let base: Vec<Vec<f32>> = net.params().iter().map(|p| p.value().to_vec()).collect();
    let eval = |values: &[Vec<f32>]| -> f64 {
        let mut n = net.clone();
        n.set_values(values).unwrap();
        let mut g = Graph::new(false);
        f64::from(n.loss(&mut g, &images, 2, 0).data()[0])
    };
    for (t, p) in net.params().iter().enumerate() {
        let analytic = p.key.take(&mut grads).unwrap();
        assert_eq!(analytic.len(), base[t].len());
        // the two largest entries of each tensor
        let mut order: Vec<usize> = (0..analytic.len()).collect();
        order.sort_by(|a, b| analytic[*b].abs().total_cmp(&analytic[*a].abs()));
        for &i in order.iter().take(2) {
            let eps = 2e-2f32;
            let (mut a, mut b) = (base.clone(), base.clone());
            a[t][i] += eps;
            b[t][i] -= eps;
            let num = (eval(&a) - eval(&b)) / f64::from(2.0 * eps);
            let an = f64::from(analytic[i]);
            assert!(
                (an - num).abs() <= 5e-4 + 5e-2 * an.abs(),
                "{} [{i}]: analytic {an} vs numeric {num}",
                net.names()[t]
            );
        }
    }
}

#[test]
fn outputs_depend_only_on_earlier_pixels() {
    let weights = Weights::random(&Config::tiny(), 3);
    let image = random_images(1, 4);
    let out = forward_params(&weights, &image, 1).unwrap();
    let width = Config::tiny().output_size();
    for p in [0usize, 1, 5, 31, 32, 33, 200, 1022] {
        let mut changed = image.clone();
        let noise = random_images(1, 100 + p as u64);
        changed[p * 3..].copy_from_slice(&noise[p * 3..]);
        let out2 = forward_params(&weights, &changed, 1).unwrap();
        assert_eq!(
            out[..(p + 1) * width],
            out2[..(p + 1) * width],
            "output at positions <= {p} changed"
        );
        assert_ne!(
            out[(p + 1) * width..(p + 2) * width],
            out2[(p + 1) * width..(p + 2) * width],
            "output at {} ignores pixel {p}",
            p + 1
        );
    }
}

#[test]
fn forward_params_layout_and_batching() {
    let weights = Weights::random(&Config::tiny(), 8);
    let images = random_images(3, 9);
    let all = forward_params(&weights, &images, 3).unwrap();
    let one = forward_params(&weights, &images[TILE * TILE * 3..2 * TILE * TILE * 3], 1).unwrap();
    let per = TILE * TILE * Config::tiny().output_size();
    assert_eq!(all.len(), 3 * per);
    for (a, b) in all[per..2 * per].iter().zip(&one) {
        assert!((a - b).abs() < 1e-5);
    }
    assert!(forward_params(&weights, &images[1..], 3).is_err());
}
