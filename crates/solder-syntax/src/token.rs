//! Tokens produced by the [lexer](crate::lexer). Names follow Alloy's `syntax/token` package because
//! parser messages quote them (`expected TERMINATOR, got IDENT`, `expected expression, got +`).

use crate::ast::{BinOp, LitValue, UnaryOp};
use crate::span::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An invalid character or a single-quoted string (an error was already reported).
    Illegal,
    Eof,
    /// `// …` or `/* … */`. The lexer hands comments to the parser separately.
    Comment,
    Ident,
    Number,
    Float,
    String,
    Bool,
    Null,
    Or,
    And,
    Not,
    Assign,
    Eq,
    NotEq,
    Lt,
    Lte,
    Gt,
    Gte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    LCurly,
    RCurly,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Dot,
    /// An inserted statement terminator (a newline, EOF or line-ending comment; see spec §1.2).
    Terminator,
}

impl TokenKind {
    /// The name Alloy uses for this token in messages.
    pub fn name(self) -> &'static str {
        use TokenKind::*;
        match self {
            Illegal => "ILLEGAL",
            Eof => "EOF",
            Comment => "COMMENT",
            Ident => "IDENT",
            Number => "NUMBER",
            Float => "FLOAT",
            String => "STRING",
            Bool => "BOOL",
            Null => "NULL",
            Or => "||",
            And => "&&",
            Not => "!",
            Assign => "=",
            Eq => "==",
            NotEq => "!=",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            LCurly => "{",
            RCurly => "}",
            LParen => "(",
            RParen => ")",
            LBrack => "[",
            RBrack => "]",
            Comma => ",",
            Dot => ".",
            Terminator => "TERMINATOR",
        }
    }

    /// The binary operator this token spells, if any.
    pub fn binary_op(self) -> Option<BinOp> {
        use TokenKind::*;
        Some(match self {
            Or => BinOp::Or,
            And => BinOp::And,
            Eq => BinOp::Eq,
            NotEq => BinOp::NotEq,
            Lt => BinOp::Lt,
            Lte => BinOp::Lte,
            Gt => BinOp::Gt,
            Gte => BinOp::Gte,
            Add => BinOp::Add,
            Sub => BinOp::Sub,
            Mul => BinOp::Mul,
            Div => BinOp::Div,
            Mod => BinOp::Mod,
            Pow => BinOp::Pow,
            _ => return None,
        })
    }

    pub fn unary_op(self) -> Option<UnaryOp> {
        match self {
            TokenKind::Not => Some(UnaryOp::Not),
            TokenKind::Sub => Some(UnaryOp::Neg),
            _ => None,
        }
    }

    /// Whether a newline after this token ends the statement (spec §1.2).
    pub fn ends_statement(self) -> bool {
        use TokenKind::*;
        matches!(
            self,
            Ident | Number | Float | String | Bool | Null | RParen | RBrack | RCurly
        )
    }
}

impl std::fmt::Display for TokenKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// Exact byte range in the source. A terminator made from a newline covers that newline; one
    /// inserted before a comment or at EOF is empty.
    pub span: Span,
    /// The decoded value of number, float and string tokens (`None` for every other kind).
    pub value: Option<LitValue>,
}

impl Token {
    /// The token's source text.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.span.lo as usize..self.span.hi as usize)
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;

    #[test]
    fn names_match_alloy_messages() {
        assert_eq!(Terminator.to_string(), "TERMINATOR");
        assert_eq!(Ident.name(), "IDENT");
        assert_eq!(Bool.name(), "BOOL");
        assert_eq!(Add.name(), "+");
        assert_eq!(RParen.name(), ")");
    }

    #[test]
    fn operators_map_to_ast_with_alloy_precedence() {
        let table = [
            (Or, 1),
            (And, 2),
            (Eq, 3),
            (NotEq, 3),
            (Lt, 3),
            (Lte, 3),
            (Gt, 3),
            (Gte, 3),
            (Add, 4),
            (Sub, 4),
            (Mul, 5),
            (Div, 5),
            (Mod, 5),
            (Pow, 6),
        ];
        for (kind, prec) in table {
            let op = kind.binary_op().unwrap();
            assert_eq!(op.precedence(), prec, "{kind}");
            assert_eq!(op.as_str(), kind.name());
        }
        assert_eq!(Assign.binary_op(), None);
        assert_eq!(Not.binary_op(), None);
        assert_eq!(Sub.unary_op(), Some(UnaryOp::Neg));
        assert_eq!(Not.unary_op(), Some(UnaryOp::Not));
        assert_eq!(Add.unary_op(), None);
    }

    #[test]
    fn statement_ending_tokens() {
        for k in [
            Ident, Number, Float, String, Bool, Null, RParen, RBrack, RCurly,
        ] {
            assert!(k.ends_statement(), "{k}");
        }
        for k in [
            Comma, Dot, Assign, Add, LParen, LBrack, LCurly, Illegal, Comment,
        ] {
            assert!(!k.ends_statement(), "{k}");
        }
    }
}
