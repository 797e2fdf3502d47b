//! The built-in models: `info` lists them, `compress` chooses one per image without a flag,
//! the file's model id routes `decompress`, and `--model NAME` forces one.

use snailzip::{builtin, ColorType};

use super::run::{fails, ok_output as snailzip};
use super::util::structured;

#[test]
fn compress_chooses_a_built_in_model_and_decompress_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = structured(40, 33, ColorType::Rgb, 3);
    std::fs::write(d.join("in.png"), img.to_png().unwrap()).unwrap();
    let list = String::from_utf8_lossy(&snailzip(d, &["info"]).stdout).into_owned();
    let names: Vec<&str> = builtin::models().iter().map(|m| m.name).collect();
    for m in builtin::models() {
        let id = snailzip::error::hex_id(&m.weights().unwrap().id());
        assert!(list.contains(m.name) && list.contains(&id), "{list}");
    }
    // effort 0, so that the files use a model (at effort 2 this small gradient codes best by
    // the adaptive stage alone)
    snailzip(
        d,
        &["compress", "in.png", "-o", "auto.snz", "-q", "-e", "0"],
    );
    let info = String::from_utf8_lossy(&snailzip(d, &["info", "auto.snz"]).stdout).into_owned();
    let chosen = names
        .iter()
        .find(|n| info.contains(&format!("matches model {n},")))
        .unwrap_or_else(|| panic!("{info}"));
    // the automatic choice is byte for byte the forced file of the chosen model (a small
    // image chooses on the top rows of its tiles, so it need not be the smaller file)
    let mut sizes = Vec::new();
    for n in &names {
        let out = format!("{n}.snz");
        snailzip(
            d,
            &[
                "compress", "in.png", "-o", &out, "--model", n, "-q", "-e", "0",
            ],
        );
        sizes.push((std::fs::read(d.join(&out)).unwrap(), *n));
    }
    let auto = std::fs::read(d.join("auto.snz")).unwrap();
    let forced = &sizes.iter().find(|(_, n)| n == chosen).unwrap().0;
    assert_eq!(&auto, forced);
    // decoding needs no flag, whichever model wrote the file
    for (_, n) in &sizes {
        let out = format!("{n}.png");
        snailzip(d, &["decompress", &format!("{n}.snz"), "-o", &out, "-q"]);
        let back = snailzip::Image::decode(&std::fs::read(d.join(&out)).unwrap(), 1 << 20);
        assert_eq!(back.unwrap(), img);
    }
    // retired models are named by their ids, and listed
    for m in builtin::retired() {
        let id = snailzip::error::hex_id(&m.weights().unwrap().id());
        assert!(
            m.about.contains(&id) && list.contains(m.name),
            "{}: {id}",
            m.name
        );
    }
    // a file written with any retired built-in model still decodes without a flag (the f32
    // variants of the current weights included: same bytes, other arithmetic)
    for m in builtin::retired() {
        let engine = snailzip::Engine::new(&m.weights().unwrap());
        let opts = snailzip::codec::Options::default();
        let (bytes, _) = snailzip::compress(&img, &engine, &opts, &|_| {}).unwrap();
        std::fs::write(d.join("old.snz"), bytes).unwrap();
        snailzip(d, &["decompress", "old.snz", "-o", "old.png", "-q", "-f"]);
        let back = snailzip::Image::decode(&std::fs::read(d.join("old.png")).unwrap(), 1 << 20);
        assert_eq!(back.unwrap(), img, "{}", m.name);
    }
    // an unknown name is a clear error
    let err = fails(
        d,
        &["compress", "in.png", "-o", "x.snz", "--model", "nosuch"],
    );
    assert!(err.contains("no built-in model `nosuch`"), "{err}");
    assert!(err.contains("decode only: cifar-64k"), "{err}");
    // a retired model decodes its files but never compresses
    let err = fails(
        d,
        &["compress", "in.png", "-o", "x.snz", "--model", "cifar-f32"],
    );
    assert!(
        err.contains("retired") && err.contains("cifar or photo"),
        "{err}"
    );
}
