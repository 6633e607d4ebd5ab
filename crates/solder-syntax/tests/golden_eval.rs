//! Golden tests for evaluation: operators, stdlib and error messages.
//!
//! Each `tests/golden/eval/*.txt` file holds cases separated by blank lines:
//! - `> EXPR` is one expression, evaluated against the test scope below;
//! - `>>>` … `<<<` is a body, evaluated with `eval_body`;
//! - then either `= VALUE` (the typed rendering below) or one `! line:col: message` per diagnostic.
//!
//! `#` lines are comments. Values render as `int(3)`, `uint(3)`, `float(3.5)`, Rust-quoted strings,
//! `[a, b]`, `{k = v}`, `secret`, `capsule("name")`, `function(name)`; a body as
//! `attr = value; block name "label" { … }`. Expected outputs were written by hand from the
//! documented behaviour (alloy-spec.md §1.4, §1.5, §1.8 and Alloy's sources), never copied from
//! this implementation's output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_syntax::eval::{eval_body, eval_expr, BodyItem, BodyValue, Scope};
use solder_syntax::parser::{parse_expr, parse_file};
use solder_syntax::{Capsule, Diagnostic, FileId, Number, Secret, SourceFile, Span, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

struct TestScope(BTreeMap<String, Value>);

impl Scope for TestScope {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Handle;

fn scope() -> TestScope {
    let mut m = BTreeMap::new();
    let obj = |e: Vec<(&str, Value)>| {
        Value::Object(e.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    m.insert(
        "obj".to_string(),
        obj(vec![
            ("a", Value::int(1)),
            ("b", obj(vec![("c", Value::from("x"))])),
        ]),
    );
    m.insert(
        "arr".to_string(),
        Value::Array(vec![Value::int(1), Value::int(2), Value::int(3)]),
    );
    m.insert("uint_val".to_string(), Value::uint(5));
    m.insert(
        "secret_val".to_string(),
        Value::Secret(Secret::new("s3cr3t")),
    );
    m.insert(
        "cap".to_string(),
        Value::Capsule(Capsule::new("test.Handle", Handle)),
    );
    TestScope(m)
}

fn render(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => write!(out, "{b}").unwrap(),
        Value::Number(Number::Int(i)) => write!(out, "int({i})").unwrap(),
        Value::Number(Number::Uint(u)) => write!(out, "uint({u})").unwrap(),
        Value::Number(Number::Float(f)) => write!(out, "float({f:?})").unwrap(),
        Value::String(s) => write!(out, "{s:?}").unwrap(),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write!(out, "{k} = ").unwrap();
                render(x, out);
            }
            out.push('}');
        }
        Value::Function(f) => write!(out, "function({})", f.name).unwrap(),
        Value::Capsule(c) => write!(out, "capsule({:?})", c.type_name).unwrap(),
        Value::Secret(_) => out.push_str("secret"),
    }
}

fn render_body(b: &BodyValue, out: &mut String) {
    for (i, item) in b.items.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        match item {
            BodyItem::Attr(a) => {
                write!(out, "{} = ", a.name).unwrap();
                render(&a.value, out);
            }
            BodyItem::Block(bl) => {
                write!(out, "block {}", bl.name).unwrap();
                if let Some(l) = &bl.label {
                    write!(out, " {l:?}").unwrap();
                }
                out.push_str(" { ");
                render_body(&bl.body, out);
                out.push_str(" }");
            }
        }
    }
}

fn position(src: &str, d: &Diagnostic) -> String {
    let lc = SourceFile::new("t", src).line_col(d.span.lo);
    format!("! {}:{}: {}", lc.line, lc.col, d.message)
}

enum Input {
    Expr(String),
    Body(String),
}

fn run(input: &Input) -> Vec<String> {
    let scope = scope();
    match input {
        Input::Expr(src) => {
            let expr = match parse_expr(src, FileId(0)) {
                Ok(e) => e,
                Err(d) => {
                    return d
                        .iter()
                        .map(|d| format!("PARSE {}", position(src, d)))
                        .collect()
                }
            };
            match eval_expr(&expr, &scope) {
                Ok(v) => {
                    let mut s = "= ".to_string();
                    render(&v, &mut s);
                    vec![s]
                }
                Err(d) => vec![position(src, &d)],
            }
        }
        Input::Body(src) => {
            let (file, diags) = parse_file(src, FileId(0));
            if !diags.is_empty() {
                return diags
                    .iter()
                    .map(|d| format!("PARSE {}", position(src, d)))
                    .collect();
            }
            let span = Span::new(FileId(0), 0, src.len() as u32);
            match eval_body(&file.body, span, &scope) {
                Ok(b) => {
                    let mut s = "= ".to_string();
                    render_body(&b, &mut s);
                    vec![s]
                }
                Err(d) => d.iter().map(|d| position(src, d)).collect(),
            }
        }
    }
}

/// Parse a golden file into (line number, input, expected lines).
fn cases(text: &str) -> Vec<(usize, Input, Vec<String>)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let start = i + 1;
        let input = if let Some(e) = line.strip_prefix("> ") {
            i += 1;
            Input::Expr(e.to_string())
        } else if line == ">>>" {
            let mut body = String::new();
            i += 1;
            while i < lines.len() && lines[i] != "<<<" {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            i += 1;
            Input::Body(body)
        } else {
            assert!(
                line.trim().is_empty() || line.starts_with('#'),
                "line {start}: unexpected {line:?}"
            );
            i += 1;
            continue;
        };
        let mut expected = Vec::new();
        while i < lines.len() && (lines[i].starts_with("= ") || lines[i].starts_with("! ")) {
            expected.push(lines[i].to_string());
            i += 1;
        }
        assert!(
            !expected.is_empty(),
            "line {start}: case without expectation"
        );
        out.push((start, input, expected));
    }
    out
}

#[test]
fn golden_eval() {
    // Read by the `sys.env` cases; set before any evaluation in this test binary.
    std::env::set_var("SOLDER_EVAL_TEST_VAR", "hello");
    std::env::remove_var("SOLDER_EVAL_UNSET_VAR");

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/eval");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut count = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for (line, input, expected) in cases(&text) {
            count += 1;
            let got = run(&input);
            if got != expected {
                let name = path.file_name().unwrap().to_string_lossy();
                failures.push(format!(
                    "{name}:{line}\n  want: {}\n  got:  {}",
                    expected.join("\n        "),
                    got.join("\n        ")
                ));
            }
        }
    }
    assert!(count >= 60, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
