//! The processor `claimcheck local` runs: the verifying processor (size and SHA-256 checked
//! while streaming), plus a fault switch for demonstrations — while the switch file exists,
//! payloads of the poison content type fail on every attempt, so they dead-letter; once it is
//! removed, a redrive brings them through — and, for fault tests, a side-effect log: each
//! processed payload's id appended to a file before the consumer records it `done`, as a real
//! processor's side effect would happen.

use std::path::PathBuf;

use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor, VerifyingProcessor};

/// The content type that the switch makes fail.
pub const POISON_CONTENT_TYPE: &str = "application/x-claimcheck-poison";

#[derive(Debug, Clone, Default)]
pub struct PoisonSwitch {
    /// While this file exists, poison payloads fail.
    pub switch: Option<PathBuf>,
    /// Each processed payload's id is appended here, one line each.
    pub effects: Option<PathBuf>,
}

impl Processor for PoisonSwitch {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        let poisoned = meta.content_type.as_deref() == Some(POISON_CONTENT_TYPE)
            && self.switch.as_ref().is_some_and(|path| path.exists());
        if poisoned {
            return Outcome::Retry("poison payload: the fault switch is on".into());
        }
        let outcome = VerifyingProcessor.process(meta, body).await;
        if let (Outcome::Done { .. }, Some(path)) = (&outcome, &self.effects) {
            // One append of a whole line (atomic under O_APPEND): the side effect is on disk
            // before the ledger hears of it.
            let line = format!("{}\n", meta.id.as_deref().unwrap_or("-"));
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| std::io::Write::write_all(&mut file, line.as_bytes()));
            if let Err(e) = written {
                return Outcome::Retry(format!("cannot record the side effect: {e}"));
            }
        }
        outcome
    }
}
