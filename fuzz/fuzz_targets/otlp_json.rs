//! Fuzz target for the OTLP/JSON → protobuf conversion (`otelcol.receiver.otlp` HTTP JSON path).
//! Run with `cargo +nightly fuzz run otlp_json`; seed with
//! `crates/solder-otelcol/tests/fixtures/otlp/*.json`.
//! Invariant: whatever converts is a well-framed request of the same signal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solder_core::signals::otlp::Signal;
use solder_otelcol::{otlp_json, wire};

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        if let Ok(encoded) = otlp_json::to_protobuf(signal, data) {
            assert!(
                wire::count_items(signal, &encoded).is_ok(),
                "converted JSON is not a well-framed {signal:?} request"
            );
        }
    }
});
