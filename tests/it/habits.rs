//! Issue 13: what gzip, zstd and cjxl users expect of the command line, and that no flag
//! combination loses an input.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use snailzip::{ColorType, Image};

use super::cli::{files, setup};
use super::run::{fails, ok, run as snailzip};
use super::util::{cmyk_tiff, png_chunk_list, png_with_chunks, png_with_metadata, structured};

const M: [&str; 3] = ["--model", "tiny.safetensors", "-q"];

fn with(args: &[&str], extra: &[&str]) -> Vec<String> {
    args.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn pixels(path: &Path) -> Image {
    Image::decode(&std::fs::read(path).unwrap(), 1 << 24).unwrap()
}

fn add_image(d: &Path, name: &str, seed: u64) {
    let img = structured(20 + seed as usize, 12, ColorType::Rgb, seed);
    if let Some(parent) = Path::new(name).parent() {
        std::fs::create_dir_all(d.join(parent)).unwrap();
    }
    std::fs::write(d.join(name), img.to_png().unwrap()).unwrap();
}

#[test]
fn force_never_writes_onto_an_input() {
    let dir = setup();
    let d = dir.path();
    let png = std::fs::read(d.join("in.png")).unwrap();
    // `-f x.png x.png`: the same input twice
    let err = fails(d, &strs(&with(&["compress", "-f", "in.png", "in.png"], &M)));
    assert!(err.contains("given twice"), "{err}");
    // output named as the input, by any spelling or link
    std::fs::hard_link(d.join("in.png"), d.join("hard.png")).unwrap();
    std::os::unix::fs::symlink("in.png", d.join("sym.png")).unwrap();
    for target in ["in.png", "./in.png", "hard.png", "sym.png"] {
        let err = fails(
            d,
            &strs(&with(&["compress", "-f", "in.png", "-o", target], &M)),
        );
        assert!(err.contains("one of the inputs"), "{target}: {err}");
    }
    assert_eq!(std::fs::read(d.join("in.png")).unwrap(), png);
    // decompressing onto the .snz being read
    ok(d, &strs(&with(&["compress", "in.png"], &M)));
    let snz = std::fs::read(d.join("in.png.snz")).unwrap();
    let err = fails(
        d,
        &strs(&with(
            &["decompress", "-f", "in.png.snz", "-o", "in.png.snz"],
            &M,
        )),
    );
    assert!(err.contains("one of the inputs"), "{err}");
    assert_eq!(std::fs::read(d.join("in.png.snz")).unwrap(), snz);
    // `compress -f a.png b.png` compresses both; b.png is an input, not an output
    add_image(d, "b.png", 2);
    let b = std::fs::read(d.join("b.png")).unwrap();
    ok(d, &strs(&with(&["compress", "-f", "in.png", "b.png"], &M)));
    assert_eq!(std::fs::read(d.join("b.png")).unwrap(), b);
    assert_eq!(pixels(&d.join("in.png")), pixels(&d.join("in.png")));
    assert!(d.join("b.png.snz").exists());
}

#[test]
fn several_inputs_are_coded_next_to_themselves_with_a_summary() {
    let dir = setup();
    let d = dir.path();
    add_image(d, "a.png", 1);
    add_image(d, "b.png", 2);
    // effort 0, so that the files need the model (the random tiny model loses to the adaptive
    // stage alone on these small images)
    let err = ok(
        d,
        &[
            "compress",
            "a.png",
            "b.png",
            "--model",
            "tiny.safetensors",
            "-e",
            "0",
        ],
    );
    assert!(err.contains("compressed 2 of 2 files"), "{err}");
    assert!(err.contains("bits/subpixel"), "{err}");
    assert!(d.join("a.png.snz").exists() && d.join("b.png.snz").exists());
    // issue 18: an existing output is reported and skipped, the rest are coded, and the
    // exit status says so (as zstd does; gzip asks)
    std::fs::remove_file(d.join("b.png.snz")).unwrap();
    let kept = std::fs::read(d.join("a.png.snz")).unwrap();
    std::fs::write(d.join("a.png.snz"), b"not overwritten").unwrap();
    let err = fails(
        d,
        &["compress", "a.png", "b.png", "--model", "tiny.safetensors"],
    );
    assert!(err.contains("a.png.snz already exists"), "{err}");
    assert!(err.contains("compressed 1 of 2 files"), "{err}");
    assert_eq!(
        std::fs::read(d.join("a.png.snz")).unwrap(),
        b"not overwritten"
    );
    assert!(
        d.join("b.png.snz").exists(),
        "the other input was not compressed"
    );
    std::fs::write(d.join("a.png.snz"), kept).unwrap();
    // one input: its existing output is the command's one error, before any work
    let err = fails(d, &strs(&with(&["compress", "b.png"], &M)));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("b.png.snz already exists"), "{err}");
    std::fs::remove_file(d.join("b.png.snz")).unwrap();
    // decompress both back next to themselves (into a folder, as a.png exists here)
    std::fs::create_dir(d.join("x")).unwrap();
    std::fs::rename(d.join("a.png.snz"), d.join("x/a.png.snz")).unwrap();
    ok(d, &strs(&with(&["compress", "b.png"], &M)));
    std::fs::rename(d.join("b.png.snz"), d.join("x/b.png.snz")).unwrap();
    let err = ok(
        d,
        &[
            "-d",
            "x/a.png.snz",
            "x/b.png.snz",
            "--model",
            "tiny.safetensors",
            "-v",
        ],
    );
    assert!(err.contains("decompressed 2 of 2 files"), "{err}");
    // -v: one line per file with name, size, bits/subpixel, time and model
    let line = err
        .lines()
        .find(|l| l.contains("x/a.png.snz ->"))
        .expect(&err);
    assert!(
        line.contains("bits/subpixel") && line.contains(" s [model tiny.safetensors]"),
        "{line}"
    );
    assert_eq!(pixels(&d.join("x/a.png")), pixels(&d.join("a.png")));
    assert_eq!(pixels(&d.join("x/b.png")), pixels(&d.join("b.png")));
}

