//! Classic lossless codecs to compare against, each used through a well-kept crate or its
//! installed command-line tool, and verified by decoding.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};
use crate::image_io::Image;

/// How a peer codec is run.
#[derive(Clone, Debug)]
pub enum Runner {
    /// PNG at the `image` crate's best compression.
    PngCrate,
    /// QOI through the `image` crate.
    QoiCrate,
    /// External encoder/decoder programs; `{in}` and `{out}` are replaced by paths.
    Tool {
        /// Encoder program and arguments.
        encode: &'static [&'static str],
        /// Decoder program and arguments (decodes to PNG or PNM).
        decode: &'static [&'static str],
        /// Extension of the encoder's input file (`png` or `ppm`).
        input: &'static str,
        /// Extension of the compressed file.
        ext: &'static str,
    },
}

/// A peer codec.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Short name used in `--codecs` and tables.
    pub name: &'static str,
    /// How to run it.
    pub runner: Runner,
}

/// Every peer codec snailzip knows how to run.
pub fn all() -> Vec<Peer> {
    use Runner::Tool;
    vec![
        Peer {
            name: "png",
            runner: Runner::PngCrate,
        },
        Peer {
            name: "optipng-o2",
            runner: Tool {
                encode: &[
                    "optipng", "-o2", "-quiet", "-strip", "all", "{in}", "-out", "{out}",
                ],
                decode: &[],
                input: "png",
                ext: "png",
            },
        },
        Peer {
            name: "qoi",
            runner: Runner::QoiCrate,
        },
        Peer {
            name: "webp",
            runner: Tool {
                encode: &[
                    "cwebp",
                    "-quiet",
                    "-lossless",
                    "-z",
                    "9",
                    "-exact",
                    "{in}",
                    "-o",
                    "{out}",
                ],
                decode: &["dwebp", "-quiet", "{in}", "-o", "{out}"],
                input: "png",
                ext: "webp",
            },
        },
        Peer {
            name: "jpeg2000",
            runner: Tool {
                encode: &["opj_compress", "-i", "{in}", "-o", "{out}"],
                decode: &["opj_decompress", "-quiet", "-i", "{in}", "-o", "{out}"],
                input: "ppm",
                ext: "jp2",
            },
        },
        Peer {
            name: "jxl-e7",
            runner: Tool {
                encode: &["cjxl", "--quiet", "-d", "0", "-e", "7", "{in}", "{out}"],
                decode: &["djxl", "--quiet", "{in}", "{out}"],
                input: "png",
                ext: "jxl",
            },
        },
        Peer {
            name: "jxl-e9",
            runner: Tool {
                encode: &["cjxl", "--quiet", "-d", "0", "-e", "9", "{in}", "{out}"],
                decode: &["djxl", "--quiet", "{in}", "{out}"],
                input: "png",
                ext: "jxl",
            },
        },
        Peer {
            name: "flif",
            runner: Tool {
                encode: &["flif", "-e", "-Q100", "{in}", "{out}"],
                decode: &["flif", "-d", "{in}", "{out}"],
                input: "png",
                ext: "flif",
            },
        },
    ]
}

fn program_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

impl Peer {
    /// `None` if usable here, else why not.
    pub fn unavailable(&self) -> Option<String> {
        match &self.runner {
            Runner::Tool { encode, decode, .. } => {
                let mut missing: Vec<&str> = [encode.first(), decode.first()]
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|p| !program_exists(p))
                    .collect();
                missing.dedup();
                (!missing.is_empty()).then(|| format!("{} not installed", missing.join(", ")))
            }
            _ => None,
        }
    }

    /// Compresses `image`, returning the compressed bytes, after checking that decoding them
    /// gives back exactly the same pixels. `scratch` is a private temporary folder.
    ///
    /// # Errors
    /// [`Error::Format`] if the tool fails or does not round-trip exactly.
    pub fn compress_verified(&self, image: &Image, scratch: &Path) -> Result<(usize, f64, f64)> {
        let t0 = std::time::Instant::now();
        match &self.runner {
            Runner::PngCrate => {
                let bytes = png_best(image)?;
                let t1 = std::time::Instant::now();
                let back = Image::decode(&bytes, u64::MAX)?;
                let t2 = std::time::Instant::now();
                same(image, &back, self.name)?;
                Ok((
                    bytes.len(),
                    (t1 - t0).as_secs_f64(),
                    (t2 - t1).as_secs_f64(),
                ))
            }
            Runner::QoiCrate => {
                let bytes = image.encode(image::ImageFormat::Qoi)?;
                let t1 = std::time::Instant::now();
                let back = Image::decode(&bytes, u64::MAX)?;
                let t2 = std::time::Instant::now();
                same(image, &back, self.name)?;
                Ok((
                    bytes.len(),
                    (t1 - t0).as_secs_f64(),
                    (t2 - t1).as_secs_f64(),
                ))
            }
            Runner::Tool {
                encode,
                decode,
                input,
                ext,
            } => {
                let src = scratch.join(format!("in.{input}"));
                let packed = scratch.join(format!("packed.{ext}"));
                let back = scratch.join("back.png");
                let raw = if *input == "ppm" {
                    image.encode(image::ImageFormat::Pnm)?
                } else {
                    image.to_png()?
                };
                std::fs::write(&src, raw)?;
                let _ = std::fs::remove_file(&packed);
                let _ = std::fs::remove_file(&back);
                let t0 = std::time::Instant::now();
                run(encode, &src, &packed)?;
                let t1 = std::time::Instant::now();
                let size = std::fs::metadata(&packed)?.len() as usize;
                let decoded = if decode.is_empty() {
                    std::fs::read(&packed)?
                } else {
                    run(decode, &packed, &back)?;
                    std::fs::read(&back)?
                };
                let t2 = std::time::Instant::now();
                let img = Image::decode(&decoded, u64::MAX)?;
                same(image, &img, self.name)?;
                Ok((size, (t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64()))
            }
        }
    }
}

fn run(template: &[&str], input: &Path, output: &Path) -> Result<()> {
    let args: Vec<String> = template[1..]
        .iter()
        .map(|a| match *a {
            "{in}" => input.display().to_string(),
            "{out}" => output.display().to_string(),
            other => other.to_string(),
        })
        .collect();
    let out = Command::new(template[0]).args(&args).output()?;
    if !out.status.success() {
        return Err(Error::Format(format!(
            "{} failed: {}",
            template[0],
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Pixels must match exactly. Peers may store another layout with the same pixels (optipng
/// turns gray-looking RGB into gray, some decoders add an opaque alpha), so both sides are
/// compared as RGBA.
fn same(a: &Image, b: &Image, name: &str) -> Result<()> {
    if (a.width, a.height) == (b.width, b.height) && rgba(a).eq(rgba(b)) {
        Ok(())
    } else {
        Err(Error::Format(format!("{name} did not round-trip exactly")))
    }
}

fn rgba(img: &Image) -> impl Iterator<Item = [u8; 4]> + '_ {
    let ch = img.color.channels();
    img.data.chunks_exact(ch).map(move |p| match ch {
        1 => [p[0], p[0], p[0], 255],
        2 => [p[0], p[0], p[0], p[1]],
        3 => [p[0], p[1], p[2], 255],
        _ => [p[0], p[1], p[2], p[3]],
    })
}

fn png_best(image: &Image) -> Result<Vec<u8>> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            &image.data,
            image.width as u32,
            image.height as u32,
            image.color.extended(),
        )
        .map_err(|e| Error::Format(format!("cannot encode PNG: {e}")))?;
    Ok(out)
}
