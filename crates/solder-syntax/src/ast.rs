//! The syntax tree. Every node keeps its span; literals keep their raw source text so the printer
//! can reproduce them exactly, and the parser has already decoded their value.

use crate::span::Span;
use crate::value::Number;

/// One parsed file: its statements and every comment (kept aside, in source order, for the printer).
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub body: Body,
    pub comments: Vec<Comment>,
}

pub type Body = Vec<Stmt>;

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Attribute(Attribute),
    Block(Block),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Attribute(a) => a.span(),
            Stmt::Block(b) => b.span,
        }
    }
}

/// `name = value`
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: Ident,
    pub value: Expr,
}

impl Attribute {
    pub fn span(&self) -> Span {
        self.name.span.to(self.value.span)
    }
}

/// `a.b.c "label" { body }`
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The dotted name fragments, e.g. `["prometheus", "scrape"]`.
    pub name: Vec<Ident>,
    pub label: Option<Label>,
    pub body: Body,
    /// From the first name fragment to the closing brace.
    pub span: Span,
    pub lcurly: Span,
    pub rcurly: Span,
}

impl Block {
    /// `prometheus.scrape`
    pub fn full_name(&self) -> String {
        let parts: Vec<&str> = self.name.iter().map(|i| i.name.as_str()).collect();
        parts.join(".")
    }

    /// Span of the name (and label, when present): where "this block" errors point.
    pub fn name_span(&self) -> Span {
        let first = self.name.first().map(|i| i.span).unwrap_or(self.span);
        let last = self
            .label
            .as_ref()
            .map(|l| l.span)
            .or_else(|| self.name.last().map(|i| i.span))
            .unwrap_or(self.span);
        first.to(last)
    }

    /// `prometheus.scrape.default`, or just the name for unlabeled blocks.
    pub fn id(&self) -> String {
        match &self.label {
            Some(l) if !l.value.is_empty() => format!("{}.{}", self.full_name(), l.value),
            _ => self.full_name(),
        }
    }
}

/// A block label: the text between the quotes (taken raw, never unescaped).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `// …` or `/* … */`, text including the delimiters.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Ident(Ident),
    /// `[a, b]`; spans of the brackets let the printer keep the author's line breaks.
    Array {
        elems: Vec<Expr>,
        lbrack: Span,
        rbrack: Span,
    },
    /// `{ a = 1, "b" = 2 }`
    Object {
        fields: Vec<Field>,
        lcurly: Span,
        rcurly: Span,
    },
    /// `value.name`
    Access {
        value: Box<Expr>,
        name: Ident,
    },
    /// `value[index]`
    Index {
        value: Box<Expr>,
        index: Box<Expr>,
        rbrack: Span,
    },
    /// `func(args…)`
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        lparen: Span,
        rparen: Span,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `( expr )`, kept so the printer reproduces it.
    Paren(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: FieldKey,
    pub value: Expr,
}

/// An object key: an identifier or a double-quoted string (whose inner text is used raw).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldKey {
    pub name: String,
    pub quoted: bool,
    pub span: Span,
}

/// A literal with its raw source text (`0x`-free: Alloy has no hex literals) and its decoded value.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub raw: String,
    pub value: LitValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LitValue {
    Null,
    Bool(bool),
    Number(Number),
    /// The unescaped string (raw strings already have their `\r` removed).
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!`
    Not,
    /// `-`
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
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
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::NotEq => "!=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
        }
    }

    /// Alloy's precedence: `||` 1, `&&` 2, comparisons 3, `+ -` 4, `* / %` 5, `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::Lte | BinOp::Gt | BinOp::Gte => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Pow => 6,
        }
    }
}

impl UnaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Not => "!",
            UnaryOp::Neg => "-",
        }
    }
}

/// A chain `ident(.field)*` found inside an expression: the candidates for references to other
/// components (`discovery.kubernetes.pods.targets`). Index and call steps end the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traversal {
    pub parts: Vec<String>,
    pub span: Span,
}

impl Expr {
    /// Every maximal identifier/field-access chain in this expression, in source order.
    pub fn traversals(&self) -> Vec<Traversal> {
        let mut out = Vec::new();
        collect_traversals(self, &mut out);
        out
    }
}

/// The chain rooted at an identifier, if `e` is `ident(.name)*`.
fn chain(e: &Expr) -> Option<Traversal> {
    match &e.kind {
        ExprKind::Ident(i) => Some(Traversal {
            parts: vec![i.name.clone()],
            span: i.span,
        }),
        ExprKind::Access { value, name } => {
            let mut t = chain(value)?;
            t.parts.push(name.name.clone());
            t.span = t.span.to(name.span);
            Some(t)
        }
        _ => None,
    }
}

fn collect_traversals(e: &Expr, out: &mut Vec<Traversal>) {
    if let Some(t) = chain(e) {
        out.push(t);
        return;
    }
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Ident(_) => {}
        ExprKind::Array { elems, .. } => elems.iter().for_each(|x| collect_traversals(x, out)),
        ExprKind::Object { fields, .. } => fields
            .iter()
            .for_each(|f| collect_traversals(&f.value, out)),
        ExprKind::Access { value, .. } => collect_traversals(value, out),
        ExprKind::Index { value, index, .. } => {
            collect_traversals(value, out);
            collect_traversals(index, out);
        }
        ExprKind::Call { func, args, .. } => {
            collect_traversals(func, out);
            args.iter().for_each(|x| collect_traversals(x, out));
        }
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => collect_traversals(expr, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            collect_traversals(lhs, out);
            collect_traversals(rhs, out);
        }
    }
}

/// Every traversal in every attribute of a body, recursing into nested blocks.
pub fn body_traversals(body: &Body) -> Vec<Traversal> {
    let mut out = Vec::new();
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) => collect_traversals(&a.value, &mut out),
            Stmt::Block(b) => out.extend(body_traversals(&b.body)),
        }
    }
    out
}
