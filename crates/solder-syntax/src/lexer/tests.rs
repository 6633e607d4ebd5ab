//! Lexer unit tests: token kinds and exact spans, terminator insertion (spec §1.2), identifier
//! validity. Literal values and error messages are covered by the golden tests.

use super::*;
use crate::token::TokenKind::{self, *};
use crate::value::Number as Num;

fn kinds(src: &str) -> Vec<TokenKind> {
    tokenize(src, FileId(0)).0.iter().map(|t| t.kind).collect()
}

fn single(src: &str) -> Token {
    let (toks, diags) = tokenize(src, FileId(0));
    assert!(diags.is_empty(), "{src:?}: {diags}");
    toks.into_iter().next().unwrap()
}

#[test]
fn every_token_kind_with_its_exact_span() {
    let table: &[(TokenKind, &str)] = &[
        (Comment, "/* a comment */"),
        (Comment, "// a comment"),
        (Ident, "foobar"),
        (Ident, "a۰۱۸"),
        (Ident, "foo६४"),
        (Ident, "ŝfoo"),
        (Ident, "_"),
        (Number, "0"),
        (Number, "123456789012345678890"),
        (Number, "01234567"),
        (Float, "0."),
        (Float, ".0"),
        (Float, "3.14159265"),
        (Float, "1e0"),
        (Float, "1E+100"),
        (Float, "1e-100"),
        (String, "\"Hello, world!\""),
        (String, "`raw \\\\ string`"),
        (String, "`multi\nline`"),
        (Bool, "true"),
        (Bool, "false"),
        (Null, "null"),
        (Or, "||"),
        (And, "&&"),
        (Not, "!"),
        (NotEq, "!="),
        (Assign, "="),
        (Eq, "=="),
        (Lt, "<"),
        (Lte, "<="),
        (Gt, ">"),
        (Gte, ">="),
        (Add, "+"),
        (Sub, "-"),
        (Mul, "*"),
        (Div, "/"),
        (Mod, "%"),
        (Pow, "^"),
        (LCurly, "{"),
        (RCurly, "}"),
        (LParen, "("),
        (RParen, ")"),
        (LBrack, "["),
        (RBrack, "]"),
        (Comma, ","),
        (Dot, "."),
    ];
    for (kind, text) in table {
        let src = format!("  {text}\n");
        let tok = single(&src);
        assert_eq!(tok.kind, *kind, "{text:?}");
        assert_eq!(tok.text(&src), *text, "{text:?}");
        assert_eq!((tok.span.lo, tok.span.hi), (2, 2 + text.len() as u32));
    }
}

#[test]
fn two_dots_are_two_dot_tokens() {
    assert_eq!(kinds(".."), vec![Dot, Dot, Eof]);
}

#[test]
fn hex_is_zero_then_identifier() {
    assert_eq!(kinds("0x10"), vec![Number, Ident, Terminator, Eof]);
}

#[test]
fn newline_terminates_after_statement_ending_tokens_only() {
    for src in [
        "a\n", "1\n", "1.5\n", "\"s\"\n", "`r`\n", "true\n", "null\n", ")\n", "]\n", "}\n",
    ] {
        let k = kinds(src);
        assert_eq!(k[1], Terminator, "{src:?}: {k:?}");
        assert_eq!(k.len(), 3, "{src:?}: {k:?}");
    }
    for src in [
        "+\n", "(\n", "[\n", "{\n", ",\n", ".\n", "=\n", "==\n", "!\n", "||\n",
    ] {
        assert_eq!(kinds(src), vec![kinds(src)[0], Eof], "{src:?}");
    }
}

#[test]
fn eof_after_statement_end_is_a_terminator() {
    assert_eq!(kinds("a = 1"), vec![Ident, Assign, Number, Terminator, Eof]);
    assert_eq!(kinds("a = "), vec![Ident, Assign, Eof]);
    assert_eq!(kinds(""), vec![Eof]);
}

#[test]
fn newline_terminator_spans_the_newline_and_eof_terminator_is_empty() {
    let (toks, _) = tokenize("ab\ncd", FileId(0));
    assert_eq!((toks[1].span.lo, toks[1].span.hi), (2, 3));
    assert_eq!((toks[3].span.lo, toks[3].span.hi), (5, 5));
}

