//! The library's one error type: every failure a caller can act on, by kind.

use std::fmt;
use std::io;

/// Everything that can go wrong in snailzip's library.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing a file failed.
    Io(io::Error),
    /// The input is not what it claims to be: corrupt, truncated or foreign data.
    Format(String),
    /// The input asks for more than the configured limits allow (dimensions, sizes).
    Limits(String),
    /// The file was made with a different model than the one loaded.
    ModelMismatch {
        /// Model id stored in the file (hex; a prefix of the full id in version 2 files).
        file: String,
        /// Model id of the loaded model (hex).
        loaded: String,
    },
    /// Decoding finished but the pixels do not match the stored checksum.
    Checksum {
        /// Checksum stored in the file.
        expected: u32,
        /// Checksum of the decoded pixels.
        actual: u32,
    },
    /// The image kind is valid but not supported by snailzip (16-bit, ...).
    Unsupported(String),
    /// The caller passed options that cannot work together.
    Usage(String),
}

/// Result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders a model id as hex.
pub fn hex_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Format(m) => write!(f, "invalid data: {m}"),
            Error::Limits(m) => write!(f, "limit exceeded: {m}"),
            Error::ModelMismatch { file, loaded } => write!(
                f,
                "wrong model: the file was compressed with model {} but model {} is loaded \
                 (pass the right one with --model)",
                file, loaded
            ),
            Error::Checksum { expected, actual } => write!(
                f,
                "checksum mismatch: decoded pixels hash to {actual:08x}, file says {expected:08x} \
                 (the file is corrupt)"
            ),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Usage(m) => write!(f, "{m}"),
        }
    }
}

// `Display` already includes the wrapped I/O error's message, so `source` stays empty:
// otherwise error chains (`{:#}`) would print it twice.
impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}
