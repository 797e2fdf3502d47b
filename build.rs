//! Embeds the shipped models that exist: `models/default.safetensors` (the CIFAR-10 model)
//! and `models/photo.safetensors` (the photo model).
fn main() {
    for (file, cfg) in [
        ("models/default.safetensors", "snailzip_embedded_model"),
        ("models/photo.safetensors", "snailzip_embedded_photo"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-changed={file}");
        if std::path::Path::new(file).exists() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
