//! One-line source text of an expression, used as the subject of evaluation errors
//! (`key_value.object should be number, got string`). Literals keep their raw text.

use crate::ast::{Expr, ExprKind};
use crate::value::is_identifier;

pub fn render_expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(e, &mut out);
    out
}

fn write_expr(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::Literal(l) => out.push_str(&l.raw),
        ExprKind::Ident(i) => out.push_str(&i.name),
        ExprKind::Array { elems, .. } => {
            out.push('[');
            for (i, x) in elems.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(x, out);
            }
            out.push(']');
        }
        ExprKind::Object { fields, .. } => {
            if fields.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if f.key.quoted || !is_identifier(&f.key.name) {
                    // Quoted keys are kept raw by the parser, so re-quote only the delimiters.
                    out.push('"');
                    out.push_str(&f.key.name);
                    out.push('"');
                } else {
                    out.push_str(&f.key.name);
                }
                out.push_str(" = ");
                write_expr(&f.value, out);
            }
            out.push_str(" }");
        }
        ExprKind::Access { value, name } => {
            write_expr(value, out);
            out.push('.');
            out.push_str(&name.name);
        }
        ExprKind::Index { value, index, .. } => {
            write_expr(value, out);
            out.push('[');
            write_expr(index, out);
            out.push(']');
        }
        ExprKind::Call { func, args, .. } => {
            write_expr(func, out);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(a, out);
            }
            out.push(')');
        }
        ExprKind::Unary { op, expr } => {
            out.push_str(op.as_str());
            write_expr(expr, out);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            write_expr(lhs, out);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_expr(rhs, out);
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            write_expr(inner, out);
            out.push(')');
        }
    }
}
