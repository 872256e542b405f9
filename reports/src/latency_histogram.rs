//! Latencies in bounded memory, for the report's quantiles: a sparse log-linear histogram
//! (the idea of HdrHistogram). The table's histograms ([`LatencyHistogram::fine`]) count
//! each latency in a bin of 1 µs below 4.096 ms and of a 2,048th of its power of two above,
//! so a quantile read from them is exact to the microsecond below 4 ms and within 0.05 %
//! above; the plot's, one per time bucket ([`LatencyHistogram::coarse`]), within 1 %. The
//! maximum is kept exactly.

use crate::latency::Quantiles;
use rustc_hash::FxHashMap;

/// Bins per power of two of the table's histograms (a power of two).
const FINE_BINS: u64 = 2_048;
/// Bins per power of two of the plot's.
const COARSE_BINS: u64 = 128;

/// A histogram of latencies in ms.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    /// Bins per power of two; below twice this many µs, bins are one µs wide.
    sub_bins: u64,
    bins: FxHashMap<u32, u64>,
    n: u64,
    max_ms: f64,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram::fine()
    }
}

impl LatencyHistogram {
    /// A histogram exact to the µs below 4.096 ms, within 0.05 % above.
    pub fn fine() -> LatencyHistogram {
        LatencyHistogram::with_bins(FINE_BINS)
    }

    /// A histogram exact to the µs below 0.256 ms, within 1 % above: a few hundred bins at
    /// most for a run's latencies, so one per time bucket stays small.
    pub fn coarse() -> LatencyHistogram {
        LatencyHistogram::with_bins(COARSE_BINS)
    }

    fn with_bins(sub_bins: u64) -> LatencyHistogram {
        LatencyHistogram { sub_bins, bins: FxHashMap::default(), n: 0, max_ms: 0.0 }
    }

    fn bin_of(&self, ms: f64) -> u32 {
        let linear = 2 * self.sub_bins;
        let us = (ms * 1000.0).round().max(1.0) as u64;
        if us < linear {
            return us as u32;
        }
        // us >> shift lies in [sub_bins, 2 * sub_bins).
        let shift = 63 - us.leading_zeros() as u64 - self.sub_bins.trailing_zeros() as u64;
        (linear + (shift - 1) * self.sub_bins + ((us >> shift) - self.sub_bins)) as u32
    }

    /// The middle of bin `bin`, in ms.
    fn ms_of(&self, bin: u32) -> f64 {
        let (bin, linear) = (bin as u64, 2 * self.sub_bins);
        if bin < linear {
            return bin as f64 / 1000.0;
        }
        let shift = (bin - linear) / self.sub_bins + 1;
        let low = ((bin - linear) % self.sub_bins + self.sub_bins) << shift;
        (low as f64 + (1u64 << shift) as f64 / 2.0) / 1000.0
    }

    /// Counts one latency.
    pub fn add(&mut self, ms: f64) {
        *self.bins.entry(self.bin_of(ms)).or_default() += 1;
        self.n += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// Adds every count of `other`, which has the same bins.
    pub fn merge(&mut self, other: LatencyHistogram) {
        debug_assert_eq!(self.sub_bins, other.sub_bins);
        for (bin, n) in other.bins {
            *self.bins.entry(bin).or_default() += n;
        }
        self.n += other.n;
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    /// The quantiles, by nearest rank as [`Quantiles::of`] picks them.
    pub fn quantiles(&self) -> Quantiles {
        if self.n == 0 {
            return Quantiles::default();
        }
        let mut bins: Vec<(u32, u64)> = self.bins.iter().map(|(&b, &n)| (b, n)).collect();
        bins.sort_unstable();
        let at = |q: f64| {
            let rank = ((self.n as f64 - 1.0) * q).round() as u64;
            let mut seen = 0;
            for &(bin, n) in &bins {
                seen += n;
                if seen > rank {
                    return self.ms_of(bin).min(self.max_ms);
                }
            }
            self.max_ms
        };
        Quantiles { n: self.n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: self.max_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_exact_to_the_microsecond_at_first_then_within_their_stated_error() {
        for (h, linear_ms, error) in
            [(LatencyHistogram::fine(), 4.096, 5e-4), (LatencyHistogram::coarse(), 0.256, 1e-2)]
        {
            for us in 1..(linear_ms * 1000.0) as u64 {
                assert_eq!(h.ms_of(h.bin_of(us as f64 / 1000.0)), us as f64 / 1000.0);
            }
            let mut ms = linear_ms;
            while ms < 1e8 {
                let back = h.ms_of(h.bin_of(ms));
                assert!((back - ms).abs() / ms < error, "{ms} ms read back as {back}");
                ms *= 1.013;
            }
        }
    }

    #[test]
    fn bins_grow_with_the_latency() {
        for h in [LatencyHistogram::fine(), LatencyHistogram::coarse()] {
            let mut last = 0;
            let mut us = 1u64;
            while us < 1 << 40 {
                let b = h.bin_of(us as f64 / 1000.0);
                assert!(b >= last, "{us} µs");
                last = b;
                us += 1 + us / 997;
            }
        }
    }

    #[test]
    fn quantiles_agree_with_the_exact_ones_to_the_bin() {
        let mut ms: Vec<f64> = (0..10_000).map(|i| 0.05 + (i as f64 * 0.7919).sin().abs() * 300.0).collect();
        let mut h = LatencyHistogram::default();
        for &m in &ms {
            h.add(m);
        }
        let (a, b) = (h.quantiles(), Quantiles::of(&mut ms));
        assert_eq!((a.n, a.max), (b.n, b.max));
        for (x, y) in [(a.p50, b.p50), (a.p90, b.p90), (a.p99, b.p99), (a.p999, b.p999)] {
            assert!((x - y).abs() <= y * 5e-4 + 0.0005, "{x} against {y}");
        }
    }
}
