//! Progress bars for transfers, on stderr, only when it is a terminal (and not `--quiet`): one
//! bar per file, several files' bars shown together (indicatif's `MultiProgress`).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` bytes (0: unknown, a stream) labelled `what`.
pub fn bar(total: u64, what: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        (total > 0).then_some(total),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    let template = if total > 0 {
        "{msg:>11} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
    } else {
        "{msg:>11} {bytes} {binary_bytes_per_sec}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// The bars of one command, shown together.
pub struct Bars {
    multi: MultiProgress,
    /// No bars at all (and no progress lines).
    pub quiet: bool,
}

impl Bars {
    /// Bars on stderr, or none when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            quiet,
        }
    }

    /// A new bar of `total` bytes (0: unknown) for `file`, doing `what`.
    pub fn add(&self, total: u64, file: &str, what: &str) -> ProgressBar {
        let label = match file.rsplit('/').next() {
            Some(name) if !name.is_empty() => format!("{what} {name}"),
            _ => what.to_owned(),
        };
        self.multi.add(bar(total, &label, self.quiet))
    }
}
