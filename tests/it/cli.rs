//! The `snailzip` binary: files, stdin/stdout, overwrite protection, error exits.

use std::path::Path;

use snailzip::{ColorType, Config, Weights};

use super::run::{run as snailzip, run_with_stdin};
use super::util::structured;

pub fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let img = structured(45, 37, ColorType::Rgb, 8);
    std::fs::write(dir.path().join("in.png"), img.to_png().unwrap()).unwrap();
    Weights::random(&Config::tiny(), 4)
        .save(&dir.path().join("tiny.safetensors"))
        .unwrap();
    Weights::random(&Config::tiny(), 5)
        .save(&dir.path().join("other.safetensors"))
        .unwrap();
    dir
}

pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn compress_decompress_files() {
    let dir = setup();
    let d = dir.path();
    let out = snailzip(
        d,
        // effort 0: the file needs the model (the random tiny one does not pay at effort 2)
        &[
            "compress",
            "in.png",
            "--model",
            "tiny.safetensors",
            "-q",
            "-e",
            "0",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("in.png.snz").exists());
    let out = snailzip(
        d,
        &[
            "decompress",
            "in.png.snz",
            "-o",
            "back.png",
            "--model",
            "tiny.safetensors",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = snailzip::Image::decode(&std::fs::read(d.join("in.png")).unwrap(), 1 << 20).unwrap();
    let b = snailzip::Image::decode(&std::fs::read(d.join("back.png")).unwrap(), 1 << 20).unwrap();
    assert_eq!(a, b);
    // info describes the file and names the model as matching
    let out = snailzip(d, &["info", "in.png.snz", "--model", "tiny.safetensors"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("45×37 RGB") && text.contains("matches"),
        "{text}"
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = setup();
    let d = dir.path();
    let m = ["--model", "tiny.safetensors", "-q"];
    assert!(snailzip(
        d,
        &[&["compress", "in.png", "-o", "out.snz"][..], &m].concat()
    )
    .status
    .success());
    let before = std::fs::read(d.join("out.snz")).unwrap();
    let out = snailzip(
        d,
        &[&["compress", "in.png", "-o", "out.snz"][..], &m].concat(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // decompressing onto the original input is refused too
    let out = snailzip(
        d,
        &[&["decompress", "out.snz", "-o", "in.png"][..], &m].concat(),
    );
    assert!(!out.status.success());
    assert_eq!(std::fs::read(d.join("out.snz")).unwrap(), before);
    let out = snailzip(
        d,
        &[&["compress", "in.png", "-o", "out.snz", "--force"][..], &m].concat(),
    );
    assert!(out.status.success());
}

#[test]
fn stdin_to_stdout() {
    let dir = setup();
    let d = dir.path();
    let png = std::fs::read(d.join("in.png")).unwrap();
    let run = |args: &[&str], input: &[u8]| {
        let out = run_with_stdin(d, args, Some(input));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let snz = run(&["compress", "-", "--model", "tiny.safetensors"], &png);
    assert_eq!(&snz[..3], b"SNZ");
    let back = run(&["decompress", "-", "--model", "tiny.safetensors"], &snz);
    let a = snailzip::Image::decode(&png, 1 << 20).unwrap();
    let b = snailzip::Image::decode(&back, 1 << 20).unwrap();
    assert_eq!(a, b);
    // issue 18: with no file named and a pipe on standard input, it is read (as gzip and
    // zstd do): `cat x.png | snailzip compress -c`, `cat x.snz | snailzip -d -c`
    let piped = run(&["compress", "-c", "--model", "tiny.safetensors"], &png);
    assert_eq!(piped, snz);
    let back = run(&["-dc", "--model", "tiny.safetensors"], &snz);
    assert_eq!(snailzip::Image::decode(&back, 1 << 20).unwrap(), a);
    // without a pipe (here: empty standard input, not a terminal) there is nothing to read
    let err = String::from_utf8_lossy(
        &snailzip(d, &["compress", "-c", "--model", "tiny.safetensors"]).stderr,
    )
    .into_owned();
    assert!(
        err.contains("standard input") || err.contains("cannot read image"),
        "{err}"
    );
}

#[test]
fn bad_inputs_exit_nonzero_without_partial_files() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("garbage.png"), b"this is not a png").unwrap();
    std::fs::write(d.join("garbage.snz"), b"SNZ\x01 truncated").unwrap();
    let m = ["--model", "tiny.safetensors", "-q"];
    assert!(snailzip(
        d,
        &[&["compress", "in.png", "-o", "good.snz", "-e", "0"][..], &m].concat()
    )
    .status
    .success());
    let good = std::fs::read(d.join("good.snz")).unwrap();
    std::fs::write(d.join("cut.snz"), &good[..good.len() / 2]).unwrap();
    let before = files(d);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["compress", "garbage.png", "-o", "x.snz"],
            "cannot read image",
        ),
        (
            vec!["compress", "missing.png", "-o", "x.snz"],
            "missing.png",
        ),
        (
            vec!["decompress", "garbage.snz", "-o", "x.png"],
            "invalid data",
        ),
        (vec!["decompress", "cut.snz", "-o", "x.png"], "cut.snz"),
        (
            vec!["decompress", "in.png", "-o", "x.png"],
            "not a snailzip",
        ),
    ];
    for (args, needle) in cases {
        let out = snailzip(d, &[&args[..], &m].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // wrong model
    let out = snailzip(
        d,
        &[
            "decompress",
            "good.snz",
            "-o",
            "x.png",
            "--model",
            "other.safetensors",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong model"));
    // not a model
    let out = snailzip(
        d,
        &["decompress", "good.snz", "-o", "x.png", "--model", "in.png"],
    );
    assert!(!out.status.success());
    assert_eq!(files(d), before, "a failed command left files behind");
}

#[test]
fn many_files_into_a_folder() {
    let dir = setup();
    let d = dir.path();
    std::fs::create_dir(d.join("imgs")).unwrap();
    for (k, color) in [ColorType::Rgb, ColorType::Gray, ColorType::Rgba]
        .iter()
        .enumerate()
    {
        let img = structured(20 + 7 * k, 32, *color, k as u64);
        std::fs::write(d.join(format!("imgs/i{k}.png")), img.to_png().unwrap()).unwrap();
    }
    std::fs::write(d.join("imgs/broken.png"), b"not a png").unwrap();
    let m = ["--model", "tiny.safetensors", "-q"];
    // one bad file: reported, the others still written, exit status non-zero
    let out = snailzip(
        d,
        &[&["compress", "imgs", "in.png", "-o", "packed"][..], &m].concat(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.png") && err.contains("1 of 5 files failed"),
        "{err}"
    );
    assert_eq!(
        files(&d.join("packed")),
        ["i0.png.snz", "i1.png.snz", "i2.png.snz", "in.png.snz"]
    );
    // the pooled file is byte-identical to a single-file compression
    assert!(snailzip(
        d,
        &[&["compress", "in.png", "-o", "single.snz"][..], &m].concat()
    )
    .status
    .success());
    assert_eq!(
        std::fs::read(d.join("packed/in.png.snz")).unwrap(),
        std::fs::read(d.join("single.snz")).unwrap()
    );
    let out = snailzip(
        d,
        &[&["decompress", "packed", "-o", "back"][..], &m].concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for k in 0..3 {
        let a = std::fs::read(d.join(format!("imgs/i{k}.png"))).unwrap();
        let b = std::fs::read(d.join(format!("back/i{k}.png"))).unwrap();
        assert_eq!(
            snailzip::Image::decode(&a, 1 << 20).unwrap(),
            snailzip::Image::decode(&b, 1 << 20).unwrap()
        );
    }
    // the old `compress IN OUT` spelling is explained, not taken as two inputs
    let out = snailzip(d, &[&["compress", "in.png", "x.snz"][..], &m].concat());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-o x.snz"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !d.join("in.png.snz").exists(),
        "nothing is written on a usage error"
    );
}
