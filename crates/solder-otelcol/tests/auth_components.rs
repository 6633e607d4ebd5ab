//! `otelcol.auth.basic` and `otelcol.auth.bearer` built from config text the way the runtime
//! builds them: the exported `handler` capsule produces and checks credentials, and `update`
//! changes them behind the same capsule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, HeaderValue};
use solder_core::{
    AnyArgs, Component, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo,
    Typed, TypedComponent,
};
use solder_otelcol::auth::basic::AuthBasic;
use solder_otelcol::auth::bearer::AuthBearer;
use solder_otelcol::auth::AuthHandlerRef;
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{Diagnostics, FileId, Object, Value};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Exports(Mutex<Vec<Value>>);

impl ExportSink for Exports {
    fn publish(&self, v: Value) {
        self.0.lock().unwrap().push(v);
    }
}

fn decode<C: TypedComponent>(body: &str) -> Result<AnyArgs, Diagnostics> {
    let src = format!("{} \"test\" {{\n{body}\n}}\n", C::NAME);
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "{diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block")
    };
    let value = eval_body(&block.body, block.span, &Object::new())?;
    Typed::<C>::new().decode(&value)
}

/// Builds the component and returns it with its exported handler.
fn build<C: TypedComponent>(body: &str) -> (Arc<dyn Component>, AuthHandlerRef, Arc<Exports>) {
    let args = decode::<C>(body).unwrap_or_else(|d| panic!("decode: {d:?}"));
    let exports = Arc::new(Exports::default());
    let opts = ComponentOptions {
        id: format!("{}.test", C::NAME),
        data_dir: std::env::temp_dir().join("solder-auth-unused"),
        registry: prometheus::Registry::new(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: exports.clone(),
    };
    let component = Typed::<C>::new().build(opts, args).unwrap();
    let handler = match exports.0.lock().unwrap().last() {
        Some(Value::Object(o)) => match o.get("handler") {
            Some(Value::Capsule(c)) => c.downcast_ref::<AuthHandlerRef>().unwrap().clone(),
            other => panic!("handler: {other:?}"),
        },
        other => panic!("exports: {other:?}"),
    };
    (component, handler, exports)
}

/// The decode errors of a body that must not decode.
fn decode_err<C: TypedComponent>(body: &str) -> String {
    match decode::<C>(body) {
        Ok(_) => panic!("decoded but should not have: {body}"),
        Err(d) => format!("{d:?}"),
    }
}

fn with_auth(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", HeaderValue::from_str(value).unwrap());
    h
}

#[test]
fn bearer_defaults_and_update() {
    let (component, handler, exports) = build::<AuthBearer>(r#"token = "abc""#);
    let headers = handler.client_headers().unwrap();
    assert_eq!(headers[0].0.as_str(), "authorization");
    assert_eq!(headers[0].1.to_str().unwrap(), "Bearer abc");
    handler.authenticate(&with_auth("Bearer abc")).unwrap();
    assert!(handler.authenticate(&with_auth("Bearer abd")).is_err());

    component
        .update(
            decode::<AuthBearer>(
                r#"token = "xyz"
            scheme = "Token"
            header = "X-Auth""#,
            )
            .unwrap(),
        )
        .unwrap();
    // Same capsule (published once), new credentials.
    assert_eq!(exports.0.lock().unwrap().len(), 1);
    let headers = handler.client_headers().unwrap();
    assert_eq!(headers[0].0.as_str(), "x-auth");
    assert_eq!(headers[0].1.to_str().unwrap(), "Token xyz");
}

#[test]
fn bearer_requires_token() {
    let err = decode_err::<AuthBearer>("");
    assert!(err.contains("token"), "{err}");
}

#[test]
fn basic_client_and_server_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, "alice:fromfile\nbob:bobpw\n").unwrap();
    let (_c, handler, _) = build::<AuthBasic>(&format!(
        r#"client_auth {{
            username = "svc"
            password = "pw"
        }}
        htpasswd {{
            file = {:?}
            inline = "alice:inline"
        }}"#,
        htpasswd.display().to_string()
    ));
    // client: Basic base64("svc:pw")
    assert_eq!(
        handler.client_headers().unwrap()[0].1.to_str().unwrap(),
        "Basic c3ZjOnB3"
    );
    // server: inline wins over the file for alice; bob comes from the file.
    handler
        .authenticate(&with_auth("Basic YWxpY2U6aW5saW5l"))
        .unwrap(); // alice:inline
    assert!(handler
        .authenticate(&with_auth("Basic YWxpY2U6ZnJvbWZpbGU="))
        .is_err()); // alice:fromfile
    handler
        .authenticate(&with_auth("Basic Ym9iOmJvYnB3"))
        .unwrap(); // bob:bobpw
}

#[test]
fn basic_validation_messages() {
    let err = decode_err::<AuthBasic>("");
    assert!(err.contains("no credential source provided"), "{err}");
    let err = decode_err::<AuthBasic>(r#"username = "u""#);
    assert!(err.contains("no password provided"), "{err}");
}
