//! The processor `claimcheck local` runs: the verifying processor (size and SHA-256 checked
//! while streaming), plus a fault switch for demonstrations — while the switch file exists,
//! payloads of the poison content type fail on every attempt, so they dead-letter; once it is
//! removed, a redrive brings them through.

use std::path::PathBuf;

use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor, VerifyingProcessor};

/// The content type that the switch makes fail.
pub const POISON_CONTENT_TYPE: &str = "application/x-claimcheck-poison";

#[derive(Debug, Clone, Default)]
pub struct PoisonSwitch {
    /// While this file exists, poison payloads fail.
    pub switch: Option<PathBuf>,
}

impl Processor for PoisonSwitch {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        let poisoned = meta.content_type.as_deref() == Some(POISON_CONTENT_TYPE)
            && self.switch.as_ref().is_some_and(|path| path.exists());
        if poisoned {
            return Outcome::Retry("poison payload: the fault switch is on".into());
        }
        VerifyingProcessor.process(meta, body).await
    }
}
