//! Self-metrics of `otelcol.processor.batch`, named as the Collector's batch processor exports
//! them through Alloy's Prometheus bridge (`processor` label = `batch/<component id>`).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry};

/// The Collector's `processor_batch_batch_send_size` bucket boundaries.
const SEND_SIZE_BUCKETS: [f64; 22] = [
    10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
    6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
];

/// The Collector's `processor_batch_batch_send_size_bytes` bucket boundaries.
const SEND_BYTES_BUCKETS: [f64; 18] = [
    128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0, 131072.0,
    262144.0, 524288.0, 1048576.0, 2097152.0, 4194304.0, 8388608.0, 16777216.0,
];

#[derive(Clone)]
pub struct SelfMetrics {
    pub send_size: Histogram,
    pub send_size_bytes: Histogram,
    pub size_trigger: IntCounter,
    pub timeout_trigger: IntCounter,
}

impl SelfMetrics {
    pub fn new(processor: &str, registry: &Registry) -> Result<Self, prometheus::Error> {
        let label = |o: Opts| o.const_label("processor", processor);
        let send_size = Histogram::with_opts(
            HistogramOpts::new(
                "otelcol_processor_batch_batch_send_size",
                "Number of units in the batch",
            )
            .const_label("processor", processor)
            .buckets(SEND_SIZE_BUCKETS.to_vec()),
        )?;
        let send_size_bytes = Histogram::with_opts(
            HistogramOpts::new(
                "otelcol_processor_batch_batch_send_size_bytes",
                "Number of bytes in batch that was sent. Only available on detailed level.",
            )
            .const_label("processor", processor)
            .buckets(SEND_BYTES_BUCKETS.to_vec()),
        )?;
        let size_trigger = IntCounter::with_opts(label(Opts::new(
            "otelcol_processor_batch_batch_size_trigger_send_total",
            "Number of times the batch was sent due to a size trigger",
        )))?;
        let timeout_trigger = IntCounter::with_opts(label(Opts::new(
            "otelcol_processor_batch_timeout_trigger_send_total",
            "Number of times the batch was sent due to a timeout trigger",
        )))?;
        let metadata_cardinality = IntGauge::with_opts(label(Opts::new(
            "otelcol_processor_batch_metadata_cardinality",
            "Number of distinct metadata value combinations being processed",
        )))?;
        // Without metadata_keys there is exactly one batcher, as the Collector reports.
        metadata_cardinality.set(1);
        registry.register(Box::new(send_size.clone()))?;
        registry.register(Box::new(send_size_bytes.clone()))?;
        registry.register(Box::new(size_trigger.clone()))?;
        registry.register(Box::new(timeout_trigger.clone()))?;
        registry.register(Box::new(metadata_cardinality.clone()))?;
        Ok(SelfMetrics {
            send_size,
            send_size_bytes,
            size_trigger,
            timeout_trigger,
        })
    }
}
