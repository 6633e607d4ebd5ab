//! Walks the syntax tree and tells the [`Emitter`] which tokens and whitespace intents to write.
//!
//! Layout decisions all come from the author's line breaks, compared on source lines:
//! - Statements: one per line; a blank line in the source is kept (one at most); a block that is
//!   not the first statement of its body always gets a blank line before it. A statement that
//!   spans several source lines ends its alignment group.
//! - Arrays, objects and call arguments stay on one line where the author wrote them on one
//!   line; an element that starts on a new line goes on its own indented line, and a closing
//!   bracket on its own line gets a trailing comma before it.
//! - Line breaks inside binary expressions are not kept (unless a comment forces one).

use super::emitter::{Emitter, Last, Ws};
use super::positions::{
    block_start, expr_end, expr_start, key_end, stmt_end, stmt_start, SourceIndex,
};
use super::quote::go_quote;
use crate::ast::{Attribute, BinOp, Block, Expr, ExprKind, Field, LitValue, Literal, Stmt};

pub(crate) struct Walker<'a> {
    pub index: &'a SourceIndex<'a>,
    pub em: Emitter<'a>,
}

impl<'a> Walker<'a> {
    fn line(&self, offset: usize) -> i64 {
        self.index.line_of(offset)
    }

    fn different_lines(&self, a: usize, b: usize) -> bool {
        self.line(a) != self.line(b)
    }

    fn lines_spanned(&self, start: usize, end: usize) -> i64 {
        self.line(end) - self.line(start) + 1
    }

    pub fn stmts(&mut self, stmts: &[Stmt]) {
        for (i, stmt) in stmts.iter().enumerate() {
            let mut spaced = false;
            if i > 0 && matches!(stmt, Stmt::Block(_)) {
                self.em.ws(Ws::Formfeed);
                spaced = true;
            }
            if i > 0 && !spaced {
                let gap = self.line(stmt_start(stmt)) - self.line(stmt_end(&stmts[i - 1]));
                if gap > 1 {
                    self.em.ws(Ws::Formfeed);
                }
            }
            self.stmt(stmt);
            // A statement spanning several source lines ends the current alignment group.
            if self.lines_spanned(stmt_start(stmt), stmt_end(stmt)) > 1 {
                self.em.ws(Ws::Formfeed);
            } else {
                self.em.ws(Ws::Newline);
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Attribute(a) => self.attribute(a),
            Stmt::Block(b) => self.block(b),
        }
    }

    fn attribute(&mut self, a: &Attribute) {
        self.em.at(a.name.span.lo as usize);
        self.em.word(&a.name.name, Last::Other);
        self.em.ws(Ws::VTab);
        self.em.token("=", Last::Other);
        self.em.ws(Ws::Blank);
        self.expr(&a.value);
    }

    fn block(&mut self, b: &Block) {
        self.em.at(block_start(b));
        self.em.word(&b.full_name(), Last::Other);
        // An empty label (`block "" {}`) is dropped, as Alloy does.
        if let Some(label) = b.label.as_ref().filter(|l| !l.value.is_empty()) {
            self.em.ws(Ws::Blank);
            self.em.at(label.span.lo as usize);
            self.em.word(&go_quote(&label.value), Last::Other);
        }
        self.em.ws(Ws::Blank);
        self.em.at(b.lcurly.lo as usize);
        self.em.token("{", Last::Other);
        self.em.ws(Ws::Indent);
        if b.body.is_empty() {
            self.em.ws(Ws::Blank);
        } else {
            // Start a new alignment group for the body.
            self.em.ws(Ws::Formfeed);
            self.stmts(&b.body);
        }
        self.em.ws(Ws::Unindent);
        self.em.at(b.rcurly.lo as usize);
        self.em.token("}", Last::Other);
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Literal(lit) => {
                self.em.at(e.span.lo as usize);
                self.em.word(&lit.raw, literal_kind(lit));
            }
            ExprKind::Ident(i) => {
                self.em.at(i.span.lo as usize);
                self.em.word(&i.name, Last::Other);
            }
            ExprKind::Array {
                elems,
                lbrack,
                rbrack,
            } => self.array(elems, lbrack.lo as usize, rbrack.lo as usize),
            ExprKind::Object {
                fields,
                lcurly,
                rcurly,
            } => self.object(fields, lcurly.lo as usize, rcurly.lo as usize),
            ExprKind::Access { value, name } => {
                self.expr(value);
                self.em.token(".", Last::Other);
                self.em.word(&name.name, Last::Other);
            }
            ExprKind::Index {
                value,
                index,
                rbrack,
            } => {
                self.expr(value);
                let lbrack = self.index.next_token_offset(expr_end(value) + 1);
                self.em.at(lbrack);
                self.em.token("[", Last::Other);
                self.expr(index);
                self.em.at(rbrack.lo as usize);
                self.em.token("]", Last::Other);
            }
            ExprKind::Call {
                func,
                args,
                lparen,
                rparen,
            } => self.call(func, args, lparen.lo as usize, rparen.lo as usize),
            ExprKind::Unary { op, expr } => {
                self.em.at(e.span.lo as usize);
                self.em.token(op.as_str(), Last::Other);
                self.expr(expr);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.expr(lhs);
                self.em.ws(Ws::Blank);
                let op_at = self.index.next_token_offset(expr_end(lhs) + 1);
                self.em.at(op_at);
                // Remembered so a following `*` would not fuse into a comment opener.
                let kind = if *op == BinOp::Div {
                    Last::Div
                } else {
                    Last::Other
                };
                self.em.token(op.as_str(), kind);
                self.em.ws(Ws::Blank);
                self.expr(rhs);
            }
            ExprKind::Paren(inner) => {
                self.em.token("(", Last::Other);
                self.expr(inner);
                self.em.token(")", Last::Other);
            }
        }
    }

