//! The codec's front door: [`Codec`] compresses images into `.snz` files and decompresses
//! them, with the models it was built from.
//!
//! An image is cut into 32×32 tiles ([`tiles`](self) module docs) coded independently, each
//! with its own range coder, so tiles can be processed in parallel and in any grouping; tiles
//! of one shape, across images too, are stepped together through one engine session. Given
//! several models, compression chooses one per image on a sample of its tiles (`choice`);
//! the file's model id then names the model that decodes it. The stages, one module each:
//!
//! ```text
//! Codec ──compress──> choice ─> encode ─┬─> mixture (network → exact integer CDFs)
//!       │                               ├─> alpha   (adaptive model for alpha)
//!       │                               └─> container (header, metadata, tile payloads)
//!       └decompress─> container (header read once, model checked once) ─> decode
//! ```
//!
//! Decoding accepts exactly what the encoder writes: every decoded tile is coded again and
//! must reproduce its stored payload (see the `decode` module).
//!
//! ```
//! use snailzip::codec::{Codec, Options};
//! use snailzip::{ColorType, Config, Engine, Image, Weights};
//!
//! // a tiny random model, so this example runs in milliseconds; `Codec::builtin()` has the
//! // trained ones
//! let codec = Codec::with_engine(Engine::new(&Weights::random(&Config::tiny(), 0)))
//!     .with_options(Options { threads: 1, ..Options::default() })?;
//! let image = Image::new(8, 8, ColorType::Gray, (0..64).collect())?;
//! let file = codec.compress(&image)?;
//! assert_eq!(codec.decompress(&file.bytes)?.image, image);
//! # Ok::<(), snailzip::Error>(())
//! ```

mod adaptive;
pub mod alpha;
mod choice;
pub mod container;
mod decode;
mod encode;
pub mod mixture;
mod streams;
mod tiles;

use std::sync::{Arc, OnceLock};

use crate::builtin;
use crate::engine::Engine;
use crate::error::{hex_id, Error, Result};
use crate::image_io::{Image, Metadata};
use crate::limits::Limits;
use crate::weights::Weights;
use container::StoredModelId;
pub use mixture::Logarithm;

/// [`Options::batch`] for the engine's own choice, [`Engine::batch_hint`].
pub const AUTO_BATCH: usize = 0;

/// The default [`Options::effort`].
pub const DEFAULT_EFFORT: u8 = 2;
/// The highest [`Options::effort`].
pub const MAX_EFFORT: u8 = 3;

/// Called with the number of tiles each finished batch completed.
pub type Progress<'a> = &'a (dyn Fn(usize) + Sync);

/// Settings of a [`Codec`]. Only `effort`, `logarithm`, `adaptive_version` and
/// `network_use` change the bytes of a file (never how it decodes).
#[derive(Clone, Debug)]
pub struct Options {
    /// Tiles of one shape stepped together through the engine ([`AUTO_BATCH`]: as many as
    /// the model's [`Engine::batch_hint`]). Never changes the output.
    pub batch: usize,
    /// What decoding (and reading images) may allocate.
    pub limits: Limits,
    /// The logarithm compression codes with: [`Logarithm::Libm`] (container versions 4 and
    /// 5); [`Logarithm::Platform`] writes the versions 2 and 3 of earlier builds, only to
    /// test that they still decode. Decoding ignores it and follows each file's version.
    pub logarithm: Logarithm,
    /// Worker threads of the codec's own pool; 0: the current rayon pool (all cores unless
    /// the caller installed another). Never changes the output.
    pub threads: usize,
    /// How hard compression works (decompression reads what the file needs):
    /// - 0: the network alone (container versions 4 and 5, as earlier builds wrote);
    /// - 1: the adaptive stage alone, no network, with fewer context models (container
    ///   version 8): fast;
    /// - 2 (default): the adaptive stage, with the network on the tiles where a cheap
    ///   estimate says it may pay, in images where a sample says it buys enough
    ///   ([`NetworkUse`]), with the model that codes the sample smallest; an image of one
    ///   tile is coded both by the network alone (versions 4/5) and by the stage alone, and
    ///   the smaller file kept;
    /// - 3: every way (no network; the network on every tile with each model; for an image
    ///   of one tile also the network alone), the smallest kept.
    pub effort: u8,
    /// The container version adaptive files are written in (efforts 1 to 3); none (the
    /// default): this build's, 8 at effort 1 and 7 above. 6, 7 or 8 write that version at
    /// any effort: 6 what builds of 2026-12-02 wrote, 7 at effort 1 what builds of
    /// 2026-12-03 wrote, only to test that they still decode. Decoding ignores it and
    /// follows each file's version.
    pub adaptive_version: Option<u8>,
    /// Which images effort 2 codes with the network.
    pub network_use: NetworkUse,
}

