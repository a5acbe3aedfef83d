//! The redriver's schedule: the reconcile pass at a fixed rate, as EventBridge Scheduler
//! invokes it in AWS with `{"mode": "reconcile"}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub async fn run(
    redriver: Arc<redriver::Redriver>,
    metrics: Arc<claimcheck::metrics::Metrics>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await; // the first tick is immediate; the first pass runs after one period
    loop {
        ticks.tick().await;
        let request = redriver::Request {
            mode: redriver::Mode::Reconcile,
            ..redriver::Request::default()
        };
        // Each pass gets the redriver function's own time budget.
        let deadline = SystemTime::now() + Duration::from_secs(300);
        if let Err(e) = redriver::handle(&redriver, &metrics, request, deadline).await {
            tracing::warn!(error = %e, "schedule: reconcile failed");
        }
    }
}
