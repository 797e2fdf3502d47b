//! The PixelSNAIL network in dfdx, for training only (placeholder until the trainer lands).
