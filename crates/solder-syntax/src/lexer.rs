//! The Alloy lexer (spec §1.1–1.2, behaviour of Alloy's `syntax/scanner`).
//!
//! It turns source text into [`Token`]s, inserting TERMINATOR tokens where a newline ends a
//! statement, decoding literal values, and reporting every lexical error it finds; it never stops
//! early. Comments are returned as tokens so the caller decides where they go.
//!
//! Input is a `&str`, so invalid UTF-8 cannot reach it: a loader holding raw bytes reports it
//! with [`check_utf8`] (Alloy's `illegal UTF-8 encoding`) before parsing.
//!
//! Non-ASCII identifier characters use Rust's `Alphabetic` / `Numeric` properties where Go uses
//! the letter categories and `Nd`; they differ only on rare characters (letter numbers such as
//! `Ⅻ`, some combining vowel signs, superscript digits), which Solder accepts and Alloy rejects.

mod literal;

use crate::ast::LitValue;
use crate::diag::{Diagnostic, Diagnostics};
use crate::span::{FileId, Span};
use crate::token::{Token, TokenKind};
use crate::value::Number;

pub use literal::{decode_float, decode_int};

const BOM: char = '\u{feff}';

/// Scans all of `src`, comments included, ending with one EOF token.
pub fn tokenize(src: &str, file: FileId) -> (Vec<Token>, Diagnostics) {
    let mut lx = Lexer::new(src, file);
    let mut out = Vec::new();
    loop {
        let tok = lx.next_token();
        let done = tok.kind == TokenKind::Eof;
        out.push(tok);
        if done {
            break;
        }
    }
    (out, lx.diags)
}

/// Checks that raw file bytes are UTF-8 before they are parsed. On failure the diagnostic is
/// Alloy's `illegal UTF-8 encoding` at the first bad byte; the caller can still show the file
/// through `String::from_utf8_lossy`, whose text is identical up to that byte.
pub fn check_utf8(bytes: &[u8], file: FileId) -> Result<&str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to() as u32;
        Diagnostic::error(Span::new(file, at, at + 1), "illegal UTF-8 encoding")
    })
}

/// Whether `s` is exactly one identifier (not `true`/`false`/`null`). Block labels must be.
pub fn is_valid_identifier(s: &str) -> bool {
    let mut lx = Lexer::new(s, FileId::default());
    let tok = lx.next_token();
    tok.kind == TokenKind::Ident && tok.span.lo == 0 && tok.span.hi as usize == s.len()
}

/// A letter starts an identifier: ASCII letters, `_`, or any non-ASCII alphabetic character.
/// A non-ASCII digit such as `۰` cannot start one (it is then an illegal character).
pub fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && c.is_alphabetic())
}

/// A digit may continue an identifier: ASCII digits or non-ASCII numeric characters (`a۰۱۸`).
pub fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