#[test]
fn stdout_flag_and_terminal_refusal() {
    let dir = setup();
    let d = dir.path();
    ok(
        d,
        &strs(&with(&["compress", "in.png", "-o", "ref.snz"], &M)),
    );
    let out = snailzip(d, &strs(&with(&["compress", "-c", "in.png"], &M)));
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(d.join("ref.snz")).unwrap());
    assert!(!d.join("in.png.snz").exists(), "-c wrote a file");
    let out = snailzip(d, &strs(&with(&["-dc", "ref.snz"], &M)));
    assert!(out.status.success());
    assert_eq!(
        Image::decode(&out.stdout, 1 << 20).unwrap(),
        pixels(&d.join("in.png"))
    );
    let err = fails(
        d,
        &strs(&with(&["compress", "-c", "in.png", "ref.snz", "-f"], &M)),
    );
    assert!(err.contains("one input"), "{err}");
    // a terminal on stdout (or stdin) is refused; `script` gives the command a terminal
    if Command::new("script").arg("--version").output().is_ok() {
        let bin = env!("CARGO_BIN_EXE_snailzip");
        for (cmd, needle) in [
            (
                format!("{bin} compress -c in.png --model tiny.safetensors"),
                "to a terminal",
            ),
            (
                format!("{bin} compress - --model tiny.safetensors"),
                "standard input is a terminal",
            ),
            (
                format!("{bin} -d - --model tiny.safetensors"),
                "standard input is a terminal",
            ),
        ] {
            let out = Command::new("script")
                .args(["-qec", &cmd, "/dev/null"])
                .current_dir(d)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(needle), "{cmd}: {text}");
            assert!(!out.status.success(), "{cmd}");
        }
    }
}

