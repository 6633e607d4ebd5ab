//! Expressions, by precedence climbing for the left-associative operators (`||` 1, `&&` 2,
//! comparisons 3, `+ -` 4, `* / %` 5) and a separate right-associative rule for `^`, below which
//! unary operators bind (`-2^2` is `(-2)^2`).

use super::{string_inner, Parser};
use crate::ast::{BinOp, Expr, ExprKind, Field, FieldKey, LitValue, Literal};
use crate::token::TokenKind;

impl Parser<'_> {
    pub(super) fn parse_expression(&mut self) -> Expr {
        if !self.enter() {
            return self.null_placeholder();
        }
        let e = self.parse_binary(1);
        self.leave();
        e
    }

    /// `CurPrec = NextPrec { op_of_cur_prec NextPrec }`, all levels at once: operators of at least
    /// `min_prec` are folded into the left operand; the right operand only takes tighter ones.
    fn parse_binary(&mut self, min_prec: u8) -> Expr {
        let mut lhs = self.parse_pow();
        // Each fold deepens the (left-leaning) tree, so it counts as a nesting level too: later
        // tree walks recurse on it.
        let mut levels = 0;
        while let Some(op) = self.kind().binary_op() {
            let prec = op.precedence();
            if prec < min_prec || !self.enter() {
                break;
            }
            levels += 1;
            self.next();
            let rhs = self.parse_binary(prec + 1);
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        for _ in 0..levels {
            self.leave();
        }
        lhs
    }

    /// `PowExpr = Unary [ "^" PowExpr ]`
    fn parse_pow(&mut self) -> Expr {
        let lhs = self.parse_unary();
        if self.kind() != TokenKind::Pow {
            return lhs;
        }
        self.next();
        if !self.enter() {
            return lhs;
        }
        let rhs = self.parse_pow();
        self.leave();
        let span = lhs.span.to(rhs.span);
        Expr {
            kind: ExprKind::Binary {
                op: BinOp::Pow,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
        }
    }

    /// `Unary = ("!" | "-") Unary | Primary { "." ident | "[" Expr "]" | "(" [ExprList] ")" }`
    fn parse_unary(&mut self) -> Expr {
        if let Some(op) = self.kind().unary_op() {
            let op_span = self.cur().span;
            self.next();
            if !self.enter() {
                return self.null_placeholder();
            }
            let inner = self.parse_unary();
            self.leave();
            let span = op_span.to(inner.span);
            return Expr {
                kind: ExprKind::Unary {
                    op,
                    expr: Box::new(inner),
                },
                span,
            };
        }

        let mut e = self.parse_primary();
        // Postfix chains deepen the tree like binary folds do.
        let mut levels = 0;
        loop {
            let postfix = matches!(
                self.kind(),
                TokenKind::Dot
                    | TokenKind::LBrack
                    | TokenKind::LParen
                    | TokenKind::String
                    | TokenKind::LCurly
            );
            if postfix {
                if !self.enter() {
                    break;
                }
                levels += 1;
            }
            match self.kind() {
                TokenKind::Dot => {
                    self.next();
                    let name = self.ident_here();
                    self.expect(TokenKind::Ident);
                    let span = e.span.to(name.span);
                    e = Expr {
                        kind: ExprKind::Access {
                            value: Box::new(e),
                            name,
                        },
                        span,
                    };
                }
                TokenKind::LBrack => {
                    self.expect(TokenKind::LBrack);
                    let index = self.parse_expression();
                    let (rbrack, _) = self.expect(TokenKind::RBrack);
                    let span = e.span.to(rbrack);
                    e = Expr {
                        kind: ExprKind::Index {
                            value: Box::new(e),
                            index: Box::new(index),
                            rbrack,
                        },
                        span,
                    };
                }
                TokenKind::LParen => {
                    let (lparen, _) = self.expect(TokenKind::LParen);
                    let args = if self.kind() != TokenKind::RParen {
                        self.parse_expression_list(TokenKind::RParen)
                    } else {
                        Vec::new()
                    };
                    let (rparen, _) = self.expect(TokenKind::RParen);
                    let span = e.span.to(rparen);
                    e = Expr {
                        kind: ExprKind::Call {
                            func: Box::new(e),
                            args,
                            lparen,
                            rparen,
                        },
                        span,
                    };
                }
                TokenKind::String | TokenKind::LCurly => {
                    // Probably a block written as an attribute value (`rw = prometheus.remote_write
                    // "x" { … }`): parse it as a block to say so, or give up on the statement.
                    if self.kind() == TokenKind::String {
                        self.next();
                    }
                    if self.expect(TokenKind::LCurly).1 != TokenKind::LCurly {
                        self.consume_statement();
                        break;
                    }
                    if !self.enter() {
                        break;
                    }
                    self.parse_body(TokenKind::RCurly);
                    self.leave();
                    let (end, kind) = self.expect(TokenKind::RCurly);
                    if kind != TokenKind::RCurly {
                        self.consume_statement();
                        break;
                    }
                    self.push_error(e.span.to(end), "cannot use a block as an expression");
                }
                _ => break,
            }
        }
        for _ in 0..levels {
            self.leave();
        }
        e
    }

    fn parse_primary(&mut self) -> Expr {
        let tok = self.cur().clone();
        match tok.kind {
            TokenKind::Ident => {
                let ident = self.ident_here();
                self.next();
                Expr {
                    kind: ExprKind::Ident(ident),
                    span: tok.span,
                }
            }
            TokenKind::String
            | TokenKind::Number
            | TokenKind::Float
            | TokenKind::Bool
            | TokenKind::Null => {
                self.next();
                let value = tok.value.clone().unwrap_or(LitValue::Null);
                Expr {
                    kind: ExprKind::Literal(Literal {
                        raw: tok.text(self.src).to_string(),
                        value,
                    }),
                    span: tok.span,
                }
            }
            TokenKind::LParen => {
                let (lparen, _) = self.expect(TokenKind::LParen);
                let inner = self.parse_expression();
                let (rparen, _) = self.expect(TokenKind::RParen);
                Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span: lparen.to(rparen),
                }
            }
            TokenKind::LBrack => {
                let (lbrack, _) = self.expect(TokenKind::LBrack);
                let elems = if self.kind() != TokenKind::RBrack {
                    self.parse_expression_list(TokenKind::RBrack)
                } else {
                    Vec::new()
                };
                let (rbrack, _) = self.expect(TokenKind::RBrack);
                Expr {
                    kind: ExprKind::Array {
                        elems,
                        lbrack,
                        rbrack,
                    },
                    span: lbrack.to(rbrack),
                }
            }
            TokenKind::LCurly => {
                let (lcurly, _) = self.expect(TokenKind::LCurly);
                // Alloy compares with `]` here (a harmless slip); copied so that `{]` gives the
                // same message as in Alloy.
                let fields = if self.kind() != TokenKind::RBrack {
                    self.parse_field_list(TokenKind::RCurly)
                } else {
                    Vec::new()
                };
                let (rcurly, _) = self.expect(TokenKind::RCurly);
                Expr {
                    kind: ExprKind::Object {
                        fields,
                        lcurly,
                        rcurly,
                    },
                    span: lcurly.to(rcurly),
                }
            }
            kind => {
                self.add_error(format!("expected expression, got {kind}"));
                let placeholder = self.null_placeholder();
                // Eat up the rest of the expression.
                while !matches!(
                    self.kind(),
                    TokenKind::Eof
                        | TokenKind::Terminator
                        | TokenKind::RParen
                        | TokenKind::RCurly
                        | TokenKind::RBrack
                        | TokenKind::Comma
                ) {
                    self.next();
                }
                placeholder
            }
        }
    }

    /// A `null` standing in for an expression that could not be parsed (empty span at the
    /// current token).
    fn null_placeholder(&self) -> Expr {
        let lo = self.cur().span.lo;
        Expr {
            kind: ExprKind::Literal(Literal {
                raw: "null".to_string(),
                value: LitValue::Null,
            }),
            span: self.span(lo, lo),
        }
    }

    /// `ExprList = Expr { "," Expr } [ "," ]`, up to (not including) `until`.
    fn parse_expression_list(&mut self, until: TokenKind) -> Vec<Expr> {
        let mut out = Vec::new();
        while self.kind() != until && self.kind() != TokenKind::Eof {
            out.push(self.parse_expression());
            if self.kind() == until {
                break;
            }
            if self.kind() != TokenKind::Comma {
                self.add_error("missing ',' in expression list");
            }
            self.next();
        }
        out
    }

    /// `FieldList = Field { "," Field } [ "," ]`, up to (not including) `until`.
    fn parse_field_list(&mut self, until: TokenKind) -> Vec<Field> {
        let mut out = Vec::new();
        while self.kind() != until && self.kind() != TokenKind::Eof {
            out.push(self.parse_field());
            if self.kind() == until {
                break;
            }
            if self.kind() != TokenKind::Comma {
                self.add_error("missing ',' in field list");
            }
            self.next();
        }
        out
    }

    /// `Field = ( ident | string ) "=" Expr`. A quoted key keeps its inner text raw.
    fn parse_field(&mut self) -> Field {
        let tok = self.cur().clone();
        let key = match tok.kind {
            TokenKind::Ident | TokenKind::String => {
                let text = tok.text(self.src);
                // Alloy unwraps only keys longer than the quotes, so `""` stays a two-character
                // unquoted key; copied for identical object keys.
                let (name, quoted) = if tok.kind == TokenKind::String && text.len() > 2 {
                    (string_inner(text).to_string(), true)
                } else {
                    (text.to_string(), false)
                };
                self.next();
                FieldKey {
                    name,
                    quoted,
                    span: tok.span,
                }
            }
            kind => {
                self.add_error(format!(
                    "expected field name (string or identifier), got {kind}"
                ));
                self.advance(TokenKind::Assign);
                FieldKey {
                    name: String::new(),
                    quoted: false,
                    span: self.span(tok.span.lo, tok.span.lo),
                }
            }
        };
        self.expect(TokenKind::Assign);
        let value = self.parse_expression();
        Field { key, value }
    }
}
