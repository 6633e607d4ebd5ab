//! Per-component health, as shown by `/-/healthy`, the component API and
//! `alloy_component_controller_running_components{health_type}`.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKind {
    Unknown,
    Healthy,
    Unhealthy,
    Exited,
}

impl HealthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthKind::Unknown => "unknown",
            HealthKind::Healthy => "healthy",
            HealthKind::Unhealthy => "unhealthy",
            HealthKind::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub kind: HealthKind,
    pub message: String,
    pub updated_at: SystemTime,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            kind: HealthKind::Unknown,
            message: String::new(),
            updated_at: SystemTime::now(),
        }
    }
}

/// Shared, cheaply cloned health cell a component reports into.
#[derive(Debug, Clone, Default)]
pub struct HealthReporter(Arc<Mutex<Health>>);

impl HealthReporter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, kind: HealthKind, message: impl Into<String>) {
        let h = Health {
            kind,
            message: message.into(),
            updated_at: SystemTime::now(),
        };
        match self.0.lock() {
            Ok(mut g) => *g = h,
            Err(poisoned) => *poisoned.into_inner() = h,
        }
    }

    pub fn healthy(&self, message: impl Into<String>) {
        self.set(HealthKind::Healthy, message);
    }

    pub fn unhealthy(&self, message: impl Into<String>) {
        self.set(HealthKind::Unhealthy, message);
    }

    pub fn get(&self) -> Health {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
