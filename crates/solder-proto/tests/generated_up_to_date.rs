//! The generator for `src/generated/*.rs`, run as a test.
//!
//! It compiles `proto/` (at the repository root) with `protox`, a protobuf
//! compiler written in Rust, and turns the descriptors into Rust with
//! `prost-build`. The output is compared byte for byte with the committed
//! files, so a `.proto` edit (or a generator upgrade) that is not followed by a
//! regeneration fails CI.
//!
//! Regenerate with:
//!
//! ```text
//! SOLDER_REGENERATE_PROTO=1 cargo test -p solder-proto --test generated_up_to_date
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `.proto` files that are compiled, relative to `proto/`. Their imports
/// are found through the same include root.
const PROTO_FILES: &[&str] = &["prometheus/remote.proto", "loki/push.proto"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn proto_root() -> PathBuf {
    crate_dir().join("../../proto")
}

fn committed_dir() -> PathBuf {
    crate_dir().join("src/generated")
}

/// Runs the generator into `out_dir`, which must exist and be empty.
fn generate_into(out_dir: &Path) {
    let root = proto_root();
    let descriptors = protox::compile(PROTO_FILES, [&root]).expect("proto/ must compile");
    prost_build::Config::new()
        .out_dir(out_dir)
        .compile_fds(descriptors)
        .expect("prost-build must generate Rust for proto/");
    rustfmt_all(out_dir);
}

/// prost-build lays code out with prettyplease, which disagrees with rustfmt
/// in places. Passing the output through rustfmt makes the committed files
/// already rustfmt-clean, so formatting tools and this test never disagree.
fn rustfmt_all(dir: &Path) {
    let files: Vec<PathBuf> = rust_files(dir).keys().map(|n| dir.join(n)).collect();
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let status = Command::new(rustfmt)
        .args(["--edition", "2021"])
        .args(&files)
        .status()
        .expect("rustfmt must be installed to run the proto generator");
    assert!(status.success(), "rustfmt failed on generated code");
}

/// Every `.rs` file in `dir`, keyed by file name.
fn rust_files(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("directory must be readable") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, fs::read_to_string(&path).unwrap());
        }
    }
    files
}

#[test]
fn generated_code_matches_proto_definitions() {
    let scratch = tempfile::tempdir().unwrap();
    generate_into(scratch.path());
    let fresh = rust_files(scratch.path());
    assert!(
        fresh.contains_key("prometheus.rs") && fresh.contains_key("logproto.rs"),
        "generator produced unexpected files: {:?}",
        fresh.keys().collect::<Vec<_>>()
    );

    if std::env::var_os("SOLDER_REGENERATE_PROTO").is_some_and(|v| v == "1") {
        let target = committed_dir();
        fs::create_dir_all(&target).unwrap();
        // Drop files a renamed proto package no longer produces.
        for stale in rust_files(&target)
            .keys()
            .filter(|n| !fresh.contains_key(*n))
        {
            fs::remove_file(target.join(stale)).unwrap();
        }
        for (name, text) in &fresh {
            fs::write(target.join(name), text).unwrap();
        }
        return;
    }

    let committed = rust_files(&committed_dir());
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "src/generated/ has a different set of files than the generator produces; \
         rerun with SOLDER_REGENERATE_PROTO=1"
    );
    for (name, text) in &fresh {
        assert!(
            committed[name] == *text,
            "src/generated/{name} is stale; rerun with SOLDER_REGENERATE_PROTO=1"
        );
    }
}
