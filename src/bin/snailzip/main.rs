//! The `snailzip` command line (placeholder).
fn main() {}
