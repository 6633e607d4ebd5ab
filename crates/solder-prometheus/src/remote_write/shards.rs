//! How many shards an endpoint should run, recomputed every [`SHARD_UPDATE_INTERVAL`]: a
//! simplified form of Prometheus's `calculateDesiredShards`.
//!
//! Each shard sends one request at a time, so the work to do per second is
//! `time_per_sample × samples_per_second`, and that many shards keep up. With
//! - `in_rate`: samples read from the queue per second,
//! - `time_per_sample`: seconds shards spend busy per successfully sent sample (building and
//!   compressing a request, then the send call; summed over shards, so it is the cost of one
//!   sample on one shard),
//! - `backlog`: samples waiting (unread in the queue plus buffered in shards), of which 5% per
//!   second are to be caught up (Prometheus's `backlogCatchup`),
//!
//! `desired = time_per_sample × (in_rate + 0.05 × backlog)`. Rates are smoothed with an EWMA
//! (weight 0.2, Prometheus's). A result within ±30% of the current count keeps the current
//! count, so small fluctuations do not restart the shards; the result is clamped to
//! `[min_shards, max_shards]`. Prometheus also skips scaling up while sends are failing (more
//! shards would only hammer a broken endpoint); so does this.

use std::time::Duration;

/// How often the desired shard count is recomputed (Prometheus: 10s).
pub const SHARD_UPDATE_INTERVAL: Duration = Duration::from_secs(10);

const EWMA_WEIGHT: f64 = 0.2;
const BACKLOG_CATCHUP: f64 = 0.05;
const TOLERANCE: f64 = 0.3;

/// Cumulative counters the calculator reads; it keeps the previous values itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub samples_in: u64,
    pub samples_out: u64,
    pub send_seconds: f64,
}

#[derive(Debug, Default)]
pub struct ShardCalculator {
    last: Totals,
    in_rate: Option<f64>,
    out_rate: Option<f64>,
    send_rate: Option<f64>,
}

fn ewma(prev: Option<f64>, now: f64) -> f64 {
    match prev {
        None => now,
        Some(p) => p + EWMA_WEIGHT * (now - p),
    }
}

impl ShardCalculator {
    /// The shard count to run. `interval` is the time since the previous call, `failing` whether
    /// the latest send failed.
    #[allow(clippy::too_many_arguments)]
    pub fn desired(
        &mut self,
        current: usize,
        min: usize,
        max: usize,
        totals: Totals,
        backlog: f64,
        interval: Duration,
        failing: bool,
    ) -> usize {
        let secs = interval.as_secs_f64().max(1e-3);
        let d_in = totals.samples_in.saturating_sub(self.last.samples_in) as f64;
        let d_out = totals.samples_out.saturating_sub(self.last.samples_out) as f64;
        let d_send = (totals.send_seconds - self.last.send_seconds).max(0.0);
        self.last = totals;
        let in_rate = ewma(self.in_rate, d_in / secs);
        let out_rate = ewma(self.out_rate, d_out / secs);
        let send_rate = ewma(self.send_rate, d_send / secs);
        self.in_rate = Some(in_rate);
        self.out_rate = Some(out_rate);
        self.send_rate = Some(send_rate);

        let clamp = |n: usize| n.clamp(min, max.max(min));
        if out_rate <= 0.0 {
            // Nothing was sent: no measurement of the cost per sample.
            return clamp(current);
        }
        let time_per_sample = send_rate / out_rate;
        let wanted = time_per_sample * (in_rate + BACKLOG_CATCHUP * backlog.max(0.0));
        let cur = current as f64;
        if wanted >= cur * (1.0 - TOLERANCE) && wanted <= cur * (1.0 + TOLERANCE) {
            return clamp(current);
        }
        let wanted = wanted.ceil().max(1.0) as usize;
        if failing && wanted > current {
            return clamp(current);
        }
        clamp(wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(i: u64, o: u64, s: f64) -> Totals {
        Totals {
            samples_in: i,
            samples_out: o,
            send_seconds: s,
        }
    }

    #[test]
    fn scales_with_cost_times_rate() {
        let ten = SHARD_UPDATE_INTERVAL;
        // 10k samples/s in and out, 1 ms of send time per sample: 10 shards' worth of work.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(1, 1, 50, totals(100_000, 100_000, 100.0), 0.0, ten, false),
            10
        );
        // Capped at max_shards.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(1, 1, 4, totals(100_000, 100_000, 100.0), 0.0, ten, false),
            4
        );
        // Within ±30%: stay.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(9, 1, 50, totals(100_000, 100_000, 100.0), 0.0, ten, false),
            9
        );
        // Cheap sends: back down to min_shards.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(20, 2, 50, totals(1_000, 1_000, 0.01), 0.0, ten, false),
            2
        );
        // A backlog asks for more: 5% of 200k = 10k/s extra.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(
                1,
                1,
                50,
                totals(100_000, 100_000, 100.0),
                200_000.0,
                ten,
                false
            ),
            20
        );
        // Failing sends never scale up.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(3, 1, 50, totals(100_000, 100_000, 100.0), 0.0, ten, true),
            3
        );
        // Nothing sent yet: keep.
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(5, 1, 50, totals(1000, 0, 0.0), 0.0, ten, false),
            5
        );
    }

    #[test]
    fn rates_are_smoothed_between_calls() {
        let ten = SHARD_UPDATE_INTERVAL;
        let mut c = ShardCalculator::default();
        assert_eq!(
            c.desired(1, 1, 50, totals(100_000, 100_000, 100.0), 0.0, ten, false),
            10
        );
        // Input stops: the EWMA decays by 20% per interval, it does not drop at once.
        let n = c.desired(10, 1, 50, totals(100_000, 200_000, 200.0), 0.0, ten, false);
        assert_eq!(n, 10, "8 shards' worth is within tolerance of 10");
    }
}