/// Which images effort 2 codes with the network (on the tiles where a cheap estimate says it
/// may pay, as ever).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkUse {
    /// Those whose sample codes at least 5% smaller with it than without (the default): the
    /// network's time is not spent where it buys nothing.
    Weighed,
    /// Every image with such tiles, with the model a sample of network-alone coding chooses
    /// (what builds of 2026-12-02 did; for tests and comparisons).
    Tiles,
}

impl Options {
    /// The container version adaptive files are written in ([`Options::adaptive_version`]).
    pub fn adaptive_version(&self) -> u8 {
        match (self.adaptive_version, self.effort) {
            (Some(v), _) => v,
            (None, 1) => container::FAST_VERSION,
            (None, _) => container::ADAPTIVE_VERSION,
        }
    }

    /// Tiles per batch with `engine`.
    pub fn batch_for(&self, engine: &Engine) -> usize {
        match self.batch {
            AUTO_BATCH => engine.batch_hint(),
            n => n,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch: AUTO_BATCH,
            limits: Limits::default(),
            logarithm: Logarithm::Libm,
            threads: 0,
            effort: DEFAULT_EFFORT,
            adaptive_version: None,
            network_use: NetworkUse::Weighed,
        }
    }
}

/// Figures from one compression.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// The model's information content of the image in bits (its NLL).
    pub model_bits: f64,
    /// Bytes of tile payloads (everything except header and tile table).
    pub payload_bytes: usize,
    /// Number of tiles.
    pub tiles: usize,
}

/// A compressed image.
#[derive(Clone, Debug)]
pub struct Compressed {
    /// The `.snz` file.
    pub bytes: Vec<u8>,
    /// Figures of its coding.
    pub stats: Stats,
    /// The model that coded it (an index into [`Codec::models`]); none if no tile uses the
    /// network.
    pub model: Option<usize>,
}

/// A decompressed file.
#[derive(Clone, Debug)]
pub struct Decompressed {
    /// The pixels.
    pub image: Image,
    /// The metadata stored with them (empty for files of versions 1, 2 and 4).
    pub metadata: Metadata,
    /// The model that decoded it (an index into [`Codec::models`]); none if the file needs
    /// none.
    pub model: Option<usize>,
}

/// A model a [`Codec`] holds.
#[derive(Clone, Debug)]
pub struct Model {
    /// Its name for messages (`cifar`, `photo`, a file name).
    pub name: String,
    /// Its engine, built on first use (a built-in model's weights are parsed only when a
    /// file needs them: files that use no network never do).
    engine: OnceLock<Engine>,
    /// The built-in model it comes from, if its engine is built on first use.
    builtin: Option<builtin::Builtin>,
    /// Only decodes the files it wrote (a retired built-in model): never compresses.
    pub decode_only: bool,
}

impl Model {
    /// A model that compresses and decompresses.
    pub fn new(name: impl Into<String>, weights: &Weights) -> Model {
        Model::of_engine(name, Engine::new(weights))
    }

    /// A model of this engine.
    pub fn of_engine(name: impl Into<String>, engine: Engine) -> Model {
        Model {
            name: name.into(),
            engine: OnceLock::from(engine),
            builtin: None,
            decode_only: false,
        }
    }

