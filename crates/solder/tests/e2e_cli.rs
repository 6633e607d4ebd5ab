//! `solder check`, `solder fmt` and `solder version` end to end, on the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_e2e::run_solder;
use std::path::Path;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn check_valid_config_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "a.txt", "x");
    let cfg = write(
        dir.path(),
        "config.alloy",
        &format!("local.file \"a\" {{\n  filename = \"{data}\"\n}}\n"),
    );
    for cmd in ["check", "validate"] {
        let out = run_solder(bin(), &[cmd, &cfg], None);
        assert!(out.status.success(), "{cmd}: {}", out.stderr);
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            ("", ""),
            "{cmd}"
        );
    }
}

#[test]
fn check_syntax_error_prints_caret_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "config.alloy",
        "local.file \"a\" {\n  filename = 1 +\n}\n",
    );
    let out = run_solder(bin(), &["check", &cfg], None);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("config.alloy:3:1: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("2 |   filename = 1 +"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("  | ^"), "{}", out.stderr);
}

#[test]
fn check_names_unimplemented_and_unknown_components() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "config.alloy",
        "loki.source.journal \"j\" { }\n",
    );
    let out = run_solder(bin(), &["check", &cfg], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("loki.source.journal"), "{}", out.stderr);
    assert!(out.stderr.contains("config.alloy:1:1"), "{}", out.stderr);
    assert!(out.stderr.contains("^^^"), "{}", out.stderr);

    let cfg = write(
        dir.path(),
        "typo.alloy",
        "local.flie \"a\" {\n  filename = \"x\"\n}\n",
    );
    let out = run_solder(bin(), &["check", &cfg], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("local.flie"), "{}", out.stderr);
}

#[test]
fn check_missing_file_fails() {
    let out = run_solder(bin(), &["check", "/nonexistent/config.alloy"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty());
}

const UNFORMATTED: &str = "local.file \"a\" {\nfilename = \"x\"\n  is_secret=true\n}\n";
const FORMATTED: &str = "local.file \"a\" {\n\tfilename  = \"x\"\n\tis_secret = true\n}\n";

#[test]
fn fmt_reads_stdin_and_prints_canonical_form() {
    for args in [&["fmt"][..], &["fmt", "-"][..]] {
        let out = run_solder(bin(), args, Some(UNFORMATTED));
        assert!(out.status.success(), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, FORMATTED, "{args:?}");
    }
    // Formatting is idempotent.
    let out = run_solder(bin(), &["fmt"], Some(FORMATTED));
    assert_eq!(out.stdout, FORMATTED);
}

#[test]
fn fmt_test_flag_reports_unformatted_files() {
    let dir = tempfile::tempdir().unwrap();
    let ugly = write(dir.path(), "ugly.alloy", UNFORMATTED);
    let pretty = write(dir.path(), "pretty.alloy", FORMATTED);
    let out = run_solder(bin(), &["fmt", "-t", &ugly], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, "");
    let out = run_solder(bin(), &["fmt", "--test", &pretty], None);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&ugly).unwrap(),
        UNFORMATTED,
        "-t never writes"
    );
}

#[test]
fn fmt_write_only_touches_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    let ugly = write(dir.path(), "ugly.alloy", UNFORMATTED);
    let out = run_solder(bin(), &["fmt", "-w", &ugly], None);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(std::fs::read_to_string(&ugly).unwrap(), FORMATTED);

    // Already formatted: the file is not rewritten (mtime unchanged).
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    let f = std::fs::File::options().write(true).open(&ugly).unwrap();
    f.set_modified(old).unwrap();
    drop(f);
    let out = run_solder(bin(), &["fmt", "--write", &ugly], None);
    assert!(out.status.success());
    let mtime = std::fs::metadata(&ugly).unwrap().modified().unwrap();
    assert_eq!(mtime, old);
}

#[test]
fn fmt_errors() {
    let out = run_solder(bin(), &["fmt"], Some("a {"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("<stdin>:1:"), "{}", out.stderr);
    assert!(out.stderr.contains('^'), "{}", out.stderr);

    let out = run_solder(bin(), &["fmt", "-w"], Some(FORMATTED));
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("cannot use -w with standard input"),
        "{}",
        out.stderr
    );

    let out = run_solder(bin(), &["fmt", "-w", "-t", "x.alloy"], None);
    assert!(!out.status.success());
}

#[test]
fn version_and_help() {
    for args in [&["--version"][..], &["version"][..]] {
        let out = run_solder(bin(), args, None);
        assert!(out.status.success());
        assert!(
            out.stdout.starts_with("solder, version v"),
            "{}",
            out.stdout
        );
    }
    let out = run_solder(bin(), &["run", "--help"], None);
    assert!(out.status.success());
    for flag in [
        "--server.http.listen-addr",
        "--storage.path",
        "--stability.level",
        "--feature.component-shutdown-deadline",
        "--cluster.enabled",
        "pprof",
    ] {
        assert!(
            out.stdout.contains(flag),
            "{flag} missing from help:\n{}",
            out.stdout
        );
    }
}