pub struct Lexer<'a> {
    src: &'a str,
    file: FileId,
    /// Byte offset of the next unread character.
    pos: usize,
    /// Whether the next newline (or EOF, or line-ending comment) becomes a TERMINATOR.
    insert_term: bool,
    diags: Diagnostics,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, file: FileId) -> Self {
        // A byte order mark is ignored only as the very first character.
        let pos = if src.starts_with(BOM) {
            BOM.len_utf8()
        } else {
            0
        };
        Lexer {
            src,
            file,
            pos,
            insert_term: false,
            diags: Diagnostics::new(),
        }
    }

    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diags
    }

    pub fn into_diagnostics(self) -> Diagnostics {
        self.diags
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_byte_at(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// Consumes the current character, reporting NUL and misplaced BOMs wherever they occur
    /// (inside strings and comments too), as Go's scanner does when reading them.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        match c {
            '\0' => self.error_at(self.pos, "illegal character NUL"),
            BOM => self.error_at(self.pos, "illegal byte order mark"),
            _ => {}
        }
        self.pos += c.len_utf8();
        Some(c)
    }

    fn span(&self, lo: usize, hi: usize) -> Span {
        Span::new(self.file, lo as u32, hi as u32)
    }

    /// Reports an error covering the character at `at` (empty at EOF).
    fn error_at(&mut self, at: usize, msg: impl Into<String>) {
        let width = self
            .src
            .get(at..)
            .and_then(|s| s.chars().next())
            .map_or(0, char::len_utf8);
        let sp = self.span(at, at + width);
        self.diags.push(Diagnostic::error(sp, msg));
    }

    fn error_span(&mut self, lo: usize, hi: usize, msg: impl Into<String>) {
        let sp = self.span(lo, hi);
        self.diags.push(Diagnostic::error(sp, msg));
    }

    fn token(&self, kind: TokenKind, lo: usize, value: Option<LitValue>) -> Token {
        Token {
            kind,
            span: self.span(lo, self.pos),
            value,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b) = self.peek_byte_at(self.pos) {
            let skip = matches!(b, b' ' | b'\t' | b'\r') || (b == b'\n' && !self.insert_term);
            if !skip {
                break;
            }
            self.pos += 1;
        }
    }

    /// Scans the next token.
    pub fn next_token(&mut self) -> Token {
        self.skip_whitespace();
        let lo = self.pos;
        let Some(c) = self.peek() else {
            let kind = if std::mem::take(&mut self.insert_term) {
                TokenKind::Terminator
            } else {
                TokenKind::Eof
            };
            return self.token(kind, lo, None);
        };

        if is_letter(c) {
            return self.scan_ident(lo);
        }
        let next_is_digit = self
            .peek_byte_at(lo + 1)
            .is_some_and(|b| b.is_ascii_digit());
        if c.is_ascii_digit() || (c == '.' && next_is_digit) {
            self.insert_term = true;
            return self.scan_number(lo);
        }

        // Comments are checked before consuming: a line-ending comment after a statement-ending
        // token yields a TERMINATOR first (empty, at the comment) and the comment afterwards.
        if c == '/' && matches!(self.peek_byte_at(lo + 1), Some(b'/' | b'*')) {
            if self.insert_term && self.comment_reaches_line_end(lo) {
                self.insert_term = false;
                return self.token(TokenKind::Terminator, lo, None);
            }
            self.insert_term = false;
            self.scan_comment(lo);
            return self.token(TokenKind::Comment, lo, None);
        }

        self.bump();
        let mut insert_term = false;
        let kind = match c {
            '\n' => {
                self.insert_term = false;
                return self.token(TokenKind::Terminator, lo, None);
            }
            '\'' => {
                self.error_at(lo, "illegal single-quoted string; use double quotes");
                self.scan_quoted(lo, '\'');
                insert_term = true;
                TokenKind::Illegal
            }
            '"' => {
                self.insert_term = true;
                let value = self.scan_quoted(lo, '"');
                return self.token(TokenKind::String, lo, Some(LitValue::String(value)));
            }
            '`' => {
                self.insert_term = true;
                let value = self.scan_raw(lo);
                return self.token(TokenKind::String, lo, Some(LitValue::String(value)));
            }
            '|' => self.double_or_error('|', TokenKind::Or, "missing second | in ||"),
            '&' => self.double_or_error('&', TokenKind::And, "missing second & in &&"),
            '!' => self.one_or_two('=', TokenKind::Not, TokenKind::NotEq),
            '=' => self.one_or_two('=', TokenKind::Assign, TokenKind::Eq),
            '<' => self.one_or_two('=', TokenKind::Lt, TokenKind::Lte),
            '>' => self.one_or_two('=', TokenKind::Gt, TokenKind::Gte),
            '+' => TokenKind::Add,
            '-' => TokenKind::Sub,
            '*' => TokenKind::Mul,
            '/' => TokenKind::Div,
            '%' => TokenKind::Mod,
            '^' => TokenKind::Pow,
            '{' => TokenKind::LCurly,
            '}' => {
                insert_term = true;
                TokenKind::RCurly
            }
            '(' => TokenKind::LParen,
            ')' => {
                insert_term = true;
                TokenKind::RParen
            }
            '[' => TokenKind::LBrack,
            ']' => {
                insert_term = true;
                TokenKind::RBrack
            }
            ',' => TokenKind::Comma,
            '.' => TokenKind::Dot,
            _ => {
                // NUL and a stray BOM were already reported by `bump`.
                if c != '\0' && c != BOM {
                    let msg = format!("illegal character {}", literal::go_char_repr(c));
                    self.error_span(lo, self.pos, msg);
                }
                // An illegal character does not change whether a newline ends the statement.
                insert_term = self.insert_term;
                TokenKind::Illegal
            }
        };
        self.insert_term = insert_term;
        self.token(kind, lo, None)
    }

    fn one_or_two(&mut self, second: char, one: TokenKind, two: TokenKind) -> TokenKind {
        if self.peek() == Some(second) {
            self.bump();
            two
        } else {
            one
        }
    }

    fn double_or_error(&mut self, second: char, kind: TokenKind, msg: &str) -> TokenKind {
        if self.peek() == Some(second) {
            self.bump();
        } else {
            self.error_at(self.pos, msg);
        }
        kind
    }

    fn scan_ident(&mut self, lo: usize) -> Token {
        self.bump();
        while let Some(c) = self.peek() {
            if !(is_letter(c) || is_digit(c)) {
                break;
            }
            self.bump();
        }
        let (kind, value) = match &self.src[lo..self.pos] {
            "true" => (TokenKind::Bool, Some(LitValue::Bool(true))),
            "false" => (TokenKind::Bool, Some(LitValue::Bool(false))),
            "null" => (TokenKind::Null, Some(LitValue::Null)),
            _ => (TokenKind::Ident, None),
        };
        self.insert_term = true;
        self.token(kind, lo, value)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self
            .peek_byte_at(self.pos)
            .is_some_and(|b| b.is_ascii_digit())
        {
            self.pos += 1;
        }
        self.pos - start
    }

    fn scan_number(&mut self, lo: usize) -> Token {
        let mut kind = TokenKind::Number;
        if self.peek() != Some('.') {
            self.digits();
        }
        if self.peek() == Some('.') {
            kind = TokenKind::Float;
            self.pos += 1;
            self.digits();
        }
        let mut bad = false;
        if matches!(self.peek(), Some('e' | 'E')) {
            kind = TokenKind::Float;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.error_span(lo, self.pos, "exponent has no digits");
                bad = true;
            }
        }
        let text = &self.src[lo..self.pos];
        let decoded = if bad {
            Some(Number::Float(0.0))
        } else if kind == TokenKind::Number {
            decode_int(text)
        } else {
            decode_float(text).map(Number::Float)
        };
        let number = decoded.unwrap_or_else(|| {
            // Alloy fails here too (Go's ParseFloat range error), only later, at evaluation.
            self.error_span(
                lo,
                self.pos,
                "number literal is out of range for a 64-bit float",
            );
            Number::Float(0.0)
        });
        self.token(kind, lo, Some(LitValue::Number(number)))
    }

    /// Scans a `"…"` (or erroneous `'…'`) string whose opening quote is consumed, returning the
    /// unescaped value. Errors point where Go's scanner points them: the escape letter, or the
    /// opening quote for an unterminated string.
    fn scan_quoted(&mut self, lo: usize, quote: char) -> String {
        let mut bytes: Vec<u8> = Vec::new();
        let errors_before = self.diags.len();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    self.error_at(lo, "string literal not terminated");
                    break;
                }
                Some(c) if c == quote => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    self.scan_escape(&mut bytes);
                }
                Some(c) => {
                    self.bump();
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                // `\xNN` and octal escapes can spell bytes that are not UTF-8; Go keeps them, but
                // a Rust string cannot, so this is an error (unless the escape itself was bad).
                if self.diags.len() == errors_before {
                    self.error_span(
                        lo,
                        self.pos,
                        "string literal escapes produce invalid UTF-8; \\x and octal escapes must spell valid UTF-8 bytes",
                    );
                }
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        }
    }

    /// Scans one escape sequence after its backslash. On error it stops at the offending
    /// character without consuming it.
    fn scan_escape(&mut self, out: &mut Vec<u8>) {
        let at = self.pos;
        let c = self.peek();
        let (mut n, base, max, is_byte) = match c {
            Some(c) if literal::simple_escape(c).is_some() => {
                self.bump();
                out.extend(literal::simple_escape(c));
                return;
            }
            Some('0'..='7') => (3, 8, 255, true),
            Some('x') => {
                self.bump();
                (2, 16, 255, true)
            }
            Some('u') => {
                self.bump();
                (4, 16, 0x10ffff, false)
            }
            Some('U') => {
                self.bump();
                (8, 16, 0x10ffff, false)
            }
            None => {
                self.error_at(at, "escape sequence not terminated");
                return;
            }
            Some(_) => {
                self.error_at(at, "unknown escape sequence");
                return;
            }
        };
        let mut x: u32 = 0;
        while n > 0 {
            let c = self.peek();
            let d = literal::digit_val(c);
            if d >= base {
                let msg = match c {
                    Some(c) => format!(
                        "illegal character {} in escape sequence",
                        literal::go_char_repr(c)
                    ),
                    None => "escape sequence not terminated".to_string(),
                };
                self.error_at(at, msg);
                return;
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            self.bump();
            n -= 1;
        }
        if x > max || (0xd800..0xe000).contains(&x) {
            self.error_span(
                at,
                self.pos,
                "escape sequence is invalid Unicode code point",
            );
            return;
        }
        if is_byte {
            out.push(x as u8);
        } else if let Some(ch) = char::from_u32(x) {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }

    /// Scans a backtick raw string whose opening backtick is consumed. It may span lines; every
    /// `\r` is dropped from the value (Go `strconv.Unquote`).
    fn scan_raw(&mut self, lo: usize) -> String {
        let content_lo = self.pos;
        let content_hi;
        loop {
            match self.peek() {
                None => {
                    self.error_at(lo, "string literal not terminated");
                    content_hi = self.pos;
                    break;
                }
                Some('`') => {
                    content_hi = self.pos;
                    self.bump();
                    break;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        self.src[content_lo..content_hi].replace('\r', "")
    }

    /// Scans a comment starting at `lo` (both opening characters still unread).
    fn scan_comment(&mut self, lo: usize) {
        self.pos = lo + 1;
        if self.peek() == Some('/') {
            while let Some(c) = self.peek() {
                if c == '\n' {
                    break;
                }
                self.bump();
            }
            return;
        }
        self.bump(); // the '*'
        loop {
            match self.bump() {
                None => {
                    self.error_at(lo, "block comment not terminated");
                    return;
                }
                Some('*') if self.peek() == Some('/') => {
                    self.bump();
                    return;
                }
                Some(_) => {}
            }
        }
    }

    /// Whether the comment(s) starting at `at` run to the end of the line: a `//` comment always
    /// does; a `/* */` comment does if it contains a newline or is followed (after spaces) by a
    /// newline, EOF or another comment that does.
    fn comment_reaches_line_end(&self, mut at: usize) -> bool {
        let bytes = self.src.as_bytes();
        loop {
            match bytes.get(at + 1) {
                Some(b'/') => return true,
                Some(b'*') => {}
                _ => return false,
            }
            let mut q = at + 2;
            loop {
                match bytes.get(q) {
                    None | Some(b'\n') => return true,
                    Some(b'*') if bytes.get(q + 1) == Some(&b'/') => {
                        q += 2;
                        break;
                    }
                    Some(_) => q += 1,
                }
            }
            while matches!(bytes.get(q), Some(b' ' | b'\t' | b'\r')) {
                q += 1;
            }
            match bytes.get(q) {
                None | Some(b'\n') => return true,
                Some(b'/') => at = q,
                Some(_) => return false,
            }
        }
    }
}

/// The text of a comment token as kept in the AST (carriage returns removed as Alloy does).
pub fn comment_text(raw: &str) -> String {
    literal::strip_comment_cr(raw)
}

#[cfg(test)]
mod tests;
