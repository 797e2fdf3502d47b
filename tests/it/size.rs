//! Real payload sizes against the model's NLL.

use snailzip::codec::Options;
use snailzip::{Config, Engine, Weights};

use super::util::{cifar_test, round_trip, structured};

/// payload bits <= NLL * 1.005 + 64 bits per tile, for the network alone (effort 0)
fn check_overhead(engine: &Engine, images: &[snailzip::Image]) {
    let (mut payload, mut nll, mut tiles) = (0usize, 0.0f64, 0usize);
    let alone = Options {
        effort: 0,
        ..Options::default()
    };
    for img in images {
        let (_, stats) = round_trip(img, engine, &alone);
        payload += stats.payload_bytes;
        nll += stats.model_bits;
        tiles += stats.tiles;
    }
    let bits = payload as f64 * 8.0;
    let bound = nll * 1.005 + 64.0 * tiles as f64;
    println!("payload {bits} bits, NLL {nll:.1} bits, {tiles} tiles, bound {bound:.1}");
    assert!(
        bits <= bound,
        "payload {bits} bits exceeds {bound:.1} (NLL {nll:.1})"
    );
    // and the coder is not suspiciously better than the model either
    assert!(
        bits >= nll * 0.999,
        "payload {bits} bits below the NLL {nll:.1}"
    );
}

#[test]
fn payload_matches_nll_on_cifar() {
    let Some(images) = cifar_test(40, "payload sizes on CIFAR-10 test images") else {
        return;
    };
    let engine = Engine::new(&Weights::random(&Config::base(), 0));
    check_overhead(&engine, &images[..10]);
    let tiny = Engine::new(&Weights::random(&Config::tiny(), 2));
    check_overhead(&tiny, &images);
}

#[test]
fn payload_matches_nll_on_peaked_images() {
    // sharply predictable content: a tiny model trained on nothing still gets low-entropy
    // regions right only through the quantization floor; the bound must hold regardless
    let tiny = Engine::new(&Weights::random(&Config::tiny(), 3));
    let imgs: Vec<_> = (0..4)
        .map(|s| structured(64, 40, snailzip::ColorType::Rgb, s))
        .collect();
    check_overhead(&tiny, &imgs);
}
