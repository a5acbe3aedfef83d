//! What the client-CPU benchmarks share: the workload, so `transfer_floor` moves exactly the
//! bytes `client_cpu` does, and the CPU accounting.

/// Messages per run.
pub const MESSAGES: usize = 200;
/// Bytes per message: 1 MiB.
pub const SIZE: usize = 1 << 20;

/// (user, sys) CPU seconds this process has used so far.
pub fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}