#[test]
fn line_ending_comment_yields_terminator_before_comment() {
    let (toks, _) = tokenize("a = 1 // c\nb", FileId(0));
    let k: Vec<_> = toks.iter().map(|t| t.kind).collect();
    assert_eq!(
        k,
        vec![Ident, Assign, Number, Terminator, Comment, Ident, Terminator, Eof]
    );
    // The inserted terminator is empty and sits at the comment.
    assert_eq!((toks[3].span.lo, toks[3].span.hi), (6, 6));
    assert_eq!((toks[4].span.lo, toks[4].span.hi), (6, 10));
}

#[test]
fn inline_block_comment_does_not_terminate() {
    assert_eq!(
        kinds("a /* c */ + b"),
        vec![Ident, Comment, Add, Ident, Terminator, Eof]
    );
    // A block comment containing a newline does.
    assert_eq!(
        kinds("a /* x\ny */ b"),
        vec![Ident, Terminator, Comment, Ident, Terminator, Eof]
    );
    // Several comments that together reach the end of the line do.
    assert_eq!(
        kinds("a /* x */ /* y */\nb"),
        vec![Ident, Terminator, Comment, Comment, Ident, Terminator, Eof]
    );
    assert_eq!(
        kinds("a /* x */ /* y */ b"),
        vec![Ident, Comment, Comment, Ident, Terminator, Eof]
    );
}

#[test]
fn comment_after_non_ending_token_is_just_a_comment() {
    assert_eq!(
        kinds("a = // c\n1"),
        vec![Ident, Assign, Comment, Number, Terminator, Eof]
    );
}

#[test]
fn illegal_character_keeps_terminator_state() {
    let (toks, diags) = tokenize("a @\n", FileId(0));
    let k: Vec<_> = toks.iter().map(|t| t.kind).collect();
    assert_eq!(k, vec![Ident, Illegal, Terminator, Eof]);
    assert_eq!(diags.len(), 1);
    let (toks, _) = tokenize("= @\n", FileId(0));
    let k: Vec<_> = toks.iter().map(|t| t.kind).collect();
    assert_eq!(k, vec![Assign, Illegal, Eof]);
}

#[test]
fn leading_bom_is_skipped() {
    let (toks, diags) = tokenize("\u{feff}a", FileId(0));
    assert!(diags.is_empty());
    assert_eq!((toks[0].span.lo, toks[0].span.hi), (3, 4));
}

#[test]
fn string_values_are_decoded_in_the_token() {
    let tok = single(r#""a\tb\u00e9""#);
    assert_eq!(tok.value, Some(LitValue::String("a\tbé".into())));
    let tok = single("`a\r\nb`");
    assert_eq!(tok.value, Some(LitValue::String("a\nb".into())));
    let tok = single("010");
    assert_eq!(tok.value, Some(LitValue::Number(Num::Int(8))));
}

#[test]
fn comment_text_drops_carriage_returns() {
    let (toks, _) = tokenize("//x\r\n", FileId(0));
    assert_eq!(comment_text(toks[0].text("//x\r\n")), "//x");
}

#[test]
fn valid_identifiers() {
    for ok in ["a", "_", "abc_123", "ŝfoo", "a۰۱۸", "日本"] {
        assert!(is_valid_identifier(ok), "{ok:?}");
    }
    for bad in [
        "", "1a", "a b", "a-b", "a.b", "true", "false", "null", " a", "a ", "\"a\"",
    ] {
        assert!(!is_valid_identifier(bad), "{bad:?}");
    }
}

#[test]
fn never_panics_on_awkward_input() {
    for src in [
        "\"",
        "`",
        "'",
        "/*",
        "/",
        "\\",
        "\"\\",
        "\"\\u",
        "1e",
        ".",
        "\u{feff}",
        "\0",
        "é\u{301}",
    ] {
        let (toks, _) = tokenize(src, FileId(0));
        assert_eq!(toks.last().map(|t| t.kind), Some(Eof), "{src:?}");
    }
}

#[test]
fn invalid_utf8_is_reported_at_the_first_bad_byte() {
    assert_eq!(check_utf8(b"a = 1", FileId(0)), Ok("a = 1"));
    let d = check_utf8(b"a = \"x\x80y\"", FileId(2)).unwrap_err();
    assert_eq!(d.message, "illegal UTF-8 encoding");
    assert_eq!((d.span.file, d.span.lo, d.span.hi), (FileId(2), 6, 7));
}
