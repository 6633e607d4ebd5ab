//! `otelcol.auth.basic`: HTTP Basic authentication. As a client it sends
//! `Authorization: Basic base64(username:password)`; as a server it checks that header against
//! htpasswd entries.
//!
//! Follows Alloy's `internal/component/otelcol/auth/basic`:
//! - client credentials come from the `client_auth` block when present (`username`/
//!   `username_file`, `password`/`password_file`), else from the deprecated top-level
//!   `username`/`password`;
//! - server credentials are the `htpasswd` block (`file`, `inline`) plus the top-level
//!   `username:password` line;
//! - with no credential source at all, or a username without a password, the config is refused
//!   with Alloy's messages.
//!
//! htpasswd lines must hold plaintext passwords: hashed entries (bcrypt, apr1, {SHA}, crypt)
//! are refused at build as not supported by Solder yet, rather than never matching.

use super::bearer::{constant_time_eq, DebugMetricsArgs};
use super::{AuthComponent, AuthError, AuthExtension, AuthHandler};
use crate::component_util::replace_shared;
use axum::http::{header::AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use serde::Deserialize;
use solder_core::{Registry, Typed};
use solder_syntax::Secret;
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientAuthArgs {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub username_file: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub password_file: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HtpasswdArgs {
    #[serde(default)]
    pub file: String,
    #[serde(default)]
    pub inline: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Args {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub client_auth: Option<ClientAuthArgs>,
    #[serde(default)]
    pub htpasswd: Option<HtpasswdArgs>,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

impl Args {
    /// Alloy's `Validate`, same messages.
    pub fn validate(&self) -> Result<(), String> {
        if self.username.is_empty()
            && self.password.expose().is_empty()
            && self.htpasswd.is_none()
            && self.client_auth.is_none()
        {
            return Err("no credential source provided".into());
        }
        if !self.username.is_empty() && self.password.expose().is_empty() {
            return Err("no password provided".into());
        }
        Ok(())
    }
}

/// Where the client's credentials come from; files are read per request so rotated secrets
/// apply without a reload.
#[derive(Clone)]
enum Source {
    Inline(String),
    File(String),
}

impl Source {
    fn read(&self, what: &str) -> Result<String, AuthError> {
        match self {
            Source::Inline(s) => Ok(s.clone()),
            Source::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| AuthError::Credentials(format!("reading {what} {path:?}: {e}"))),
        }
    }
}

#[derive(Clone)]
struct Settings {
    username: Source,
    password: Source,
    /// user → plaintext password.
    users: HashMap<String, Secret>,
}

impl Settings {
    fn new(args: &Args) -> Result<Settings, String> {
        args.validate()?;
        let (username, password) = match &args.client_auth {
            Some(c) => (
                if c.username_file.is_empty() {
                    Source::Inline(c.username.clone())
                } else {
                    Source::File(c.username_file.clone())
                },
                if c.password_file.is_empty() {
                    Source::Inline(c.password.expose().to_string())
                } else {
                    Source::File(c.password_file.clone())
                },
            ),
            None => (
                Source::Inline(args.username.clone()),
                Source::Inline(args.password.expose().to_string()),
            ),
        };
        let mut users = HashMap::new();
        if let Some(h) = &args.htpasswd {
            if !h.file.is_empty() {
                let text = std::fs::read_to_string(&h.file)
                    .map_err(|e| format!("reading htpasswd file {:?}: {e}", h.file))?;
                parse_htpasswd(&text, &mut users)?;
            }
            parse_htpasswd(&h.inline, &mut users)?;
        }
        if !args.username.is_empty() && !args.password.expose().is_empty() {
            users.insert(args.username.clone(), args.password.clone());
        }
        Ok(Settings {
            username,
            password,
            users,
        })
    }
}

/// `user:password` lines; blank lines and `#` comments skipped. A later line for the same user
/// wins.
fn parse_htpasswd(text: &str, users: &mut HashMap<String, Secret>) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, pass)) = line.split_once(':') else {
            return Err(format!("htpasswd line {}: expected user:password", i + 1));
        };
        let hashed = [
            "$2a$", "$2b$", "$2y$", "$apr1$", "{SHA}", "{SSHA}", "$5$", "$6$", "$1$",
        ]
        .iter()
        .any(|p| pass.starts_with(p));
        if hashed {
            return Err(format!(
                "htpasswd line {} (user {user:?}): hashed passwords are not supported by Solder yet; use a plaintext entry",
                i + 1
            ));
        }
        users.insert(user.to_string(), Secret::new(pass));
    }
    Ok(())
}

/// The exported handler; its settings follow `update` so the capsule never changes.
pub struct BasicHandler {
    current: RwLock<Settings>,
}

impl std::fmt::Debug for BasicHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicHandler").finish_non_exhaustive()
    }
}

impl BasicHandler {
    pub fn new(args: &Args) -> Result<Self, String> {
        Ok(BasicHandler {
            current: RwLock::new(Settings::new(args)?),
        })
    }

