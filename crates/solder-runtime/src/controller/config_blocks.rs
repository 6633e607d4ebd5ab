//! Top-level blocks that are not components: `logging`, `tracing`, `http`, `livedebugging`
//! (accepted), and `remotecfg`, `declare`, `argument`, `export`, `foreach`, `import.*`
//! (rejected with a "not supported yet" error — never silently ignored, since a config that
//! relies on them would otherwise run without what it asked for).

use solder_syntax::ast::{self, Stmt};
use solder_syntax::eval::{BodyItem, BodyValue};
use solder_syntax::{Diagnostic, Diagnostics, Number, Value};

/// What the binary's logger should use; handed over through `ControllerOptions::on_logging`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// `debug|info|warn|error`
    pub level: String,
    /// `logfmt|json`
    pub format: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_string(),
            format: "logfmt".to_string(),
        }
    }
}

/// `tracing { … }`: decoded so configs carrying it load. Solder does not trace itself yet, so
/// its spans go nowhere whatever `write_to` says (Alloy's behaviour for an empty `write_to`).
#[derive(Debug, Clone, PartialEq)]
pub struct TracingConfig {
    pub sampling_fraction: f64,
    pub write_to: Vec<Value>,
    pub send_traceparent: bool,
    pub jaeger_remote: Option<JaegerRemoteSampler>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JaegerRemoteSampler {
    pub url: String,
    pub max_operations: u64,
    pub refresh_interval: String,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            sampling_fraction: 0.1,
            write_to: Vec::new(),
            send_traceparent: false,
            jaeger_remote: None,
        }
    }
}

/// The evaluated config blocks of one load.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvaluatedConfig {
    pub logging: LoggingConfig,
    pub tracing: TracingConfig,
    pub livedebugging: bool,
}

/// The accepted config blocks of a load, unevaluated.
#[derive(Default, Clone)]
pub struct ConfigBlocks {
    pub logging: Option<ast::Block>,
    pub tracing: Option<ast::Block>,
    pub http: Option<ast::Block>,
    pub livedebugging: Option<ast::Block>,
}

impl ConfigBlocks {
    pub fn blocks(&self) -> impl Iterator<Item = &ast::Block> {
        [
            &self.logging,
            &self.tracing,
            &self.http,
            &self.livedebugging,
        ]
        .into_iter()
        .flatten()
    }
}

/// True for every top-level block name that is not a component.
pub fn is_config_block(name: &str) -> bool {
    matches!(
        name,
        "logging"
            | "tracing"
            | "http"
            | "livedebugging"
            | "remotecfg"
            | "declare"
            | "argument"
            | "export"
            | "foreach"
    ) || name.starts_with("import.")
}

fn not_supported(name: &str) -> Option<String> {
    let msg = match name {
        "remotecfg" => {
            "the remotecfg block (remote configuration) is not supported by Solder yet".to_string()
        }
        "declare" => {
            "declare blocks (custom components) are not supported by Solder yet".to_string()
        }
        "argument" | "export" => format!("{name} blocks (modules) are not supported by Solder yet"),
        "foreach" => "foreach blocks are not supported by Solder yet".to_string(),
        n if n.starts_with("import.") => {
            format!("{n} blocks (modules) are not supported by Solder yet")
        }
        _ => return None,
    };
    Some(msg)
}

/// Record an accepted config block, or explain why it cannot be.
pub fn accept(block: &ast::Block, config: &mut ConfigBlocks) -> Diagnostics {
    let name = block.full_name();
    let mut diags = Diagnostics::new();
    if let Some(msg) = not_supported(&name) {
        diags.push(Diagnostic::error(block.name_span(), msg));
        return diags;
    }
    if block.label.is_some() {
        diags.push(Diagnostic::error(
            block.name_span(),
            format!("block {name:?} does not support specifying labels"),
        ));
        return diags;
    }
    let (allowed_attrs, allowed_blocks): (&[&str], &[&str]) = match name.as_str() {
        "logging" => (&["level", "format", "destination", "write_to"], &[]),
        "tracing" => (
            &["sampling_fraction", "write_to", "send_traceparent"],
            &["sampler"],
        ),
        "http" => (&[], &["tls", "auth"]),
        "livedebugging" => (&["enabled"], &[]),
        _ => (&[], &[]),
    };
    check_items(&block.body, allowed_attrs, allowed_blocks, &mut diags);
    if name == "http" {
        for stmt in &block.body {
            if let Stmt::Block(b) = stmt {
                diags.push(Diagnostic::error(
                    b.name_span(),
                    format!(
                        "http {{ {} }} is not supported by Solder yet",
                        b.full_name()
                    ),
                ));
            }
        }
    }
    if name == "tracing" {
        for stmt in &block.body {
            if let Stmt::Block(b) = stmt {
                if b.full_name() == "sampler" {
                    check_items(&b.body, &[], &["jaeger_remote"], &mut diags);
                    for inner in &b.body {
                        if let Stmt::Block(j) = inner {
                            check_items(
                                &j.body,
                                &["url", "max_operations", "refresh_interval"],
                                &[],
                                &mut diags,
                            );
                        }
                    }
                }
            }
        }
    }
    let slot = match name.as_str() {
        "logging" => &mut config.logging,
        "tracing" => &mut config.tracing,
        "http" => &mut config.http,
        _ => &mut config.livedebugging,
    };
    *slot = Some(block.clone());
    diags
}

