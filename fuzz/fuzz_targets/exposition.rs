//! Fuzz target for the exposition parser: any bytes, both formats, every lazily decoded part.
//! Run with `cargo +nightly fuzz run exposition` from the repository root (seed it with
//! `crates/solder-prometheus/tests/corpus`). The stable-toolchain smoke test
//! `crates/solder-prometheus/tests/exposition_fuzz_smoke.rs` checks the same invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solder_prometheus::exposition::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    for format in [Format::PrometheusText004, Format::OpenMetrics100] {
        let Ok(mut parser) = Parser::from_bytes(data, format) else {
            return;
        };
        let mut entries = 0usize;
        while let Some(item) = parser.next() {
            entries += 1;
            assert!(entries <= data.len() + 2, "parser did not terminate");
            match item {
                Ok(Entry::Series(s)) => {
                    assert!(!s.series_key.is_empty());
                    for (name, _value) in s.labels.iter() {
                        assert!(!name.is_empty());
                    }
                    if let Some(ex) = s.exemplar {
                        for (name, _value) in ex.labels.iter() {
                            assert!(!name.is_empty());
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => assert!(parser.next().is_none(), "entries after an error"),
            }
        }
    }
});