#[test]
fn test_flag_verifies_and_writes_nothing() {
    let dir = setup();
    let d = dir.path();
    ok(d, &strs(&with(&["compress", "in.png"], &M)));
    let before = files(d);
    let err = ok(d, &["-t", "in.png.snz", "--model", "tiny.safetensors"]);
    assert!(err.contains("in.png.snz: OK"), "{err}");
    ok(
        d,
        &[
            "decompress",
            "--test",
            "in.png.snz",
            "--model",
            "tiny.safetensors",
        ],
    );
    assert_eq!(files(d), before);
    let mut bad = std::fs::read(d.join("in.png.snz")).unwrap();
    bad.push(b'\n');
    std::fs::write(d.join("bad.snz"), &bad).unwrap();
    let before = files(d);
    let err = fails(d, &strs(&with(&["-t", "bad.snz", "in.png.snz"], &M)));
    assert!(err.contains("after the end of the image"), "{err}");
    assert!(err.contains("1 of 2 files failed"), "{err}");
    assert_eq!(files(d), before);
}

#[test]
fn keep_is_the_default_and_rm_removes_only_after_writing() {
    let dir = setup();
    let d = dir.path();
    ok(d, &strs(&with(&["compress", "-k", "in.png"], &M)));
    assert!(d.join("in.png").exists());
    std::fs::remove_file(d.join("in.png.snz")).unwrap();
    let png = std::fs::read(d.join("in.png")).unwrap();
    ok(d, &strs(&with(&["compress", "--rm", "in.png"], &M)));
    assert!(!d.join("in.png").exists());
    ok(d, &strs(&with(&["-d", "--rm", "in.png.snz"], &M)));
    assert!(!d.join("in.png.snz").exists());
    assert_eq!(
        pixels(&d.join("in.png")),
        Image::decode(&png, 1 << 20).unwrap()
    );
    let err = fails(d, &strs(&with(&["compress", "--rm", "-c", "in.png"], &M)));
    assert!(err.contains("--rm"), "{err}");
    assert!(d.join("in.png").exists());
    // a failed file is never removed
    std::fs::write(d.join("broken.png"), b"not a png").unwrap();
    fails(d, &strs(&with(&["compress", "--rm", "broken.png"], &M)));
    assert!(d.join("broken.png").exists());
}