    /// Its engine.
    pub fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| {
            let b = self
                .builtin
                .expect("a model without an engine is a built-in one");
            // the embedded files are checked when they are built in, and by the tests
            Engine::new(&b.weights().expect("an embedded model parses"))
        })
    }

    /// A built-in model (retired ones are decode-only). Its weights are parsed on first use
    /// ([`Model::engine`]), so that files and efforts without the network never pay for it.
    ///
    /// # Errors
    /// None since the weights are parsed on first use (the `Result` stays for callers). A
    /// corrupt embedded file, which a build would not produce, would panic there; the golden
    /// tests decode a file with every built-in model.
    pub fn builtin(b: &builtin::Builtin) -> Result<Model> {
        Ok(Model {
            name: b.name.into(),
            engine: OnceLock::new(),
            builtin: Some(*b),
            decode_only: b.retired,
        })
    }
}

/// Compresses images and decompresses `.snz` files with a set of models: the one front door
/// of the codec.
///
/// Compression chooses, per image, among the models that are not decode-only (in their order,
/// which breaks ties); decompression takes the model each file's id names. Files decode
/// bit-exactly whatever the options, thread count or machine.
pub struct Codec {
    models: Vec<Model>,
    options: Options,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        f.debug_struct("Codec")
            .field("models", &names)
            .field("options", &self.options)
            .finish()
    }
}

impl Codec {
    /// Every built-in model: the current ones compress (chosen per image), the retired ones
    /// decode the files they wrote. Each model's weights are parsed when a file first needs
    /// them ([`Model::builtin`]).
    ///
    /// # Errors
    /// None today (see [`Model::builtin`]).
    pub fn builtin() -> Result<Codec> {
        let models = builtin::all()
            .iter()
            .map(Model::builtin)
            .collect::<Result<Vec<_>>>()?;
        Codec::from_models(models)
    }

    /// A codec of one model.
    pub fn with_engine(engine: Engine) -> Codec {
        let name = hex_id(&engine.id());
        Codec {
            models: vec![Model::of_engine(name, engine)],
            options: Options::default(),
            pool: None,
        }
    }

    /// A codec of these models, in the order that breaks ties between equal costs.
    ///
    /// # Errors
    /// [`Error::Usage`] if there is no model.
    pub fn from_models(models: Vec<Model>) -> Result<Codec> {
        if models.is_empty() {
            return Err(Error::Usage("a codec needs at least one model".into()));
        }
        Ok(Codec {
            models,
            options: Options::default(),
            pool: None,
        })
    }

