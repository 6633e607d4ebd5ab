#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Stable-toolchain stand-in for the cargo-fuzz target (`fuzz/fuzz_targets/exposition.rs`, which
//! needs nightly): thousands of deterministic mutations of the conformance corpus, parsed in
//! both formats, asserting no panic, termination, and the parser's structural invariants.

use std::path::Path;

use solder_core::testing::Rng;
use solder_prometheus::exposition::{Entry, Format, Parser};

/// Bytes that matter to the grammar, plus troublesome UTF-8 and control bytes.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b",",
    b"=",
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"#",
    b"# ",
    b"# EOF",
    b"# HELP ",
    b"# TYPE ",
    b"# UNIT ",
    b" # {",
    b"NaN",
    b"+Inf",
    b"-Inf",
    b"1e400",
    b"0x1p3",
    b"_",
    b":",
    b".",
    b"-",
    b"0",
    b"9",
    b"\x00",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xff",
    b"\\n",
    b"\\\"",
    b"\\\\",
    b"{\"a.b\"",
    b"=\"v\"",
    b"counter",
    b"histogram",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(6) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next_u64() as u8;
            }
            1 => {
                let i = rng.below(len + 1);
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(i..i, ins.iter().copied());
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                data.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let copy: Vec<u8> = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            4 => {
                // Splice a piece of another payload in.
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(80));
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            5 if len > 0 => {
                data.truncate(rng.below(len));
            }
            _ => {
                let i = rng.below(len + 1);
                let digit = b'0' + rng.below(10) as u8;
                data.insert(i, digit);
            }
        }
    }
    data
}

/// Parses `body` fully, checking invariants that must hold for any input.
fn check(body: &str, format: Format) {
    let lines = body.bytes().filter(|&c| c == b'\n').count() + 2;
    let base = body.as_ptr() as usize;
    let mut parser = Parser::new(body, format);
    let mut count = 0usize;
    let mut last_offset = 0usize;
    while let Some(item) = parser.next() {
        count += 1;
        assert!(
            count <= body.len() + 2,
            "parser did not terminate on {body:?}"
        );
        assert!(
            parser.offset() >= last_offset,
            "offset went backwards on {body:?}"
        );
        last_offset = parser.offset();
        match item {
            Ok(Entry::Series(s)) => {
                let key = s.series_key.as_ptr() as usize;
                assert!(key >= base && key + s.series_key.len() <= base + body.len());
                assert!(!s.series_key.is_empty());
                assert!(!s.name.is_empty());
                for (k, _v) in s.labels.iter() {
                    assert!(!k.is_empty(), "empty label name from {body:?}");
                }
                if let Some(ex) = &s.exemplar {
                    assert_eq!(format, Format::OpenMetrics100);
                    assert!(ex.labels.iter().count() <= ex.labels.raw().len());
                }
            }
            Ok(Entry::Eof) => {
                assert_eq!(format, Format::OpenMetrics100);
                assert!(parser.next().is_none(), "entries after # EOF in {body:?}");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                assert!(
                    e.line >= 1 && e.line <= lines,
                    "line {} out of range for {body:?}",
                    e.line
                );
                assert!(
                    parser.next().is_none(),
                    "entries after an error in {body:?}"
                );
                return;
            }
        }
    }
    // Ending without `# EOF` and without an error is only possible in the text format.
    assert_eq!(
        format,
        Format::PrometheusText004,
        "OpenMetrics ended without # EOF: {body:?}"
    );
}

#[test]
fn mutated_corpus_never_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("prom" | "om")))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 40);
    let mut rng = Rng::new(0x5eed_1234_abcd_9876);
    let rounds = std::env::var("EXPOSITION_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    for _ in 0..rounds {
        let data = mutate(&mut rng, &seeds);
        for format in [Format::PrometheusText004, Format::OpenMetrics100] {
            match std::str::from_utf8(&data) {
                Ok(text) => {
                    assert!(Parser::from_bytes(&data, format).is_ok());
                    check(text, format);
                }
                Err(_) => {
                    // Raw bytes: invalid UTF-8 must be a clean error; the lossy text must parse.
                    let err = Parser::from_bytes(&data, format).err().unwrap();
                    assert!(err.line >= 1);
                    check(&String::from_utf8_lossy(&data), format);
                }
            }
        }
    }
}

#[test]
fn every_prefix_of_every_seed_is_handled() {
    // Truncated bodies (a scrape cut off mid-transfer) hit every "unexpected end" path.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let format = match path.extension().and_then(|x| x.to_str()) {
            Some("prom") => Format::PrometheusText004,
            Some("om") => Format::OpenMetrics100,
            _ => continue,
        };
        let body = std::fs::read_to_string(&path).unwrap();
        for (i, _) in body.char_indices() {
            check(&body[..i], format);
        }
    }
}
