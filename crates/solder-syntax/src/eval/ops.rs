//! Unary and binary operators with Alloy's semantics: number kinds widen uint → int → float, integer
//! arithmetic wraps like Go's, integer division truncates, `^` on integers stays an integer, and
//! a secret combined with a string gives a secret.

use crate::ast::{BinOp, UnaryOp};
use crate::value::{Kind, Number, Secret, Value};

/// Which operand an error is about (the evaluator prefixes it with that operand's text).
#[derive(Debug, PartialEq)]
pub(crate) enum OpError {
    Lhs(String),
    Rhs(String),
}

pub(crate) fn unary(op: UnaryOp, v: Value) -> Result<Value, String> {
    match op {
        UnaryOp::Not => match v {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            other => Err(format!("should be bool, got {}", other.kind())),
        },
        UnaryOp::Neg => match v {
            // Go negates ints and uints as int64 (`value.Int(-n.Int())`).
            Value::Number(Number::Int(i)) => Ok(Value::int(i.wrapping_neg())),
            Value::Number(Number::Uint(u)) => Ok(Value::int((u as i64).wrapping_neg())),
            Value::Number(Number::Float(f)) => Ok(Value::float(-f)),
            other => Err(format!("should be number, got {}", other.kind())),
        },
    }
}

/// The number kind both operands are converted to: float wins, then int, then uint.
#[derive(Clone, Copy, PartialEq)]
enum Fit {
    Uint,
    Int,
    Float,
}

fn fit(a: Number, b: Number) -> Fit {
    let rank = |n: Number| match n {
        Number::Uint(_) => Fit::Uint,
        Number::Int(_) => Fit::Int,
        Number::Float(_) => Fit::Float,
    };
    match (rank(a), rank(b)) {
        (Fit::Float, _) | (_, Fit::Float) => Fit::Float,
        (Fit::Int, _) | (_, Fit::Int) => Fit::Int,
        _ => Fit::Uint,
    }
}

// Go's conversions between number kinds: plain casts (wrapping / truncating).
fn as_u64(n: Number) -> u64 {
    match n {
        Number::Int(i) => i as u64,
        Number::Uint(u) => u,
        Number::Float(f) => f as u64,
    }
}

fn as_i64(n: Number) -> i64 {
    match n {
        Number::Int(i) => i,
        Number::Uint(u) => u as i64,
        Number::Float(f) => f as i64,
    }
}

fn allowed(op: BinOp) -> &'static [Kind] {
    match op {
        BinOp::Or | BinOp::And => &[Kind::Bool],
        BinOp::Add => &[Kind::Number, Kind::String, Kind::Capsule],
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow => &[Kind::Number],
        BinOp::Lt | BinOp::Lte | BinOp::Gt | BinOp::Gte => &[Kind::Number, Kind::String],
        BinOp::Eq | BinOp::NotEq => &[],
    }
}

fn allowed_text(op: BinOp) -> String {
    let names: Vec<&str> = allowed(op).iter().map(|k| k.as_str()).collect();
    format!("[{}]", names.join(" "))
}

/// A string next to a secret is treated as a secret, so `secret + "x"` and `secret == "x"` work.
fn unwrap_secrets(lhs: Value, rhs: Value) -> (Value, Value) {
    match (lhs, rhs) {
        (Value::Secret(l), Value::String(r)) => (Value::Secret(l), Value::Secret(Secret::new(r))),
        (Value::String(l), Value::Secret(r)) => (Value::Secret(Secret::new(l)), Value::Secret(r)),
        pair => pair,
    }
}

/// Deep equality with Alloy's rules: different kinds are never equal, numbers compare after
/// widening, functions are never equal.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match fit(*x, *y) {
            Fit::Uint => as_u64(*x) == as_u64(*y),
            Fit::Int => as_i64(*x) == as_i64(*y),
            Fit::Float => x.as_f64() == y.as_f64(),
        },
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Function(_), Value::Function(_)) => false,
        (Value::Secret(x), Value::Secret(y)) => x == y,
        (Value::Capsule(x), Value::Capsule(y)) => x == y,
        _ => false,
    }
}

pub(crate) fn binary(op: BinOp, lhs: Value, rhs: Value) -> Result<Value, OpError> {
    let (l, r) = if lhs.kind() == Kind::Capsule || rhs.kind() == Kind::Capsule {
        unwrap_secrets(lhs, rhs)
    } else {
        (lhs, rhs)
    };

    match op {
        BinOp::Eq => return Ok(Value::Bool(values_equal(&l, &r))),
        BinOp::NotEq => return Ok(Value::Bool(!values_equal(&l, &r))),
        _ => {}
    }

    // After unwrapping, a kind is still the original operand's kind (a string only ever turns
    // into a secret next to a capsule), so the messages describe what the user wrote.
    if !allowed(op).contains(&l.kind()) {
        return Err(OpError::Lhs(format!(
            "should be one of {} for binop {}, got {}",
            allowed_text(op),
            op.as_str(),
            l.kind()
        )));
    }
    if !allowed(op).contains(&r.kind()) {
        return Err(OpError::Rhs(format!(
            "should be one of {} for binop {}, got {}",
            allowed_text(op),
            op.as_str(),
            r.kind()
        )));
    }
    if l.kind() != r.kind() {
        return Err(OpError::Rhs(format!(
            "should be {}, got {}",
            l.kind(),
            r.kind()
        )));
    }

    match (l, r) {
        (Value::Bool(a), Value::Bool(b)) => Ok(Value::Bool(match op {
            BinOp::Or => a || b,
            _ => a && b,
        })),
        (Value::String(a), Value::String(b)) => Ok(match op {
            BinOp::Add => Value::String(a + &b),
            BinOp::Lt => Value::Bool(a < b),
            BinOp::Lte => Value::Bool(a <= b),
            BinOp::Gt => Value::Bool(a > b),
            _ => Value::Bool(a >= b),
        }),
        (Value::Secret(a), Value::Secret(b)) => Ok(Value::Secret(Secret::new(format!(
            "{}{}",
            a.expose(),
            b.expose()
        )))),
        (Value::Secret(a), Value::Capsule(_)) => Ok(Value::Secret(a)),
        (Value::Number(a), Value::Number(b)) => numeric(op, a, b),
        _ => Err(OpError::Lhs(format!(
            "could not perform binop {} for unknown types lhs capsule rhs capsule",
            op.as_str()
        ))),
    }
}

