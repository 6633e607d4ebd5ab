//! The Alloy parser (spec §1.3): an LL(1) recursive-descent parser over the lexer's tokens that
//! mirrors Alloy's `syntax/parser` closely, including its error messages and its recovery, so the
//! same broken config produces the same list of errors.
//!
//! Recovery rules copied from Alloy: after an error the parser skips to the next plausible start
//! (the next identifier, the end of the statement, or a closing bracket) and goes on; it reports at
//! most one of its own errors per line. Lexical errors and the few "semantic" parse errors
//! (attribute names, blocks used as expressions) are always reported.

mod expr;
mod stmt;

use crate::ast::{self, Comment, Expr};
use crate::diag::{Diagnostic, Diagnostics};
use crate::lexer;
use crate::span::{FileId, Span};
use crate::token::{Token, TokenKind};

/// Parses a whole file. Always returns a (possibly partial) file together with every error found.
pub fn parse_file(src: &str, file: FileId) -> (ast::File, Diagnostics) {
    let mut p = Parser::new(src, file);
    let body = p.parse_body(TokenKind::Eof);
    let comments = std::mem::take(&mut p.comments);
    (ast::File { body, comments }, p.finish())
}

/// Parses one expression, e.g. for `solder` tooling or tests. The whole input must be consumed.
pub fn parse_expr(src: &str, file: FileId) -> Result<Expr, Diagnostics> {
    let mut p = Parser::new(src, file);
    let e = p.parse_expression();
    p.expect(TokenKind::Terminator);
    // Alloy stops after the terminator and silently ignores the rest; trailing input is more
    // likely a mistake than intended, so it is an error here.
    if p.cur().kind != TokenKind::Eof {
        p.add_error(format!("expected EOF, got {}", p.cur().kind));
    }
    let diags = p.finish();
    if diags.is_empty() {
        Ok(e)
    } else {
        Err(diags)
    }
}

/// How deeply blocks and expressions may nest before the parser gives up; keeps hostile input
/// from overflowing the stack.
const MAX_DEPTH: u32 = 200;

struct Parser<'a> {
    src: &'a str,
    file: FileId,
    /// Every non-comment token; the last one is always EOF.
    toks: Vec<Token>,
    idx: usize,
    comments: Vec<Comment>,
    diags: Diagnostics,
    line_starts: Vec<u32>,
    /// Line of the last error reported through `add_error`, to keep one error per line.
    last_error_line: u32,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, file: FileId) -> Self {
        let (all, diags) = lexer::tokenize(src, file);
        let mut toks = Vec::with_capacity(all.len());
        let mut comments = Vec::new();
        for t in all {
            if t.kind == TokenKind::Comment {
                comments.push(Comment {
                    text: lexer::comment_text(t.text(src)),
                    span: t.span,
                });
            } else {
                toks.push(t);
            }
        }
        let mut line_starts = vec![0u32];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        Parser {
            src,
            file,
            toks,
            idx: 0,
            comments,
            diags,
            line_starts,
            last_error_line: 0,
            depth: 0,
        }
    }

    /// All diagnostics, lexical and syntactic, in source order.
    fn finish(self) -> Diagnostics {
        let mut list = self.diags.0;
        list.sort_by_key(|d| d.span.lo);
        Diagnostics(list)
    }

    fn cur(&self) -> &Token {
        // `toks` always ends with EOF and `next` never moves past it.
        &self.toks[self.idx.min(self.toks.len() - 1)]
    }

    fn kind(&self) -> TokenKind {
        self.cur().kind
    }

    fn text(&self) -> &'a str {
        self.cur().text(self.src)
    }

    fn next(&mut self) {
        if self.idx + 1 < self.toks.len() {
            self.idx += 1;
        }
    }

    fn line_of(&self, offset: u32) -> u32 {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i as u32 + 1,
            Err(i) => i as u32,
        }
    }

    /// Reports an error at the current token, unless one was already reported on its line.
    fn add_error(&mut self, msg: impl Into<String>) {
        let span = self.cur().span;
        let line = self.line_of(span.lo);
        if line == self.last_error_line {
            return;
        }
        self.last_error_line = line;
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// Reports an error unconditionally (Alloy adds these directly, bypassing the per-line rule).
    fn push_error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// Consumes the current token, reporting an error if it is not `want`. Returns the consumed
    /// token's span and kind.
    fn expect(&mut self, want: TokenKind) -> (Span, TokenKind) {
        let (span, kind) = (self.cur().span, self.kind());
        if kind != want {
            self.add_error(format!("expected {want}, got {kind}"));
        }
        self.next();
        (span, kind)
    }

    /// Skips tokens up to (not including) `to`, or to EOF.
    fn advance(&mut self, to: TokenKind) {
        while self.kind() != TokenKind::Eof && self.kind() != to {
            self.next();
        }
    }

    /// Skips the rest of a statement: up to a terminator outside any bracket pair opened here.
    fn consume_statement(&mut self) {
        let (mut curly, mut brack, mut paren) = (0i32, 0i32, 0i32);
        while self.kind() != TokenKind::Eof {
            match self.kind() {
                TokenKind::LCurly => curly += 1,
                TokenKind::RCurly => curly -= 1,
                TokenKind::LBrack => brack += 1,
                TokenKind::RBrack => brack -= 1,
                TokenKind::LParen => paren += 1,
                TokenKind::RParen => paren -= 1,
                TokenKind::Terminator if curly <= 0 && brack <= 0 && paren <= 0 => return,
                _ => {}
            }
            self.next();
        }
    }

    /// Enters one nesting level; false (after reporting once and skipping to EOF) when too deep.
    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            let span = self.cur().span;
            self.push_error(
                span,
                format!(
                    "nesting is deeper than {MAX_DEPTH} levels; giving up on the rest of the file"
                ),
            );
            self.idx = self.toks.len() - 1;
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn span(&self, lo: u32, hi: u32) -> Span {
        Span::new(self.file, lo, hi)
    }
}

/// The text between the delimiters of a string token, raw (escapes are not interpreted).
fn string_inner(text: &str) -> &str {
    let mut chars = text.chars();
    chars.next();
    chars.next_back();
    chars.as_str()
}

#[cfg(test)]
mod tests;