#[test]
fn folders_need_r_for_subfolders_and_mirror_into_o() {
    let dir = setup();
    let d = dir.path();
    add_image(d, "imgs/a.png", 1);
    add_image(d, "imgs/sub/b.png", 2);
    let out = snailzip(d, &["compress", "imgs", "--model", "tiny.safetensors"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipping folder imgs/sub (use -r"), "{err}");
    assert!(d.join("imgs/a.png.snz").exists());
    assert!(!d.join("imgs/sub/b.png.snz").exists());
    std::fs::remove_file(d.join("imgs/a.png.snz")).unwrap();
    ok(d, &strs(&with(&["compress", "-r", "imgs"], &M)));
    assert!(d.join("imgs/a.png.snz").exists() && d.join("imgs/sub/b.png.snz").exists());
    ok(
        d,
        &strs(&with(&["decompress", "-r", "imgs", "-o", "back"], &M)),
    );
    assert_eq!(
        pixels(&d.join("back/sub/b.png")),
        pixels(&d.join("imgs/sub/b.png"))
    );
    assert_eq!(pixels(&d.join("back/a.png")), pixels(&d.join("imgs/a.png")));
}

#[test]
fn unwritable_output_is_reported_before_encoding() {
    let dir = setup();
    let d = dir.path();
    // an image big enough that encoding it would take a while
    let big = structured(256, 256, ColorType::Rgb, 3);
    std::fs::write(d.join("big.png"), big.to_png().unwrap()).unwrap();
    let before = files(d);
    for target in ["missing/folder/big.snz", "in.png/big.snz"] {
        let start = Instant::now();
        let err = fails(d, &strs(&with(&["compress", "big.png", "-o", target], &M)));
        assert!(err.contains("cannot write"), "{target}: {err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    assert_eq!(files(d), before, "temporary files left behind");
}

#[test]
fn apng_and_cmyk_are_refused_and_leave_nothing() {
    let dir = setup();
    let d = dir.path();
    let png = std::fs::read(d.join("in.png")).unwrap();
    std::fs::write(
        d.join("anim.png"),
        png_with_chunks(&png, &[(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0])], &[]),
    )
    .unwrap();
    std::fs::write(d.join("cmyk.tif"), cmyk_tiff()).unwrap();
    let before = files(d);
    let err = fails(d, &strs(&with(&["compress", "anim.png"], &M)));
    assert!(err.contains("animated PNG"), "{err}");
    let err = fails(d, &strs(&with(&["compress", "cmyk.tif"], &M)));
    assert!(err.contains("CMYK"), "{err}");
    assert_eq!(files(d), before);
}

#[test]
fn metadata_is_restored_byte_exact_unless_stripped() {
    let dir = setup();
    let d = dir.path();
    let img = structured(30, 20, ColorType::Rgba, 5);
    let png = png_with_metadata(&img);
    std::fs::write(d.join("m.png"), &png).unwrap();
    let out = snailzip(d, &["compress", "m.png", "--model", "tiny.safetensors"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // what is not kept is said
    assert!(err.contains("not kept: bKGD chunk"), "{err}");
    let info = snailzip(d, &["info", "m.png.snz", "--model", "tiny.safetensors"]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("version 7") && text.contains("iCCP"),
        "{text}"
    );
    ok(d, &strs(&with(&["-d", "m.png.snz", "-o", "back.png"], &M)));
    let kept = |p: &[u8]| -> Vec<([u8; 4], Vec<u8>)> {
        png_chunk_list(p)
            .into_iter()
            .filter(|(k, _)| !matches!(k, b"IDAT" | b"IHDR" | b"bKGD"))
            .collect()
    };
    let back = std::fs::read(d.join("back.png")).unwrap();
    assert_eq!(kept(&back), kept(&png));
    assert_eq!(pixels(&d.join("back.png")), img);
    // --strip on decompress restores none; on compress stores none (a version 2 file)
    ok(
        d,
        &strs(&with(&["-d", "--strip", "m.png.snz", "-o", "bare.png"], &M)),
    );
    assert!(kept(&std::fs::read(d.join("bare.png")).unwrap()).len() == 1); // IEND
    ok(
        d,
        &strs(&with(&["compress", "--strip", "m.png", "-o", "s.snz"], &M)),
    );
    std::fs::write(d.join("plain.png"), img.to_png().unwrap()).unwrap();
    ok(
        d,
        &strs(&with(&["compress", "plain.png", "-o", "p.snz"], &M)),
    );
    assert_eq!(
        std::fs::read(d.join("s.snz")).unwrap(),
        std::fs::read(d.join("p.snz")).unwrap()
    );
}

#[test]
fn max_pixels_is_named_in_the_message() {
    let dir = setup();
    let d = dir.path();
    let err = fails(
        d,
        &strs(&with(&["compress", "in.png", "--max-pixels", "100"], &M)),
    );
    assert!(err.contains("--max-pixels"), "{err}");
    ok(d, &strs(&with(&["compress", "in.png"], &M)));
    let err = fails(
        d,
        &strs(&with(&["-t", "in.png.snz", "--max-pixels", "1664"], &M)),
    );
    assert!(
        err.contains("--max-pixels") && err.contains("1665 pixels"),
        "{err}"
    );
    ok(
        d,
        &strs(&with(&["-t", "in.png.snz", "--max-pixels", "1665"], &M)),
    );
}

#[test]
fn info_takes_many_files_and_flags_show_only_where_they_act() {
    let dir = setup();
    let d = dir.path();
    add_image(d, "b.png", 2);
    ok(d, &strs(&with(&["compress", "in.png", "b.png"], &M)));
    let out = snailzip(
        d,
        &[
            "info",
            "in.png.snz",
            "b.png.snz",
            "--model",
            "tiny.safetensors",
        ],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("file:").count(), 2, "{text}");
    assert!(text.contains("45×37") && text.contains("22×12"), "{text}");
    let out = snailzip(d, &["info", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        !help.contains("--threads") && !help.contains("--quiet"),
        "{help}"
    );
    fails(d, &["info", "-j", "2"]);
    fails(d, &["-j", "2", "info"]);
    let out = snailzip(d, &["compress", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--stdout",
        "--rm",
        "--keep",
        "--recursive",
        "--verbose",
        "--strip",
        "--max-pixels",
        "--threads",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}
