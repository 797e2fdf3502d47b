//! CLI-level trainer test: a few steps of the tiny config on 64 CIFAR-10 images, exported as
//! a model that `Weights::load` accepts, then resumed.
#![cfg(feature = "train")]

#[path = "support/cli.rs"]
mod run;
#[path = "it/skip.rs"]
mod skip;

#[test]
fn cli_trains_tiny_model_and_resumes() {
    let Some(data) = skip::data_with(
        "cifar-10-batches-bin/data_batch_1.bin",
        "training on CIFAR-10",
    ) else {
        return;
    };
    let data = data.join("cifar-10-batches-bin");
    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let status = run::command()
            .args([
                "train",
                "--dataset",
                "cifar10",
                "--config",
                "tiny",
                "--batch",
                "4",
            ])
            .args([
                "--limit",
                "64",
                "--holdout",
                "16",
                "--eval-every",
                "2",
                "--quiet",
            ])
            .args(["--val-subset", "8", "--final-val", "8"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(out.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    run(&["--steps", "3"]);
    let model = snailzip::Weights::load(&out.path().join("model.safetensors")).unwrap();
    // exported with the f16 key/value cache and fused multiply-adds by default
    let want = snailzip::Config {
        kv_cache: snailzip::config::KvCache::F16,
        mul_add: snailzip::config::MulAdd::Fused,
        ..snailzip::Config::tiny()
    };
    assert_eq!(model.config(), &want);
    assert_eq!(model.metadata()["snailzip.train.steps"], "3");
    for f in ["MODEL_CARD.md", "loss.png", "log.csv", "checkpoint"] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
    // a second run refuses to overwrite, --resume continues to the new step count
    let again = run::command()
        .args([
            "train",
            "--config",
            "tiny",
            "--steps",
            "4",
            "--quiet",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    run(&["--steps", "5", "--resume"]);
    let model = snailzip::Weights::load(&out.path().join("model.safetensors")).unwrap();
    assert_eq!(model.metadata()["snailzip.train.steps"], "5");
    let card = std::fs::read_to_string(out.path().join("MODEL_CARD.md")).unwrap();
    assert!(card.contains("lr 0.001 as last set"), "{card}");
    // --lr on resume replaces the checkpoint's rate (a cool-down), and the card says so
    run(&[
        "--steps",
        "6",
        "--resume",
        "--lr",
        "0.0003",
        "--time-budget",
        "1h",
        "--cool-down",
        "30m",
    ]);
    let card = std::fs::read_to_string(out.path().join("MODEL_CARD.md")).unwrap();
    assert!(card.contains("lr 0.0003 as last set"), "{card}");
    assert!(card.contains("over the last 1800 s"), "{card}");
    // after a cool-down the final validation decides between EMA and raw weights
    let model = snailzip::Weights::load(&out.path().join("model.safetensors")).unwrap();
    let kind = &model.metadata()["snailzip.train.weights"];
    match kind.as_str() {
        "raw" => assert!(
            card.contains("raw (final iterate) weights (after the cool-down"),
            "{card}"
        ),
        "ema" => assert!(card.contains("EMA 0.9995 weights exported"), "{card}"),
        other => panic!("unknown exported weights {other:?}"),
    }
    // the exported model drives the codec through the CLI
    let img = snailzip::Image::new(
        40,
        33,
        snailzip::ColorType::Rgb,
        (0..40 * 33 * 3).map(|i| (i * 7 % 256) as u8).collect(),
    )
    .unwrap();
    std::fs::write(out.path().join("in.png"), img.to_png().unwrap()).unwrap();
    let model_path = out.path().join("model.safetensors");
    for args in [
        ["compress", "in.png", "-o", "in.snz"],
        ["decompress", "in.snz", "-o", "back.png"],
    ] {
        let r = run::command()
            .current_dir(out.path())
            .args(args)
            .arg("--model")
            .arg(&model_path)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let back = std::fs::read(out.path().join("back.png")).unwrap();
    assert_eq!(snailzip::Image::decode(&back, 1 << 20).unwrap(), img);
    for f in ["loss.svg", "MODEL_CARD.md"] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
}

#[test]
fn config_lists_are_parsed_and_checked() {
    let out = tempfile::tempdir().unwrap();
    let train = |config: &str| {
        run::command()
            .args(["train", "--steps", "1", "--quiet", "--config", config])
            .arg("--data-dir")
            .arg(out.path().join("nowhere"))
            .arg("--out")
            .arg(out.path().join("run"))
            .output()
            .unwrap()
    };
    let err = |r: std::process::Output| String::from_utf8_lossy(&r.stderr).into_owned();
    // a complete list gets past config parsing and stops at the missing data
    let full = "channels=16,blocks=1,res_per_block=1,key_size=4,value_size=8,mixtures=2,dropout=0";
    let e = err(train(full));
    assert!(e.contains("cifar-10-binary.tar.gz"), "{e}");
    let e = err(train("channels=16,blocks=1"));
    assert!(e.contains("missing"), "{e}");
    let e = err(train("huge"));
    assert!(e.contains("unknown --config `huge`"), "{e}");
}

#[test]
fn missing_data_explains_how_to_get_it() {
    let out = tempfile::tempdir().unwrap();
    let r = run::command()
        .args(["train", "--config", "tiny", "--steps", "1", "--data-dir"])
        .arg(out.path().join("nowhere"))
        .arg("--out")
        .arg(out.path().join("run"))
        .output()
        .unwrap();
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("cifar-10-binary.tar.gz") && err.contains("c32a1d4a"),
        "{err}"
    );
}

/// Smooth synthetic RGB images (something to learn), written as PNG files named `img_K.png`.
fn write_images(dir: &std::path::Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|k| {
            let (w, h) = (64 + 8 * (k % 3), 48);
            let data: Vec<u8> = (0..w * h)
                .flat_map(|p| {
                    let (x, y) = (p % w, p / w);
                    [(x * 3 + k) as u8, (y * 4) as u8, ((x + y) * 2) as u8]
                })
                .collect();
            let name = format!("img_{k}.png");
            let img = snailzip::Image::new(w, h, snailzip::ColorType::Rgb, data).unwrap();
            std::fs::write(dir.join(&name), img.to_png().unwrap()).unwrap();
            name
        })
        .collect()
}

#[test]
fn cli_trains_on_a_folder_holding_out_whole_images_then_fine_tunes_with_init() {
    let images = tempfile::tempdir().unwrap();
    let names = write_images(images.path(), 20);
    let held: Vec<&String> = names
        .iter()
        .filter(|n| snailzip::train::photos::in_held_out_tenth(n))
        .collect();
    assert!(!held.is_empty() && held.len() < names.len(), "{held:?}");
    let dataset = format!("dir:{}", images.path().display());
    let train = |out: &std::path::Path, extra: &[&str]| {
        let o = run::command()
            .args(["train", "--dataset", &dataset, "--config", "tiny"])
            .args([
                "--batch",
                "4",
                "--steps",
                "3",
                "--eval-every",
                "2",
                "--quiet",
            ])
            .args(["--val-subset", "4", "--final-val", "8"])
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join("MODEL_CARD.md")).unwrap()
    };
    let first = tempfile::tempdir().unwrap();
    let card = train(first.path(), &[]);
    let trained = names.len() - held.len();
    assert!(
        card.contains(&format!("{trained} photos trained on"))
            && card.contains(&format!("{} whole photos held out", held.len())),
        "{card}"
    );
    assert!(card.contains("initialised from: random"), "{card}");
    // a new run from the first run's model: fresh optimizer, warm-up, the source named
    let model = first.path().join("model.safetensors");
    let base = snailzip::Weights::load(&model).unwrap();
    let second = tempfile::tempdir().unwrap();
    let card = train(
        second.path(),
        &["--init", model.to_str().unwrap(), "--warm-up", "2"],
    );
    let id = snailzip::error::hex_id(&base.id());
    assert!(
        card.contains(&format!("(id {id}), fresh Adam state")),
        "{card}"
    );
    assert!(
        card.contains("linear warm-up over the first 2 steps"),
        "{card}"
    );
    let tuned = snailzip::Weights::load(&second.path().join("model.safetensors")).unwrap();
    assert!(tuned.metadata()["snailzip.train.init"].contains(&id));
    assert_ne!(tuned.id(), base.id(), "three steps must move the weights");
    // --init and --resume do not mix; a model of another config is refused
    let o = run::command()
        .args([
            "train",
            "--dataset",
            &dataset,
            "--config",
            "base",
            "--steps",
            "1",
        ])
        .arg("--init")
        .arg(&model)
        .arg("--out")
        .arg(second.path().join("x"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--init"));
}
