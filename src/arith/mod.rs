//! Exact arithmetic shared by the engine and the codec: which instruction set the kernels
//! run on ([`Isa`], `multiversion!`), branch-free copies of `libm`'s exponentials
//! (`expo`), IEEE binary16 rounding (`half`) and the fused multiply-add (`fused`).
//!
//! The engine computes the network's outputs and the codec turns them into integer
//! frequencies; both promise the same bits on every machine. What they share for that lives
//! here, below both, so that neither reaches into the other.

pub(crate) mod expo;
pub(crate) mod fused;
pub(crate) mod half;

pub use half::Half;

/// The environment variable that caps [`Isa::best`].
pub const ISA_VARIABLE: &str = "SNAILZIP_ISA";

/// An instruction set the kernels are compiled for, detected at run time.
///
/// Every kernel is the same Rust code compiled once per instruction set; kernels only
/// vectorize across independent outputs and keep every output's summation order, so every
/// level gives identical bits (the tests compare all levels the CPU has). An `Isa` can only
/// be obtained for a CPU that supports it. The levels: portable; `avx2` (AVX2 with F16C and
/// FMA, which every AVX2 CPU has); `avx512` (AVX-512F with FMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isa(pub(crate) Level);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The baseline build, on every CPU.
    pub const PORTABLE: Isa = Isa(Level::Portable);

    /// The level the kernels use: the fastest this CPU supports, capped by the environment
    /// variable [`ISA_VARIABLE`] (`portable`, `avx2` or `avx512`) where it is set (detected
    /// once). A cap the CPU lacks gives the fastest level below it; a value that names no
    /// level is ignored here ([`Isa::cap_from_env`] reports it). Output bits never depend on
    /// it, only speed: benchmarks and tests use it to measure a slower path on a faster CPU.
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let cap = Isa::cap_from_env().ok().flatten();
            Isa::available()
                .into_iter()
                .rfind(|isa| cap.is_none_or(|c| isa.rank() <= c))
                .unwrap_or(Isa::PORTABLE)
        })
    }

    /// The cap set by [`ISA_VARIABLE`], as a rank (0 portable, 1 avx2, 2 avx512); `None`
    /// where it is unset or empty.
    ///
    /// # Errors
    /// A message naming the valid values, for any other value.
    pub fn cap_from_env() -> std::result::Result<Option<u8>, String> {
        let Some(v) = std::env::var_os(ISA_VARIABLE) else {
            return Ok(None);
        };
        match v.to_str().unwrap_or("?") {
            "" => Ok(None),
            "portable" => Ok(Some(0)),
            "avx2" => Ok(Some(1)),
            "avx512" => Ok(Some(2)),
            other => Err(format!(
                "{ISA_VARIABLE}={other} names no instruction set level (portable, avx2, avx512)"
            )),
        }
    }

    fn rank(self) -> u8 {
        match self.0 {
            Level::Portable => 0,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => 1,
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => 2,
        }
    }

    /// Every level this CPU supports, slowest first.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut all = vec![Isa::PORTABLE];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("f16c")
                && std::arch::is_x86_feature_detected!("fma")
            {
                all.push(Isa(Level::Avx2));
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("fma")
            {
                all.push(Isa(Level::Avx512));
            }
        }
        all
    }

    /// Short name (`portable`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self.0 {
            Level::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => "avx512",
        }
    }
}

/// Defines `fn $name(isa: Isa, args…) -> R` running the expression of the given level in a
/// function compiled for that level's instruction set (code it calls must be
/// `#[inline(always)]` to be compiled for that level too).
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        { avx512: $e512:expr, avx2: $e2:expr, portable: $ep:expr $(,)? }) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::arith::Isa, $($arg: $ty),*) $(-> $ret)? {
            match isa.0 {
                #[cfg(target_arch = "x86_64")]
                $crate::arith::Level::Avx512 => {
                    #[target_feature(enable = "avx512f,fma")]
                    #[allow(clippy::too_many_arguments)]
                    unsafe fn run($($arg: $ty),*) $(-> $ret)? { $e512 }
                    // SAFETY: an `Isa` of this level exists only if the CPU has AVX-512F and FMA.
                    unsafe { run($($arg),*) }
                }
                #[cfg(target_arch = "x86_64")]
                $crate::arith::Level::Avx2 => {
                    #[target_feature(enable = "avx2,f16c,fma")]
                    #[allow(clippy::too_many_arguments)]
                    unsafe fn run($($arg: $ty),*) $(-> $ret)? { $e2 }
                    // SAFETY: an `Isa` of this level exists only if the CPU has AVX2, F16C and FMA.
                    unsafe { run($($arg),*) }
                }
                $crate::arith::Level::Portable => $ep,
            }
        }
    };
}
pub(crate) use multiversion;
