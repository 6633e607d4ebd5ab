//! Source positions as Alloy's printer sees them.
//!
//! The printer decides where comments go and where lines break by comparing byte offsets and
//! line numbers of AST nodes with those of comments. Alloy's AST records the *first* and *last*
//! character of every node; these helpers compute the same two positions from our spans, plus the
//! few token positions our AST does not store (binary operators, the `[` of an index).

use crate::ast::{Block, Comment, Expr, ExprKind, FieldKey, Stmt};

/// A position in the source: byte offset and one-based line. `line == 0` means "unknown",
/// mirroring Go's `token.Position.Valid()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub offset: i64,
    pub line: i64,
}

impl Position {
    /// Past every real position; used for the final flush of trailing comments.
    pub const EOF: Position = Position {
        offset: i64::MAX,
        line: i64::MAX,
    };

    /// The zero value: nothing has been written yet.
    pub const NONE: Position = Position { offset: 0, line: 0 };

    pub fn is_valid(self) -> bool {
        self.line > 0
    }
}

/// Maps byte offsets of one source text to line numbers, and finds tokens the AST omits.
pub(crate) struct SourceIndex<'a> {
    src: &'a str,
    line_starts: Vec<usize>,
    /// Comment spans (lo, hi) sorted by start, to step over comments when scanning for a token.
    comments: Vec<(usize, usize)>,
}

impl<'a> SourceIndex<'a> {
    pub fn new(src: &'a str, comments: &[Comment]) -> Self {
        let mut line_starts = vec![0usize];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut spans: Vec<(usize, usize)> = comments
            .iter()
            .map(|c| (c.span.lo as usize, c.span.hi as usize))
            .collect();
        spans.sort_unstable();
        SourceIndex {
            src,
            line_starts,
            comments: spans,
        }
    }

    /// One-based line of a byte offset (offsets past the end count as the last line).
    pub fn line_of(&self, offset: usize) -> i64 {
        let idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        idx as i64 + 1
    }

    pub fn position(&self, offset: usize) -> Position {
        Position {
            offset: offset as i64,
            line: self.line_of(offset),
        }
    }

    /// Offset of the first token at or after `from`, skipping whitespace and comments. Used to
    /// locate operators and brackets whose position the AST does not keep. Falls back to `from`
    /// when the text ends first.
    pub fn next_token_offset(&self, from: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut at = from;
        while at < bytes.len() {
            match bytes[at] {
                b' ' | b'\t' | b'\r' | b'\n' => at += 1,
                _ => match self.comments.binary_search_by(|&(lo, _)| lo.cmp(&at)) {
                    Ok(i) => at = self.comments[i].1.max(at + 1),
                    Err(_) => return at,
                },
            }
        }
        from
    }
}

/// Offset of the first character of a statement (Alloy's `ast.StartPos`).
pub(crate) fn stmt_start(stmt: &Stmt) -> usize {
    match stmt {
        Stmt::Attribute(a) => a.name.span.lo as usize,
        Stmt::Block(b) => block_start(b),
    }
}

/// Offset of a block's first name fragment.
pub(crate) fn block_start(b: &Block) -> usize {
    b.name.first().map(|i| i.span.lo).unwrap_or(b.span.lo) as usize
}

/// Offset of the last character of a statement (Alloy's `ast.EndPos`).
pub(crate) fn stmt_end(stmt: &Stmt) -> usize {
    match stmt {
        Stmt::Attribute(a) => expr_end(&a.value),
        Stmt::Block(b) => b.rcurly.lo as usize,
    }
}

/// Offset of the first character of an expression.
pub(crate) fn expr_start(e: &Expr) -> usize {
    match &e.kind {
        ExprKind::Ident(i) => i.span.lo as usize,
        ExprKind::Array { lbrack, .. } => lbrack.lo as usize,
        ExprKind::Object { lcurly, .. } => lcurly.lo as usize,
        ExprKind::Access { value, .. }
        | ExprKind::Index { value, .. }
        | ExprKind::Call { func: value, .. } => expr_start(value),
        ExprKind::Binary { lhs, .. } => expr_start(lhs),
        // Literals, unary operators and parentheses start where the expression's span starts.
        ExprKind::Literal(_) | ExprKind::Unary { .. } | ExprKind::Paren(_) => e.span.lo as usize,
    }
}

/// Offset of the last character of an expression. Alloy derives a literal's end from the length
/// of its raw text, so a multi-line raw string ends on its closing backtick's line.
pub(crate) fn expr_end(e: &Expr) -> usize {
    match &e.kind {
        ExprKind::Literal(l) => last_char(e.span.lo as usize, l.raw.len()),
        ExprKind::Ident(i) => last_char(i.span.lo as usize, i.name.len()),
        ExprKind::Array { rbrack, .. } => rbrack.lo as usize,
        ExprKind::Object { rcurly, .. } => rcurly.lo as usize,
        ExprKind::Access { name, .. } => last_char(name.span.lo as usize, name.name.len()),
        ExprKind::Index { rbrack, .. } => rbrack.lo as usize,
        ExprKind::Call { rparen, .. } => rparen.lo as usize,
        ExprKind::Unary { expr, .. } => expr_end(expr),
        ExprKind::Binary { rhs, .. } => expr_end(rhs),
        ExprKind::Paren(_) => (e.span.hi as usize).saturating_sub(1),
    }
}

/// Offset of the last character of an object key. Alloy measures a quoted key by its unquoted
/// text, so this is two bytes short of the closing quote; only its line is ever used.
pub(crate) fn key_end(key: &FieldKey) -> usize {
    let len = if key.quoted && !key.name.is_empty() {
        key.name.len()
    } else {
        key.span.hi.saturating_sub(key.span.lo) as usize
    };
    last_char(key.span.lo as usize, len)
}

fn last_char(start: usize, len: usize) -> usize {
    (start + len).saturating_sub(1).max(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{FileId, Span};

    #[test]
    fn lines_are_one_based() {
        let idx = SourceIndex::new("a\nbc\n\nd", &[]);
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.line_of(1), 1);
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(5), 3);
        assert_eq!(idx.line_of(6), 4);
        assert_eq!(idx.line_of(100), 4);
    }

    #[test]
    fn next_token_skips_space_and_comments() {
        let src = "a /* x */ // y\n  + b";
        let comments = vec![
            Comment {
                text: "/* x */".into(),
                span: Span::new(FileId(0), 2, 9),
            },
            Comment {
                text: "// y".into(),
                span: Span::new(FileId(0), 10, 14),
            },
        ];
        let idx = SourceIndex::new(src, &comments);
        assert_eq!(idx.next_token_offset(1), 17);
        assert_eq!(&src[17..18], "+");
    }
}
