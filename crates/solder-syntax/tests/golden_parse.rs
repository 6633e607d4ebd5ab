//! Golden tests for the lexer and parser.
//!
//! - `tests/golden/parse/NAME.alloy` must parse without any diagnostic; the AST, dumped as the
//!   S-expressions below, must equal `NAME.ast`.
//! - `tests/golden/diag/NAME.alloy` is parsed and its diagnostics, one `line:col: message` per
//!   line, must equal `NAME.diag`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p solder-syntax --test golden_parse` rewrites the expected files;
//! every rewritten file must then be checked by hand against the spec before it is kept.
//!
//! Dump format: a block is `(block a.b "label"` with its body indented below and `)`; an attribute
//! is `(attr name EXPR)`; numbers print as `(int 8 "010")` / `(uint …)` / `(float …)` with their
//! raw text; strings as `(str "decoded")` with Rust escapes; identifiers bare; operators as
//! `(+ a b)`, `(neg a)`, `(not a)`; `(. value name)`, `(index value i)`, `(call f args…)`,
//! `(paren e)`, `(array …)`, `(object (key = value) ("quoted" = value))`. Comments are listed at
//! the end with their position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_syntax::ast::{Body, Expr, ExprKind, File, LitValue, Stmt, UnaryOp};
use solder_syntax::parser::parse_file;
use solder_syntax::value::Number;
use solder_syntax::{FileId, SourceFile};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn dump_expr(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::Literal(lit) => match &lit.value {
            LitValue::Null => out.push_str("null"),
            LitValue::Bool(b) => write!(out, "{b}").unwrap(),
            LitValue::Number(Number::Int(i)) => write!(out, "(int {i} {:?})", lit.raw).unwrap(),
            LitValue::Number(Number::Uint(u)) => write!(out, "(uint {u} {:?})", lit.raw).unwrap(),
            LitValue::Number(Number::Float(f)) => {
                write!(out, "(float {f:?} {:?})", lit.raw).unwrap()
            }
            LitValue::String(s) => write!(out, "(str {s:?})").unwrap(),
        },
        ExprKind::Ident(i) => out.push_str(&i.name),
        ExprKind::Array { elems, .. } => {
            out.push_str("(array");
            for x in elems {
                out.push(' ');
                dump_expr(x, out);
            }
            out.push(')');
        }
        ExprKind::Object { fields, .. } => {
            out.push_str("(object");
            for f in fields {
                if f.key.quoted {
                    write!(out, " ({:?} = ", f.key.name).unwrap();
                } else {
                    write!(out, " ({} = ", f.key.name).unwrap();
                }
                dump_expr(&f.value, out);
                out.push(')');
            }
            out.push(')');
        }
        ExprKind::Access { value, name } => {
            out.push_str("(. ");
            dump_expr(value, out);
            write!(out, " {})", name.name).unwrap();
        }
        ExprKind::Index { value, index, .. } => {
            out.push_str("(index ");
            dump_expr(value, out);
            out.push(' ');
            dump_expr(index, out);
            out.push(')');
        }
        ExprKind::Call { func, args, .. } => {
            out.push_str("(call ");
            dump_expr(func, out);
            for a in args {
                out.push(' ');
                dump_expr(a, out);
            }
            out.push(')');
        }
        ExprKind::Unary { op, expr } => {
            out.push_str(match op {
                UnaryOp::Neg => "(neg ",
                UnaryOp::Not => "(not ",
            });
            dump_expr(expr, out);
            out.push(')');
        }
        ExprKind::Binary { op, lhs, rhs } => {
            write!(out, "({} ", op.as_str()).unwrap();
            dump_expr(lhs, out);
            out.push(' ');
            dump_expr(rhs, out);
            out.push(')');
        }
        ExprKind::Paren(inner) => {
            out.push_str("(paren ");
            dump_expr(inner, out);
            out.push(')');
        }
    }
}

fn dump_body(body: &Body, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) => {
                write!(out, "{pad}(attr {} ", a.name.name).unwrap();
                dump_expr(&a.value, out);
                out.push_str(")\n");
            }
            Stmt::Block(b) => {
                write!(out, "{pad}(block {}", b.full_name()).unwrap();
                if let Some(l) = &b.label {
                    write!(out, " {:?}", l.value).unwrap();
                }
                if b.body.is_empty() {
                    out.push_str(")\n");
                } else {
                    out.push('\n');
                    dump_body(&b.body, indent + 1, out);
                    writeln!(out, "{pad})").unwrap();
                }
            }
        }
    }
}

fn dump_file(f: &File, src: &SourceFile) -> String {
    let mut out = String::new();
    dump_body(&f.body, 0, &mut out);
    for c in &f.comments {
        let lc = src.line_col(c.span.lo);
        writeln!(out, "(comment {}:{} {:?})", lc.line, lc.col, c.text).unwrap();
    }
    out
}

fn golden_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(kind)
}

fn cases(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "alloy"))
        .collect();
    v.sort();
    v
}

/// Compares (or, with UPDATE_GOLDEN=1, writes) one expected file; returns a failure message.
fn check(path: &Path, ext: &str, got: &str) -> Option<String> {
    let want_path = path.with_extension(ext);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&want_path, got).unwrap();
        return None;
    }
    let want = std::fs::read_to_string(&want_path)
        .unwrap_or_else(|_| panic!("missing {}", want_path.display()));
    (want != got).then(|| {
        format!(
            "{}: mismatch\n--- want\n{want}--- got\n{got}",
            path.display()
        )
    })
}

fn read_source(path: &Path) -> String {
    // Some cases hold bytes that are awkward in an editor (NUL, BOM, CR); they are written as
    // themselves, so read raw and require valid UTF-8.
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn golden_parse() {
    let list = cases("parse");
    assert!(
        list.len() >= 30,
        "expected many parse cases, found {}",
        list.len()
    );
    let mut failures = Vec::new();
    for path in &list {
        let text = read_source(path);
        let (file, diags) = parse_file(&text, FileId(0));
        let src = SourceFile::new(path.display().to_string(), text.as_str());
        if !diags.is_empty() {
            let msgs: Vec<String> = diags
                .iter()
                .map(|d| {
                    let lc = src.line_col(d.span.lo);
                    format!("{}:{}: {}", lc.line, lc.col, d.message)
                })
                .collect();
            failures.push(format!(
                "{}: unexpected diagnostics:\n{}",
                path.display(),
                msgs.join("\n")
            ));
            continue;
        }
        failures.extend(check(path, "ast", &dump_file(&file, &src)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn golden_diag() {
    let list = cases("diag");
    assert!(
        list.len() >= 30,
        "expected many diag cases, found {}",
        list.len()
    );
    let mut failures = Vec::new();
    for path in &list {
        let text = read_source(path);
        let (_, diags) = parse_file(&text, FileId(0));
        let src = SourceFile::new(path.display().to_string(), text.as_str());
        if diags.is_empty() {
            failures.push(format!(
                "{}: expected diagnostics, got none",
                path.display()
            ));
            continue;
        }
        let mut got = String::new();
        for d in diags.iter() {
            let lc = src.line_col(d.span.lo);
            writeln!(got, "{}:{}: {}", lc.line, lc.col, d.message).unwrap();
        }
        failures.extend(check(path, "diag", &got));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
