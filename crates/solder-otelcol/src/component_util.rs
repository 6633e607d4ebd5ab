//! Plumbing every `otelcol.*` component repeats: publishing its OTLP `input` export, idling
//! until shutdown when it has no work of its own, and swapping state that readers share.

use solder_core::signals::otlp::{otlp_consumer_value, OtlpConsumerRef};
use solder_core::{BoxFuture, ComponentError, ComponentOptions};
use solder_syntax::{Object, Value};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;

/// Publish `input` as the component's only export.
pub fn publish_input(opts: &ComponentOptions, input: OtlpConsumerRef) {
    let mut exports = Object::new();
    exports.insert("input".to_string(), otlp_consumer_value(input));
    opts.publish_exports(Value::Object(exports));
}

/// `Component::run` for components that only react to calls: wait for shutdown.
pub fn idle_until_shutdown(shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
    Box::pin(async move {
        shutdown.cancelled().await;
        Ok(())
    })
}

/// Replace the value behind `lock`. A writer that panicked cannot have left a half-written
/// value (every write is a whole replacement), so a poisoned lock is taken over, not fatal.
pub fn replace_shared<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut g) => *g = value,
        Err(p) => *p.into_inner() = value,
    }
}

/// The current value behind `lock`, as a handle that outlives the read lock. Poison is
/// ignored for the same reason as in [`replace_shared`].
pub fn current_shared<T>(lock: &RwLock<Arc<T>>) -> Arc<T> {
    match lock.read() {
        Ok(g) => Arc::clone(&g),
        Err(p) => Arc::clone(&p.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replace_shared_takes_over_a_poisoned_lock() {
        let lock = Arc::new(RwLock::new(1));
        let writer = Arc::clone(&lock);
        let _ = std::thread::spawn(move || {
            let _g = writer.write().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(lock.is_poisoned());
        replace_shared(&lock, 2);
        assert_eq!(*lock.read().unwrap_or_else(|p| p.into_inner()), 2);
    }

    #[tokio::test]
    async fn idle_until_shutdown_returns_once_cancelled() {
        let token = CancellationToken::new();
        let run = idle_until_shutdown(token.clone());
        token.cancel();
        assert!(run.await.is_ok());
    }
}
