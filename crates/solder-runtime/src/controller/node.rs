//! One running component: its instance, exports, health cells, metrics registry, current
//! arguments and run task.

use solder_core::{Component, ExportSink, Health, HealthKind, HealthReporter};
use solder_syntax::eval::BodyValue;
use solder_syntax::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A component whose exports changed, queued for the evaluation worker.
#[derive(Debug, Clone)]
pub struct Dirty {
    pub id: String,
    pub at: Instant,
}

/// Lock a mutex even if a panicking thread poisoned it: the data are plain values that stay
/// consistent across a panic elsewhere.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Where a component's exports live; dependants read them when they are evaluated.
pub struct ExportsCell {
    id: String,
    value: Mutex<Value>,
    notify: mpsc::UnboundedSender<Dirty>,
    queue_size: prometheus::Gauge,
}

impl ExportsCell {
    pub fn new(
        id: String,
        initial: Value,
        notify: mpsc::UnboundedSender<Dirty>,
        queue_size: prometheus::Gauge,
    ) -> Self {
        ExportsCell {
            id,
            value: Mutex::new(initial),
            notify,
            queue_size,
        }
    }

    pub fn get(&self) -> Value {
        lock(&self.value).clone()
    }
}

impl ExportSink for ExportsCell {
    fn publish(&self, exports: Value) {
        let changed = {
            let mut cur = lock(&self.value);
            if *cur == exports {
                false
            } else {
                *cur = exports;
                true
            }
        };
        // Only a change wakes dependants (Alloy compares exports the same way), so a
        // component may publish on every tick without causing evaluations.
        if changed {
            let sent = self.notify.send(Dirty {
                id: self.id.clone(),
                at: Instant::now(),
            });
            if sent.is_ok() {
                self.queue_size.inc();
            }
        }
    }
}

/// The arguments a component currently runs with.
pub struct CurrentArgs {
    pub body: BodyValue,
    pub json: serde_json::Value,
    pub last_evaluation: Duration,
}

pub struct NodeState {
    pub id: String,
    pub name: String,
    pub label: String,
    pub component: Arc<dyn Component>,
    pub exports: Arc<ExportsCell>,
    /// The reporter handed to the component.
    pub health: HealthReporter,
    /// Set by the runtime from the run task's state.
    pub run_health: HealthReporter,
    /// Set by the runtime from the last evaluation of the arguments.
    pub eval_health: HealthReporter,
    pub registry: prometheus::Registry,
    pub cancel: CancellationToken,
    pub task: Mutex<Option<JoinHandle<()>>>,
    pub current: Mutex<CurrentArgs>,
}

/// Alloy's health precedence (`component.LeastHealthy`): exited > unhealthy > unknown > healthy.
fn priority(kind: HealthKind) -> u8 {
    match kind {
        HealthKind::Healthy => 0,
        HealthKind::Unknown => 1,
        HealthKind::Unhealthy => 2,
        HealthKind::Exited => 3,
    }
}

/// The least healthy of several reports; among equals the most recent wins.
pub fn least_healthy(reports: impl IntoIterator<Item = Health>) -> Health {
    let mut best: Option<Health> = None;
    for h in reports {
        best = match best {
            None => Some(h),
            Some(b) => {
                let (pb, ph) = (priority(b.kind), priority(h.kind));
                if ph > pb || (ph == pb && h.updated_at > b.updated_at) {
                    Some(h)
                } else {
                    Some(b)
                }
            }
        };
    }
    best.unwrap_or_default()
}

impl NodeState {
    /// Combined health. The component's own reporter counts only once it has reported:
    /// most components never do, and "unknown" would otherwise hide a healthy one.
    pub fn current_health(&self) -> Health {
        let own = self.health.get();
        let mut reports = vec![self.eval_health.get(), self.run_health.get()];
        if own.kind != HealthKind::Unknown {
            reports.push(own);
        }
        least_healthy(reports)
    }

    pub fn current(&self) -> MutexGuard<'_, CurrentArgs> {
        lock(&self.current)
    }

    /// Spawn the run task under a span carrying the component id.
    pub fn start(self: &Arc<Self>) {
        let node = Arc::clone(self);
        let component = Arc::clone(&self.component);
        let token = self.cancel.clone();
        let span = tracing::info_span!("component", component_id = %self.id);
        self.run_health.healthy("started component");
        let handle = tokio::spawn(
            async move {
                match component.run(token).await {
                    Ok(()) => {
                        node.run_health
                            .set(HealthKind::Exited, "component shut down normally");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "component exited with an error");
                        node.run_health
                            .unhealthy(format!("component shut down with error: {e}"));
                    }
                }
            }
            .instrument(span),
        );
        *lock(&self.task) = Some(handle);
    }

    /// Cancel the run task and wait for it up to `deadline`; abort it after that.
    pub async fn stop(&self, deadline: Duration) {
        self.cancel.cancel();
        let handle = lock(&self.task).take();
        if let Some(mut handle) = handle {
            match tokio::time::timeout(deadline, &mut handle).await {
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(component_id = %self.id, ?deadline, "component did not stop before the deadline; aborting it");
                    handle.abort();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn h(kind: HealthKind, secs: u64) -> Health {
        Health {
            kind,
            message: format!("{kind:?}"),
            updated_at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn least_healthy_follows_alloy_precedence() {
        let got = least_healthy([h(HealthKind::Healthy, 5), h(HealthKind::Unhealthy, 1)]);
        assert_eq!(got.kind, HealthKind::Unhealthy);
        let got = least_healthy([h(HealthKind::Unhealthy, 9), h(HealthKind::Exited, 1)]);
        assert_eq!(got.kind, HealthKind::Exited);
        let got = least_healthy([h(HealthKind::Healthy, 1), h(HealthKind::Healthy, 3)]);
        assert_eq!(got.updated_at, h(HealthKind::Healthy, 3).updated_at);
    }
}
