//! Evaluation of expressions and block bodies into [`Value`]s, with Alloy's exact operator
//! semantics (see `alloy-spec.md` §1.5). Errors are phrased as Alloy phrases them:
//! `<expression text> should be <type>, got <type>`, with the span of the offending
//! sub-expression.

mod ops;
mod render;

use crate::ast::{self, ExprKind, LitValue, Stmt};
use crate::diag::{Diagnostic, Diagnostics};
use crate::span::Span;
use crate::stdlib;
use crate::value::{Number, Object, Value};

pub use render::render_expr;

/// Where identifiers come from before the stdlib: the component export tree, `argument.*` inside
/// modules, loop variables. A name found here shadows a stdlib name.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<Value>;

    /// Resolve `a.b.c` in one step. Scopes holding large export trees override this to walk by
    /// reference and clone only the leaf; the default clones the root and walks it.
    fn lookup_path(&self, parts: &[&str]) -> Option<Value> {
        let (first, rest) = parts.split_first()?;
        let mut v = self.lookup(first)?;
        for p in rest {
            v = match v {
                Value::Object(mut o) => o.remove(*p)?,
                _ => return None,
            };
        }
        Some(v)
    }
}

/// Walk `parts` down an object by reference.
pub fn walk_object<'v>(root: &'v Object, parts: &[&str]) -> Option<&'v Value> {
    let (first, rest) = parts.split_first()?;
    let mut v = root.get(*first)?;
    for p in rest {
        v = v.as_object()?.get(*p)?;
    }
    Some(v)
}

/// A scope with no names: only the stdlib resolves.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn lookup(&self, _name: &str) -> Option<Value> {
        None
    }
}

/// A scope backed by an object, handy for tests and for `foreach`/module arguments.
impl Scope for Object {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }

    fn lookup_path(&self, parts: &[&str]) -> Option<Value> {
        walk_object(self, parts).cloned()
    }
}

/// An evaluated block body: attributes and nested blocks in source order, not yet typed.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyValue {
    pub items: Vec<BodyItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BodyItem {
    Attr(AttrValue),
    Block(BlockValue),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttrValue {
    pub name: String,
    pub name_span: Span,
    pub value: Value,
    pub value_span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockValue {
    /// The dotted full name, e.g. `stage.cri`.
    pub name: String,
    pub label: Option<String>,
    /// The span of the name (and label): where "this block" errors point.
    pub span: Span,
    pub body: BodyValue,
}

impl BodyValue {
    pub fn attrs(&self) -> impl Iterator<Item = &AttrValue> {
        self.items.iter().filter_map(|i| match i {
            BodyItem::Attr(a) => Some(a),
            BodyItem::Block(_) => None,
        })
    }

    pub fn blocks(&self) -> impl Iterator<Item = &BlockValue> {
        self.items.iter().filter_map(|i| match i {
            BodyItem::Block(b) => Some(b),
            BodyItem::Attr(_) => None,
        })
    }

    /// The first attribute named `name`.
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attrs().find(|a| a.name == name)
    }
}

/// Evaluate one expression. Identifiers resolve in `scope` first, then in the stdlib.
pub fn eval_expr(expr: &ast::Expr, scope: &dyn Scope) -> Result<Value, Diagnostic> {
    Evaluator { scope }.eval(expr)
}

/// Evaluate every attribute of a body (recursing into blocks). All attribute errors are collected.
/// `span` becomes the body's span (the caller's block span, or the file span at top level).
pub fn eval_body(
    body: &ast::Body,
    span: Span,
    scope: &dyn Scope,
) -> Result<BodyValue, Diagnostics> {
    let mut diags = Diagnostics::new();
    let value = eval_body_inner(body, span, scope, &mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(value)
    }
}

fn eval_body_inner(
    body: &ast::Body,
    span: Span,
    scope: &dyn Scope,
    diags: &mut Diagnostics,
) -> BodyValue {
    let mut items = Vec::with_capacity(body.len());
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) => match eval_expr(&a.value, scope) {
                Ok(value) => items.push(BodyItem::Attr(AttrValue {
                    name: a.name.name.clone(),
                    name_span: a.name.span,
                    value,
                    value_span: a.value.span,
                })),
                Err(d) => diags.push(d),
            },
            Stmt::Block(b) => {
                let body = eval_body_inner(&b.body, b.span, scope, diags);
                items.push(BodyItem::Block(BlockValue {
                    name: b.full_name(),
                    label: b.label.as_ref().map(|l| l.value.clone()),
                    span: b.name_span(),
                    body,
                }));
            }
        }
    }
    BodyValue { items, span }
}

