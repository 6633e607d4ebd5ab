//! The OTLP messages as tables: for each field its JSON name, proto name, number and kind.
//! Field numbers and types follow `opentelemetry-proto` (common/resource/trace/metrics/logs v1).

/// How a field's value is written in JSON and encoded in protobuf.
#[derive(Clone, Copy)]
pub enum Kind {
    Message(&'static MessageSchema),
    String,
    /// Trace and span ids: hex in OTLP/JSON.
    HexBytes,
    /// Any other `bytes` field: base64.
    Base64Bytes,
    Bool,
    Uint32,
    Uint64,
    Int64,
    SInt32,
    Fixed32,
    Fixed64,
    SFixed64,
    Double,
    Enum(&'static [(&'static str, i32)]),
}

impl Kind {
    /// Repeated fields of these kinds are encoded packed (proto3's default).
    pub fn packable(self) -> bool {
        !matches!(
            self,
            Kind::Message(_) | Kind::String | Kind::HexBytes | Kind::Base64Bytes
        )
    }

    pub fn wire_type(self) -> u8 {
        match self {
            Kind::Bool
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Int64
            | Kind::SInt32
            | Kind::Enum(_) => 0,
            Kind::Fixed64 | Kind::SFixed64 | Kind::Double => 1,
            Kind::Fixed32 => 5,
            Kind::Message(_) | Kind::String | Kind::HexBytes | Kind::Base64Bytes => 2,
        }
    }
}

pub struct FieldSpec {
    pub json: &'static str,
    pub proto: &'static str,
    pub number: u32,
    pub kind: Kind,
    pub repeated: bool,
}

pub struct MessageSchema {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
}

impl MessageSchema {
    /// The field a JSON key names: the lowerCamelCase JSON name or the proto name.
    pub fn field(&self, key: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.json == key || f.proto == key)
    }
}

const fn one(json: &'static str, proto: &'static str, number: u32, kind: Kind) -> FieldSpec {
    FieldSpec {
        json,
        proto,
        number,
        kind,
        repeated: false,
    }
}

const fn many(json: &'static str, proto: &'static str, number: u32, kind: Kind) -> FieldSpec {
    FieldSpec {
        json,
        proto,
        number,
        kind,
        repeated: true,
    }
}

// ---- common.v1 / resource.v1 ----

pub static ANY_VALUE: MessageSchema = MessageSchema {
    name: "AnyValue",
    fields: &[
        one("stringValue", "string_value", 1, Kind::String),
        one("boolValue", "bool_value", 2, Kind::Bool),
        one("intValue", "int_value", 3, Kind::Int64),
        one("doubleValue", "double_value", 4, Kind::Double),
        one("arrayValue", "array_value", 5, Kind::Message(&ARRAY_VALUE)),
        one(
            "kvlistValue",
            "kvlist_value",
            6,
            Kind::Message(&KEY_VALUE_LIST),
        ),
        one("bytesValue", "bytes_value", 7, Kind::Base64Bytes),
        one(
            "stringValueStrindex",
            "string_value_strindex",
            8,
            Kind::Int64,
        ),
    ],
};

pub static ARRAY_VALUE: MessageSchema = MessageSchema {
    name: "ArrayValue",
    fields: &[many("values", "values", 1, Kind::Message(&ANY_VALUE))],
};

pub static KEY_VALUE_LIST: MessageSchema = MessageSchema {
    name: "KeyValueList",
    fields: &[many("values", "values", 1, Kind::Message(&KEY_VALUE))],
};

pub static KEY_VALUE: MessageSchema = MessageSchema {
    name: "KeyValue",
    fields: &[
        one("key", "key", 1, Kind::String),
        one("value", "value", 2, Kind::Message(&ANY_VALUE)),
        one("keyStrindex", "key_strindex", 3, Kind::Int64),
    ],
};

const ATTRIBUTES: Kind = Kind::Message(&KEY_VALUE);

pub static SCOPE: MessageSchema = MessageSchema {
    name: "InstrumentationScope",
    fields: &[
        one("name", "name", 1, Kind::String),
        one("version", "version", 2, Kind::String),
        many("attributes", "attributes", 3, ATTRIBUTES),
        one(
            "droppedAttributesCount",
            "dropped_attributes_count",
            4,
            Kind::Uint32,
        ),
    ],
};

