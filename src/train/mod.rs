//! The built-in trainer (placeholder until it lands).
