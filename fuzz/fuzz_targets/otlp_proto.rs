//! Fuzz target for the protobuf walker behind every OTLP request (`solder_otelcol::wire`).
//! Run with `cargo +nightly fuzz run otlp_proto`.
//! Invariants: no panic; resource entries are in bounds, ordered and disjoint; cutting a valid
//! request into its entries and concatenating them again keeps the item count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solder_core::signals::otlp::Signal;
use solder_otelcol::wire;

fuzz_target!(|data: &[u8]| {
    let entries = wire::resource_entries(data);
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let Ok(count) = wire::count_items(signal, data) else {
            continue;
        };
        let Ok(entries) = &entries else {
            panic!("count_items accepted what resource_entries rejected");
        };
        let mut joined = Vec::with_capacity(data.len());
        let mut last_end = 0;
        for r in entries {
            assert!(r.start >= last_end && r.start < r.end && r.end <= data.len());
            last_end = r.end;
            joined.extend_from_slice(&data[r.clone()]);
        }
        assert_eq!(wire::count_items(signal, &joined), Ok(count));
    }
});
