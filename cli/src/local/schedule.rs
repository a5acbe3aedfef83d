//! The redriver's schedule: the reconcile pass at a fixed rate, as EventBridge Scheduler
//! invokes it in AWS with `{"mode": "reconcile"}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub async fn run(
    redriver: Arc<redriver::Redriver>,
    metrics: Arc<claimcheck::metrics::Metrics>,
    every: Duration,
    call_log: Arc<super::call_log::CallLog>,
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
        let started = std::time::Instant::now();
        let ran = redriver::handle(&redriver, &metrics, request, deadline).await;
        call_log.invocation("redriver", started.elapsed(), 1);
        if let Err(e) = ran {
            tracing::warn!(error = %e, "schedule: reconcile failed");
        }
    }
}
