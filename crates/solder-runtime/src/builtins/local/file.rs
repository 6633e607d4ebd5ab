//! `local.file`: exports the content of a file and follows its changes.
//!
//! Both detectors poll, which works the same on every filesystem (ConfigMap and Secret mounts
//! swap a symlink, which inotify watches of the file itself miss):
//! - `poll` re-reads the file every `poll_frequency` and publishes when the content changed;
//! - `fsnotify` (the default) additionally checks the file's modification time and size every
//!   second and re-reads at once when they change, so edits show up about as fast as with a
//!   real watch; the full re-read at `poll_frequency` still catches same-size, same-mtime edits.

use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use solder_syntax::types::GoDuration;
use solder_syntax::{Object, Secret, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often the `fsnotify` detector checks metadata.
const METADATA_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    #[default]
    Fsnotify,
    Poll,
}

fn default_poll_frequency() -> GoDuration {
    GoDuration::from(Duration::from_secs(60))
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Args {
    pub filename: String,
    #[serde(default)]
    pub detector: Detector,
    #[serde(default = "default_poll_frequency")]
    pub poll_frequency: GoDuration,
    #[serde(default)]
    pub is_secret: bool,
}

struct State {
    args: Args,
    /// What was last published; `None` before the first successful read.
    content: Option<String>,
    /// Modification time and size at the last read.
    stamp: Option<(Option<SystemTime>, u64)>,
}

pub struct LocalFile {
    opts: ComponentOptions,
    state: Mutex<State>,
    changed_args: Notify,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn stamp_of(path: &PathBuf) -> std::io::Result<(Option<SystemTime>, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.modified().ok(), meta.len()))
}

impl LocalFile {
    /// Read the file and publish its content when it differs; unhealthy (keeping the last
    /// content) when it cannot be read.
    fn refresh(&self) -> Result<(), ComponentError> {
        let (path, is_secret) = {
            let st = lock(&self.state);
            (PathBuf::from(&st.args.filename), st.args.is_secret)
        };
        let read = stamp_of(&path)
            .and_then(|stamp| std::fs::read_to_string(&path).map(|content| (stamp, content)));
        match read {
            Ok((stamp, content)) => {
                let publish = {
                    let mut st = lock(&self.state);
                    st.stamp = Some(stamp);
                    if st.content.as_deref() == Some(content.as_str()) {
                        None
                    } else {
                        st.content = Some(content.clone());
                        Some(content)
                    }
                };
                if let Some(content) = publish {
                    self.publish(content, is_secret);
                }
                self.opts.health.healthy("read file");
                Ok(())
            }
            Err(e) => {
                let err =
                    ComponentError::io(format!("failed to read file {:?}", path.display()), e);
                self.opts.health.unhealthy(err.to_string());
                Err(err)
            }
        }
    }

    fn publish(&self, content: String, is_secret: bool) {
        let value = if is_secret {
            Value::Secret(Secret::new(content))
        } else {
            Value::String(content)
        };
        let mut exports = Object::new();
        exports.insert("content".to_string(), value);
        self.opts.publish_exports(Value::Object(exports));
    }

    /// Whether the file's metadata moved since the last read (`fsnotify` detector only).
    fn metadata_changed(&self) -> bool {
        let (path, last) = {
            let st = lock(&self.state);
            (PathBuf::from(&st.args.filename), st.stamp)
        };
        match stamp_of(&path) {
            Ok(now) => Some(now) != last,
            // Vanished or unreadable: let the read report it.
            Err(_) => true,
        }
    }

    fn settings(&self) -> (Detector, Duration) {
        let st = lock(&self.state);
        (
            st.args.detector,
            Duration::from(st.args.poll_frequency).max(Duration::from_millis(1)),
        )
    }
}

impl TypedComponent for LocalFile {
    const NAME: &'static str = "local.file";
    const EXPORTS: &'static [&'static str] = &["content"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        if args.filename.is_empty() {
            return Err("filename must not be empty".to_string());
        }
        if Duration::from(args.poll_frequency).is_zero() {
            return Err("poll_frequency must be greater than 0".to_string());
        }
        Ok(())
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let c = LocalFile {
            opts,
            state: Mutex::new(State {
                args,
                content: None,
                stamp: None,
            }),
            changed_args: Notify::new(),
        };
        // As in Alloy, a file that cannot be read at load time fails the load.
        c.refresh()?;
        Ok(c)
    }
}

impl Component for LocalFile {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            let mut last_full = tokio::time::Instant::now();
            loop {
                let (detector, poll) = self.settings();
                let wait = match detector {
                    Detector::Poll => poll,
                    Detector::Fsnotify => poll.min(METADATA_INTERVAL),
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = self.changed_args.notified() => {
                        let _ = self.refresh();
                        last_full = tokio::time::Instant::now();
                        continue;
                    }
                    _ = tokio::time::sleep(wait) => {}
                }
                let due = last_full.elapsed() >= poll;
                if due || (detector == Detector::Fsnotify && self.metadata_changed()) {
                    // Errors are reported through health; the last content stays exported.
                    let _ = self.refresh();
                    last_full = tokio::time::Instant::now();
                }
            }
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        {
            let mut st = lock(&self.state);
            let secret_changed = st.args.is_secret != args.is_secret;
            let file_changed = st.args.filename != args.filename;
            st.args = args;
            if secret_changed || file_changed {
                // Force a publish: the kind of the export changes, or the file does.
                st.content = None;
                st.stamp = None;
            }
        }
        self.changed_args.notify_one();
        Ok(())
    }
}
