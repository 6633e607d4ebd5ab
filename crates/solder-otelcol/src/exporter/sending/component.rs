//! The component wrapper both OTLP exporters share: build the wire client from the arguments,
//! put a [`Sending`] queue in front of it, publish its consumer as the `input` export, and on
//! update rebuild the client and hand it to the queue. Only the wire client differs between
//! `otelcol.exporter.otlp` and `otelcol.exporter.otlphttp`, so that is all a protocol supplies.

use super::{QueueArgs, RetryArgs, SenderRef, Sending};
use crate::component_util::publish_input;
use solder_core::signals::otlp::OtlpConsumerRef;
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use std::marker::PhantomData;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What distinguishes one sending exporter from another: its name, its arguments and the
/// wire client built from them.
pub trait SendingProtocol: 'static {
    /// The component name, e.g. `otelcol.exporter.otlp`.
    const NAME: &'static str;
    /// Prefix of the queue's name (`<prefix>/<component id>`), which names its metrics.
    const QUEUE_PREFIX: &'static str;
    type Args: serde::de::DeserializeOwned + Send + 'static;

    fn validate(args: &Self::Args) -> Result<(), String>;
    /// The wire client for these arguments; an error is a configuration error.
    fn sender(id: &str, args: &Self::Args) -> Result<SenderRef, String>;
    /// The `sending_queue` and `retry_on_failure` blocks, taken out of the arguments.
    fn queue_and_retry(args: Self::Args) -> (QueueArgs, RetryArgs);
}

/// An OTLP exporter component: a [`Sending`] queue in front of `P`'s wire client.
pub struct SendingExporter<P> {
    id: String,
    sending: Sending,
    // `fn() -> P` keeps the exporter Send + Sync whatever `P` is; no `P` is ever stored.
    protocol: PhantomData<fn() -> P>,
}

impl<P> SendingExporter<P> {
    /// The exported `input`, as a handle (for embedding and tests).
    pub fn input(&self) -> OtlpConsumerRef {
        self.sending.consumer()
    }
}

impl<P: SendingProtocol> TypedComponent for SendingExporter<P> {
    const NAME: &'static str = P::NAME;
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = P::Args;

    fn validate(args: &P::Args) -> Result<(), String> {
        P::validate(args)
    }

    fn build(opts: ComponentOptions, args: P::Args) -> Result<Self, ComponentError> {
        let sender = P::sender(&opts.id, &args).map_err(ComponentError::Config)?;
        let (queue, retry) = P::queue_and_retry(args);
        let sending = Sending::new(
            &opts,
            format!("{}/{}", P::QUEUE_PREFIX, opts.id),
            queue,
            retry,
            sender,
        )?;
        publish_input(&opts, sending.consumer());
        Ok(SendingExporter {
            id: opts.id.clone(),
            sending,
            protocol: PhantomData,
        })
    }
}

impl<P: SendingProtocol> Component for SendingExporter<P> {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            self.sending.run(shutdown).await;
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<P::Args>()?;
        let sender = P::sender(&self.id, &args).map_err(ComponentError::Config)?;
        let (queue, retry) = P::queue_and_retry(args);
        self.sending.update(queue, retry, sender)
    }
}