    fn get(&self) -> Settings {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, s: Settings) {
        replace_shared(&self.current, s);
    }
}

impl AuthHandler for BasicHandler {
    fn client_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError> {
        let s = self.get();
        let user = s.username.read("username_file")?;
        let pass = s.password.read("password_file")?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| AuthError::Credentials("invalid credentials".into()))?;
        value.set_sensitive(true);
        Ok(vec![(AUTHORIZATION, value)])
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let unauth = |m: &str| AuthError::Unauthenticated(m.to_string());
        let raw = headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauth("missing Authorization header"))?;
        let raw = raw
            .to_str()
            .map_err(|_| unauth("invalid Authorization header"))?;
        let (scheme, rest) = raw
            .split_once(' ')
            .ok_or_else(|| unauth("invalid Authorization header"))?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(unauth("Authorization header is not Basic"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| unauth("invalid Basic credentials"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| unauth("invalid Basic credentials"))?;
        let (user, pass) = decoded
            .split_once(':')
            .ok_or_else(|| unauth("invalid Basic credentials"))?;
        let s = self.get();
        match s.users.get(user) {
            Some(want) if constant_time_eq(want.expose().as_bytes(), pass.as_bytes()) => Ok(()),
            _ => Err(unauth("invalid username or password")),
        }
    }
}

/// `otelcol.auth.basic` for the shared [`AuthComponent`].
pub struct BasicExtension;

impl AuthExtension for BasicExtension {
    const NAME: &'static str = "otelcol.auth.basic";
    type Args = Args;
    type Handler = BasicHandler;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()?;
        // The inline entries can be checked without touching the disk.
        if let Some(h) = &args.htpasswd {
            parse_htpasswd(&h.inline, &mut HashMap::new())?;
        }
        Ok(())
    }

    fn handler(args: &Args) -> Result<BasicHandler, String> {
        BasicHandler::new(args)
    }

    fn reconfigure(handler: &BasicHandler, args: &Args) -> Result<(), String> {
        handler.set(Settings::new(args)?);
        Ok(())
    }
}

pub type AuthBasic = AuthComponent<BasicExtension>;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<AuthBasic>::new());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use solder_core::TypedComponent;

    fn header(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn client_header_is_rfc7617() {
        let h = BasicHandler::new(&Args {
            username: "Aladdin".into(),
            password: Secret::new("open sesame"),
            ..Args::default()
        })
        .unwrap();
        let hs = h.client_headers().unwrap();
        // The example of RFC 7617 §2.
        assert_eq!(
            hs[0].1.to_str().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // The same handler accepts its own credentials on the server side.
        h.authenticate(&header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
            .unwrap();
        h.authenticate(&header("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
            .unwrap();
    }

    #[test]
    fn client_auth_block_wins_and_reads_files() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "filepass\n").unwrap();
        let h = BasicHandler::new(&Args {
            username: "old".into(),
            password: Secret::new("oldpass"),
            client_auth: Some(ClientAuthArgs {
                username: "new".into(),
                password_file: pw.to_string_lossy().into_owned(),
                ..Default::default()
            }),
            ..Args::default()
        })
        .unwrap();
        let v = h.client_headers().unwrap()[0]
            .1
            .to_str()
            .unwrap()
            .to_string();
        let want = base64::engine::general_purpose::STANDARD.encode("new:filepass");
        assert_eq!(v, format!("Basic {want}"));
    }

    #[test]
    fn server_checks_htpasswd_and_legacy_pair() {
        let h = BasicHandler::new(&Args {
            username: "legacy".into(),
            password: Secret::new("lp"),
            htpasswd: Some(HtpasswdArgs {
                inline: "# comment\nalice:apw\n\nbob:bpw\n".into(),
                file: String::new(),
            }),
            ..Args::default()
        })
        .unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for ok in ["alice:apw", "bob:bpw", "legacy:lp"] {
            h.authenticate(&header(&format!("Basic {}", b64(ok))))
                .unwrap();
        }
        for bad in ["alice:bpw", "carol:x", "alice", "alice:apwx"] {
            assert!(
                h.authenticate(&header(&format!("Basic {}", b64(bad))))
                    .is_err(),
                "{bad}"
            );
        }
        assert!(h.authenticate(&header("Bearer abc")).is_err());
        assert!(h.authenticate(&HeaderMap::new()).is_err());
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            Args::default().validate().unwrap_err(),
            "no credential source provided"
        );
        let no_pw = Args {
            username: "u".into(),
            ..Args::default()
        };
        assert_eq!(no_pw.validate().unwrap_err(), "no password provided");
        let hashed = Args {
            htpasswd: Some(HtpasswdArgs {
                inline: "u:$2y$05$abcdefghijklmnopqrstuv".into(),
                file: String::new(),
            }),
            ..Args::default()
        };
        let err = <AuthBasic as TypedComponent>::validate(&hashed).unwrap_err();
        assert!(err.contains("not supported by Solder yet"), "{err}");
        assert!(!err.contains("abcdefgh"), "{err}");
    }
}
