//! Ctrl-C and SIGTERM during `upload`: a multipart upload in flight is told, so it can leave
//! things tidy (a stream's upload aborted, a file's left for `--resume`, and a line saying
//! which); at any other moment, or on a second signal, the command ends at once with exit
//! 130, as the default handler would. (tokio's signal streams replace the default handler for
//! the whole process once listened to, so the listening is done here, once.)

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Multipart uploads listening right now.
static LISTENING: AtomicUsize = AtomicUsize::new(0);
static SIGNALLED: Notify = Notify::const_new();

/// Starts listening for Ctrl-C and SIGTERM (once per process).
pub fn install() {
    tokio::spawn(async {
        let mut told = false;
        loop {
            received().await;
            if told || LISTENING.load(Ordering::SeqCst) == 0 {
                eprintln!("claimcheck: interrupted");
                std::process::exit(130);
            }
            told = true;
            SIGNALLED.notify_waiters();
        }
    });
}

/// While held, a signal is this upload's to handle ([`interrupted`]).
pub struct Listening(());

impl Listening {
    /// Claims the next signal.
    pub fn start() -> Self {
        LISTENING.fetch_add(1, Ordering::SeqCst);
        Self(())
    }

    /// Resolves when a signal arrives.
    pub async fn interrupted(&self) {
        SIGNALLED.notified().await;
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        LISTENING.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn received() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
