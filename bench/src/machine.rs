//! What the harness reads of the machine and its processes (Linux `/proc`).

/// Whether the process `pid` still runs.
pub fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The process's peak resident set (`VmHWM`), in MB.
pub fn peak_rss_mb(pid: u32) -> f64 {
    proc_status_mb(pid, "VmHWM:")
}

/// The process's resident set now, in MB.
pub fn rss_mb(pid: u32) -> f64 {
    proc_status_mb(pid, "VmRSS:")
}

/// A `kB` line of `/proc/<pid>/status`, in MB (NaN if unreadable).
fn proc_status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The 1, 5 and 15 minute load averages (other processes on the machine show up there).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The CPUs this process may use (0 if unknown).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}
