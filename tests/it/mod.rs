mod bad_input;
mod cli;
mod determinism;
mod fuzz_seeds;
mod golden;
mod habits;
mod hostile;
mod models;
#[cfg(feature = "train")]
mod parity;
mod regressions;
mod roundtrip;
mod size;
pub mod skip;
pub mod util;
