//! `otelcol.auth.bearer`: a static token. As a client it sends `<header>: <scheme> <token>`
//! (`Authorization: Bearer …` by default; an empty scheme sends the bare token); as a server it
//! accepts a request whose `<header>` carries exactly that value.
//!
//! Follows Alloy's `internal/component/otelcol/auth/bearer` (arguments `token`, `scheme` default
//! "Bearer", `header` default "Authorization") and the Collector's bearertokenauth extension.

use super::{AuthComponent, AuthError, AuthExtension, AuthHandler};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use solder_core::{Registry, Typed};
use solder_syntax::Secret;
use std::sync::RwLock;

fn default_scheme() -> String {
    "Bearer".to_string()
}

fn default_header() -> String {
    "Authorization".to_string()
}

/// `debug_metrics { ... }`, accepted for compatibility (auth extensions have no data metrics).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DebugMetricsArgs {
    #[serde(default)]
    pub disable_high_cardinality_metrics: bool,
    #[serde(default)]
    pub level: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Args {
    pub token: Secret,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    #[serde(default = "default_header")]
    pub header: String,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        self.prepared().map(|_| ())
    }

    fn prepared(&self) -> Result<Prepared, String> {
        let header = HeaderName::from_bytes(self.header.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("header {:?} is not a valid header name", self.header))?;
        let value = if self.scheme.is_empty() {
            self.token.expose().to_string()
        } else {
            format!("{} {}", self.scheme, self.token.expose())
        };
        // The error names no part of the token.
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| "token contains characters not allowed in a header value".to_string())?;
        value.set_sensitive(true);
        Ok(Prepared { header, value })
    }
}

#[derive(Clone)]
struct Prepared {
    header: HeaderName,
    value: HeaderValue,
}

/// The exported handler; its credentials follow `update` so the capsule never changes.
pub struct BearerHandler {
    current: RwLock<Prepared>,
}

impl std::fmt::Debug for BearerHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerHandler").finish_non_exhaustive()
    }
}

impl BearerHandler {
    /// A handler for `args` (for embedding and tests).
    pub fn new(args: &Args) -> Result<Self, String> {
        Ok(BearerHandler {
            current: RwLock::new(args.prepared()?),
        })
    }

    fn get(&self) -> Prepared {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, p: Prepared) {
        match self.current.write() {
            Ok(mut g) => *g = p,
            Err(poisoned) => *poisoned.into_inner() = p,
        }
    }
}

impl AuthHandler for BearerHandler {
    fn client_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError> {
        let p = self.get();
        Ok(vec![(p.header, p.value)])
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let p = self.get();
        let Some(got) = headers.get(&p.header) else {
            return Err(AuthError::Unauthenticated(format!(
                "missing header {:?}",
                p.header.as_str()
            )));
        };
        if constant_time_eq(got.as_bytes(), p.value.as_bytes()) {
            Ok(())
        } else {
            Err(AuthError::Unauthenticated("invalid bearer token".into()))
        }
    }
}

/// Compares without an early exit, so response timing does not reveal how much matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `otelcol.auth.bearer` for the shared [`AuthComponent`].
pub struct BearerExtension;

impl AuthExtension for BearerExtension {
    const NAME: &'static str = "otelcol.auth.bearer";
    type Args = Args;
    type Handler = BearerHandler;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn handler(args: &Args) -> Result<BearerHandler, String> {
        BearerHandler::new(args)
    }

    fn reconfigure(handler: &BearerHandler, args: &Args) -> Result<(), String> {
        handler.set(args.prepared()?);
        Ok(())
    }
}

pub type AuthBearer = AuthComponent<BearerExtension>;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<AuthBearer>::new());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(token: &str, scheme: &str, header: &str) -> Args {
        Args {
            token: Secret::new(token),
            scheme: scheme.into(),
            header: header.into(),
            debug_metrics: DebugMetricsArgs::default(),
        }
    }

    #[test]
    fn client_and_server_agree() {
        let cases = [
            (
                "tok",
                "Bearer",
                "Authorization",
                "authorization",
                "Bearer tok",
            ),
            ("tok", "", "Authorization", "authorization", "tok"),
            ("abc", "MyScheme", "X-Api-Key", "x-api-key", "MyScheme abc"),
        ];
        for (token, scheme, header, want_name, want_value) in cases {
            let h = BearerHandler::new(&args(token, scheme, header)).unwrap();
            let headers = h.client_headers().unwrap();
            assert_eq!(headers.len(), 1);
            assert_eq!(headers[0].0.as_str(), want_name);
            assert_eq!(headers[0].1.to_str().unwrap(), want_value);
            assert!(headers[0].1.is_sensitive());
            let mut map = HeaderMap::new();
            map.insert(headers[0].0.clone(), headers[0].1.clone());
            h.authenticate(&map).unwrap();
            let mut wrong = HeaderMap::new();
            wrong.insert(
                headers[0].0.clone(),
                HeaderValue::from_static("Bearer nope"),
            );
            assert!(h.authenticate(&wrong).is_err());
            assert!(h.authenticate(&HeaderMap::new()).is_err());
        }
    }

    #[test]
    fn update_changes_token_and_errors_hide_it() {
        let h = BearerHandler::new(&args("one", "Bearer", "Authorization")).unwrap();
        h.set(args("two", "Bearer", "Authorization").prepared().unwrap());
        assert_eq!(
            h.client_headers().unwrap()[0].1.to_str().unwrap(),
            "Bearer two"
        );
        let err = args("bad\ntoken", "Bearer", "Authorization")
            .validate()
            .unwrap_err();
        assert!(!err.contains("bad"), "{err}");
        assert!(format!("{h:?}").find("two").is_none());
        assert!(args("t", "Bearer", "bad header").validate().is_err());
    }
}
