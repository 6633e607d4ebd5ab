//! The shared HTTP client config: decoding from Alloy text, Alloy's validation messages, and the
//! built client against in-test servers (credentials, files re-read per request, OAuth2 token
//! caching, redirects, and TLS against a CA generated here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use solder_prometheus::http_client::{HttpClientConfig, HttpClientError};
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{FileId, Object};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn decode(body: &str) -> Result<HttpClientConfig, Vec<String>> {
    let src = format!("client {{\n{body}\n}}\n");
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "parse errors: {diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block parsed")
    };
    let value = eval_body(&block.body, block.span, &Object::new()).unwrap();
    solder_syntax::decode::decode::<HttpClientConfig>(&value)
        .map_err(|d| d.iter().map(|d| d.message.clone()).collect())
}

fn validate(body: &str) -> Result<(), String> {
    decode(body).unwrap().validate()
}

#[test]
fn decodes_every_field_with_alloy_defaults() {
    let c = decode("").unwrap();
    assert!(c.follow_redirects.0 && c.enable_http2.0);
    assert!(c.basic_auth.is_none() && c.oauth2.is_none());

    let c = decode(
        r#"
        basic_auth {
            username = "u"
            password = "p"
        }
        proxy_url = "http://proxy:3128"
        no_proxy = "localhost"
        proxy_connect_header = { "X-A" = ["1", "2"] }
        follow_redirects = false
        enable_http2 = false
        http_headers = { "X-Tenant" = ["t1"] }
        tls_config {
            ca_pem = "PEM"
            server_name = "example.test"
            insecure_skip_verify = true
            min_version = "TLS13"
        }
        "#,
    )
    .unwrap();
    let b = c.basic_auth.as_ref().unwrap();
    assert_eq!((b.username.as_str(), b.password.expose()), ("u", "p"));
    assert_eq!(c.proxy_url, "http://proxy:3128");
    assert_eq!(c.proxy_connect_header["X-A"].len(), 2);
    assert!(!c.follow_redirects.0 && !c.enable_http2.0);
    assert_eq!(c.http_headers["X-Tenant"][0].expose(), "t1");
    assert_eq!(c.tls_config.server_name, "example.test");
    assert!(c.tls_config.insecure_skip_verify);
    assert_eq!(c.tls_config.min_version, "TLS13");
    assert!(c.validate().is_ok());

    let c = decode(
        r#"
        oauth2 {
            client_id = "id"
            client_secret = "s"
            token_url = "http://127.0.0.1/token"
            scopes = ["a", "b"]
            endpoint_params = { audience = "x" }
            tls_config { insecure_skip_verify = true }
        }
        "#,
    )
    .unwrap();
    let o = c.oauth2.as_ref().unwrap();
    assert_eq!(o.scopes, vec!["a", "b"]);
    assert_eq!(o.endpoint_params["audience"], "x");
    assert!(o.tls_config.as_ref().unwrap().insecure_skip_verify);

    let err = decode("bogus = 1").unwrap_err();
    assert!(err[0].contains("bogus"), "{err:?}");
}