struct Evaluator<'a> {
    scope: &'a dyn Scope,
}

/// An error about the value of `expr`: Alloy prefixes the message with the expression's text.
pub(crate) fn value_error(expr: &ast::Expr, msg: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(expr.span, format!("{} {msg}", render_expr(expr)))
}

impl Evaluator<'_> {
    fn eval(&self, expr: &ast::Expr) -> Result<Value, Diagnostic> {
        match &expr.kind {
            ExprKind::Literal(lit) => Ok(match &lit.value {
                LitValue::Null => Value::Null,
                LitValue::Bool(b) => Value::Bool(*b),
                LitValue::Number(n) => Value::Number(*n),
                LitValue::String(s) => Value::String(s.clone()),
            }),
            ExprKind::Ident(id) => self
                .scope
                .lookup(&id.name)
                .or_else(|| stdlib::lookup(&id.name))
                .ok_or_else(|| {
                    Diagnostic::error(id.span, format!("identifier {:?} does not exist", id.name))
                }),
            ExprKind::Array { elems, .. } => {
                let vals = elems
                    .iter()
                    .map(|e| self.eval(e))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::Array(vals))
            }
            ExprKind::Object { fields, .. } => {
                let mut obj = Object::new();
                for f in fields {
                    let v = self.eval(&f.value)?;
                    obj.insert(f.key.name.clone(), v);
                }
                Ok(Value::Object(obj))
            }
            ExprKind::Access { value, name } => {
                // Fast path: a pure `ident.a.b` chain found in the scope is resolved without
                // cloning the intermediate objects (export trees can hold thousands of targets).
                if let Some(v) = self.resolve_chain(expr) {
                    return Ok(v);
                }
                let v = self.eval(value)?;
                match v {
                    Value::Object(mut o) => o.remove(&name.name).ok_or_else(|| {
                        Diagnostic::error(
                            name.span,
                            format!("field {:?} does not exist", name.name),
                        )
                    }),
                    Value::Capsule(_) | Value::Secret(_) => Err(value_error(
                        value,
                        "expected object or array or a capsule convertible to an object, got capsule",
                    )),
                    other => Err(value_error(
                        value,
                        format!(
                            "cannot access field {:?} on value of type {}",
                            name.name,
                            other.kind()
                        ),
                    )),
                }
            }
            ExprKind::Index {
                value, index: idx, ..
            } => {
                let v = self.eval(value)?;
                let i = self.eval(idx)?;
                self.index(value, v, idx, i)
            }
            ExprKind::Call { func, args, .. } => {
                let f = self.eval(func)?;
                let Value::Function(f) = f else {
                    return Err(value_error(
                        func,
                        format!("should be function, got {}", f.kind()),
                    ));
                };
                let vals = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                f.call(&vals).map_err(|e| match e.arg_index() {
                    Some((i, msg)) => match args.get(i) {
                        Some(arg) => arg_error(arg, msg),
                        None => value_error(func, msg),
                    },
                    None => value_error(func, e.message()),
                })
            }
            ExprKind::Unary { op, expr: inner } => {
                let v = self.eval(inner)?;
                ops::unary(*op, v).map_err(|msg| value_error(inner, msg))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                // Both sides are always evaluated: Alloy's `&&`/`||` do not short-circuit.
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                ops::binary(*op, l, r).map_err(|e| match e {
                    ops::OpError::Lhs(msg) => value_error(lhs, msg),
                    ops::OpError::Rhs(msg) => value_error(rhs, msg),
                })
            }
            ExprKind::Paren(inner) => self.eval(inner),
        }
    }

    /// `Some` when `expr` is `ident(.name)+` and the scope resolves all of it.
    fn resolve_chain(&self, expr: &ast::Expr) -> Option<Value> {
        let mut parts = Vec::new();
        let mut cur = expr;
        loop {
            match &cur.kind {
                ExprKind::Access { value, name } => {
                    parts.push(name.name.as_str());
                    cur = value;
                }
                ExprKind::Ident(id) => {
                    parts.push(id.name.as_str());
                    break;
                }
                _ => return None,
            }
        }
        parts.reverse();
        self.scope.lookup_path(&parts)
    }

    fn index(
        &self,
        value_expr: &ast::Expr,
        value: Value,
        idx_expr: &ast::Expr,
        idx: Value,
    ) -> Result<Value, Diagnostic> {
        match value {
            Value::Array(mut a) => {
                let Value::Number(n) = idx else {
                    return Err(value_error(
                        idx_expr,
                        format!("should be number, got {}", idx.kind()),
                    ));
                };
                // Go converts with int(idx.Int()): floats truncate toward zero.
                let i = match n {
                    Number::Int(i) => i,
                    Number::Uint(u) => u as i64,
                    Number::Float(f) => f as i64,
                };
                let len = a.len();
                if i < 0 || i as u64 >= len as u64 {
                    return Err(value_error(
                        idx_expr,
                        format!("index {i} is out of range of array with length {len}"),
                    ));
                }
                Ok(a.swap_remove(i as usize))
            }
            Value::Object(mut o) => {
                let Value::String(key) = idx else {
                    return Err(value_error(
                        idx_expr,
                        format!("should be string, got {}", idx.kind()),
                    ));
                };
                // A missing key through `[…]` is null, unlike `.field`.
                Ok(o.remove(&key).unwrap_or(Value::Null))
            }
            Value::Capsule(_) | Value::Secret(_) => Err(value_error(
                value_expr,
                "expected object or array or a capsule convertible to an object, got capsule",
            )),
            other => Err(value_error(
                value_expr,
                format!("expected object or array, got {}", other.kind()),
            )),
        }
    }
}

