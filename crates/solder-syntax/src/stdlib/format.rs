//! `string.format`: the subset of Go's `fmt.Sprintf` that configs use. Arguments are the values
//! decoded into Go's `any` (numbers from JSON are float64, so `%d` of one prints
//! `%!d(float64=1)` exactly as Alloy does). Verbs: `%v %s %q %d %f %F %e %g %x %X %o %b %c %t %T %%`
//! with flags `-+ 0#`, width and precision. A secret argument formats as its content, as in Alloy
//! (its Go type is a string); use it only where the result is itself treated as sensitive.

use super::args::{arity_at_least, go_type_name, string_arg};
use crate::value::{quote_go, FuncError, Number, Value};

pub(super) fn format(a: &[Value]) -> Result<Value, FuncError> {
    arity_at_least(a, 1)?;
    let f = string_arg(a, 0)?;
    Ok(Value::String(sprintf(&f, &a[1..])))
}

const MAX_WIDTH: usize = 1_000_000;

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf(format, args...)` for the supported verbs.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars);
        // Go refuses widths and precisions above 1e6 rather than allocating them.
        if spec.width.is_some_and(|w| w > MAX_WIDTH) {
            out.push_str("%!(BADWIDTH)");
            spec.width = None;
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(read_number(&mut chars).unwrap_or(0));
            if spec.prec.is_some_and(|p| p > MAX_WIDTH) {
                out.push_str("%!(BADPREC)");
                spec.prec = None;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(v) => {
                next_arg += 1;
                out.push_str(&format_value(v, verb, spec));
            }
        }
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|v| match v {
                Value::Null => "<nil>".to_string(),
                v => format!(
                    "{}={}",
                    go_type_name(v),
                    format_value(v, 'v', Spec::default())
                ),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn read_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

fn bad_verb(v: &Value, verb: char) -> String {
    match v {
        Value::Null => format!("%!{verb}(<nil>)"),
        v => format!(
            "%!{verb}({}={})",
            go_type_name(v),
            format_value(v, 'v', Spec::default())
        ),
    }
}

fn format_value(v: &Value, verb: char, spec: Spec) -> String {
    if verb == 'T' {
        return pad(go_type_name(v), spec);
    }
    match v {
        Value::Null if verb == 'v' => pad("<nil>".to_string(), spec),
        Value::Bool(b) if verb == 'v' || verb == 't' => pad(b.to_string(), spec),
        Value::Number(Number::Float(f)) => {
            format_float(*f, verb, spec).unwrap_or_else(|| bad_verb(v, verb))
        }
        Value::Number(Number::Int(i)) => {
            format_int(i128::from(*i), verb, spec).unwrap_or_else(|| bad_verb(v, verb))
        }
        Value::Number(Number::Uint(u)) => {
            format_int(i128::from(*u), verb, spec).unwrap_or_else(|| bad_verb(v, verb))
        }
        Value::String(s) => format_string(s, verb, spec).unwrap_or_else(|| bad_verb(v, verb)),
        Value::Secret(s) => {
            format_string(s.expose(), verb, spec).unwrap_or_else(|| bad_verb(v, verb))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|x| format_value(x, verb, spec)).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(o) => {
            let parts: Vec<String> = o
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}:{}",
                        format_value(&Value::String(k.clone()), verb, spec),
                        format_value(x, verb, spec)
                    )
                })
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        Value::Capsule(c) if verb == 'v' => pad(format!("capsule({:?})", c.type_name), spec),
        Value::Function(f) if verb == 'v' => pad(format!("func({})", f.name), spec),
        _ => bad_verb(v, verb),
    }
}

fn format_string(s: &str, verb: char, spec: Spec) -> Option<String> {
    let body = match verb {
        'v' | 's' => match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        'q' => quote_go(s),
        'x' => s.bytes().map(|b| format!("{b:02x}")).collect(),
        'X' => s.bytes().map(|b| format!("{b:02X}")).collect(),
        _ => return None,
    };
    Some(pad(body, spec))
}

fn format_int(i: i128, verb: char, spec: Spec) -> Option<String> {
    let neg = i < 0;
    let abs = i.unsigned_abs();
    let digits = match verb {
        'v' | 'd' => abs.to_string(),
        'x' => format!("{abs:x}"),
        'X' => format!("{abs:X}"),
        'o' => format!("{abs:o}"),
        'b' => format!("{abs:b}"),
        'c' => {
            return Some(pad(
                char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string(),
                spec,
            ))
        }
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            let q = quote_go(&c.to_string());
            let inner = &q[1..q.len() - 1];
            let inner = if inner == "\\\"" { "\"" } else { inner };
            let inner = if c == '\'' { "\\'" } else { inner };
            return Some(pad(format!("'{inner}'"), spec));
        }
        'U' => return Some(pad(format!("U+{abs:04X}"), spec)),
        _ => return None,
    };
    let digits = match spec.prec {
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    };
    let prefix = match (spec.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') => "0",
        _ => "",
    };
    let sign = sign_of(neg, spec);
    Some(pad_number(sign, &format!("{prefix}{digits}"), spec))
}

fn sign_of(neg: bool, spec: Spec) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_float(f: f64, verb: char, spec: Spec) -> Option<String> {
    let body = match verb {
        'v' | 'g' | 'G' => go_g(f.abs(), spec.prec),
        'f' | 'F' => {
            if f.is_finite() {
                format!("{:.*}", spec.prec.unwrap_or(6), f.abs())
            } else {
                go_g(f.abs(), None)
            }
        }
        'e' | 'E' => {
            let s = go_e(f.abs(), spec.prec.unwrap_or(6));
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => return None,
    };
    if f.is_nan() {
        return Some(pad(body, spec));
    }
    let neg = f.is_sign_negative();
    // Infinity keeps its sign: Go prints `+Inf` for %v.
    let sign = if f.is_infinite() && !neg {
        "+"
    } else {
        sign_of(neg, spec)
    };
    if f.is_infinite() {
        return Some(pad(format!("{sign}{body}"), spec));
    }
    Some(pad_number(sign, &body, spec))
}

/// `%v` of a float64, as Go prints it.
pub(crate) fn go_float_v(f: f64) -> String {
    format_float(f, 'v', Spec::default()).unwrap_or_default()
}

/// Go's `%e` of a non-negative number: `1.500000e+00`.
fn go_e(f: f64, prec: usize) -> String {
    if !f.is_finite() {
        return go_g(f, None);
    }
    let s = format!("{f:.prec$e}");
    fix_exponent(&s)
}

/// Rust writes `1.5e0`, `1e-7`; Go writes `1.5e+00`, `1e-07`.
fn fix_exponent(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            let digits = if digits.len() < 2 {
                format!("0{digits}")
            } else {
                digits.to_string()
            };
            format!("{m}e{sign}{digits}")
        }
        None => s.to_string(),
    }
}

/// Go's `%g` of a non-negative number: shortest digits (or `prec` significant digits), in
/// exponent form when the exponent is below -4 or at least the precision (6 when shortest).
fn go_g(f: f64, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return "Inf".to_string();
    }
    if f == 0.0 {
        return "0".to_string();
    }
    let (sci, eprec) = match prec {
        None => (format!("{f:e}"), 6i32),
        Some(p) => {
            let p = p.max(1);
            (format!("{:.*e}", p - 1, f), p as i32)
        }
    };
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    if exp < -4 || exp >= eprec {
        return fix_exponent(&format!("{mantissa}e{exp}"));
    }
    // Fixed notation with exactly the significant digits of the mantissa.
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    } else {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    }
}

/// Pad a number: zeros go between the sign and the digits (flag `0`), spaces outside.
fn pad_number(sign: &str, digits: &str, spec: Spec) -> String {
    let len = sign.chars().count() + digits.chars().count();
    match spec.width {
        Some(w) if w > len && spec.zero && !spec.minus => {
            format!("{sign}{}{digits}", "0".repeat(w - len))
        }
        _ => pad(format!("{sign}{digits}"), spec),
    }
}

fn pad(s: String, spec: Spec) -> String {
    let len = s.chars().count();
    match spec.width {
        Some(w) if w > len => {
            let fill = " ".repeat(w - len);
            if spec.minus {
                format!("{s}{fill}")
            } else {
                format!("{fill}{s}")
            }
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(go_float_v(1000000.0), "1e+06");
        assert_eq!(go_float_v(123456.0), "123456");
        assert_eq!(go_float_v(1234567.0), "1.234567e+06");
        assert_eq!(go_float_v(0.0001), "0.0001");
        assert_eq!(go_float_v(0.00001), "1e-05");
        assert_eq!(go_float_v(1.5), "1.5");
        assert_eq!(go_float_v(-2.0), "-2");
        assert_eq!(go_float_v(f64::INFINITY), "+Inf");
        assert_eq!(go_e(1.5, 6), "1.500000e+00");
    }

    #[test]
    fn odd_formats_do_not_panic() {
        let args = [Value::int(1), Value::from("s"), Value::float(0.5)];
        for f in [
            "%",
            "%.",
            "%-",
            "%99999999999999999999d",
            "%.99999999s",
            "%!",
            "%ü",
            "%5.2",
        ] {
            let _ = sprintf(f, &args);
        }
        assert_eq!(sprintf("%9999999d", &args[..1]), "%!(BADWIDTH)1");
        assert_eq!(sprintf("%", &[]), "%!(NOVERB)");
        assert_eq!(sprintf("%z", &args[..1]), "%!z(int=1)");
    }
}
