//! Walking encoded OTLP `Export*ServiceRequest` bytes without decoding them. Being written.