fn numeric(op: BinOp, a: Number, b: Number) -> Result<Value, OpError> {
    let kind = fit(a, b);
    if matches!(op, BinOp::Div | BinOp::Mod) {
        // Zero is checked in the divisor's own kind, before widening (as Alloy does).
        let zero = match b {
            Number::Int(i) => i == 0,
            Number::Uint(u) => u == 0,
            Number::Float(f) => f == 0.0,
        };
        if zero {
            return Err(OpError::Rhs("divide by zero error".to_string()));
        }
    }
    let cmp = |ord: std::cmp::Ordering| -> Value {
        use std::cmp::Ordering::*;
        Value::Bool(match op {
            BinOp::Lt => ord == Less,
            BinOp::Lte => ord != Greater,
            BinOp::Gt => ord == Greater,
            _ => ord != Less,
        })
    };
    Ok(match kind {
        Fit::Uint => {
            let (x, y) = (as_u64(a), as_u64(b));
            match op {
                BinOp::Add => Value::uint(x.wrapping_add(y)),
                BinOp::Sub => Value::uint(x.wrapping_sub(y)),
                BinOp::Mul => Value::uint(x.wrapping_mul(y)),
                BinOp::Div => Value::uint(x / y.max(1)),
                BinOp::Mod => Value::uint(x % y.max(1)),
                BinOp::Pow => Value::uint(int_pow_u(x, y)),
                _ => cmp(x.cmp(&y)),
            }
        }
        Fit::Int => {
            let (x, y) = (as_i64(a), as_i64(b));
            // Defensive: the zero check above already covers every non-float divisor.
            if matches!(op, BinOp::Div | BinOp::Mod) && y == 0 {
                return Err(OpError::Rhs("divide by zero error".to_string()));
            }
            match op {
                BinOp::Add => Value::int(x.wrapping_add(y)),
                BinOp::Sub => Value::int(x.wrapping_sub(y)),
                BinOp::Mul => Value::int(x.wrapping_mul(y)),
                BinOp::Div => Value::int(x.wrapping_div(y)),
                BinOp::Mod => Value::int(x.wrapping_rem(y)),
                BinOp::Pow => Value::int(int_pow_i(x, y)),
                _ => cmp(x.cmp(&y)),
            }
        }
        Fit::Float => {
            let (x, y) = (a.as_f64(), b.as_f64());
            match op {
                BinOp::Add => Value::float(x + y),
                BinOp::Sub => Value::float(x - y),
                BinOp::Mul => Value::float(x * y),
                BinOp::Div => Value::float(x / y),
                // Rust's `%` on floats is C fmod, like Go's math.Mod.
                BinOp::Mod => Value::float(x % y),
                BinOp::Pow => Value::float(x.powf(y)),
                _ => match x.partial_cmp(&y) {
                    Some(o) => cmp(o),
                    // NaN: every ordering comparison is false.
                    None => Value::Bool(false),
                },
            }
        }
    })
}

/// Alloy's integer power: `m == 0 || n == 1` → 1, `n == 0 && m > 0` → 0, a negative exponent
/// leaves `n` unchanged (its loop never runs), otherwise `n^m` with wrapping multiplication.
fn int_pow_i(n: i64, m: i64) -> i64 {
    if m == 0 || n == 1 {
        return 1;
    }
    if n == 0 && m > 0 {
        return 0;
    }
    if m < 0 {
        return n;
    }
    // Square-and-multiply gives the same result modulo 2^64 as Go's repeated multiplication.
    let (mut base, mut exp, mut acc) = (n, m as u64, 1i64);
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    acc
}

fn int_pow_u(n: u64, m: u64) -> u64 {
    if m == 0 || n == 1 {
        return 1;
    }
    let (mut base, mut exp, mut acc) = (n, m, 1u64);
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_quirks() {
        assert_eq!(int_pow_i(2, 10), 1024);
        assert_eq!(int_pow_i(2, -1), 2);
        assert_eq!(int_pow_i(0, 5), 0);
        assert_eq!(int_pow_i(-3, 3), -27);
        assert_eq!(int_pow_u(3, 4), 81);
        assert_eq!(int_pow_i(2, 64), 0);
    }

    #[test]
    fn kinds_widen() {
        let r = binary(BinOp::Add, Value::uint(1), Value::int(-3)).unwrap();
        assert!(matches!(r, Value::Number(Number::Int(-2))));
        let r = binary(BinOp::Div, Value::int(7), Value::float(2.0)).unwrap();
        assert!(matches!(r, Value::Number(Number::Float(f)) if f == 3.5));
    }
}