    /// The same codec with other options.
    ///
    /// # Errors
    /// [`Error::Io`] if the worker threads cannot be started.
    pub fn with_options(mut self, options: Options) -> Result<Codec> {
        if !container::is_adaptive(options.adaptive_version()) {
            return Err(Error::Usage(format!(
                "adaptive files are written in container versions {} to {}, not {}",
                container::FIRST_ADAPTIVE_VERSION,
                container::NEWEST_VERSION,
                options.adaptive_version()
            )));
        }
        self.pool = match options.threads {
            0 => None,
            n => Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::Io(std::io::Error::other(e)))?,
            )),
        };
        self.options = options;
        Ok(self)
    }

    /// Its options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Its models.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// The model that decodes a file with this stored id (the first that matches).
    ///
    /// # Errors
    /// [`Error::ModelMismatch`] naming the ids this codec has, if none matches.
    pub fn model_for(&self, id: &StoredModelId) -> Result<usize> {
        self.models
            .iter()
            .position(|m| id.matches(&m.engine().id()))
            .ok_or_else(|| mismatch(id, self.models.iter().map(|m| m.engine())))
    }

    fn run<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// Compresses one image without metadata.
    ///
    /// # Errors
    /// [`Error::Usage`] if every model is decode-only; otherwise only internal coder
    /// failures, which indicate a bug.
    pub fn compress(&self, image: &Image) -> Result<Compressed> {
        let mut out = self.compress_many(std::slice::from_ref(image), &[], &|_| {})?;
        Ok(out.pop().expect("one image in, one file out"))
    }

    /// Compresses several images, storing `metadata[k]` with image `k` (images beyond
    /// `metadata.len()` get none). Their tiles are pooled, so many small images share
    /// batched products; each file is identical to what [`Codec::compress`] writes for its
    /// image alone. `progress` counts finished tiles.
    ///
    /// # Errors
    /// As [`Codec::compress`].
    pub fn compress_many(
        &self,
        images: &[Image],
        metadata: &[Metadata],
        progress: Progress<'_>,
    ) -> Result<Vec<Compressed>> {
        let index: Vec<usize> = (0..self.models.len())
            .filter(|&k| !self.models[k].decode_only)
            .collect();
        if index.is_empty() {
            return Err(Error::Usage(format!(
                "{} decode only: no model can compress",
                self.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // effort 1 runs no network: its models are not even loaded
        let engines: Vec<&Engine> = match encode::runs_network(&self.options) {
            true => index.iter().map(|&k| self.models[k].engine()).collect(),
            false => Vec::new(),
        };
        let mut files = self
            .run(|| encode::compress_images(images, metadata, &engines, &self.options, progress))?;
        for f in &mut files {
            f.model = f.model.map(|m| index[m]);
        }
        Ok(files)
    }

    /// Decompresses one `.snz` file.
    ///
    /// # Errors
    /// [`Error::Format`] for corrupt or truncated data, [`Error::Limits`] for oversized
    /// images, [`Error::ModelMismatch`] if none of the models made the file,
    /// [`Error::Checksum`] if the decoded pixels do not match.
    pub fn decompress(&self, bytes: &[u8]) -> Result<Decompressed> {
        let mut out = self.decompress_many(&[bytes], &|_| {});
        out.pop().expect("one file in, one result out")
    }

    /// Reads a file's header and tile table and finds its model: everything decoding checks
    /// before any work, so that a caller can look at the image's size first (to reserve
    /// space, size a progress bar or refuse it) and then decode it with
    /// [`Codec::decompress_opened`] without parsing anything twice.
    ///
    /// # Errors
    /// [`Error::Format`] for foreign, truncated or inconsistent data, [`Error::Limits`] for
    /// images beyond [`Options::limits`], [`Error::ModelMismatch`] if none of the models made
    /// the file.
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Result<Opened<'a>> {
        let (header, pos) = container::read_header(bytes, &self.options.limits)?;
        let model = match header.network {
            true => Some(self.model_for(&header.model_id)?),
            false => None,
        };
        let file = container::read_body(bytes, header, pos)?;
        Ok(Opened { bytes, file, model })
    }

    /// Decompresses several files, each with the model its header names, pooling their tiles
    /// like [`Codec::compress_many`]. Each file gets its own result; a bad file does not
    /// affect the others. `progress` counts finished tiles.
    pub fn decompress_many(
        &self,
        files: &[&[u8]],
        progress: Progress<'_>,
    ) -> Vec<Result<Decompressed>> {
        let opened: Vec<Result<Opened<'_>>> = files.iter().map(|b| self.open(b)).collect();
        self.decompress_opened(opened, progress)
    }

    /// Decompresses files that [`Codec::open`] read (an `Err` stays that file's result).
    pub fn decompress_opened(
        &self,
        files: Vec<Result<Opened<'_>>>,
        progress: Progress<'_>,
    ) -> Vec<Result<Decompressed>> {
        let mut out: Vec<Option<Result<Decompressed>>> = (0..files.len()).map(|_| None).collect();
        // files by model (none last) and by format: network alone, or adaptive
        let slots = self.models.len() + 1;
        let mut groups: Vec<Group<'_>> = (0..2 * slots).map(|_| Default::default()).collect();
        for (k, file) in files.into_iter().enumerate() {
            match file {
                Ok(f) => {
                    let adaptive = container::is_adaptive(f.file.version);
                    let g = &mut groups[adaptive as usize * slots + f.model.unwrap_or(slots - 1)];
                    g.0.push(k);
                    g.1.push(f.bytes);
                    g.2.push(Ok(f.file));
                }
                Err(e) => out[k] = Some(Err(e)),
            }
        }
        for (g, (ks, bytes, parsed)) in groups.into_iter().enumerate() {
            if ks.is_empty() {
                continue;
            }
            let (adaptive, model) = (g >= slots, g % slots);
            let model = (model < self.models.len()).then_some(model);
            let engine = model.map(|m| self.models[m].engine());
            let options = &self.options;
            let decoded = self.run(|| match (adaptive, engine) {
                (true, _) => decode::decode_adaptive(parsed, engine, options, progress),
                (false, Some(engine)) => {
                    decode::decode_files(&bytes, parsed, engine, options, progress)
                }
                (false, None) => unreachable!("files of versions 1 to 5 always name a model"),
            });
            for (&k, r) in ks.iter().zip(decoded) {
                out[k] = Some(r.map(|(image, metadata)| Decompressed {
                    image,
                    metadata,
                    model,
                }));
            }
        }
        out.into_iter()
            .map(|r| r.expect("every file decided"))
            .collect()
    }
}

/// The files one model decodes: their indices, bytes and parsed containers.
type Group<'a> = (
    Vec<usize>,
    Vec<&'a [u8]>,
    Vec<Result<container::Container<'a>>>,
);

/// A `.snz` file read by [`Codec::open`]: header checked against the limits, tile table
/// checked against the bytes, model found.
#[derive(Debug)]
pub struct Opened<'a> {
    bytes: &'a [u8],
    file: container::Container<'a>,
    model: Option<usize>,
}

