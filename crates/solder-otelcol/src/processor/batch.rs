//! `otelcol.processor.batch`: merges requests into larger ones, sent when `send_batch_size`
//! items are pending or `timeout` passed, and never larger than `send_batch_max_size` items.
//!
//! Behaviour follows the Collector's `batchprocessor` (with Alloy's defaults: 2000 / 3000):
//! - requests are merged by concatenating their encoded bytes (no decode); an oversized batch
//!   is cut at resource-entry boundaries, decoding only the one entry the cut falls in;
//! - without a timer (`timeout = 0` or `send_batch_size = 0`) every request is sent at once;
//! - on shutdown everything pending is flushed.
//!
//! Durability (a deliberate difference): the Collector acknowledges a request as soon as it is
//! queued in the batcher, so data waiting in a batch is lost on a crash and export errors never
//! reach the sender. Solder's contract is that `Ok` means delivered or durable, so `consume`
//! returns only when every batch holding part of the request was accepted downstream, and
//! returns the downstream error otherwise (the sender then retries, with at-least-once
//! duplicates of parts that did go out). The cost is latency up to `timeout` per request.
//!
//! `metadata_keys` needs per-request client metadata, which Solder payloads do not carry yet,
//! so a non-empty list is rejected.

mod self_metrics;
mod shard;
pub mod split;

use super::common::{processor_label, DebugMetricsArgs, ItemFlowMetrics};
use crate::component_util::{publish_input, replace_shared};
use crate::output::Output;
use self_metrics::SelfMetrics;
use shard::{run_shard, Ack, Piece};
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use solder_syntax::types::GoDuration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<BatchProcessor>::new());
}

/// Requests that may wait for a batcher before senders block (the Collector uses NumCPU).
const QUEUE_DEPTH: usize = 64;

fn default_timeout() -> GoDuration {
    GoDuration::from_millis(200)
}
fn default_send_batch_size() -> u32 {
    2000
}
fn default_send_batch_max_size() -> u32 {
    3000
}
fn default_metadata_cardinality_limit() -> u32 {
    1000
}

/// The component's arguments, as written in config.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Args {
    #[serde(default = "default_timeout")]
    pub timeout: GoDuration,
    #[serde(default = "default_send_batch_size")]
    pub send_batch_size: u32,
    #[serde(default = "default_send_batch_max_size")]
    pub send_batch_max_size: u32,
    #[serde(default)]
    pub metadata_keys: Vec<String>,
    #[serde(default = "default_metadata_cardinality_limit")]
    pub metadata_cardinality_limit: u32,
    pub output: Output,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        self.debug_metrics.validate()?;
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            return Err(
                "send_batch_max_size must be greater or equal to send_batch_size when not 0".into(),
            );
        }
        if !self.metadata_keys.is_empty() {
            return Err("metadata_keys is not supported by Solder yet (requests do not carry client metadata)".into());
        }
        Ok(())
    }
}

/// The settings the batchers read on every step.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub timeout: Duration,
    pub send_batch_size: u32,
    pub send_batch_max_size: u32,
}

impl From<&Args> for Config {
    fn from(a: &Args) -> Config {
        Config {
            timeout: a.timeout.0,
            send_batch_size: a.send_batch_size,
            send_batch_max_size: a.send_batch_max_size,
        }
    }
}

/// What the component, its exported consumer and its batchers share.
pub struct Shared {
    config: RwLock<Config>,
    output: RwLock<Output>,
    metrics: SelfMetrics,
    flow: ItemFlowMetrics,
    senders: [mpsc::Sender<Piece>; 3],
    receivers: Mutex<Option<[mpsc::Receiver<Piece>; 3]>>,
    exited: AtomicBool,
    id: String,
}

fn signal_index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl Shared {
    pub fn config(&self) -> Config {
        match self.config.read() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    pub fn output(&self) -> Output {
        match self.output.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// The exported `input`.
struct BatchInput(Arc<Shared>);

#[async_trait::async_trait]
impl OtlpConsumer for BatchInput {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let shared = &self.0;
        let stopped = || ConsumeError::Retryable {
            message: format!("{} is not running", shared.id),
            retry_after: None,
        };
        if shared.exited.load(Ordering::Acquire) {
            return Err(stopped());
        }
        shared.flow.incoming(payload.signal, payload.items);
        // The Collector drops requests without items rather than batching them.
        if payload.items == 0 {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let piece = Piece {
            bytes: payload.encoded,
            items: payload.items,
            ack: Ack::new(tx),
        };
        shared.senders[signal_index(payload.signal)]
            .send(piece)
            .await
            .map_err(|_| stopped())?;
        // A dropped answer means the batcher stopped before sending the data.
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

pub struct BatchProcessor {
    shared: Arc<Shared>,
}

impl BatchProcessor {
    /// The exported consumer, as a handle.
    pub fn input(&self) -> OtlpConsumerRef {
        Arc::new(BatchInput(Arc::clone(&self.shared)))
    }
}

impl TypedComponent for BatchProcessor {
    const NAME: &'static str = "otelcol.processor.batch";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        args.validate().map_err(ComponentError::Config)?;
        let processor = processor_label("batch", &opts.id);
        let registered = SelfMetrics::new(&processor, &opts.registry).and_then(|m| {
            let flow = ItemFlowMetrics::new(processor.clone())?;
            flow.register(&opts.registry)?;
            Ok((m, flow))
        });
        let (metrics, flow) = registered
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let (t_tx, t_rx) = mpsc::channel(QUEUE_DEPTH);
        let (m_tx, m_rx) = mpsc::channel(QUEUE_DEPTH);
        let (l_tx, l_rx) = mpsc::channel(QUEUE_DEPTH);
        let shared = Arc::new(Shared {
            config: RwLock::new(Config::from(&args)),
            output: RwLock::new(args.output),
            metrics,
            flow,
            senders: [t_tx, m_tx, l_tx],
            receivers: Mutex::new(Some([t_rx, m_rx, l_rx])),
            exited: AtomicBool::new(false),
            id: opts.id.clone(),
        });
        let input: OtlpConsumerRef = Arc::new(BatchInput(Arc::clone(&shared)));
        publish_input(&opts, input);
        Ok(BatchProcessor { shared })
    }
}

impl Component for BatchProcessor {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            let receivers = self
                .shared
                .receivers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let Some([t, m, l]) = receivers else {
                return Err(ComponentError::Other(
                    "otelcol.processor.batch: run called twice".into(),
                ));
            };
            let shared = &self.shared;
            tokio::join!(
                run_shard(Arc::clone(shared), Signal::Traces, t, shutdown.clone()),
                run_shard(Arc::clone(shared), Signal::Metrics, m, shutdown.clone()),
                run_shard(Arc::clone(shared), Signal::Logs, l, shutdown.clone()),
            );
            shared.exited.store(true, Ordering::Release);
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        args.validate().map_err(ComponentError::Config)?;
        replace_shared(&self.shared.config, Config::from(&args));
        replace_shared(&self.shared.output, args.output);
        Ok(())
    }
}
