//! Latency percentiles and the one line per run that scripts read.
//!
//! Every latency is kept and sorted: a run holds at most a few hundred thousand, so exact
//! percentiles cost less than a histogram's dependency.

use std::fmt;
use std::time::Duration;

/// Throughput and latency of the writes acknowledged in a measured window.
#[derive(Debug)]
pub struct Summary {
    latencies: Vec<Duration>,
    errors: u64,
    window: Duration,
}

impl Summary {
    /// Summarises `latencies` (in any order) of writes made in `window`, `errors` of which
    /// failed and are not among them.
    pub fn new(mut latencies: Vec<Duration>, errors: u64, window: Duration) -> Summary {
        latencies.sort_unstable();
        Summary {
            latencies,
            errors,
            window,
        }
    }

    /// Acknowledged writes per second of the window.
    pub fn ops_per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    /// The latency that a fraction `q` (0 to 1) of writes did not exceed, by nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    /// The slowest write.
    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// A run's result as `key=value` fields on one line, after the fields that name the run.
#[derive(Debug)]
pub struct ResultLine<'a> {
    /// Fields naming the run: system, clients, value size.
    pub run: Vec<(&'static str, String)>,
    /// What was measured.
    pub summary: &'a Summary,
}

impl fmt::Display for ResultLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registry-load")?;
        for (name, value) in &self.run {
            write!(f, " {name}={value}")?;
        }
        let s = self.summary;
        write!(
            f,
            " ops={} errors={} ops_per_s={:.1} p50_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            s.latencies.len(),
            s.errors,
            s.ops_per_second(),
            millis(s.quantile(0.50)),
            millis(s.quantile(0.99)),
            millis(s.max()),
        )
    }
}

/// A duration in milliseconds, with its fraction.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let summary = Summary::new((1..=100).rev().map(ms).collect(), 0, Duration::from_secs(2));
        assert_eq!(summary.quantile(0.50), ms(50));
        assert_eq!(summary.quantile(0.99), ms(99));
        assert_eq!(summary.max(), ms(100));
        assert_eq!(summary.ops_per_second(), 50.0);
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let summary = Summary::new(Vec::new(), 3, Duration::from_secs(1));
        assert_eq!(summary.quantile(0.99), Duration::ZERO);
        assert_eq!(summary.max(), Duration::ZERO);
    }
}
