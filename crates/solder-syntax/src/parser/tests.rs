//! Parser unit tests: exact spans, `parse_expr`, partial results after errors, and the nesting
//! guard. Tree shapes and messages are covered by the golden tests.

use super::*;
use crate::ast::{BinOp, ExprKind, LitValue, Stmt, UnaryOp};
use crate::value::Number;

fn slice(src: &str, sp: Span) -> &str {
    &src[sp.lo as usize..sp.hi as usize]
}

fn only_block(src: &str) -> ast::Block {
    let (file, diags) = parse_file(src, FileId(3));
    assert!(diags.is_empty(), "{diags}");
    match file.body.into_iter().next() {
        Some(Stmt::Block(b)) => b,
        other => panic!("expected a block, got {other:?}"),
    }
}

fn attr_value(src: &str) -> Expr {
    let (file, diags) = parse_file(src, FileId(0));
    assert!(diags.is_empty(), "{diags}");
    match file.body.into_iter().next() {
        Some(Stmt::Attribute(a)) => a.value,
        other => panic!("expected an attribute, got {other:?}"),
    }
}

#[test]
fn block_spans_are_exact() {
    let src = "  prometheus.scrape \"default\" {\n  a = 1\n}\n";
    let b = only_block(src);
    assert_eq!(b.span.file, FileId(3));
    assert_eq!(
        slice(src, b.span),
        "prometheus.scrape \"default\" {\n  a = 1\n}"
    );
    assert_eq!(slice(src, b.lcurly), "{");
    assert_eq!(slice(src, b.rcurly), "}");
    assert_eq!(b.lcurly.lo, 30);
    let label = b.label.clone().unwrap();
    assert_eq!(label.value, "default");
    assert_eq!(slice(src, label.span), "\"default\"");
    assert_eq!(slice(src, b.name[1].span), "scrape");
    assert_eq!(b.id(), "prometheus.scrape.default");
    assert_eq!(slice(src, b.name_span()), "prometheus.scrape \"default\"");
    let Stmt::Attribute(a) = &b.body[0] else {
        panic!("expected attribute")
    };
    assert_eq!(slice(src, a.span()), "a = 1");
}

#[test]
fn expression_spans_are_exact() {
    let src = "v = f(a.b[0], -x ^ 2, [1, 2], {k = \"s\"}, (y))\n";
    let e = attr_value(src);
    assert_eq!(
        slice(src, e.span),
        "f(a.b[0], -x ^ 2, [1, 2], {k = \"s\"}, (y))"
    );
    let ExprKind::Call {
        args,
        lparen,
        rparen,
        ..
    } = &e.kind
    else {
        panic!("not a call: {e:?}")
    };
    assert_eq!(lparen.lo, 5);
    assert_eq!(slice(src, *lparen), "(");
    assert_eq!(slice(src, *rparen), ")");
    assert_eq!(rparen.hi, e.span.hi);
    let spans: Vec<&str> = args.iter().map(|a| slice(src, a.span)).collect();
    assert_eq!(spans, ["a.b[0]", "-x ^ 2", "[1, 2]", "{k = \"s\"}", "(y)"]);
    let ExprKind::Index { rbrack, value, .. } = &args[0].kind else {
        panic!("not an index")
    };
    assert_eq!(slice(src, *rbrack), "]");
    assert_eq!(slice(src, value.span), "a.b");
    let ExprKind::Binary { op, lhs, .. } = &args[1].kind else {
        panic!("not binary")
    };
    assert_eq!(*op, BinOp::Pow);
    assert!(matches!(
        lhs.kind,
        ExprKind::Unary {
            op: UnaryOp::Neg,
            ..
        }
    ));
    assert_eq!(slice(src, lhs.span), "-x");
    let ExprKind::Array { lbrack, rbrack, .. } = &args[2].kind else {
        panic!("not array")
    };
    assert_eq!((slice(src, *lbrack), slice(src, *rbrack)), ("[", "]"));
    let ExprKind::Object {
        fields,
        lcurly,
        rcurly,
    } = &args[3].kind
    else {
        panic!("not object")
    };
    assert_eq!((slice(src, *lcurly), slice(src, *rcurly)), ("{", "}"));
    assert_eq!(slice(src, fields[0].key.span), "k");
    assert_eq!(slice(src, fields[0].value.span), "\"s\"");
}

