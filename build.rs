//! Embeds the shipped default model when `models/default.safetensors` exists.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(snailzip_embedded_model)");
    println!("cargo::rerun-if-changed=models/default.safetensors");
    if std::path::Path::new("models/default.safetensors").exists() {
        println!("cargo::rustc-cfg=snailzip_embedded_model");
    }
}
