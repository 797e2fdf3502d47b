mod bad_input;
mod cli;
mod determinism;
mod models;
#[cfg(feature = "train")]
mod parity;
mod roundtrip;
mod size;
pub mod util;