fn check_items(body: &ast::Body, attrs: &[&str], blocks: &[&str], diags: &mut Diagnostics) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) if !attrs.contains(&a.name.name.as_str()) => {
                let msg = if blocks.contains(&a.name.name.as_str()) {
                    format!(
                        "{:?} must be a block, but is used as an attribute",
                        a.name.name
                    )
                } else {
                    format!("unrecognized attribute name {:?}", a.name.name)
                };
                diags.push(Diagnostic::error(a.name.span, msg));
            }
            Stmt::Block(b) if !blocks.contains(&b.full_name().as_str()) => {
                let name = b.full_name();
                let msg = if attrs.contains(&name.as_str()) {
                    format!("{name:?} must be an attribute, but is used as a block")
                } else {
                    format!("unrecognized block name {name:?}")
                };
                diags.push(Diagnostic::error(b.name_span(), msg));
            }
            _ => {}
        }
    }
}

fn string_attr(body: &BodyValue, name: &str, diags: &mut Diagnostics) -> Option<String> {
    let a = body.attr(name)?;
    match &a.value {
        Value::String(s) => Some(s.clone()),
        other => {
            diags.push(Diagnostic::error(
                a.value_span,
                format!("{name} should be string, got {}", other.kind()),
            ));
            None
        }
    }
}

fn bool_attr(body: &BodyValue, name: &str, diags: &mut Diagnostics) -> Option<bool> {
    let a = body.attr(name)?;
    match &a.value {
        Value::Bool(b) => Some(*b),
        other => {
            diags.push(Diagnostic::error(
                a.value_span,
                format!("{name} should be bool, got {}", other.kind()),
            ));
            None
        }
    }
}

fn number_attr(body: &BodyValue, name: &str, diags: &mut Diagnostics) -> Option<Number> {
    let a = body.attr(name)?;
    match &a.value {
        Value::Number(n) => Some(*n),
        other => {
            diags.push(Diagnostic::error(
                a.value_span,
                format!("{name} should be number, got {}", other.kind()),
            ));
            None
        }
    }
}

fn list_attr(body: &BodyValue, name: &str, diags: &mut Diagnostics) -> Option<Vec<Value>> {
    let a = body.attr(name)?;
    match &a.value {
        Value::Array(v) => Some(v.clone()),
        other => {
            diags.push(Diagnostic::error(
                a.value_span,
                format!("{name} should be array, got {}", other.kind()),
            ));
            None
        }
    }
}

/// Decode `logging { level, format, destination, write_to }`.
pub fn decode_logging(body: &BodyValue) -> Result<LoggingConfig, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut cfg = LoggingConfig::default();
    if let Some(level) = string_attr(body, "level", &mut diags) {
        if matches!(level.as_str(), "debug" | "info" | "warn" | "error") {
            cfg.level = level;
        } else if let Some(a) = body.attr("level") {
            diags.push(Diagnostic::error(
                a.value_span,
                format!("unrecognized log level {level:?}"),
            ));
        }
    }
    if let Some(format) = string_attr(body, "format", &mut diags) {
        if matches!(format.as_str(), "logfmt" | "json") {
            cfg.format = format;
        } else if let Some(a) = body.attr("format") {
            diags.push(Diagnostic::error(
                a.value_span,
                format!("unrecognized log format {format:?}"),
            ));
        }
    }
    if let Some(dest) = string_attr(body, "destination", &mut diags) {
        if dest != "stderr" {
            if let Some(a) = body.attr("destination") {
                diags.push(Diagnostic::error(
                    a.value_span,
                    format!("logging destination {dest:?} is not supported by Solder yet (only \"stderr\")"),
                ));
            }
        }
    }
    if let Some(list) = list_attr(body, "write_to", &mut diags) {
        if !list.is_empty() {
            if let Some(a) = body.attr("write_to") {
                diags.push(Diagnostic::error(
                    a.name_span,
                    "logging { write_to } is not supported by Solder yet",
                ));
            }
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(cfg)
    }
}

/// Decode `tracing { sampling_fraction, write_to, send_traceparent, sampler { jaeger_remote } }`.
pub fn decode_tracing(body: &BodyValue) -> Result<TracingConfig, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut cfg = TracingConfig::default();
    if let Some(n) = number_attr(body, "sampling_fraction", &mut diags) {
        cfg.sampling_fraction = n.as_f64();
    }
    if let Some(list) = list_attr(body, "write_to", &mut diags) {
        cfg.write_to = list;
    }
    if let Some(b) = bool_attr(body, "send_traceparent", &mut diags) {
        cfg.send_traceparent = b;
    }
    for item in &body.items {
        let BodyItem::Block(sampler) = item else {
            continue;
        };
        for j in sampler.body.blocks() {
            let mut remote = JaegerRemoteSampler {
                url: "http://127.0.0.1:5778/sampling".to_string(),
                max_operations: 256,
                refresh_interval: "1m".to_string(),
            };
            if let Some(u) = string_attr(&j.body, "url", &mut diags) {
                remote.url = u;
            }
            if let Some(n) = number_attr(&j.body, "max_operations", &mut diags) {
                remote.max_operations = n.as_f64().max(0.0) as u64;
            }
            if let Some(r) = string_attr(&j.body, "refresh_interval", &mut diags) {
                remote.refresh_interval = r;
            }
            cfg.jaeger_remote = Some(remote);
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(cfg)
    }
}

/// Decode `livedebugging { enabled }`.
pub fn decode_livedebugging(body: &BodyValue) -> Result<bool, Diagnostics> {
    let mut diags = Diagnostics::new();
    let enabled = bool_attr(body, "enabled", &mut diags).unwrap_or(false);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(enabled)
    }
}
