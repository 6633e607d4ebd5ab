//! The agent's own log output, shaped like Alloy's: `logfmt` (`ts=… level=info msg="…"
//! component_id=…`) or `json`, at a level, both switchable while running when the config's
//! `logging` block changes. Fields of enclosing spans (the runtime opens one per component with
//! `component_id`) are printed with every event.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, Registry};

use solder_runtime::http::time::{rfc3339, Precision};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LogFormat {
    Logfmt = 0,
    Json = 1,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s {
            "logfmt" => Some(LogFormat::Logfmt),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Alloy's level names (`debug|info|warn|error`).
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    match s {
        "debug" => Some(LevelFilter::DEBUG),
        "info" => Some(LevelFilter::INFO),
        "warn" => Some(LevelFilter::WARN),
        "error" => Some(LevelFilter::ERROR),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("unrecognized log level {0:?}, want one of debug, info, warn, error")]
    Level(String),
    #[error("unrecognized log format {0:?}, want logfmt or json")]
    Format(String),
    #[error("could not change the log level: {0}")]
    Reload(String),
    #[error("could not install the logger: {0}")]
    Install(String),
}

/// Handle to change the running logger's level and format.
#[derive(Clone)]
pub struct LogControl {
    level: reload::Handle<LevelFilter, Registry>,
    format: Arc<AtomicU8>,
}

impl LogControl {
    /// Apply a `logging` block. Both values are checked before either is applied.
    pub fn apply(&self, level: &str, format: &str) -> Result<(), LoggingError> {
        let lvl = parse_level(level).ok_or_else(|| LoggingError::Level(level.to_string()))?;
        let fmt =
            LogFormat::parse(format).ok_or_else(|| LoggingError::Format(format.to_string()))?;
        self.format.store(fmt as u8, Ordering::Relaxed);
        self.level
            .modify(|f| *f = lvl)
            .map_err(|e| LoggingError::Reload(e.to_string()))
    }
}

/// Install the global logger writing to stderr at `info` in `logfmt`, the defaults of Alloy's
/// `logging` block, until the config says otherwise.
pub fn init() -> Result<LogControl, LoggingError> {
    let (subscriber, control) = build(std::io::stderr);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| LoggingError::Install(e.to_string()))?;
    Ok(control)
}

/// The subscriber and its control handle, writing through `writer`.
pub fn build<W>(writer: W) -> (impl Subscriber + Send + Sync, LogControl)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let (filter, level) = reload::Layer::new(LevelFilter::INFO);
    let format = Arc::new(AtomicU8::new(LogFormat::Logfmt as u8));
    let layer = LineLayer {
        writer,
        format: Arc::clone(&format),
    };
    let subscriber = Registry::default().with(filter).with(layer);
    (subscriber, LogControl { level, format })
}

/// Targets whose debug chatter (per connection, per frame) would drown the agent's own logs.
const NOISY_TARGETS: &[&str] = &["hyper", "h2", "tower", "reqwest", "rustls", "mio", "tonic"];

struct LineLayer<W> {
    writer: W,
    format: Arc<AtomicU8>,
}

/// Fields recorded on a span, kept in its extensions for the events inside it.
struct SpanFields(Vec<(&'static str, String)>);

#[derive(Default)]
struct FieldCollector {
    message: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, value.to_string());
    }
}

impl FieldCollector {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl<S, W> Layer<S> for LineLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut collector = FieldCollector::default();
        attrs.record(&mut collector);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collector.fields));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let mut collector = FieldCollector::default();
        values.record(&mut collector);
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanFields>() {
                Some(existing) => existing.0.extend(collector.fields),
                None => ext.insert(SpanFields(collector.fields)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::INFO && is_noisy(meta.target()) {
            return;
        }
        let mut collector = FieldCollector::default();
        event.record(&mut collector);
        let mut fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.0.iter().map(|(k, v)| (*k, v.clone())));
                }
            }
        }
        fields.extend(collector.fields);
        let line = Line {
            ts: SystemTime::now(),
            level: level_name(*meta.level()),
            msg: collector.message.as_deref().unwrap_or(""),
            fields: &fields,
        };
        let text = if self.format.load(Ordering::Relaxed) == LogFormat::Json as u8 {
            line.json()
        } else {
            line.logfmt()
        };
        // A log line that cannot be written has nowhere to be reported.
        let _ = self.writer.make_writer().write_all(text.as_bytes());
    }
}

