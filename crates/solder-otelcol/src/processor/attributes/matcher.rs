//! `include` / `exclude` blocks: the contrib `filterconfig.MatchProperties` with the matching of
//! `filterspan` (spans), `filterlog` (log records) and `filtermetric` (metrics: names and
//! resource attributes only). `strict` compares whole strings; `regexp` patterns match anywhere
//! in the string, as Go's `MatchString` does.

use super::value::{self, as_string, get};
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as V, AnyValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use regex::Regex;
use solder_core::signals::otlp::Signal;
use solder_syntax::Value;
use std::borrow::Cow;

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AttributeArgs {
    pub key: String,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LibraryArgs {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SeverityArgs {
    pub min: String,
    pub match_undefined: bool,
}

/// Regexp caching options: a performance knob only, accepted and not needed here.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegexpArgs {
    #[serde(default)]
    pub cache_enabled: bool,
    #[serde(default)]
    pub cache_max_num_entries: i64,
}

/// One `include { … }` or `exclude { … }` block as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MatchArgs {
    pub match_type: String,
    #[serde(default)]
    pub regexp: Option<RegexpArgs>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub span_names: Vec<String>,
    #[serde(default)]
    pub log_bodies: Vec<String>,
    #[serde(default)]
    pub log_severity_texts: Vec<String>,
    #[serde(default)]
    pub log_severity: Option<SeverityArgs>,
    #[serde(default)]
    pub metric_names: Vec<String>,
    #[serde(default)]
    pub attribute: Vec<AttributeArgs>,
    #[serde(default)]
    pub resource: Vec<AttributeArgs>,
    #[serde(default)]
    pub library: Vec<LibraryArgs>,
    #[serde(default)]
    pub span_kinds: Vec<String>,
}

const SEVERITIES: [&str; 24] = [
    "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO", "INFO2",
    "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3", "ERROR4",
    "FATAL", "FATAL2", "FATAL3", "FATAL4",
];

const SPAN_KINDS: [&str; 5] = [
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_CONSUMER",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_SERVER",
];

/// `traceutil.SpanKindStr`.
fn span_kind_str(kind: i32) -> &'static str {
    match kind {
        0 => "SPAN_KIND_UNSPECIFIED",
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "",
    }
}