#[test]
fn literals_keep_raw_text_and_value() {
    let e = attr_value("v = 010\n");
    let ExprKind::Literal(lit) = e.kind else {
        panic!()
    };
    assert_eq!(lit.raw, "010");
    assert_eq!(lit.value, LitValue::Number(Number::Int(8)));
    let e = attr_value("v = \"a\\nb\"\n");
    let ExprKind::Literal(lit) = e.kind else {
        panic!()
    };
    assert_eq!(lit.raw, "\"a\\nb\"");
    assert_eq!(lit.value, LitValue::String("a\nb".into()));
}

#[test]
fn quoted_keys_and_labels_are_raw() {
    let b = only_block("b \"x\" { v = { \"a\\tb\" = 1 } }");
    let Stmt::Attribute(a) = &b.body[0] else {
        panic!()
    };
    let ExprKind::Object { fields, .. } = &a.value.kind else {
        panic!()
    };
    assert_eq!(fields[0].key.name, "a\\tb");
    assert!(fields[0].key.quoted);
}

#[test]
fn parse_expr_accepts_one_expression() {
    let e = parse_expr("1 + 2 * 3", FileId(0)).unwrap();
    assert!(matches!(e.kind, ExprKind::Binary { op: BinOp::Add, .. }));
    let e = parse_expr("[\n  1,\n  2,\n] // trailing", FileId(0)).unwrap();
    assert!(matches!(e.kind, ExprKind::Array { .. }));
    assert!(parse_expr("sys.env(\"X\")\n", FileId(0)).is_ok());
}

#[test]
fn parse_expr_rejects_errors_and_leftovers() {
    let err = parse_expr("1 +", FileId(0)).unwrap_err();
    assert_eq!(err.0[0].message, "expected expression, got EOF");
    let err = parse_expr("1 2", FileId(0)).unwrap_err();
    assert_eq!(err.0[0].message, "expected TERMINATOR, got NUMBER");
    let err = parse_expr("1\n2", FileId(0)).unwrap_err();
    assert_eq!(err.0[0].message, "expected EOF, got NUMBER");
    assert!(parse_expr("", FileId(0)).is_err());
    assert!(parse_expr("'x'", FileId(0)).is_err());
}

#[test]
fn keeps_parsing_after_errors() {
    let (file, diags) = parse_file("a = 1 b = 2\nc = 3\nd = (+)\ne = 4\n", FileId(0));
    assert_eq!(diags.len(), 2);
    let names: Vec<String> = file
        .body
        .iter()
        .map(|s| match s {
            Stmt::Attribute(a) => a.name.name.clone(),
            Stmt::Block(b) => b.full_name(),
        })
        .collect();
    assert_eq!(names, ["a", "c", "d", "e"]);
}

#[test]
fn comments_are_collected_in_source_order() {
    let src = "// one\na = 1 /* two */\nb { // three\n}\n/* four */";
    let (file, diags) = parse_file(src, FileId(0));
    assert!(diags.is_empty());
    let texts: Vec<&str> = file.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["// one", "/* two */", "// three", "/* four */"]);
    for c in &file.comments {
        assert_eq!(slice(src, c.span), c.text);
    }
}

