//! What the benchmarks of this crate share: reading this process's own resource use, which
//! on a shared machine is steadier than wall time.

/// CPU time (user + system, all threads) this process has used, in seconds, from
/// `/proc/self/stat` (Linux clock ticks, 100 a second); 0 where that file is missing.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
