//! OTLP/JSON encoding of the OTLP messages. Being written.