impl Opened<'_> {
    /// The header.
    pub fn header(&self) -> &container::Header {
        &self.file.header
    }

    /// The container version.
    pub fn version(&self) -> u8 {
        self.file.version
    }

    /// The model that decodes it (an index into [`Codec::models`]); none if it needs none.
    pub fn model(&self) -> Option<usize> {
        self.model
    }

    /// Tiles to decode.
    pub fn tiles(&self) -> usize {
        self.file.payloads.len()
    }
}

/// Compresses one image with one model: a shorthand for [`Codec::compress`] that borrows the
/// engine. `progress` counts finished tiles.
///
/// # Errors
/// Only internal coder failures, which indicate a bug.
pub fn compress(
    image: &Image,
    engine: &Engine,
    options: &Options,
    progress: Progress<'_>,
) -> Result<(Vec<u8>, Stats)> {
    let mut out = encode::compress_images(
        std::slice::from_ref(image),
        &[],
        &[engine],
        options,
        progress,
    )?;
    let file = out.pop().expect("one image in, one file out");
    Ok((file.bytes, file.stats))
}

/// Decompresses one file made with `engine`: a shorthand for [`Codec::decompress`] that
/// borrows the engine.
///
/// # Errors
/// As [`Codec::decompress`].
pub fn decompress(
    bytes: &[u8],
    engine: &Engine,
    options: &Options,
    progress: Progress<'_>,
) -> Result<Image> {
    let parsed = container::read_header(bytes, &options.limits).and_then(|(header, pos)| {
        if header.network && !header.model_id.matches(&engine.id()) {
            return Err(mismatch(&header.model_id, [engine]));
        }
        container::read_body(bytes, header, pos)
    });
    let adaptive = matches!(&parsed, Ok(c) if container::is_adaptive(c.version));
    let mut out = if adaptive {
        decode::decode_adaptive(vec![parsed], Some(engine), options, progress)
    } else {
        decode::decode_files(&[bytes], vec![parsed], engine, options, progress)
    };
    out.pop()
        .expect("one file in, one result out")
        .map(|(image, _)| image)
}