#[test]
fn diagnostics_are_sorted_by_position() {
    let (_, diags) = parse_file("a = 'x'\nb = @\n", FileId(0));
    let los: Vec<u32> = diags.iter().map(|d| d.span.lo).collect();
    let mut sorted = los.clone();
    sorted.sort();
    assert_eq!(los, sorted);
    assert_eq!(diags.len(), 4);
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    for src in [
        format!("a = {}", "[".repeat(100_000)),
        format!("a = {}", "(".repeat(100_000)),
        format!("a = {}1", "-".repeat(100_000)),
        format!("a = 1{}", " ^ 1".repeat(100_000)),
        format!("a = 1{}", " + 1".repeat(100_000)),
        format!("a = x{}", ".y".repeat(100_000)),
        format!("a = f{}", "()".repeat(100_000)),
        "b {\n".repeat(100_000),
    ] {
        // Run on a small stack, like a test or worker thread.
        let handle = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || parse_file(&src, FileId(0)).1)
            .unwrap();
        let diags = handle.join().unwrap();
        assert!(
            diags
                .iter()
                .any(|d| d.message.starts_with("nesting is deeper")),
            "{diags}"
        );
    }
}

#[test]
fn deep_but_reasonable_nesting_is_fine() {
    let src = format!("a = {}1{}\n", "[".repeat(150), "]".repeat(150));
    let (_, diags) = parse_file(&src, FileId(0));
    assert!(diags.is_empty(), "{diags}");
}

/// Every span in a tree lies inside the source and on character boundaries.
fn check_expr_spans(src: &str, e: &Expr) {
    assert!(
        src.get(e.span.lo as usize..e.span.hi as usize).is_some(),
        "{e:?}"
    );
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Ident(_) => {}
        ExprKind::Array { elems, .. } => elems.iter().for_each(|x| check_expr_spans(src, x)),
        ExprKind::Object { fields, .. } => {
            fields.iter().for_each(|f| check_expr_spans(src, &f.value))
        }
        ExprKind::Access { value, .. } => check_expr_spans(src, value),
        ExprKind::Index { value, index, .. } => {
            check_expr_spans(src, value);
            check_expr_spans(src, index);
        }
        ExprKind::Call { func, args, .. } => {
            check_expr_spans(src, func);
            args.iter().for_each(|x| check_expr_spans(src, x));
        }
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => check_expr_spans(src, expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            check_expr_spans(src, lhs);
            check_expr_spans(src, rhs);
        }
    }
}

fn check_body_spans(src: &str, body: &ast::Body) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) => check_expr_spans(src, &a.value),
            Stmt::Block(b) => {
                assert!(src.get(b.span.lo as usize..b.span.hi as usize).is_some());
                check_body_spans(src, &b.body);
            }
        }
    }
}

#[test]
fn random_fragment_soup_never_panics_and_spans_stay_in_bounds() {
    const PIECES: &[&str] = &[
        "a", "b.c", " ", "\n", "\t", "=", "==", "{", "}", "[", "]", "(", ")", ",", ".", "\"s\"",
        "\"", "`r`", "`", "'", "1", "0x1", "1e", ".5", "+", "-", "^", "!", "|", "&", "//c\n", "/*",
        "*/", "\\", "\"\\x\"", "é", "\u{feff}", "\0", "true", "null", "\"l\" {", "\r\n",
    ];
    // A fixed linear congruential generator keeps the test deterministic.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut src = String::new();
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (state >> 59) as usize + 1;
        for _ in 0..len * 2 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            src.push_str(PIECES[(state >> 33) as usize % PIECES.len()]);
        }
        let (file, diags) = parse_file(&src, FileId(0));
        check_body_spans(&src, &file.body);
        for d in diags.iter() {
            let range = d.span.lo as usize..d.span.hi as usize;
            assert!(src.get(range).is_some(), "{src:?}: {d:?}");
        }
        for c in &file.comments {
            assert!(src.get(c.span.lo as usize..c.span.hi as usize).is_some());
        }
        let _ = parse_expr(&src, FileId(0));
    }
}

#[test]
fn valid_configs_have_slicable_spans() {
    let src = "a \"b\" {\n  c = [1, {d = e.f(g)[0]}, -h ^ 2, (i)]\n  j { k = \"é\" }\n}\n";
    let (file, diags) = parse_file(src, FileId(0));
    assert!(diags.is_empty(), "{diags}");
    check_body_spans(src, &file.body);
}
