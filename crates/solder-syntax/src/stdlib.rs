//! The standard library: the root namespace (`sys`, `env`, `coalesce`, `string`, `encoding`, …)
//! that identifiers fall back to after the scope. Namespaces are objects whose fields are
//! functions or constants, so `string.join` is an ordinary field access.
//!
//! Functions follow Alloy's calling convention: arguments are converted as if assigned to a Go
//! parameter (a number passed where a string is expected becomes its decimal text, `null` becomes
//! the zero value), errors about one argument point at that argument, other errors at the function.

mod args;
mod encoding;
mod format;
mod strings;

use crate::value::{FuncError, Function, Object, Value};
use std::sync::OnceLock;

pub use format::sprintf;

/// Resolve a root identifier of the stdlib (`None` when the name is not part of it).
pub fn lookup(name: &str) -> Option<Value> {
    root().get(name).cloned()
}

/// Every root name, for diagnostics and editor tooling.
pub fn names() -> impl Iterator<Item = &'static str> {
    root().keys().map(String::as_str)
}

fn root() -> &'static Object {
    static ROOT: OnceLock<Object> = OnceLock::new();
    ROOT.get_or_init(build_root)
}

fn func(
    name: &'static str,
    f: impl Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
) -> Value {
    Value::Function(Function::new(name, f))
}

fn namespace(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn build_root() -> Object {
    let env = func("sys.env", sys_env);
    let nonsensitive = func("convert.nonsensitive", convert_nonsensitive);
    let concat = func("array.concat", array_concat);
    let from_json = func("encoding.from_json", encoding::from_json);
    let from_yaml = func("encoding.from_yaml", encoding::from_yaml);
    let from_base64 = func("encoding.from_base64", encoding::from_base64);
    let format = func("string.format", format::format);
    let join = func("string.join", strings::join);
    let replace = func("string.replace", strings::replace);
    let split = func("string.split", strings::split);
    let to_lower = func("string.to_lower", strings::to_lower);
    let to_upper = func("string.to_upper", strings::to_upper);
    let trim = func("string.trim", strings::trim);
    let trim_prefix = func("string.trim_prefix", strings::trim_prefix);
    let trim_suffix = func("string.trim_suffix", strings::trim_suffix);
    let trim_space = func("string.trim_space", strings::trim_space);

    let mut root = Object::new();
    let mut put = |k: &str, v: Value| {
        root.insert(k.to_string(), v);
    };
    put("constants", constants());
    put("coalesce", func("coalesce", coalesce));
    put("sys", namespace(vec![("env", env.clone())]));
    put(
        "convert",
        namespace(vec![("nonsensitive", nonsensitive.clone())]),
    );
    put("array", namespace(vec![("concat", concat.clone())]));
    put(
        "encoding",
        namespace(vec![
            ("from_json", from_json.clone()),
            ("from_yaml", from_yaml.clone()),
            ("from_base64", from_base64.clone()),
            (
                "from_URLbase64",
                func("encoding.from_URLbase64", encoding::from_url_base64),
            ),
            ("to_json", func("encoding.to_json", encoding::to_json)),
            ("to_base64", func("encoding.to_base64", encoding::to_base64)),
            (
                "to_URLbase64",
                func("encoding.to_URLbase64", encoding::to_url_base64),
            ),
            (
                "url_encode",
                func("encoding.url_encode", encoding::url_encode),
            ),
            (
                "url_decode",
                func("encoding.url_decode", encoding::url_decode),
            ),
        ]),
    );
    put(
        "string",
        namespace(vec![
            ("format", format.clone()),
            ("join", join.clone()),
            ("replace", replace.clone()),
            ("split", split.clone()),
            ("to_lower", to_lower.clone()),
            ("to_upper", to_upper.clone()),
            ("trim", trim.clone()),
            ("trim_prefix", trim_prefix.clone()),
            ("trim_suffix", trim_suffix.clone()),
            ("trim_space", trim_space.clone()),
        ]),
    );
    put(
        "file",
        namespace(vec![(
            "path_join",
            func("file.path_join", strings::path_join),
        )]),
    );
    // Deprecated root aliases, still accepted by Alloy.
    put("env", env);
    put("nonsensitive", nonsensitive);
    put("concat", concat);
    put("json_decode", from_json);
    put("yaml_decode", from_yaml);
    put("base64_decode", from_base64);
    put("format", format);
    put("join", join);
    put("replace", replace);
    put("split", split);
    put("to_lower", to_lower);
    put("to_upper", to_upper);
    put("trim", trim);
    put("trim_prefix", trim_prefix);
    put("trim_suffix", trim_suffix);
    put("trim_space", trim_space);
    root
}

/// `constants.*`: Go's GOOS/GOARCH names, the hostname (`""` when unknown) and `v<version>`.
fn constants() -> Value {
    let hostname = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    namespace(vec![
        ("hostname", Value::String(hostname)),
        ("os", Value::from(go_os())),
        ("arch", Value::from(go_arch())),
        (
            "version",
            Value::String(format!("v{}", env!("CARGO_PKG_VERSION"))),
        ),
    ])
}

/// `runtime.GOOS` for the running platform.
pub fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `runtime.GOARCH` for the running platform.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// `sys.env(name)`: `os.Getenv`, so an unset variable is `""`.
fn sys_env(a: &[Value]) -> Result<Value, FuncError> {
    args::arity(a, 1)?;
    let name = args::string_arg(a, 0)?;
    Ok(Value::String(std::env::var(name).unwrap_or_default()))
}

/// `convert.nonsensitive(secret)`: the only way back from a secret to a string.
fn convert_nonsensitive(a: &[Value]) -> Result<Value, FuncError> {
    args::arity(a, 1)?;
    Ok(Value::String(args::secret_arg(a, 0)?))
}

/// `array.concat(a, b, …)`: every argument must be an array.
fn array_concat(a: &[Value]) -> Result<Value, FuncError> {
    let mut out = Vec::new();
    for (i, v) in a.iter().enumerate() {
        match v {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => {
                return Err(FuncError::arg(
                    i,
                    format!("should be array, got {}", other.kind()),
                ))
            }
        }
    }
    Ok(Value::Array(out))
}

/// `coalesce(a, b, …)`: the first argument that is neither null nor a zero value (`""`, `0`,
/// `false`, an empty array or object); the last argument when all are; null without arguments.
fn coalesce(a: &[Value]) -> Result<Value, FuncError> {
    let Some(last) = a.last() else {
        return Ok(Value::Null);
    };
    Ok(a.iter().find(|v| !args::is_zero(v)).unwrap_or(last).clone())
}
