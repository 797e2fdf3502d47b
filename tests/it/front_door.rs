//! Issue 18: one front door, a thin binary, and snailzip inside the Rust image ecosystem;
//! what a new user tripped over, each checked here.

use snailzip::codec::Codec;
use snailzip::{ColorType, Image};

use super::cli::{files, setup};
use super::run::{fails, ok, ok_output, run, stdout};
use super::util::structured;

const M: [&str; 2] = ["--model", "tiny.safetensors"];

fn args<'a>(a: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    a.iter().chain(extra).copied().collect()
}

#[test]
fn bench_and_sample_run_from_the_command_line() {
    let dir = setup();
    let d = dir.path();
    std::fs::create_dir(d.join("corpus")).unwrap();
    for k in 0..2 {
        let img = structured(20 + k, 17, ColorType::Rgb, k as u64);
        std::fs::write(d.join(format!("corpus/{k}.png")), img.to_png().unwrap()).unwrap();
    }
    let o = ok_output(
        d,
        &args(
            &[
                "bench",
                "--corpus",
                "corpus",
                "--codecs",
                "snailzip,png",
                "--json",
                "b.json",
                "-q",
            ],
            &M,
        ),
    );
    let table = stdout(&o);
    assert!(
        table.contains("snailzip") && table.contains("png"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("b.json")).unwrap()).unwrap();
    assert!(json.to_string().contains("snailzip"), "{json}");
    // an unknown codec is refused before any work
    let err = fails(d, &["bench", "--corpus", "corpus", "--codecs", "nosuch"]);
    assert!(err.contains("unknown codec `nosuch`"), "{err}");

    ok(
        d,
        &args(
            &["sample", "grid.png", "--count", "2", "--columns", "2"],
            &M,
        ),
    );
    let grid = Image::decode(&std::fs::read(d.join("grid.png")).unwrap(), 1 << 20).unwrap();
    assert!(
        grid.width > 64 && grid.height >= 32,
        "{}×{}",
        grid.width,
        grid.height
    );
    // ranges are checked by the parser, with the flag named
    let err = fails(d, &args(&["sample", "g.png", "--count", "0"], &M));
    assert!(err.contains("--count"), "{err}");
    let err = fails(d, &args(&["compress", "in.png", "--batch", "0"], &M));
    assert!(
        err.contains("--batch") && err.contains("at least 1"),
        "{err}"
    );
}

#[test]
fn man_page_and_completions_come_from_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let man = stdout(&ok_output(d, &["generate", "man"]));
    assert!(
        man.starts_with(".ie") || man.contains(".TH snailzip"),
        "{man}"
    );
    assert!(
        man.contains("compress") && man.contains("decompress"),
        "{man}"
    );
    let bash = stdout(&ok_output(d, &["generate", "complete-bash"]));
    assert!(
        bash.contains("--max-pixels") && bash.contains("_snailzip"),
        "{bash}"
    );
    for shell in [
        "complete-zsh",
        "complete-fish",
        "complete-powershell",
        "complete-elvish",
    ] {
        assert!(
            !stdout(&ok_output(d, &["generate", shell])).is_empty(),
            "{shell}"
        );
    }
}

#[test]
fn help_names_the_built_in_models_and_true_figures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["compress", "decompress", "bench", "info"] {
        let help = stdout(&ok_output(d, &[sub, "--help"]));
        assert!(help.contains("--model <NAME|PATH>"), "{sub}: {help}");
        assert!(help.contains("cifar"), "{sub}: {help}");
    }
    let help = stdout(&ok_output(d, &["compress", "--help"]));
    assert!(
        help.contains("8 minutes") && !help.contains("28 min"),
        "{help}"
    );
    assert!(help.contains("automatic choice"), "{help}");
    let help = stdout(&ok_output(d, &["info", "--help"]));
    assert!(help.contains("built-in models"), "{help}");
}

#[test]
fn info_takes_folders_and_reports_one_bad_file_once() {
    let dir = setup();
    let d = dir.path();
    std::fs::create_dir_all(d.join("snz/sub")).unwrap();
    ok(
        d,
        &args(&["compress", "in.png", "-o", "snz/a.snz", "-q"], &M),
    );
    std::fs::copy(d.join("snz/a.snz"), d.join("snz/sub/b.snz")).unwrap();
    let text = stdout(&ok_output(d, &args(&["info", "snz"], &M)));
    assert_eq!(text.matches("file:").count(), 1, "{text}");
    let text = stdout(&ok_output(d, &args(&["info", "-r", "snz"], &M)));
    assert_eq!(text.matches("file:").count(), 2, "{text}");
    std::fs::write(d.join("bad.snz"), b"nonsense").unwrap();
    let err = fails(d, &["info", "bad.snz"]);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not a snailzip"), "{err}");
}

#[test]
fn verbose_adds_to_the_line_of_one_file() {
    let dir = setup();
    let d = dir.path();
    let plain = ok(d, &args(&["compress", "in.png", "-o", "a.snz"], &M));
    let verbose = ok(d, &args(&["compress", "in.png", "-o", "b.snz", "-v"], &M));
    let line = |text: &str| {
        text.lines()
            .find(|l| l.contains("bits/subpixel"))
            .unwrap_or_else(|| panic!("{text}"))
            .to_string()
    };
    let (p, v) = (line(&plain), line(&verbose));
    assert!(v.len() > p.len() + 10, "{p}\n{v}");
    assert!(
        v.contains("model NLL") && !p.contains("model NLL"),
        "{p}\n{v}"
    );
    assert_eq!(
        std::fs::read(d.join("a.snz")).unwrap(),
        std::fs::read(d.join("b.snz")).unwrap()
    );
    // `-j N` and `-q` before the subcommand still work where they act
    let before = files(d);
    let o = run(
        d,
        &args(&["-j", "1", "-q", "compress", "in.png", "-o", "c.snz"], &M),
    );
    assert!(o.status.success() && o.stderr.is_empty(), "{o:?}");
    assert_eq!(files(d).len(), before.len() + 1);
}

#[test]
fn the_image_crate_reads_snz_files_after_registering_the_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let img = structured(19, 11, ColorType::Rgba, 3);
    let codec = Codec::builtin().unwrap();
    let file = codec.compress(&img).unwrap();
    let path = dir.path().join("x.png.snz");
    std::fs::write(&path, &file.bytes).unwrap();
    snailzip::register_image_hooks();
    let opened = image::open(&path).unwrap();
    assert_eq!((opened.width(), opened.height()), (19, 11));
    assert_eq!(opened.to_rgba8().into_raw(), img.data);
    // by content too, whatever the file is called
    let renamed = dir.path().join("noext");
    std::fs::rename(&path, &renamed).unwrap();
    let guessed = image::ImageReader::open(&renamed)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(guessed.to_rgba8().into_raw(), img.data);
}
