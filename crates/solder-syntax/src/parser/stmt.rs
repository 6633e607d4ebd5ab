//! Bodies and statements: `Body = [ Stmt { TERM Stmt } ] [ TERM ]`, `Stmt = Attribute | Block`.

use super::{string_inner, Parser};
use crate::ast::{Attribute, Block, Body, Ident, Label, Stmt};
use crate::lexer::is_valid_identifier;
use crate::token::TokenKind;

/// `a.b.c "label"`: parsed once, then used as a block name or an attribute name depending on
/// whether `{` or `=` follows (the grammar is LL(1) only this way).
struct BlockName {
    fragments: Vec<Ident>,
    label: Option<Label>,
}

impl BlockName {
    /// A single fragment and no (non-empty) label could also have been meant as an attribute.
    fn could_be_attribute(&self) -> bool {
        self.fragments.len() == 1 && self.label.as_ref().is_none_or(|l| l.value.is_empty())
    }
}

impl Parser<'_> {
    /// Parses statements up to `until` (`}` or EOF), which is left unconsumed.
    pub(super) fn parse_body(&mut self, until: TokenKind) -> Body {
        let mut body = Body::new();
        while self.kind() != until && self.kind() != TokenKind::Eof {
            if let Some(stmt) = self.parse_statement() {
                body.push(stmt);
            }
            if self.kind() == until {
                break;
            }
            if self.kind() != TokenKind::Terminator {
                self.add_error(format!("expected TERMINATOR, got {}", self.kind()));
                self.consume_statement();
            }
            self.next();
        }
        body
    }

    fn parse_statement(&mut self) -> Option<Stmt> {
        let Some(name) = self.parse_block_name() else {
            // Skip to the next identifier, which may start a new statement.
            self.advance(TokenKind::Ident);
            return None;
        };

        match self.kind() {
            TokenKind::Assign => {
                self.next();
                if name.fragments.len() != 1 {
                    let first = name.fragments[0].span;
                    let last = name.fragments.last().map_or(first, |f| f.span);
                    self.push_error(
                        first.to(last),
                        r#"attribute names may only consist of a single identifier with no ".""#,
                    );
                } else if let Some(label) = &name.label {
                    let span = label.span;
                    self.push_error(span, "attribute names may not have labels");
                }
                let value = self.parse_expression();
                let ident = name.fragments.into_iter().next()?;
                Some(Stmt::Attribute(Attribute { name: ident, value }))
            }
            TokenKind::LCurly => {
                if !self.enter() {
                    return None;
                }
                let (lcurly, _) = self.expect(TokenKind::LCurly);
                let body = self.parse_body(TokenKind::RCurly);
                let (rcurly, _) = self.expect(TokenKind::RCurly);
                self.leave();
                let start = name.fragments[0].span;
                Some(Stmt::Block(Block {
                    name: name.fragments,
                    label: name.label,
                    body,
                    span: start.to(rcurly),
                    lcurly,
                    rcurly,
                }))
            }
            kind => {
                if name.could_be_attribute() {
                    self.add_error(format!(
                        "expected attribute assignment or block body, got {kind}"
                    ));
                } else {
                    self.add_error(format!("expected block body, got {kind}"));
                }
                self.advance(TokenKind::Ident);
                None
            }
        }
    }

    /// `BlockName = ident { "." ident } [ string ]`. `None` when it does not start with an
    /// identifier; malformed later parts are reported and kept so parsing can go on.
    fn parse_block_name(&mut self) -> Option<BlockName> {
        if self.kind() != TokenKind::Ident {
            self.add_error(format!("expected identifier, got {}", self.kind()));
            return None;
        }
        let mut fragments = vec![self.ident_here()];
        self.next();

        while self.kind() == TokenKind::Dot {
            self.next();
            if self.kind() != TokenKind::Ident {
                self.add_error(format!("expected identifier, got {}", self.kind()));
            }
            fragments.push(self.ident_here());
            self.next();
        }

        let mut label = None;
        if self.kind() != TokenKind::Assign && self.kind() != TokenKind::LCurly {
            if self.kind() == TokenKind::String {
                let text = self.text();
                if !text.starts_with('"') {
                    self.add_error(format!(
                        "expected block label to be a double quoted string, but got {text:?}"
                    ));
                }
                // Labels are taken raw; `""` is an empty label, anything else must be an identifier.
                let value = if text.len() > 2 {
                    let inner = string_inner(text);
                    if !is_valid_identifier(inner) {
                        self.add_error(format!(
                            "expected block label to be a valid identifier, but got {inner:?}"
                        ));
                    }
                    inner.to_string()
                } else {
                    String::new()
                };
                label = Some(Label {
                    value,
                    span: self.cur().span,
                });
            } else {
                self.add_error(format!("expected block label, got {}", self.kind()));
            }
            self.next();
        }

        Some(BlockName { fragments, label })
    }

    /// The current token as an identifier (its text, whatever its kind, for error recovery).
    pub(super) fn ident_here(&self) -> Ident {
        Ident {
            name: self.text().to_string(),
            span: self.cur().span,
        }
    }
}
