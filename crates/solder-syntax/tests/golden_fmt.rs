#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Golden tests for `solder fmt`: every `tests/golden/fmt/<name>.in` must format to exactly
//! `<name>.expect` (what `alloy fmt` prints for it).
//!
//! Two more properties are checked:
//! - idempotency: formatting the expected output leaves it unchanged (skipped for `unstable_`
//!   and `quirk_` cases);
//! - safety: the expected output parses to the same tree as the input (spans ignored) and keeps
//!   the same comments (skipped for `quirk_` cases).
//!
//! Those cases pin down places where `alloy fmt` itself is not idempotent (`unstable_`: a
//! statement broken over lines inside an expression is joined, but still ends its alignment
//! group the first time) or changes meaning or emits invalid text (`quirk_`: re-escaped quoted
//! keys, tabs inside raw strings, `f(\n)`). We reproduce those byte for byte, so the properties
//! do not hold there by design.

use solder_syntax::ast::{Body, Expr, ExprKind, File, Stmt};
use solder_syntax::parser::parse_file;
use solder_syntax::printer::{format_file, format_source};
use solder_syntax::{FileId, Span};
use std::fs;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fmt")
}

/// Every case name (file stem of a `.in` file), sorted.
fn case_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "in"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read_case(name: &str) -> (String, String) {
    let dir = golden_dir();
    let input = fs::read_to_string(dir.join(format!("{name}.in"))).unwrap();
    let expect = fs::read_to_string(dir.join(format!("{name}.expect")))
        .unwrap_or_else(|e| panic!("{name}.expect: {e}"));
    (input, expect)
}

/// A readable first difference between two texts.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (wl, gl) = (w.get(i), g.get(i));
        if wl != gl {
            return format!("line {}:\n  want: {:?}\n  got:  {:?}", i + 1, wl, gl);
        }
    }
    "texts differ only in their final line ending".to_string()
}

fn parse_ok(src: &str, what: &str) -> File {
    let (file, diags) = parse_file(src, FileId(0));
    assert!(!diags.has_errors(), "{what} does not parse: {diags}");
    file
}

#[test]
fn golden_cases_format_as_expected() {
    let names = case_names();
    assert!(
        names.len() >= 40,
        "expected at least 40 golden cases, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for name in &names {
        let (input, expect) = read_case(name);
        match format_source(&input) {
            Ok(got) if got == expect => {}
            Ok(got) => failures.push(format!("{name}: {}", first_difference(&expect, &got))),
            Err(d) => failures.push(format!("{name}: input does not parse: {d}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn formatting_is_idempotent() {
    let mut failures = Vec::new();
    let stable = |n: &&String| !n.starts_with("quirk_") && !n.starts_with("unstable_");
    for name in case_names().iter().filter(stable) {
        let (_, expect) = read_case(name);
        match format_source(&expect) {
            Ok(again) if again == expect => {}
            Ok(again) => failures.push(format!("{name}: {}", first_difference(&expect, &again))),
            Err(d) => failures.push(format!("{name}: expected output does not parse: {d}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn formatting_preserves_the_tree_and_comments() {
    for name in case_names().iter().filter(|n| !n.starts_with("quirk_")) {
        let (input, expect) = read_case(name);
        let before = parse_ok(&input, &format!("{name}.in"));
        let after = parse_ok(&expect, &format!("{name}.expect"));
        assert_eq!(
            strip_file(before),
            strip_file(after),
            "{name}: formatting changed the syntax tree"
        );
    }
}

#[test]
fn format_file_matches_format_source() {
    let (input, expect) = read_case("attr_alignment");
    let file = parse_ok(&input, "attr_alignment.in");
    assert_eq!(format_file(&file, &input), expect);
}

#[test]
fn parse_errors_are_returned() {
    let err = format_source("logging { level = \"info\" format = \"logfmt\" }\n").unwrap_err();
    assert!(
        err.to_string().contains("expected TERMINATOR, got IDENT"),
        "unexpected diagnostics: {err}"
    );
    assert!(format_source("block `raw` {}\n").is_err());
}

#[test]
fn empty_input_formats_to_a_single_newline() {
    assert_eq!(format_source("").unwrap(), "\n");
    assert_eq!(format_source("\n\n\n").unwrap(), "\n");
}

#[test]
fn the_span_stripper_sees_real_differences() {
    // Guards the equivalence test above against a comparison that always passes.
    let a = strip_file(parse_ok("x { a = 1 + 2 }\n", "a"));
    let b = strip_file(parse_ok("x {\n\ta = 1 + 2\n}\n", "b"));
    let c = strip_file(parse_ok("x { a = (1 + 2) }\n", "c"));
    let d = strip_file(parse_ok("x { a = 1 + 2 } // note\n", "d"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
}

// ---- span stripping -------------------------------------------------------------------------

const NO_SPAN: Span = Span {
    file: FileId(0),
    lo: 0,
    hi: 0,
};

/// The file with every span zeroed, so trees parsed from differently laid-out text compare equal
/// exactly when they have the same structure, names, literals (raw text included) and comments.
fn strip_file(mut f: File) -> File {
    strip_body(&mut f.body);
    for c in &mut f.comments {
        c.span = NO_SPAN;
    }
    f
}

fn strip_body(body: &mut Body) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) => {
                a.name.span = NO_SPAN;
                strip_expr(&mut a.value);
            }
            Stmt::Block(b) => {
                b.span = NO_SPAN;
                b.lcurly = NO_SPAN;
                b.rcurly = NO_SPAN;
                for n in &mut b.name {
                    n.span = NO_SPAN;
                }
                // Alloy's tree stores a label as a plain string, so `block "" {}` and `block {}`
                // are the same block there (and the printer drops the empty label).
                if b.label.as_ref().is_some_and(|l| l.value.is_empty()) {
                    b.label = None;
                }
                if let Some(l) = &mut b.label {
                    l.span = NO_SPAN;
                }
                strip_body(&mut b.body);
            }
        }
    }
}

fn strip_expr(e: &mut Expr) {
    e.span = NO_SPAN;
    match &mut e.kind {
        ExprKind::Literal(_) => {}
        ExprKind::Ident(i) => i.span = NO_SPAN,
        ExprKind::Array {
            elems,
            lbrack,
            rbrack,
        } => {
            *lbrack = NO_SPAN;
            *rbrack = NO_SPAN;
            elems.iter_mut().for_each(strip_expr);
        }
        ExprKind::Object {
            fields,
            lcurly,
            rcurly,
        } => {
            *lcurly = NO_SPAN;
            *rcurly = NO_SPAN;
            for f in fields {
                f.key.span = NO_SPAN;
                strip_expr(&mut f.value);
            }
        }
        ExprKind::Access { value, name } => {
            name.span = NO_SPAN;
            strip_expr(value);
        }
        ExprKind::Index {
            value,
            index,
            rbrack,
        } => {
            *rbrack = NO_SPAN;
            strip_expr(value);
            strip_expr(index);
        }
        ExprKind::Call {
            func,
            args,
            lparen,
            rparen,
        } => {
            *lparen = NO_SPAN;
            *rparen = NO_SPAN;
            strip_expr(func);
            args.iter_mut().for_each(strip_expr);
        }
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => strip_expr(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            strip_expr(lhs);
            strip_expr(rhs);
        }
    }
}
