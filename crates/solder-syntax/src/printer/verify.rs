//! A guard for `fmt -w`: Alloy's printer (which ours reproduces byte for byte) has quirks that
//! change meaning — quoted object keys are re-quoted, so their escapes double on every run, and
//! an empty multi-line call gains a comma. Before a file is overwritten, the formatted text must
//! lex to the same meaningful tokens as the original.

use crate::ast::LitValue;
use crate::lexer::tokenize;
use crate::span::FileId;
use crate::token::TokenKind;

/// One token reduced to what formatting must not change: its kind and its text or decoded value.
#[derive(Debug, PartialEq)]
enum Meaning<'a> {
    Text(TokenKind, &'a str),
    Literal(LitValue),
}

fn meaningful(src: &str) -> Result<Vec<Meaning<'_>>, String> {
    let (tokens, diags) = tokenize(src, FileId(0));
    if diags.has_errors() {
        return Err(format!("formatted text does not lex: {diags}"));
    }
    Ok(tokens
        .into_iter()
        // Layout tokens: the printer adds trailing commas and moves line breaks and comments.
        .filter(|t| {
            !matches!(
                t.kind,
                TokenKind::Comment | TokenKind::Terminator | TokenKind::Comma | TokenKind::Eof
            )
        })
        .map(|t| match t.value {
            Some(v) => Meaning::Literal(v),
            None => Meaning::Text(
                t.kind,
                src.get(t.span.lo as usize..t.span.hi as usize)
                    .unwrap_or(""),
            ),
        })
        .collect())
}

/// `Ok` when `formatted` means the same as `original` (same tokens apart from layout).
pub fn verify_formatting(original: &str, formatted: &str) -> Result<(), String> {
    let a = meaningful(original)?;
    let b = meaningful(formatted)?;
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        return Err(format!(
            "formatting would change the config at token {}: {:?} became {:?}",
            i + 1,
            a[i],
            b[i]
        ));
    }
    if a.len() != b.len() {
        return Err(format!(
            "formatting would change the number of tokens ({} became {})",
            a.len(),
            b.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::format_source;

    #[test]
    fn ordinary_formatting_verifies() {
        let src = "a  =  [1,\n2]\nb \"l\" { x=1 }\n";
        let out = format_source(src).unwrap();
        assert_ne!(out, src);
        assert!(verify_formatting(src, &out).is_ok());
    }

    #[test]
    fn escape_doubling_in_quoted_keys_is_caught() {
        let src = "a = { \"x\\\"y\" = 1 }\n";
        let out = format_source(src).unwrap();
        assert!(verify_formatting(src, &out).is_err(), "{out}");
    }

    #[test]
    fn changed_values_are_caught() {
        assert!(verify_formatting("a = 1\n", "a = 2\n").is_err());
        assert!(verify_formatting("a = \"x\"\n", "a = `x`\n").is_ok());
    }
}
