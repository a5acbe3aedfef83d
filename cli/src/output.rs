//! Human output by default, JSON (one document on stdout) with `--json` for scripts.

use std::io::Write;

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    /// No progress bars (they go to stderr, and only to a terminal anyway).
    pub quiet: bool,
}

impl Output {
    /// Prints `value` as JSON, or the human lines. A reader that stopped reading (`| head`, a
    /// closed pipe) is not an error of the command: the rest of the output is dropped quietly
    /// (`println!` would panic).
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> Vec<String>) {
        let lines = if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => vec![text],
                Err(e) => {
                    eprintln!("claimcheck: cannot print the result as JSON: {e}");
                    return;
                }
            }
        } else {
            human()
        };
        let mut stdout = std::io::stdout().lock();
        for line in lines {
            if writeln!(stdout, "{line}").is_err() {
                return;
            }
        }
        let _ = stdout.flush();
    }
}