/// Argument errors continue the argument's text: `x should be string, got number`. An error
/// about an element (`[1] should be string, got bool`) points at that element when the argument
/// is written as a literal, as Alloy does: `true should be string, got bool`.
fn arg_error(arg: &ast::Expr, msg: &str) -> Diagnostic {
    let (node, rest) = descend(arg, msg);
    let text = render_expr(node);
    let message = if rest.starts_with('[') || rest.starts_with('.') {
        format!("{text}{rest}")
    } else {
        format!("{text} {rest}")
    };
    Diagnostic::error(node.span, message)
}

/// Follow a leading `[i]` / `.name` path of `msg` into array and object literals.
fn descend<'e, 'm>(expr: &'e ast::Expr, msg: &'m str) -> (&'e ast::Expr, &'m str) {
    let inner = match &expr.kind {
        ExprKind::Paren(inner) => Some((inner.as_ref(), msg)),
        ExprKind::Array { elems, .. } => msg.strip_prefix('[').and_then(|r| {
            let (idx, rest) = r.split_once(']')?;
            let elem = elems.get(idx.parse::<usize>().ok()?)?;
            Some((elem, rest.trim_start_matches(' ')))
        }),
        ExprKind::Object { fields, .. } => msg.strip_prefix('.').and_then(|r| {
            let end = r.find(['.', '[', ' '])?;
            let field = fields.iter().rev().find(|f| f.key.name == r[..end])?;
            Some((&field.value, r[end..].trim_start_matches(' ')))
        }),
        _ => None,
    };
    match inner {
        Some((e, rest)) => descend(e, rest),
        None => (expr, msg),
    }
}
