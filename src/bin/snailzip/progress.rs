//! Progress bars: the one place that styles them. The library reports progress through
//! callbacks and never draws; the binary turns those calls into bars here.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` units for a coding job (hidden when quiet or when there is too little to
/// show).
pub(crate) fn coding_bar(total: usize, quiet: bool, what: &str, unit: &str) -> ProgressBar {
    if quiet || total < 4 {
        return ProgressBar::hidden();
    }
    styled(
        ProgressBar::new(total as u64),
        &format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}} (eta {{eta}})"),
        what,
    )
}

/// A bar over the tiles of one file, whose count is set when the file has been read
/// ([`set_tiles`]).
pub(crate) fn tile_bar(quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    styled(
        ProgressBar::new(0),
        "{msg} [{bar:30}] {pos}/{len} tiles, {elapsed} (eta {eta})",
        what,
    )
}

/// Sizes a [`tile_bar`]; too few tiles to be worth a bar hide it.
pub(crate) fn set_tiles(bar: &ProgressBar, tiles: usize) {
    if tiles < 4 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_length(tiles as u64);
}

/// A bar of `total` images for one codec of a benchmark.
pub(crate) fn bench_bar(total: usize, quiet: bool, codec: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    styled(
        ProgressBar::new(total as u64),
        "{msg:>10} [{bar:30}] {pos}/{len} images, {elapsed} (eta {eta})",
        codec,
    )
}

/// A bar for a training run: steps against the target, or a spinner without one. Its
/// position is set by [`train_step`].
#[cfg(feature = "train")]
pub(crate) fn train_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    styled(
        ProgressBar::new_spinner(),
        "{elapsed_precise} [{bar:30}] step {pos} {msg}",
        "",
    )
}

/// Shows one training step on `bar`.
#[cfg(feature = "train")]
pub(crate) fn train_step(bar: &ProgressBar, r: &snailzip::train::StepReport) {
    if let Some(t) = r.target {
        if bar.length() != Some(t) {
            bar.set_length(t);
        }
    }
    bar.set_position(r.step);
    bar.set_message(format!(
        "loss {:.3} bits/dim (avg {:.3}) | val {} | {:.1} img/s",
        r.loss_bpd,
        r.smoothed_bpd,
        r.val_bpd.map_or("-".into(), |v| format!("{v:.3}")),
        r.images_per_s,
    ));
}

fn styled(bar: ProgressBar, template: &str, message: &str) -> ProgressBar {
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
