//! One error type for every subcommand, with the exit code it maps to. Messages are one line,
//! say what went wrong in the user's terms, and never contain presigned URLs or credentials.

/// Exit codes: 0 success, 1 a remote failure (AWS, the API, a transfer), 2 a usage or input
/// mistake (bad flag, missing or unreadable file, bad URL, a request the API refused),
/// 3 something named does not exist (unknown payload id), 4 an integrity check failed,
/// 5 a repair run (redrive, reconcile) ran but did not finish: it stopped early (the DLQ or
/// ledger unreadable, the time limit) or an action failed; its report was printed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {reason}")]
    Input { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    /// A 4xx or 5xx from the API: the handler's `{"error": {"code", "message"}}`, or (with an
    /// empty `code`) API Gateway's own `{"message"}`.
    #[error("the API refused the request ({status}{}): {message}", if code.is_empty() { String::new() } else { format!(" {code}") })]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Remote(String),
    #[error("{0}")]
    Integrity(String),
    #[error("{0}")]
    Incomplete(String),
    /// Some files of a several-file command failed (each reported as it happened); the exit
    /// code is the first failure's.
    #[error("{failed} of {total} files were not uploaded (each is reported above)")]
    SomeFiles {
        failed: usize,
        total: usize,
        exit_code: u8,
    },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Remote(_) => 1,
            Self::Refused { status, .. } if *status >= 500 => 1,
            Self::Usage(_) | Self::Input { .. } | Self::Output { .. } | Self::Refused { .. } => 2,
            Self::NotFound(_) => 3,
            Self::Integrity(_) => 4,
            Self::Incomplete(_) => 5,
            Self::SomeFiles { exit_code, .. } => *exit_code,
        }
    }

    pub fn input(path: &std::path::Path, error: &std::io::Error) -> Self {
        Self::Input {
            path: path.display().to_string(),
            reason: io_reason(error),
        }
    }

    pub fn output(path: &std::path::Path, error: &std::io::Error) -> Self {
        Self::Output {
            path: path.display().to_string(),
            reason: io_reason(error),
        }
    }

    /// A failed HTTP exchange, without the URL (presigned URLs carry credentials).
    pub fn transfer(what: &str, error: reqwest::Error) -> Self {
        let error = error.without_url();
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        Self::Remote(format!("{what}: {reason}"))
    }
}

/// `No such file or directory` rather than `No such file or directory (os error 2)`.
fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
