//! `string.*` (Go's `strings` package) and `file.path_join` (`filepath.Join`).

use super::args::{arity, arity_at_least, string_arg, string_list_arg};
use crate::value::{FuncError, Value};

pub(super) fn join(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let list = string_list_arg(a, 0)?;
    let sep = string_arg(a, 1)?;
    Ok(Value::String(list.join(&sep)))
}

/// `strings.ReplaceAll`. An empty `old` inserts `new` around every character, as Go does.
pub(super) fn replace(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 3)?;
    let s = string_arg(a, 0)?;
    let old = string_arg(a, 1)?;
    let new = string_arg(a, 2)?;
    Ok(Value::String(s.replace(&old, &new)))
}

/// `strings.Split`: an empty separator splits into characters; an empty input gives `[""]`.
pub(super) fn split(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let s = string_arg(a, 0)?;
    let sep = string_arg(a, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(Value::from).collect()
    };
    Ok(Value::Array(parts))
}

pub(super) fn to_lower(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(Value::String(string_arg(a, 0)?.to_lowercase()))
}

pub(super) fn to_upper(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(Value::String(string_arg(a, 0)?.to_uppercase()))
}

/// `strings.Trim(s, cutset)`: removes any of the cutset's characters from both ends.
pub(super) fn trim(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let s = string_arg(a, 0)?;
    let cutset = string_arg(a, 1)?;
    Ok(Value::String(
        s.trim_matches(|c| cutset.contains(c)).to_string(),
    ))
}

pub(super) fn trim_prefix(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let s = string_arg(a, 0)?;
    let p = string_arg(a, 1)?;
    Ok(Value::String(
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(super) fn trim_suffix(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let s = string_arg(a, 0)?;
    let p = string_arg(a, 1)?;
    Ok(Value::String(
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(super) fn trim_space(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(Value::String(string_arg(a, 0)?.trim().to_string()))
}

/// `filepath.Join`: empty elements are ignored, the result is cleaned; no elements gives `""`.
pub(super) fn path_join(a: &[Value]) -> Result<Value, FuncError> {
    arity_at_least(a, 0)?;
    let parts = (0..a.len())
        .map(|i| string_arg(a, i))
        .collect::<Result<Vec<_>, _>>()?;
    let non_empty: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if non_empty.is_empty() {
        return Ok(Value::String(String::new()));
    }
    Ok(Value::String(clean_path(&non_empty.join("/"))))
}

/// Go's `path.Clean` for slash-separated paths.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("//a//b/", "/a/b"),
            ("./", "."),
        ] {
            assert_eq!(clean_path(input), want, "{input}");
        }
    }
}
