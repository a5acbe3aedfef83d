//! Human output by default, JSON (one document on stdout) with `--json` for scripts.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    /// No progress bars (they go to stderr, and only to a terminal anyway).
    pub quiet: bool,
}

impl Output {
    /// Prints `value` as JSON, or the human lines.
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> Vec<String>) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("claimcheck: cannot print the result as JSON: {e}"),
            }
        } else {
            for line in human() {
                println!("{line}");
            }
        }
    }
}
