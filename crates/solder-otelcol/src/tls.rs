//! The otelcol `tls` block, client and server side, built into rustls configs. Being written.
