mod bad_input;
mod cli;
mod determinism;
mod roundtrip;
mod size;
pub mod util;