pub static ENTITY_REF: MessageSchema = MessageSchema {
    name: "EntityRef",
    fields: &[
        one("schemaUrl", "schema_url", 1, Kind::String),
        one("type", "type", 2, Kind::String),
        many("idKeys", "id_keys", 3, Kind::String),
        many("descriptionKeys", "description_keys", 4, Kind::String),
    ],
};

pub static RESOURCE: MessageSchema = MessageSchema {
    name: "Resource",
    fields: &[
        many("attributes", "attributes", 1, ATTRIBUTES),
        one(
            "droppedAttributesCount",
            "dropped_attributes_count",
            2,
            Kind::Uint32,
        ),
        many("entityRefs", "entity_refs", 3, Kind::Message(&ENTITY_REF)),
    ],
};

// ---- trace.v1 ----

const SPAN_KIND: &[(&str, i32)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
];

const STATUS_CODE: &[(&str, i32)] = &[
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

pub static EXPORT_TRACE_REQUEST: MessageSchema = MessageSchema {
    name: "ExportTraceServiceRequest",
    fields: &[many(
        "resourceSpans",
        "resource_spans",
        1,
        Kind::Message(&RESOURCE_SPANS),
    )],
};

pub static RESOURCE_SPANS: MessageSchema = MessageSchema {
    name: "ResourceSpans",
    fields: &[
        one("resource", "resource", 1, Kind::Message(&RESOURCE)),
        many("scopeSpans", "scope_spans", 2, Kind::Message(&SCOPE_SPANS)),
        one("schemaUrl", "schema_url", 3, Kind::String),
    ],
};

pub static SCOPE_SPANS: MessageSchema = MessageSchema {
    name: "ScopeSpans",
    fields: &[
        one("scope", "scope", 1, Kind::Message(&SCOPE)),
        many("spans", "spans", 2, Kind::Message(&SPAN)),
        one("schemaUrl", "schema_url", 3, Kind::String),
    ],
};

pub static SPAN: MessageSchema = MessageSchema {
    name: "Span",
    fields: &[
        one("traceId", "trace_id", 1, Kind::HexBytes),
        one("spanId", "span_id", 2, Kind::HexBytes),
        one("traceState", "trace_state", 3, Kind::String),
        one("parentSpanId", "parent_span_id", 4, Kind::HexBytes),
        one("flags", "flags", 16, Kind::Fixed32),
        one("name", "name", 5, Kind::String),
        one("kind", "kind", 6, Kind::Enum(SPAN_KIND)),
        one(
            "startTimeUnixNano",
            "start_time_unix_nano",
            7,
            Kind::Fixed64,
        ),
        one("endTimeUnixNano", "end_time_unix_nano", 8, Kind::Fixed64),
        many("attributes", "attributes", 9, ATTRIBUTES),
        one(
            "droppedAttributesCount",
            "dropped_attributes_count",
            10,
            Kind::Uint32,
        ),
        many("events", "events", 11, Kind::Message(&SPAN_EVENT)),
        one(
            "droppedEventsCount",
            "dropped_events_count",
            12,
            Kind::Uint32,
        ),
        many("links", "links", 13, Kind::Message(&SPAN_LINK)),
        one("droppedLinksCount", "dropped_links_count", 14, Kind::Uint32),
        one("status", "status", 15, Kind::Message(&SPAN_STATUS)),
    ],
};

pub static SPAN_EVENT: MessageSchema = MessageSchema {
    name: "Span.Event",
    fields: &[
        one("timeUnixNano", "time_unix_nano", 1, Kind::Fixed64),
        one("name", "name", 2, Kind::String),
        many("attributes", "attributes", 3, ATTRIBUTES),
        one(
            "droppedAttributesCount",
            "dropped_attributes_count",
            4,
            Kind::Uint32,
        ),
    ],
};

pub static SPAN_LINK: MessageSchema = MessageSchema {
    name: "Span.Link",
    fields: &[
        one("traceId", "trace_id", 1, Kind::HexBytes),
        one("spanId", "span_id", 2, Kind::HexBytes),
        one("traceState", "trace_state", 3, Kind::String),
        many("attributes", "attributes", 4, ATTRIBUTES),
        one(
            "droppedAttributesCount",
            "dropped_attributes_count",
            5,
            Kind::Uint32,
        ),
        one("flags", "flags", 6, Kind::Fixed32),
    ],
};

pub static SPAN_STATUS: MessageSchema = MessageSchema {
    name: "Status",
    fields: &[
        one("message", "message", 2, Kind::String),
        one("code", "code", 3, Kind::Enum(STATUS_CODE)),
    ],
};

// ---- logs.v1 ----

const SEVERITY_NUMBER: &[(&str, i32)] = &[
    ("SEVERITY_NUMBER_UNSPECIFIED", 0),
    ("SEVERITY_NUMBER_TRACE", 1),
    ("SEVERITY_NUMBER_TRACE2", 2),
    ("SEVERITY_NUMBER_TRACE3", 3),
    ("SEVERITY_NUMBER_TRACE4", 4),
    ("SEVERITY_NUMBER_DEBUG", 5),
    ("SEVERITY_NUMBER_DEBUG2", 6),
    ("SEVERITY_NUMBER_DEBUG3", 7),
    ("SEVERITY_NUMBER_DEBUG4", 8),
    ("SEVERITY_NUMBER_INFO", 9),
    ("SEVERITY_NUMBER_INFO2", 10),
    ("SEVERITY_NUMBER_INFO3", 11),
    ("SEVERITY_NUMBER_INFO4", 12),
    ("SEVERITY_NUMBER_WARN", 13),
    ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_WARN3", 15),
    ("SEVERITY_NUMBER_WARN4", 16),
    ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_ERROR2", 18),
    ("SEVERITY_NUMBER_ERROR3", 19),
    ("SEVERITY_NUMBER_ERROR4", 20),
    ("SEVERITY_NUMBER_FATAL", 21),
    ("SEVERITY_NUMBER_FATAL2", 22),
    ("SEVERITY_NUMBER_FATAL3", 23),
    ("SEVERITY_NUMBER_FATAL4", 24),
];

pub static EXPORT_LOGS_REQUEST: MessageSchema = MessageSchema {
    name: "ExportLogsServiceRequest",
    fields: &[many(
        "resourceLogs",
        "resource_logs",
        1,
        Kind::Message(&RESOURCE_LOGS),
    )],
};

pub static RESOURCE_LOGS: MessageSchema = MessageSchema {
    name: "ResourceLogs",
    fields: &[
        one("resource", "resource", 1, Kind::Message(&RESOURCE)),
        many("scopeLogs", "scope_logs", 2, Kind::Message(&SCOPE_LOGS)),
        one("schemaUrl", "schema_url", 3, Kind::String),
    ],
};

pub static SCOPE_LOGS: MessageSchema = MessageSchema {
    name: "ScopeLogs",
    fields: &[
        one("scope", "scope", 1, Kind::Message(&SCOPE)),
        many("logRecords", "log_records", 2, Kind::Message(&LOG_RECORD)),
        one("schemaUrl", "schema_url", 3, Kind::String),
    ],
};

pub static LOG_RECORD: MessageSchema = MessageSchema {
    name: "LogRecord",
    fields: &[
        one("timeUnixNano", "time_unix_nano", 1, Kind::Fixed64),
        one(
            "observedTimeUnixNano",
            "observed_time_unix_nano",
            11,
            Kind::Fixed64,
        ),
        one(
            "severityNumber",
            "severity_number",
            2,
            Kind::Enum(SEVERITY_NUMBER),
        ),
        one("severityText", "severity_text", 3, Kind::String),
        one("body", "body", 5, Kind::Message(&ANY_VALUE)),
        many("attributes", "attributes", 6, ATTRIBUTES),
        one(
            "droppedAttributesCount",
            "dropped_attributes_count",
            7,
            Kind::Uint32,
        ),
        one("flags", "flags", 8, Kind::Fixed32),
        one("traceId", "trace_id", 9, Kind::HexBytes),
        one("spanId", "span_id", 10, Kind::HexBytes),
        one("eventName", "event_name", 12, Kind::String),
    ],
};

// ---- metrics.v1 ----

const AGGREGATION_TEMPORALITY: &[(&str, i32)] = &[
    ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
    ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
];

pub static EXPORT_METRICS_REQUEST: MessageSchema = MessageSchema {
    name: "ExportMetricsServiceRequest",
    fields: &[many(
        "resourceMetrics",
        "resource_metrics",
        1,
        Kind::Message(&RESOURCE_METRICS),
    )],
};

pub static RESOURCE_METRICS: MessageSchema = MessageSchema {
    name: "ResourceMetrics",
    fields: &[
        one("resource", "resource", 1, Kind::Message(&RESOURCE)),
        many(
            "scopeMetrics",
            "scope_metrics",
            2,
            Kind::Message(&SCOPE_METRICS),
        ),
        one("schemaUrl", "schema_url", 3, Kind::String),
    ],
};

pub static SCOPE_METRICS: MessageSchema = MessageSchema {
    name: "ScopeMetrics",
    fields: &[
        one("scope", "scope", 1, Kind::Message(&SCOPE)),
        many("metrics", "metrics", 2, Kind::Message(&METRIC)),
        one("schemaUrl", "schema_url", 3, Kind::String),
    ],
};

pub static METRIC: MessageSchema = MessageSchema {
    name: "Metric",
    fields: &[
        one("name", "name", 1, Kind::String),
        one("description", "description", 2, Kind::String),
        one("unit", "unit", 3, Kind::String),
        one("gauge", "gauge", 5, Kind::Message(&GAUGE)),
        one("sum", "sum", 7, Kind::Message(&SUM)),
        one("histogram", "histogram", 9, Kind::Message(&HISTOGRAM)),
        one(
            "exponentialHistogram",
            "exponential_histogram",
            10,
            Kind::Message(&EXPONENTIAL_HISTOGRAM),
        ),
        one("summary", "summary", 11, Kind::Message(&SUMMARY)),
        many("metadata", "metadata", 12, ATTRIBUTES),
    ],
};

pub static GAUGE: MessageSchema = MessageSchema {
    name: "Gauge",
    fields: &[many(
        "dataPoints",
        "data_points",
        1,
        Kind::Message(&NUMBER_POINT),
    )],
};

pub static SUM: MessageSchema = MessageSchema {
    name: "Sum",
    fields: &[
        many("dataPoints", "data_points", 1, Kind::Message(&NUMBER_POINT)),
        one(
            "aggregationTemporality",
            "aggregation_temporality",
            2,
            Kind::Enum(AGGREGATION_TEMPORALITY),
        ),
        one("isMonotonic", "is_monotonic", 3, Kind::Bool),
    ],
};

pub static HISTOGRAM: MessageSchema = MessageSchema {
    name: "Histogram",
    fields: &[
        many(
            "dataPoints",
            "data_points",
            1,
            Kind::Message(&HISTOGRAM_POINT),
        ),
        one(
            "aggregationTemporality",
            "aggregation_temporality",
            2,
            Kind::Enum(AGGREGATION_TEMPORALITY),
        ),
    ],
};

pub static EXPONENTIAL_HISTOGRAM: MessageSchema = MessageSchema {
    name: "ExponentialHistogram",
    fields: &[
        many(
            "dataPoints",
            "data_points",
            1,
            Kind::Message(&EXP_HISTOGRAM_POINT),
        ),
        one(
            "aggregationTemporality",
            "aggregation_temporality",
            2,
            Kind::Enum(AGGREGATION_TEMPORALITY),
        ),
    ],
};

pub static SUMMARY: MessageSchema = MessageSchema {
    name: "Summary",
    fields: &[many(
        "dataPoints",
        "data_points",
        1,
        Kind::Message(&SUMMARY_POINT),
    )],
};

pub static NUMBER_POINT: MessageSchema = MessageSchema {
    name: "NumberDataPoint",
    fields: &[
        many("attributes", "attributes", 7, ATTRIBUTES),
        one(
            "startTimeUnixNano",
            "start_time_unix_nano",
            2,
            Kind::Fixed64,
        ),
        one("timeUnixNano", "time_unix_nano", 3, Kind::Fixed64),
        one("asDouble", "as_double", 4, Kind::Double),
        one("asInt", "as_int", 6, Kind::SFixed64),
        many("exemplars", "exemplars", 5, Kind::Message(&EXEMPLAR)),
        one("flags", "flags", 8, Kind::Uint32),
    ],
};

pub static HISTOGRAM_POINT: MessageSchema = MessageSchema {
    name: "HistogramDataPoint",
    fields: &[
        many("attributes", "attributes", 9, ATTRIBUTES),
        one(
            "startTimeUnixNano",
            "start_time_unix_nano",
            2,
            Kind::Fixed64,
        ),
        one("timeUnixNano", "time_unix_nano", 3, Kind::Fixed64),
        one("count", "count", 4, Kind::Fixed64),
        one("sum", "sum", 5, Kind::Double),
        many("bucketCounts", "bucket_counts", 6, Kind::Fixed64),
        many("explicitBounds", "explicit_bounds", 7, Kind::Double),
        many("exemplars", "exemplars", 8, Kind::Message(&EXEMPLAR)),
        one("flags", "flags", 10, Kind::Uint32),
        one("min", "min", 11, Kind::Double),
        one("max", "max", 12, Kind::Double),
    ],
};

pub static EXP_HISTOGRAM_POINT: MessageSchema = MessageSchema {
    name: "ExponentialHistogramDataPoint",
    fields: &[
        many("attributes", "attributes", 1, ATTRIBUTES),
        one(
            "startTimeUnixNano",
            "start_time_unix_nano",
            2,
            Kind::Fixed64,
        ),
        one("timeUnixNano", "time_unix_nano", 3, Kind::Fixed64),
        one("count", "count", 4, Kind::Fixed64),
        one("sum", "sum", 5, Kind::Double),
        one("scale", "scale", 6, Kind::SInt32),
        one("zeroCount", "zero_count", 7, Kind::Fixed64),
        one("positive", "positive", 8, Kind::Message(&BUCKETS)),
        one("negative", "negative", 9, Kind::Message(&BUCKETS)),
        one("flags", "flags", 10, Kind::Uint32),
        many("exemplars", "exemplars", 11, Kind::Message(&EXEMPLAR)),
        one("min", "min", 12, Kind::Double),
        one("max", "max", 13, Kind::Double),
        one("zeroThreshold", "zero_threshold", 14, Kind::Double),
    ],
};

pub static BUCKETS: MessageSchema = MessageSchema {
    name: "ExponentialHistogramDataPoint.Buckets",
    fields: &[
        one("offset", "offset", 1, Kind::SInt32),
        many("bucketCounts", "bucket_counts", 2, Kind::Uint64),
    ],
};

pub static SUMMARY_POINT: MessageSchema = MessageSchema {
    name: "SummaryDataPoint",
    fields: &[
        many("attributes", "attributes", 7, ATTRIBUTES),
        one(
            "startTimeUnixNano",
            "start_time_unix_nano",
            2,
            Kind::Fixed64,
        ),
        one("timeUnixNano", "time_unix_nano", 3, Kind::Fixed64),
        one("count", "count", 4, Kind::Fixed64),
        one("sum", "sum", 5, Kind::Double),
        many(
            "quantileValues",
            "quantile_values",
            6,
            Kind::Message(&QUANTILE),
        ),
        one("flags", "flags", 8, Kind::Uint32),
    ],
};

pub static QUANTILE: MessageSchema = MessageSchema {
    name: "SummaryDataPoint.ValueAtQuantile",
    fields: &[
        one("quantile", "quantile", 1, Kind::Double),
        one("value", "value", 2, Kind::Double),
    ],
};

pub static EXEMPLAR: MessageSchema = MessageSchema {
    name: "Exemplar",
    fields: &[
        many("filteredAttributes", "filtered_attributes", 7, ATTRIBUTES),
        one("timeUnixNano", "time_unix_nano", 2, Kind::Fixed64),
        one("asDouble", "as_double", 3, Kind::Double),
        one("asInt", "as_int", 6, Kind::SFixed64),
        one("spanId", "span_id", 4, Kind::HexBytes),
        one("traceId", "trace_id", 5, Kind::HexBytes),
    ],
};