#[test]
fn validation_matches_alloy() {
    let cases: &[(&str, &str)] = &[
        (
            "bearer_token = \"a\"\nbasic_auth { username = \"u\" }",
            "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (
            "bearer_token = \"a\"\nbearer_token_file = \"/f\"",
            "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (
            "basic_auth {\n password = \"p\"\n password_file = \"/f\"\n}",
            "at most one of basic_auth password & password_file must be configured",
        ),
        (
            "authorization {\n credentials = \"c\"\n credentials_file = \"/f\"\n}",
            "at most one of authorization credentials & credentials_file must be configured",
        ),
        (
            "authorization {\n type = \" Basic \"\n credentials = \"c\"\n}",
            r#"authorization type cannot be set to "basic", use "basic_auth" block instead"#,
        ),
        (
            "oauth2 {\n client_secret = \"s\"\n token_url = \"http://x\"\n}",
            "oauth2 client_id must be configured",
        ),
        (
            "oauth2 {\n client_id = \"i\"\n token_url = \"http://x\"\n}",
            "either oauth2 client_secret or client_secret_file must be configured",
        ),
        (
            "oauth2 {\n client_id = \"i\"\n client_secret = \"s\"\n}",
            "oauth2 token_url must be configured",
        ),
        (
            "tls_config {\n ca_pem = \"a\"\n ca_file = \"/b\"\n}",
            "at most one of ca_pem and ca_file must be configured",
        ),
        (
            "tls_config {\n cert_pem = \"a\"\n}",
            "exactly one of key_pem or key_file must be configured when a client certificate is configured",
        ),
        (
            "tls_config {\n key_file = \"/k\"\n}",
            "exactly one of cert_pem or cert_file must be configured when a client key is configured",
        ),
        (
            "tls_config {\n min_version = \"TLS14\"\n}",
            "unknown TLS version: TLS14",
        ),
        (
            "proxy_connect_header = { a = [\"b\"] }",
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
        ),
        (
            "proxy_from_environment = true\nproxy_url = \"http://p\"",
            "if proxy_from_environment is configured, proxy_url must not be configured",
        ),
        (
            "proxy_from_environment = true\nno_proxy = \"x\"",
            "if proxy_from_environment is configured, no_proxy must not be configured",
        ),
        (
            "no_proxy = \"x\"",
            "if no_proxy is configured, proxy_url must also be configured",
        ),
        (
            "http_headers = { \"User-Agent\" = [\"x\"] }",
            "setting header \"User-Agent\" is not allowed",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(validate(body).unwrap_err(), *want, "config:\n{body}");
    }
    for ok in [
        "bearer_token_file = \"/f\"",
        "authorization {\n credentials = \"c\"\n}",
        "proxy_url = \"http://p:1\"\nno_proxy = \"a\"\nproxy_connect_header = { a = [\"b\"] }",
        "proxy_from_environment = true",
        "tls_config {\n min_version = \"TLS10\"\n}",
    ] {
        assert!(validate(ok).is_ok(), "{ok}: {:?}", validate(ok));
    }
}

// ---- plain HTTP server -----------------------------------------------------------------------

#[derive(Default)]
struct Server {
    /// (path, Authorization header, X-Tenant headers) per request.
    seen: Mutex<Vec<(String, String, Vec<String>)>>,
    token_requests: AtomicUsize,
    token_forms: Mutex<Vec<String>>,
}

async fn handle(state: Arc<Server>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    match uri.path() {
        "/token" => {
            let n = state.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
            state
                .token_forms
                .lock()
                .unwrap()
                .push(format!("{auth}|{body}"));
            let json =
                format!(r#"{{"access_token":"tok{n}","token_type":"bearer","expires_in":3600}}"#);
            ([("content-type", "application/json")], json).into_response()
        }
        "/redirect" => (StatusCode::FOUND, [("location", "/target")]).into_response(),
        path => {
            let tenants = headers
                .get_all("x-tenant")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            state
                .seen
                .lock()
                .unwrap()
                .push((path.to_owned(), auth, tenants));
            StatusCode::OK.into_response()
        }
    }
}

async fn start() -> (String, Arc<Server>) {
    let state = Arc::new(Server::default());
    let s = state.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: String| {
        handle(s.clone(), uri, headers, body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

async fn get(cfg: &HttpClientConfig, url: &str) -> reqwest::Response {
    let client = cfg
        .build("solder-test", Some(Duration::from_secs(5)))
        .unwrap();
    client
        .get(url.parse().unwrap())
        .await
        .unwrap()
        .send()
        .await
        .unwrap()
}

fn last_auth(s: &Server) -> String {
    s.seen.lock().unwrap().last().unwrap().1.clone()
}

#[tokio::test]
async fn credentials_and_headers_are_sent() {
    let (base, server) = start().await;
    let url = format!("{base}/m");

    get(
        &decode("basic_auth {\n username = \"user\"\n password = \"pa:ss\"\n}").unwrap(),
        &url,
    )
    .await;
    // base64("user:pa:ss")
    assert_eq!(last_auth(&server), "Basic dXNlcjpwYTpzcw==");

    get(&decode("bearer_token = \"abc\"").unwrap(), &url).await;
    assert_eq!(last_auth(&server), "Bearer abc");

    get(
        &decode("authorization {\n type = \"Token\"\n credentials = \"xyz\"\n}").unwrap(),
        &url,
    )
    .await;
    assert_eq!(last_auth(&server), "Token xyz");

    get(
        &decode("authorization {\n credentials = \"xyz\"\n}").unwrap(),
        &url,
    )
    .await;
    assert_eq!(last_auth(&server), "Bearer xyz");

    get(
        &decode("http_headers = { \"X-Tenant\" = [\"a\", \"b\"] }").unwrap(),
        &url,
    )
    .await;
    let seen = server.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.1, "");
    assert_eq!(seen.2, vec!["a", "b"]);
}

#[tokio::test]
async fn credential_files_are_reread_for_every_request() {
    let (base, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    let password = dir.path().join("password");
    std::fs::write(&token, "first\n").unwrap();
    std::fs::write(&password, "  pw1 \n").unwrap();
    let url: reqwest::Url = format!("{base}/m").parse().unwrap();

    let cfg = decode(&format!(
        "bearer_token_file = {:?}",
        token.to_str().unwrap()
    ))
    .unwrap();
    let client = cfg.build("t", None).unwrap();
    client.get(url.clone()).await.unwrap().send().await.unwrap();
    assert_eq!(last_auth(&server), "Bearer first");
    std::fs::write(&token, "second").unwrap();
    client.get(url.clone()).await.unwrap().send().await.unwrap();
    assert_eq!(last_auth(&server), "Bearer second");

    let cfg = decode(&format!(
        "basic_auth {{\n username = \"u\"\n password_file = {:?}\n}}",
        password.to_str().unwrap()
    ))
    .unwrap();
    let client = cfg.build("t", None).unwrap();
    client.get(url.clone()).await.unwrap().send().await.unwrap();
    assert_eq!(last_auth(&server), "Basic dTpwdzE="); // u:pw1

    std::fs::remove_file(&token).unwrap();
    let cfg = decode(&format!(
        "bearer_token_file = {:?}",
        token.to_str().unwrap()
    ))
    .unwrap();
    let err = cfg.build("t", None).unwrap().get(url).await.unwrap_err();
    assert!(matches!(err, HttpClientError::ReadFile { .. }), "{err}");
}

#[tokio::test]
async fn oauth2_token_is_fetched_once_and_reused() {
    let (base, server) = start().await;
    let cfg = decode(&format!(
        "oauth2 {{\n client_id = \"my id\"\n client_secret = \"s/3\"\n token_url = \"{base}/token\"\n scopes = [\"read\", \"write\"]\n endpoint_params = {{ audience = \"aud\" }}\n}}"
    ))
    .unwrap();
    let client = cfg.build("t", None).unwrap();
    let url: reqwest::Url = format!("{base}/m").parse().unwrap();
    for _ in 0..3 {
        client.get(url.clone()).await.unwrap().send().await.unwrap();
    }
    assert_eq!(last_auth(&server), "Bearer tok1");
    assert_eq!(server.token_requests.load(Ordering::SeqCst), 1);
    let form = server.token_forms.lock().unwrap()[0].clone();
    let (auth, body) = form.split_once('|').unwrap();
    // base64("my+id:s%2F3"): id and secret are form-escaped before Basic encoding.
    assert_eq!(auth, "Basic bXkraWQ6cyUyRjM=");
    let mut params: Vec<&str> = body.split('&').collect();
    params.sort();
    assert_eq!(
        params,
        vec![
            "audience=aud",
            "grant_type=client_credentials",
            "scope=read+write"
        ]
    );
}

#[tokio::test]
async fn redirects_follow_unless_disabled() {
    let (base, server) = start().await;
    let url = format!("{base}/redirect");
    let resp = get(&decode("").unwrap(), &url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(server.seen.lock().unwrap().last().unwrap().0, "/target");

    let resp = get(&decode("follow_redirects = false").unwrap(), &url).await;
    assert_eq!(resp.status(), 302);
}

#[tokio::test]
async fn proxy_url_and_no_proxy_are_honoured() {
    // A proxy at a closed port breaks every request that goes through it.
    let (base, server) = start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let cfg = decode(&format!(
        "proxy_url = {dead_proxy:?}\nno_proxy = \"127.0.0.1\""
    ))
    .unwrap();
    let resp = get(&cfg, &format!("{base}/np")).await;
    assert_eq!(resp.status(), 200, "no_proxy bypasses the proxy");
    assert_eq!(server.seen.lock().unwrap().last().unwrap().0, "/np");

    let cfg = decode(&format!("proxy_url = {dead_proxy:?}")).unwrap();
    let client = cfg.build("t", Some(Duration::from_secs(5))).unwrap();
    let err = client
        .get(format!("{base}/p").parse().unwrap())
        .await
        .unwrap()
        .send()
        .await;
    assert!(err.is_err(), "the configured proxy is used");
}

// ---- TLS ------------------------------------------------------------------------------------

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
    /// A client certificate signed by the same CA.
    client_cert_pem: String,
    client_key_pem: String,
}

/// A CA and a server certificate for `example.test` signed by it.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["example.test".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["client.test".to_owned()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A minimal HTTPS server: answers every request with 200 and an empty body. With
/// `require_client_cert`, only clients presenting a certificate from the CA get through.
async fn start_tls(pki: &Pki, require_client_cert: bool) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(ca.unwrap()).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

async fn tls_get(cfg: &str, url: &str) -> Result<u16, String> {
    let cfg = decode(cfg).unwrap();
    let client = cfg
        .build("t", Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let req = client.get(url.parse().unwrap()).await.unwrap();
    req.send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn tls_against_a_generated_ca() {
    let pki = pki();
    let url = start_tls(&pki, false).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();

    // The certificate names example.test, not 127.0.0.1: server_name makes it verify.
    let ok = format!(
        "tls_config {{\n ca_file = {:?}\n server_name = \"example.test\"\n}}",
        ca_file.to_str().unwrap()
    );
    assert_eq!(tls_get(&ok, &url).await, Ok(200));
    let inline = format!(
        "tls_config {{\n ca_pem = {:?}\n server_name = \"example.test\"\n}}",
        pki.ca_pem
    );
    assert_eq!(tls_get(&inline, &url).await, Ok(200));

    // Without server_name the name does not match; without the CA the chain is unknown.
    let wrong_name = format!("tls_config {{\n ca_pem = {:?}\n}}", pki.ca_pem);
    assert!(tls_get(&wrong_name, &url).await.is_err());
    assert!(
        tls_get("tls_config {\n server_name = \"example.test\"\n}", &url)
            .await
            .is_err()
    );
    assert_eq!(
        tls_get("tls_config {\n insecure_skip_verify = true\n}", &url).await,
        Ok(200)
    );

    let other = pki_other_ca_pem();
    let wrong_ca =
        format!("tls_config {{\n ca_pem = {other:?}\n server_name = \"example.test\"\n}}");
    assert!(tls_get(&wrong_ca, &url).await.is_err());

    let missing = "tls_config {\n ca_file = \"/nonexistent/ca.pem\"\n}";
    let err = tls_get(missing, &url).await.unwrap_err();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

fn pki_other_ca_pem() -> String {
    pki().ca_pem
}

#[tokio::test]
async fn client_certificates_from_pem_or_files() {
    let pki = pki();
    let url = start_tls(&pki, true).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_file, &pki.client_cert_pem).unwrap();
    std::fs::write(&key_file, &pki.client_key_pem).unwrap();
    let base = format!(
        " ca_pem = {:?}\n server_name = \"example.test\"\n",
        pki.ca_pem
    );

    let without = format!("tls_config {{\n{base}}}");
    assert!(
        tls_get(&without, &url).await.is_err(),
        "the server requires a client cert"
    );

    let inline = format!(
        "tls_config {{\n{base} cert_pem = {:?}\n key_pem = {:?}\n}}",
        pki.client_cert_pem, pki.client_key_pem
    );
    assert_eq!(tls_get(&inline, &url).await, Ok(200));

    let files = format!(
        "tls_config {{\n{base} cert_file = {:?}\n key_file = {:?}\n}}",
        cert_file.to_str().unwrap(),
        key_file.to_str().unwrap()
    );
    assert_eq!(tls_get(&files, &url).await, Ok(200));

    let min13 = format!(
        "tls_config {{\n{base} cert_pem = {:?}\n key_pem = {:?}\n min_version = \"TLS13\"\n}}",
        pki.client_cert_pem, pki.client_key_pem
    );
    assert_eq!(tls_get(&min13, &url).await, Ok(200));

    let bad_key = format!(
        "tls_config {{\n{base} cert_pem = {:?}\n key_pem = \"not a key\"\n}}",
        pki.client_cert_pem
    );
    let err = tls_get(&bad_key, &url).await.unwrap_err();
    assert!(err.contains("client key"), "{err}");
}

// ---- HTTP/2 ---------------------------------------------------------------------------------

/// An HTTPS server offering `h2` and `http/1.1` by ALPN; records the HTTP version of every
/// request it receives, as the server saw it (`HTTP/2.0` or `HTTP/1.1`).
async fn start_alpn_server(pki: &Pki) -> (String, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    let Ok(mut conn) = h2::server::handshake(tls).await else {
                        return;
                    };
                    while let Some(Ok((req, mut respond))) = conn.accept().await {
                        seen.lock().unwrap().push(format!("{:?}", req.version()));
                        let resp = axum::http::Response::builder()
                            .status(200)
                            .body(())
                            .unwrap();
                        let _ = respond.send_response(resp, true);
                    }
                    return;
                }
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let version = head
                    .lines()
                    .next()
                    .and_then(|l| l.rsplit(' ').next())
                    .unwrap_or("")
                    .to_owned();
                seen.lock().unwrap().push(version);
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://127.0.0.1:{}", addr.port()), seen)
}

#[tokio::test]
async fn enable_http2_negotiates_h2_and_false_pins_http1() {
    let pki = pki();
    let (url, seen) = start_alpn_server(&pki).await;
    let tls = format!(
        "tls_config {{\n ca_pem = {:?}\n server_name = \"example.test\"\n}}\n",
        pki.ca_pem
    );
    // The shared config's default (scrape's): HTTP/2 allowed, and the server prefers it.
    assert_eq!(tls_get(&tls, &url).await, Ok(200));
    let on = format!("{tls}enable_http2 = true\n");
    assert_eq!(tls_get(&on, &url).await, Ok(200));
    let off = format!("{tls}enable_http2 = false\n");
    assert_eq!(tls_get(&off, &url).await, Ok(200));
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["HTTP/2.0", "HTTP/2.0", "HTTP/1.1"]
    );
}

// ---- TLS files re-read ----------------------------------------------------------------------

#[tokio::test]
async fn changed_tls_files_are_picked_up_without_rebuilding() {
    let ours = pki();
    let url = start_tls(&ours, true).await;
    let dir = tempfile::tempdir().unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("c.pem"),
        dir.path().join("k.pem"),
    );
    // First a CA that did not sign the server, and a client certificate of another CA.
    let other = pki();
    std::fs::write(&ca_file, &other.ca_pem).unwrap();
    std::fs::write(&cert_file, &other.client_cert_pem).unwrap();
    std::fs::write(&key_file, &other.client_key_pem).unwrap();
    let cfg = decode(&format!(
        "tls_config {{\n ca_file = {:?}\n cert_file = {:?}\n key_file = {:?}\n server_name = \"example.test\"\n}}",
        ca_file.to_str().unwrap(),
        cert_file.to_str().unwrap(),
        key_file.to_str().unwrap()
    ))
    .unwrap();
    let client = cfg.build("t", Some(Duration::from_secs(5))).unwrap();
    let status = |client: solder_prometheus::http_client::HttpClient| {
        let url = url.clone();
        async move {
            let req = client.get(url.parse().unwrap()).await.unwrap();
            req.send().await.map(|r| r.status().as_u16())
        }
    };
    assert!(status(client.clone()).await.is_err(), "unknown server CA");

    // The right CA but still the wrong client certificate: the server refuses it.
    std::fs::write(&ca_file, &ours.ca_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(status(client.clone()).await.is_err(), "client cert refused");

    // Rotated certificate and key: picked up by the same client.
    std::fs::write(&cert_file, &ours.client_cert_pem).unwrap();
    std::fs::write(&key_file, &ours.client_key_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(client.clone()).await.ok(), Some(200));

    // A file missing mid-rotation keeps the working client.
    std::fs::remove_file(&key_file).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(client).await.ok(), Some(200));
}