/// A list of strings, matched exactly or by any of several patterns.
#[derive(Debug, Clone)]
enum StringSet {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl StringSet {
    fn new(items: &[String], regexp: bool) -> Result<Option<StringSet>, String> {
        if items.is_empty() {
            return Ok(None);
        }
        if !regexp {
            return Ok(Some(StringSet::Strict(items.to_vec())));
        }
        let res = items
            .iter()
            .map(|p| Regex::new(p).map_err(|e| format!("error parsing regexp: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Some(StringSet::Regexp(res)))
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            StringSet::Strict(items) => items.iter().any(|i| i == s),
            StringSet::Regexp(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

/// `filtermatcher.AttributeMatcher`: key present, and the value equal (strict) or matching
/// (regexp, on the value's string form) when one is given.
#[derive(Debug, Clone)]
enum AttrCheck {
    Exists,
    Equals(AnyValue),
    Matches(Regex),
}

#[derive(Debug, Clone)]
struct AttrMatcher(Vec<(String, AttrCheck)>);

/// An attribute map as the matchers read it: the first value stored under a key.
pub trait AttrLookup {
    fn lookup(&self, key: &str) -> Option<Cow<'_, AnyValue>>;
}

impl AttrLookup for [KeyValue] {
    fn lookup(&self, key: &str) -> Option<Cow<'_, AnyValue>> {
        get(self, key).map(Cow::Borrowed)
    }
}

impl AttrMatcher {
    fn new(attrs: &[AttributeArgs], regexp: bool) -> Result<AttrMatcher, String> {
        let mut out = Vec::new();
        for a in attrs {
            if a.key.is_empty() {
                return Err("can't have empty key in the list of attributes".into());
            }
            let check = match a
                .value
                .as_ref()
                .map(value::from_config)
                .transpose()?
                .flatten()
            {
                None => AttrCheck::Exists,
                Some(v) if regexp => match &v.value {
                    Some(V::StringValue(p)) => AttrCheck::Matches(
                        Regex::new(p).map_err(|e| format!("error parsing regexp: {e}"))?,
                    ),
                    _ => {
                        return Err(format!(
                            "match_type=regexp for {:?} only supports Str, but found {}",
                            a.key,
                            type_name(&v)
                        ))
                    }
                },
                Some(v) => AttrCheck::Equals(v),
            };
            out.push((a.key.clone(), check));
        }
        Ok(AttrMatcher(out))
    }

    fn matches<L: AttrLookup + ?Sized>(&self, attrs: &L) -> bool {
        if self.0.is_empty() {
            return true;
        }
        self.0.iter().all(|(key, check)| {
            let Some(v) = attrs.lookup(key) else {
                return false;
            };
            let v = v.as_ref();
            match check {
                AttrCheck::Exists => true,
                AttrCheck::Equals(want) => want == v,
                AttrCheck::Matches(re) => match &v.value {
                    Some(
                        V::StringValue(_) | V::BoolValue(_) | V::IntValue(_) | V::DoubleValue(_),
                    ) => re.is_match(&as_string(v)),
                    _ => false,
                },
            }
        })
    }
}

fn type_name(v: &AnyValue) -> &'static str {
    match &v.value {
        None => "Empty",
        Some(V::StringValue(_)) => "Str",
        Some(V::BoolValue(_)) => "Bool",
        Some(V::IntValue(_)) => "Int",
        Some(V::DoubleValue(_)) => "Double",
        Some(V::ArrayValue(_)) => "Slice",
        Some(V::KvlistValue(_)) => "Map",
        Some(V::BytesValue(_)) => "Bytes",
        Some(_) => "Str",
    }
}

#[derive(Debug, Clone)]
struct LibraryMatcher {
    name: StringSet,
    version: Option<StringSet>,
}

/// What the log matchers read of a log record besides its attributes.
pub struct LogParts<'a> {
    pub body: Option<&'a AnyValue>,
    pub severity_text: &'a str,
    pub severity_number: i32,
}

/// One compiled `include`/`exclude` block.
#[derive(Debug, Clone)]
pub struct Matcher {
    services: Option<StringSet>,
    span_names: Option<StringSet>,
    span_kinds: Option<StringSet>,
    log_bodies: Option<StringSet>,
    log_severity_texts: Option<StringSet>,
    /// (minimum severity number, match records with no severity)
    log_severity: Option<(i32, bool)>,
    metric_names: Option<StringSet>,
    attributes: AttrMatcher,
    resources: AttrMatcher,
    libraries: Vec<LibraryMatcher>,
}

impl Matcher {
    pub fn new(m: &MatchArgs) -> Result<Matcher, String> {
        let regexp = match m.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            other => {
                return Err(format!(
                    "unrecognized match_type: '{other}', valid types are: [regexp strict]"
                ))
            }
        };
        let log_severity = match &m.log_severity {
            None => None,
            Some(s) => {
                let n = SEVERITIES
                    .iter()
                    .position(|l| *l == s.min)
                    .ok_or_else(|| format!("unrecognized severity level {:?}", s.min))?;
                Some((n as i32 + 1, s.match_undefined))
            }
        };
        let libraries = m
            .library
            .iter()
            .map(|l| {
                Ok(LibraryMatcher {
                    name: StringSet::new(std::slice::from_ref(&l.name), regexp)?
                        .unwrap_or(StringSet::Strict(vec![String::new()])),
                    version: match &l.version {
                        Some(v) => StringSet::new(std::slice::from_ref(v), regexp)?,
                        None => None,
                    },
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Matcher {
            services: StringSet::new(&m.services, regexp)?,
            span_names: StringSet::new(&m.span_names, regexp)?,
            span_kinds: StringSet::new(&m.span_kinds, regexp)?,
            log_bodies: StringSet::new(&m.log_bodies, regexp)?,
            log_severity_texts: StringSet::new(&m.log_severity_texts, regexp)?,
            log_severity,
            metric_names: StringSet::new(&m.metric_names, regexp)?,
            attributes: AttrMatcher::new(&m.attribute, regexp)?,
            resources: AttrMatcher::new(&m.resource, regexp)?,
            libraries,
        })
    }

    fn common<L: AttrLookup + ?Sized>(
        &self,
        attrs: &L,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
    ) -> bool {
        let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
        for lib in &self.libraries {
            if !lib.name.matches(name) {
                return false;
            }
            if lib.version.as_ref().is_some_and(|v| !v.matches(version)) {
                return false;
            }
        }
        self.resources.matches(resource) && self.attributes.matches(attrs)
    }

    pub fn matches_span(
        &self,
        span: &Span,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
    ) -> bool {
        let res_attrs = resource.map_or(&[][..], |r| &r.attributes[..]);
        self.matches_span_parts(
            &span.name,
            span.kind,
            &span.attributes[..],
            res_attrs,
            scope,
        )
    }

    /// [`Matcher::matches_span`] on the parts of a span it reads.
    pub fn matches_span_parts<L: AttrLookup + ?Sized>(
        &self,
        name: &str,
        kind: i32,
        attrs: &L,
        res_attrs: &[KeyValue],
        scope: Option<&InstrumentationScope>,
    ) -> bool {
        if let Some(services) = &self.services {
            let service = get(res_attrs, "service.name")
                .map_or_else(|| "<nil-service-name>".to_string(), as_string);
            if !services.matches(&service) {
                return false;
            }
        }
        if self.span_names.as_ref().is_some_and(|s| !s.matches(name)) {
            return false;
        }
        if self
            .span_kinds
            .as_ref()
            .is_some_and(|s| !s.matches(span_kind_str(kind)))
        {
            return false;
        }
        self.common(attrs, res_attrs, scope)
    }

    pub fn matches_log(
        &self,
        log: &LogRecord,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
    ) -> bool {
        let res_attrs = resource.map_or(&[][..], |r| &r.attributes[..]);
        let parts = LogParts {
            body: log.body.as_ref(),
            severity_text: &log.severity_text,
            severity_number: log.severity_number,
        };
        self.matches_log_parts(&parts, &log.attributes[..], res_attrs, scope)
    }

    /// [`Matcher::matches_log`] on the parts of a log record it reads.
    pub fn matches_log_parts<L: AttrLookup + ?Sized>(
        &self,
        log: &LogParts<'_>,
        attrs: &L,
        res_attrs: &[KeyValue],
        scope: Option<&InstrumentationScope>,
    ) -> bool {
        if let Some(bodies) = &self.log_bodies {
            let body = log.body.map_or_else(String::new, as_string);
            if !bodies.matches(&body) {
                return false;
            }
        }
        if self
            .log_severity_texts
            .as_ref()
            .is_some_and(|s| !s.matches(log.severity_text))
        {
            return false;
        }
        if let Some((min, undefined)) = self.log_severity {
            let ok = if log.severity_number == 0 {
                undefined
            } else {
                log.severity_number >= min
            };
            if !ok {
                return false;
            }
        }
        self.common(attrs, res_attrs, scope)
    }

    /// `filtermetric`: only metric names and resource attributes take part.
    pub fn matches_metric(&self, name: &str, resource: Option<&Resource>) -> bool {
        if self.metric_names.as_ref().is_some_and(|s| !s.matches(name)) {
            return false;
        }
        self.resources
            .matches(resource.map_or(&[][..], |r| &r.attributes[..]))
    }
}

/// The contrib checks for a block used with `signal` (run for signals with consumers).
pub fn validate_for(m: &MatchArgs, signal: Signal) -> Result<(), String> {
    match signal {
        Signal::Traces => {
            if !m.log_bodies.is_empty() {
                return Err("log_bodies should not be specified for trace spans".into());
            }
            if !m.log_severity_texts.is_empty() {
                return Err("log_severity_texts should not be specified for trace spans".into());
            }
            if m.log_severity.is_some() {
                return Err("log_severity_number should not be specified for trace spans".into());
            }
            if m.services.is_empty()
                && m.span_names.is_empty()
                && m.attribute.is_empty()
                && m.library.is_empty()
                && m.resource.is_empty()
                && m.span_kinds.is_empty()
            {
                return Err(r#"at least one of "attributes", "libraries",  or "resources" field must be specified"#.into());
            }
            if m.match_type == "strict" {
                if let Some(bad) = m
                    .span_kinds
                    .iter()
                    .find(|k| !SPAN_KINDS.contains(&k.as_str()))
                {
                    return Err(format!(
                        "span_kinds string must match one of the standard span kinds when match_type=strict: [{}] (got {bad:?})",
                        SPAN_KINDS.join(" ")
                    ));
                }
            }
        }
        Signal::Logs => {
            if !m.span_names.is_empty() || !m.services.is_empty() || !m.span_kinds.is_empty() {
                return Err(
                    "services, span_names, and span_kinds are not valid for log records".into(),
                );
            }
            if m.attribute.is_empty()
                && m.library.is_empty()
                && m.resource.is_empty()
                && m.log_bodies.is_empty()
                && m.log_severity_texts.is_empty()
                && m.log_severity.is_none()
            {
                return Err(r#"at least one of "attributes", "libraries", "span_kinds", "resources", "log_bodies", "log_severity_texts" or "log_severity_number" field must be specified"#.into());
            }
        }
        Signal::Metrics => {}
    }
    Ok(())
}

/// Whether data passes `include` (when given) and is not caught by `exclude` (when given).
pub fn selected(
    include: Option<&Matcher>,
    exclude: Option<&Matcher>,
    f: impl Fn(&Matcher) -> bool,
) -> bool {
    include.is_none_or(&f) && !exclude.is_some_and(&f)
}