    fn array(&mut self, elems: &[Expr], lbrack: usize, rbrack: usize) {
        self.em.at(lbrack);
        self.em.token("[", Last::Other);
        let mut prev = lbrack;
        for (i, elem) in elems.iter().enumerate() {
            let mut broke_line = false;
            if self.different_lines(prev, expr_start(elem)) {
                // Indent before the line break so comments written at the break are indented.
                self.em.ws(Ws::Indent);
                self.em.ws(Ws::Formfeed);
                broke_line = true;
            } else if i > 0 {
                self.em.ws(Ws::Blank);
            }
            prev = expr_end(elem);
            self.expr(elem);
            if i + 1 < elems.len() {
                self.em.token(",", Last::Other);
            }
            if broke_line {
                self.em.ws(Ws::Unindent);
            }
        }
        if !elems.is_empty() && self.different_lines(prev, rbrack) {
            self.em.token(",", Last::Other);
            self.em.ws(Ws::Indent);
            self.em.ws(Ws::Formfeed);
            self.em.ws(Ws::Unindent);
        }
        self.em.at(rbrack);
        self.em.token("]", Last::Other);
    }

    fn object(&mut self, fields: &[Field], lcurly: usize, rcurly: usize) {
        self.em.at(lcurly);
        self.em.token("{", Last::Other);
        self.em.ws(Ws::Indent);
        // Alloy compares each key's line with the previous *key's* line (not its value's end).
        let mut prev = lcurly;
        for (i, field) in fields.iter().enumerate() {
            let key_at = field.key.span.lo as usize;
            if self.different_lines(prev, key_at) {
                // Keep `=` aligned with the previous field unless its value spans lines.
                let prev_single_line = i > 0 && {
                    let v = &fields[i - 1].value;
                    self.lines_spanned(expr_start(v), expr_end(v)) == 1
                };
                self.em.ws(if prev_single_line {
                    Ws::Newline
                } else {
                    Ws::Formfeed
                });
            } else if i > 0 {
                self.em.ws(Ws::Blank);
            }
            prev = key_end(&field.key);
            self.em.at(key_at);
            if field.key.quoted && !field.key.name.is_empty() {
                self.em.word(&go_quote(&field.key.name), Last::Other);
            } else if field.key.quoted {
                self.em.word("\"\"", Last::Other);
            } else {
                self.em.word(&field.key.name, Last::Other);
            }
            self.em.ws(Ws::VTab);
            self.em.token("=", Last::Other);
            self.em.ws(Ws::Blank);
            self.expr(&field.value);
            if i + 1 < fields.len() {
                self.em.token(",", Last::Other);
            }
        }
        if !fields.is_empty() && self.different_lines(prev, rcurly) {
            self.em.token(",", Last::Other);
            self.em.ws(Ws::Formfeed);
        }
        self.em.ws(Ws::Unindent);
        self.em.at(rcurly);
        self.em.token("}", Last::Other);
    }

    fn call(&mut self, func: &Expr, args: &[Expr], lparen: usize, rparen: usize) {
        self.expr(func);
        self.em.token("(", Last::Other);
        let mut prev = lparen;
        for (i, arg) in args.iter().enumerate() {
            let mut broke_line = false;
            if self.different_lines(prev, expr_start(arg)) {
                self.em.ws(Ws::Formfeed);
                self.em.ws(Ws::Indent);
                broke_line = true;
            }
            self.expr(arg);
            prev = expr_end(arg);
            if i + 1 < args.len() {
                self.em.token(",", Last::Other);
                self.em.ws(Ws::Blank);
            }
            if broke_line {
                self.em.ws(Ws::Unindent);
            }
        }
        // Alloy adds the trailing comma even when there are no arguments (`f(\n)` prints as
        // `f(,\n)`, which does not parse); reproduced as is.
        if self.different_lines(prev, rparen) {
            self.em.token(",", Last::Other);
            self.em.ws(Ws::Formfeed);
        }
        self.em.token(")", Last::Other);
    }
}

/// Integer literals are the only ones that could fuse with a following `.`.
fn literal_kind(lit: &Literal) -> Last {
    let is_integer = matches!(lit.value, LitValue::Number(_))
        && !lit.raw.is_empty()
        && lit.raw.bytes().all(|b| b.is_ascii_digit());
    if is_integer {
        Last::Number
    } else {
        Last::Other
    }
}