fn is_noisy(target: &str) -> bool {
    NOISY_TARGETS
        .iter()
        .any(|t| target == *t || target.starts_with(&format!("{t}::")))
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        // Alloy has no trace level; trace events show as debug.
        Level::DEBUG | Level::TRACE => "debug",
    }
}

struct Line<'a> {
    ts: SystemTime,
    level: &'static str,
    msg: &'a str,
    fields: &'a [(&'static str, String)],
}

impl Line<'_> {
    fn logfmt(&self) -> String {
        let mut out = String::with_capacity(128);
        let _ = write!(out, "ts={}", rfc3339(self.ts, Precision::Millis));
        let _ = write!(out, " level={}", self.level);
        out.push_str(" msg=");
        push_logfmt_value(&mut out, self.msg);
        for (k, v) in self.fields {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            push_logfmt_value(&mut out, v);
        }
        out.push('\n');
        out
    }

    fn json(&self) -> String {
        let mut obj = serde_json::Map::new();
        obj.insert("ts".into(), rfc3339(self.ts, Precision::Millis).into());
        obj.insert("level".into(), self.level.into());
        obj.insert("msg".into(), self.msg.into());
        for (k, v) in self.fields {
            obj.insert((*k).to_string(), v.as_str().into());
        }
        let mut out = serde_json::Value::Object(obj).to_string();
        out.push('\n');
        out
    }
}

/// logfmt quoting: bare when the value has no space, `=`, quote or control character.
fn push_logfmt_value(out: &mut String, v: &str) {
    let needs_quotes = v.is_empty()
        || v.chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if !needs_quotes {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    impl Buf {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    #[test]
    fn logfmt_line_with_span_fields() {
        let buf = Buf::default();
        let (sub, _ctl) = build(buf.clone());
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("component", component_id = "local.file.x");
            let _g = span.enter();
            tracing::info!(path = "/tmp/a b", "file changed");
        });
        let out = buf.take();
        assert!(out.starts_with("ts=") && out.ends_with('\n'), "{out}");
        let rest = out.split_once(' ').unwrap().1;
        assert_eq!(
            rest,
            "level=info msg=\"file changed\" component_id=local.file.x path=\"/tmp/a b\"\n"
        );
    }

    #[test]
    fn switches_format_and_level_at_runtime() {
        let buf = Buf::default();
        let (sub, ctl) = build(buf.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::debug!("hidden at info");
            ctl.apply("debug", "json").unwrap();
            tracing::debug!(n = 3, "now visible");
            ctl.apply("error", "logfmt").unwrap();
            tracing::warn!("hidden at error");
            tracing::error!("shown");
        });
        let out = buf.take();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let json: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(json["level"], "debug");
        assert_eq!(json["msg"], "now visible");
        assert_eq!(json["n"], "3");
        assert!(lines[1].contains("level=error msg=shown"), "{}", lines[1]);
    }

    #[test]
    fn rejects_unknown_values_without_applying_either() {
        let buf = Buf::default();
        let (sub, ctl) = build(buf.clone());
        assert!(matches!(
            ctl.apply("loud", "json"),
            Err(LoggingError::Level(_))
        ));
        assert!(matches!(
            ctl.apply("info", "xml"),
            Err(LoggingError::Format(_))
        ));
        tracing::subscriber::with_default(sub, || tracing::info!("still logfmt"));
        assert!(buf.take().contains("msg=\"still logfmt\""));
    }

    #[test]
    fn logfmt_quoting() {
        let cases = [
            ("plain", "plain"),
            ("", "\"\""),
            ("a b", "\"a b\""),
            ("k=v", "\"k=v\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("line1\nline2", "\"line1\\nline2\""),
        ];
        for (input, want) in cases {
            let mut s = String::new();
            push_logfmt_value(&mut s, input);
            assert_eq!(s, want, "{input:?}");
        }
    }

    #[test]
    fn dependency_debug_noise_is_dropped() {
        assert!(is_noisy("hyper"));
        assert!(is_noisy("hyper::proto::h1"));
        assert!(!is_noisy("hyperloglog"));
        assert!(!is_noisy("solder_runtime::controller"));
    }
}