/// The error for a file whose model id none of `loaded` has.
fn mismatch<'e>(id: &StoredModelId, loaded: impl IntoIterator<Item = &'e Engine>) -> Error {
    Error::ModelMismatch {
        file: id.to_string(),
        loaded: loaded
            .into_iter()
            .map(|e| hex_id(&e.id()))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// CRC-32 of the interleaved pixels, as stored in the container.
pub fn checksum(image: &Image) -> u32 {
    crc32fast::hash(&image.data)
}

fn coder_error(e: impl std::fmt::Debug) -> Error {
    Error::Format(format!("entropy coder failed: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::image_io::ColorType;
    use tiles::tiles_of;

    fn tiny(seed: u64) -> Model {
        Model::new(
            format!("tiny{seed}"),
            &Weights::random(&Config::tiny(), seed),
        )
    }

    #[test]
    fn choice_takes_the_smaller_model_and_decodes_by_id() {
        let (a, b) = (tiny(5), tiny(6));
        // the network alone: the choice decides every tile's coding
        let opts = Options {
            effort: 0,
            ..Options::default()
        };
        let codec = Codec::from_models(vec![a.clone(), b.clone()])
            .unwrap()
            .with_options(opts.clone())
            .unwrap();
        let images: Vec<Image> = (0..3)
            .map(|k| {
                let data = (0..40 * 36 * 3)
                    .map(|i| ((i * (k + 3)) % 251) as u8)
                    .collect();
                Image::new(40, 36, ColorType::Rgb, data).unwrap()
            })
            .collect();
        let out = codec.compress_many(&images, &[], &|_| {}).unwrap();
        // the payload bytes of an image's probes: the top PROBE_ROWS rows of each tile,
        // which cost what a crop of them costs on its own
        let probe_cost = |image: &Image, engine: &Engine| -> usize {
            tiles_of(0, image.width, image.height)
                .map(|t| {
                    let h = t.h.min(choice::PROBE_ROWS);
                    let mut data = Vec::new();
                    for y in t.y0..t.y0 + h {
                        let at = (y * image.width + t.x0) * 3;
                        data.extend_from_slice(&image.data[at..at + t.w * 3]);
                    }
                    let crop = Image::new(t.w, h, ColorType::Rgb, data).unwrap();
                    compress(&crop, engine, &opts, &|_| {})
                        .unwrap()
                        .1
                        .payload_bytes
                })
                .sum()
        };
        let engines = [a.engine(), b.engine()];
        for (image, file) in images.iter().zip(&out) {
            let which = usize::from(
                probe_cost(image, b.engine()) * 13 < probe_cost(image, a.engine()) * 10,
            );
            let alone = compress(image, engines[which], &opts, &|_| {}).unwrap().0;
            assert_eq!((&file.bytes, file.model), (&alone, Some(which)));
            assert_eq!(file.stats.tiles, 4);
        }
        // decoding follows each file's id, whatever the order of the models
        let swapped = Codec::from_models(vec![b.clone(), a.clone()]).unwrap();
        let refs: Vec<&[u8]> = out.iter().map(|f| f.bytes.as_slice()).collect();
        for (image, r) in images.iter().zip(swapped.decompress_many(&refs, &|_| {})) {
            assert_eq!(&r.unwrap().image, image);
        }
        let other = Codec::from_models(vec![tiny(7)]).unwrap();
        let wrong = other.decompress(refs[0]);
        assert!(matches!(wrong, Err(Error::ModelMismatch { .. })));
        // a larger image is judged on a sample; its file is still exactly the chosen
        // model's, with the sampled tiles' payloads reused
        let data = (0..300 * 70 * 3).map(|i| ((i * 13) % 241) as u8).collect();
        let big = Image::new(300, 70, ColorType::Rgb, data).unwrap();
        let file = codec.compress(&big).unwrap();
        assert_eq!(file.stats.tiles, 30);
        let alone = compress(&big, engines[file.model.unwrap()], &opts, &|_| {})
            .unwrap()
            .0;
        assert_eq!(file.bytes, alone);
    }

    #[test]
    fn decode_only_models_decode_but_never_compress() {
        let image = Image::new(9, 5, ColorType::Gray, (0..45).collect()).unwrap();
        let (a, mut old) = (tiny(5), tiny(6));
        let opts = Options {
            effort: 0,
            ..Options::default()
        };
        let written = Codec::from_models(vec![old.clone()])
            .unwrap()
            .with_options(opts.clone())
            .unwrap()
            .compress(&image)
            .unwrap();
        old.decode_only = true;
        let codec = Codec::from_models(vec![old.clone(), a])
            .unwrap()
            .with_options(opts)
            .unwrap();
        // the old model is skipped when compressing, and still decodes its files
        assert_eq!(codec.compress(&image).unwrap().model, Some(1));
        let back = codec.decompress(&written.bytes).unwrap();
        assert_eq!((back.image, back.model), (image.clone(), Some(0)));
        let only_old = Codec::from_models(vec![old]).unwrap();
        assert!(matches!(only_old.compress(&image), Err(Error::Usage(_))));
    }

    #[test]
    fn threads_never_change_the_bytes() {
        let image = Image::new(
            70,
            40,
            ColorType::Rgb,
            (0..70 * 40 * 3).map(|i| (i * 7 % 253) as u8).collect(),
        )
        .unwrap();
        let engine = Engine::new(&Weights::random(&Config::tiny(), 3));
        for effort in 0..=MAX_EFFORT {
            let bytes: Vec<Vec<u8>> = [1, 2, 3]
                .iter()
                .map(|&threads| {
                    let options = Options {
                        threads,
                        batch: threads,
                        effort,
                        ..Options::default()
                    };
                    let codec = Codec::with_engine(engine.clone())
                        .with_options(options)
                        .unwrap();
                    codec.compress(&image).unwrap().bytes
                })
                .collect();
            assert!(bytes.windows(2).all(|w| w[0] == w[1]), "effort {effort}");
        }
    }

    /// A photo-like image: a gradient with noise, so the network pays on every tile.
    fn noisy(width: usize, height: usize, color: ColorType, seed: u64) -> Image {
        let mut state = seed;
        let ch = color.channels();
        let data = (0..width * height * ch)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let (p, c) = (i / ch, i % ch);
                let g = (p % width) * 3 + (p / width) + c * 50;
                ((g as u64 + (state >> 59)) % 256) as u8
            })
            .collect();
        Image::new(width, height, color, data).unwrap()
    }

    #[test]
    fn adaptive_round_trips_at_every_effort_shape_and_thread_count() {
        let model = tiny(8);
        // 330 × 300: 110 tiles in two streams, edge tiles of three other shapes
        for (w, h, color) in [
            (330, 300, ColorType::Rgb),
            (37, 9, ColorType::Rgba),
            (20, 33, ColorType::GrayAlpha),
            (1, 1, ColorType::Gray),
        ] {
            let image = noisy(w, h, color, w as u64);
            for effort in 1..=MAX_EFFORT {
                let mut files = Vec::new();
                for threads in [1, 2] {
                    let options = Options {
                        threads,
                        batch: 3 * threads,
                        effort,
                        ..Options::default()
                    };
                    let codec = Codec::from_models(vec![model.clone()])
                        .unwrap()
                        .with_options(options)
                        .unwrap();
                    let file = codec.compress(&image).unwrap();
                    // an image of one tile is coded by the network alone or by the adaptive
                    // stage alone at efforts 2 and 3, whichever is smaller
                    // (effort 1 writes the fast version)
                    let version = file.bytes[3];
                    let adaptive = match effort {
                        1 => container::FAST_VERSION,
                        _ => container::ADAPTIVE_VERSION,
                    };
                    let single = w <= 32 && h <= 32 && effort >= 2;
                    if single {
                        assert!(version == container::VERSION || version == adaptive);
                    } else {
                        assert_eq!(version, adaptive);
                    }
                    let opened = codec.open(&file.bytes).unwrap();
                    assert_eq!(file.model.is_some(), opened.header().network);
                    // effort 1 never needs the model (nor does effort 2 with this random
                    // one, which buys too little on a sample to be worth its time)
                    if effort <= 2 && !single {
                        assert_eq!(file.model, None);
                    }
                    let back = codec.decompress(&file.bytes).unwrap();
                    assert!(back.image == image, "{w}×{h} {color:?} effort {effort}");
                    files.push(file.bytes);
                }
                assert_eq!(files[0], files[1], "threads and batch change no bit");
            }
        }
    }

    #[test]
    fn the_network_inside_the_adaptive_stage_changes_no_bit_with_threads_or_batch() {
        // every tile through the network (as effort 3 tries), in streams of several shapes;
        // threads and batch sizes split the engine's work differently
        let model = tiny(9);
        for (w, h, color) in [(330, 300, ColorType::Rgb), (45, 70, ColorType::Rgba)] {
            let image = noisy(w, h, color, 3);
            let tiles = w.div_ceil(32) * h.div_ceil(32);
            let mut files = Vec::new();
            for (threads, batch) in [(1, 1), (2, 8), (3, 5), (2, 16)] {
                let options = Options {
                    threads,
                    batch,
                    effort: 3,
                    ..Options::default()
                };
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let file = pool
                    .install(|| {
                        encode::encode_adaptive(
                            std::slice::from_ref(&image),
                            &[],
                            &[0],
                            &[vec![false; tiles]],
                            true,
                            Some(model.engine()),
                            &options,
                            &|_| {},
                        )
                    })
                    .unwrap()
                    .remove(0);
                let codec = Codec::from_models(vec![model.clone()])
                    .unwrap()
                    .with_options(options)
                    .unwrap();
                assert!(codec.open(&file.bytes).unwrap().header().network);
                let back = codec.decompress(&file.bytes).unwrap();
                assert!(
                    back.image == image,
                    "{w}×{h} threads {threads} batch {batch}"
                );
                files.push(file.bytes);
            }
            assert!(files.windows(2).all(|f| f[0] == f[1]), "{w}×{h}");
        }
    }

    #[test]
    fn incompressible_streams_are_stored() {
        let mut state = 7u64;
        let data = (0..128 * 128 * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let image = Image::new(128, 128, ColorType::Rgb, data).unwrap();
        for effort in 1..=MAX_EFFORT {
            let codec = Codec::from_models(vec![tiny(1)])
                .unwrap()
                .with_options(Options {
                    effort,
                    ..Options::default()
                })
                .unwrap();
            let file = codec.compress(&image).unwrap();
            // 8 bits per subpixel, a header and a mode byte per stream
            assert!(
                file.bytes.len() <= 128 * 128 * 3 + 32,
                "{}",
                file.bytes.len()
            );
            assert!(codec.decompress(&file.bytes).unwrap().image == image);
        }
    }

    #[test]
    fn a_file_without_network_decodes_with_any_model() {
        let image = noisy(40, 40, ColorType::Rgb, 3);
        let options = Options {
            effort: 1,
            ..Options::default()
        };
        let file = Codec::from_models(vec![tiny(1)])
            .unwrap()
            .with_options(options)
            .unwrap()
            .compress(&image)
            .unwrap();
        assert_eq!(&file.bytes[4..8], &[0, 0, 0, 0], "model id 0");
        let other = Codec::from_models(vec![tiny(2)]).unwrap();
        let back = other.decompress(&file.bytes).unwrap();
        assert!(back.image == image);
        assert_eq!(back.model, None);
    }

    #[test]
    fn effort_1_and_its_files_load_no_built_in_model() {
        let image = noisy(40, 40, ColorType::Rgb, 4);
        let codec = Codec::builtin()
            .unwrap()
            .with_options(Options {
                effort: 1,
                ..Options::default()
            })
            .unwrap();
        let file = codec.compress(&image).unwrap();
        let decoder = Codec::builtin().unwrap();
        let back = decoder.decompress(&file.bytes).unwrap();
        assert!(back.image == image);
        for c in [&codec, &decoder] {
            assert!(c.models().iter().all(|m| m.engine.get().is_none()));
        }
        // effort 2 builds the engines it weighs
        let codec = Codec::builtin().unwrap();
        codec.compress(&image).unwrap();
        assert!(codec.models().iter().any(|m| m.engine.get().is_some()));
    }

    #[test]
    fn small_round_trip_with_alpha() {
        let engine = Engine::new(&Weights::random(&Config::tiny(), 5));
        let data: Vec<u8> = (0..9 * 5 * 4).map(|i| (i * 97 % 251) as u8).collect();
        let image = Image::new(9, 5, ColorType::Rgba, data).unwrap();
        let (bytes, _) = compress(&image, &engine, &Options::default(), &|_| {}).unwrap();
        let back = decompress(&bytes, &engine, &Options::default(), &|_| {}).unwrap();
        assert_eq!(back, image);
    }
}
