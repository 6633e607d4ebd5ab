//! `otelcol.receiver.otlp`: accepts OTLP over gRPC (`grpc` block, default `0.0.0.0:4317`) and
//! HTTP (`http` block, default `0.0.0.0:4318`); a server runs only for a block that is present.
//!
//! Requests stay encoded: gRPC bodies are taken as raw bytes by a custom codec, HTTP protobuf
//! bodies pass through after decompression, and OTLP/JSON is converted to protobuf once
//! ([`crate::otlp_json`]). Every request is validated and counted by [`crate::wire`] before it
//! reaches the `output` consumers, and the client gets success only after they all accepted it.
//!
//! Ports are bound in `run` (a reload builds the new instance before the old one stops). An
//! update that only changes `output` swaps the consumers in place; one that changes a server
//! restarts the servers.

mod config;
mod decompress;
mod grpc;
mod http;
mod ingest;
mod metrics;
mod server;

pub use config::{
    Args, CorsArgs, DebugMetricsArgs, GrpcServerArgs, HttpServerArgs, KeepaliveArgs,
    KeepaliveEnforcementPolicy, KeepaliveServerParameters, DEFAULT_MAX_RECV_MSG_SIZE,
    DEFAULT_MAX_REQUEST_BODY_SIZE,
};
pub use decompress::{decompress, DecompressError};
pub use grpc::RawRequestCodec;
pub use ingest::{encode_status, Refusal};

use ingest::Ingest;
use metrics::ReceiverMetrics;
use server::{ServerSet, Servers};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<OtlpReceiver>::new());
}

pub struct OtlpReceiver {
    opts: ComponentOptions,
    ingest: Arc<Ingest>,
    servers: watch::Sender<Arc<Servers>>,
    /// The addresses the running servers are bound to (for tests and `debug_info`).
    bound: Arc<Mutex<BoundAddrs>>,
}

/// Where the servers listen once `run` has bound them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundAddrs {
    pub grpc: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

impl OtlpReceiver {
    /// The bound addresses (`None` until `run` has started the servers).
    pub fn bound_addrs(&self) -> BoundAddrs {
        match self.bound.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
}

impl TypedComponent for OtlpReceiver {
    const NAME: &'static str = "otelcol.receiver.otlp";
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        args.validate().map_err(ComponentError::Config)?;
        let metrics = ReceiverMetrics::new(&opts.id, &opts.registry)
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let ingest = Arc::new(Ingest::new(args.output.clone(), metrics));
        let (servers, _) = watch::channel(Arc::new(Servers::from_args(&args)));
        Ok(OtlpReceiver {
            opts,
            ingest,
            servers,
            bound: Arc::new(Mutex::new(BoundAddrs::default())),
        })
    }
}

impl Component for OtlpReceiver {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            let mut rx = self.servers.subscribe();
            loop {
                let config = Arc::clone(&rx.borrow_and_update());
                let generation = shutdown.child_token();
                let mut set =
                    match ServerSet::start(&config, &self.ingest, generation.clone()).await {
                        Ok(set) => set,
                        Err(e) => {
                            self.opts.health.unhealthy(e.to_string());
                            return Err(e);
                        }
                    };
                self.set_bound(set.addrs());
                self.opts.health.healthy("servers started");
                let next = tokio::select! {
                    _ = shutdown.cancelled() => Next::Shutdown,
                    changed = rx.changed() => match changed {
                        Ok(()) => Next::Restart,
                        Err(_) => Next::Shutdown,
                    },
                    failed = set.failed() => Next::Failed(failed),
                };
                generation.cancel();
                set.stop().await;
                self.set_bound(BoundAddrs::default());
                match next {
                    Next::Restart => continue,
                    Next::Shutdown => return Ok(()),
                    Next::Failed(e) => {
                        self.opts.health.unhealthy(e.to_string());
                        return Err(e);
                    }
                }
            }
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        args.validate().map_err(ComponentError::Config)?;
        self.ingest.set_output(args.output.clone());
        let next = Servers::from_args(&args);
        self.servers.send_if_modified(|current| {
            if current.same_as(&next) {
                false
            } else {
                *current = Arc::new(next);
                true
            }
        });
        Ok(())
    }

    fn debug_info(&self) -> Option<serde_json::Value> {
        let b = self.bound_addrs();
        Some(serde_json::json!({
            "grpc": b.grpc.map(|a| a.to_string()),
            "http": b.http.map(|a| a.to_string()),
        }))
    }
}

/// What the run loop does after its servers stop.
enum Next {
    Shutdown,
    Restart,
    Failed(ComponentError),
}

impl OtlpReceiver {
    fn set_bound(&self, addrs: BoundAddrs) {
        match self.bound.lock() {
            Ok(mut g) => *g = addrs,
            Err(p) => *p.into_inner() = addrs,
        }
    }
}
