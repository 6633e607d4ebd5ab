//! The `sending_queue` and `retry_on_failure` blocks, as Alloy's `otelcol.QueueArguments` and
//! `otelcol.RetryArguments` define them (names, defaults, validation messages).

use serde::Deserialize;
use solder_syntax::types::GoDuration;
use solder_syntax::Value;
use std::time::Duration;

fn yes() -> bool {
    true
}
fn default_num_consumers() -> i64 {
    10
}
fn default_queue_size() -> i64 {
    1000
}
fn default_sizer() -> String {
    "requests".to_string()
}

/// `sending_queue { ... }`. Solder's queue is always the durable on-disk one.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct QueueArgs {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_num_consumers")]
    pub num_consumers: i64,
    /// Bound per signal, in units of `sizer`.
    #[serde(default = "default_queue_size")]
    pub queue_size: i64,
    /// Wait for room instead of refusing when full.
    #[serde(default)]
    pub block_on_overflow: bool,
    /// "requests" (payloads) or "bytes"; "items" is refused as not supported yet.
    #[serde(default = "default_sizer")]
    pub sizer: String,
    #[serde(default)]
    pub wait_for_result: bool,
    #[serde(default)]
    pub batch: Option<QueueBatchArgs>,
    #[serde(default)]
    pub storage: Option<Value>,
}

/// `sending_queue { batch { ... } }`: decoded so the block is recognised, refused in validate.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct QueueBatchArgs {
    #[serde(default)]
    pub flush_timeout: GoDuration,
    #[serde(default)]
    pub min_size: i64,
    #[serde(default)]
    pub max_size: i64,
    #[serde(default)]
    pub sizer: String,
}

impl Default for QueueArgs {
    fn default() -> Self {
        QueueArgs {
            enabled: true,
            num_consumers: default_num_consumers(),
            queue_size: default_queue_size(),
            block_on_overflow: false,
            sizer: default_sizer(),
            wait_for_result: false,
            batch: None,
            storage: None,
        }
    }
}

/// How the queue bound is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizer {
    Requests,
    Bytes,
}

impl QueueArgs {
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.queue_size <= 0 {
            return Err("queue_size must be greater than zero".into());
        }
        if self.num_consumers <= 0 {
            return Err("num_consumers must be greater than zero".into());
        }
        self.sizer()?;
        if self.batch.is_some() {
            return Err("sending_queue > batch is not supported by Solder yet".into());
        }
        if self.storage.is_some() {
            return Err("sending_queue > storage is not supported by Solder yet (the sending queue is always kept on disk in the component's data directory)".into());
        }
        if self.wait_for_result {
            return Err("sending_queue > wait_for_result is not supported by Solder yet".into());
        }
        Ok(())
    }

    pub fn sizer(&self) -> Result<Sizer, String> {
        match self.sizer.as_str() {
            "requests" => Ok(Sizer::Requests),
            "bytes" => Ok(Sizer::Bytes),
            "items" => Err("sending_queue > sizer \"items\" is not supported by Solder yet".into()),
            other => Err(format!("invalid sizer: {other}")),
        }
    }

    pub(crate) fn consumers(&self) -> usize {
        usize::try_from(self.num_consumers).unwrap_or(1).max(1)
    }

    pub(crate) fn capacity(&self) -> u64 {
        u64::try_from(self.queue_size).unwrap_or(1).max(1)
    }
}

/// `retry_on_failure { ... }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RetryArgs {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_initial_interval")]
    pub initial_interval: GoDuration,
    #[serde(default = "default_randomization_factor")]
    pub randomization_factor: f64,
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    #[serde(default = "default_max_interval")]
    pub max_interval: GoDuration,
    /// 0 = retry forever.
    #[serde(default = "default_max_elapsed_time")]
    pub max_elapsed_time: GoDuration,
}

