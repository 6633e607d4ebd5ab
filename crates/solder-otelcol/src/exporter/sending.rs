//! What the OTLP exporters share: the `client`, `sending_queue` and `retry_on_failure` blocks, the
//! durable sending queue and the retry loop. Being written.
