mod bad_input;
mod cli;
mod determinism;
mod front_door;
mod fuzz_seeds;
mod golden;
mod habits;
mod hostile;
mod models;
#[cfg(feature = "train")]
mod parity;
mod regressions;
mod roundtrip;
#[path = "../support/cli.rs"]
pub mod run;
mod size;
pub mod skip;
pub mod util;