fn default_initial_interval() -> GoDuration {
    GoDuration::from_secs(5)
}
fn default_randomization_factor() -> f64 {
    0.5
}
fn default_multiplier() -> f64 {
    1.5
}
fn default_max_interval() -> GoDuration {
    GoDuration::from_secs(30)
}
fn default_max_elapsed_time() -> GoDuration {
    GoDuration::from_secs(300)
}

impl Default for RetryArgs {
    fn default() -> Self {
        RetryArgs {
            enabled: true,
            initial_interval: default_initial_interval(),
            randomization_factor: default_randomization_factor(),
            multiplier: default_multiplier(),
            max_interval: default_max_interval(),
            max_elapsed_time: default_max_elapsed_time(),
        }
    }
}

impl RetryArgs {
    /// Alloy's messages (checked whether or not retries are enabled, as Alloy does).
    pub fn validate(&self) -> Result<(), String> {
        if self.multiplier <= 1.0 {
            return Err("multiplier must be greater than 1.0".into());
        }
        if self.randomization_factor < 0.0 {
            return Err("randomization_factor must be greater or equal to 0".into());
        }
        Ok(())
    }
}

/// Exponential backoff with jitter, the schedule of the Collector's `backoff.ExponentialBackOff`:
/// the n-th wait is `initial * multiplier^n` capped at `max_interval`, randomised by ±factor.
#[derive(Debug)]
pub struct Backoff {
    current: Duration,
    max: Duration,
    multiplier: f64,
    factor: f64,
    seed: u64,
}

impl Backoff {
    pub fn new(r: &RetryArgs) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
        Backoff {
            current: r.initial_interval.0,
            max: r.max_interval.0,
            multiplier: r.multiplier,
            factor: r.randomization_factor.clamp(0.0, 1.0),
            seed,
        }
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.current.as_secs_f64();
        // xorshift64: jitter needs spread, not quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let unit = (self.seed >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        let delta = self.factor * base;
        let wait = (base - delta) + unit * (2.0 * delta);
        let next = (base * self.multiplier).min(self.max.as_secs_f64());
        self.current = Duration::from_secs_f64(next.max(0.0));
        Duration::from_secs_f64(wait.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_factor() {
        let r = RetryArgs {
            initial_interval: GoDuration::from_secs(1),
            max_interval: GoDuration::from_secs(4),
            ..RetryArgs::default()
        };
        let mut b = Backoff::new(&r);
        // Bases 1, 1.5, 2.25, 3.375, 4, 4 with ±50%.
        for base in [1.0, 1.5, 2.25, 3.375, 4.0, 4.0] {
            let w = b.next_wait().as_secs_f64();
            assert!(
                w >= base * 0.5 - 1e-9 && w <= base * 1.5 + 1e-9,
                "{w} vs {base}"
            );
        }
        let mut exact = Backoff::new(&RetryArgs {
            randomization_factor: 0.0,
            initial_interval: GoDuration::from_millis(100),
            multiplier: 2.0,
            ..RetryArgs::default()
        });
        let got: Vec<u128> = (0..4).map(|_| exact.next_wait().as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800]);
    }

    #[test]
    fn validation_messages() {
        let bad = RetryArgs {
            multiplier: 1.0,
            ..RetryArgs::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "multiplier must be greater than 1.0"
        );
        let q = QueueArgs {
            queue_size: 0,
            ..QueueArgs::default()
        };
        assert_eq!(
            q.validate().unwrap_err(),
            "queue_size must be greater than zero"
        );
        let off = QueueArgs {
            enabled: false,
            queue_size: 0,
            ..QueueArgs::default()
        };
        assert!(off.validate().is_ok());
        let items = QueueArgs {
            sizer: "items".into(),
            ..QueueArgs::default()
        };
        assert!(items.validate().unwrap_err().contains("not supported"));
        let bad_sizer = QueueArgs {
            sizer: "x".into(),
            ..QueueArgs::default()
        };
        assert_eq!(bad_sizer.validate().unwrap_err(), "invalid sizer: x");
    }
}
