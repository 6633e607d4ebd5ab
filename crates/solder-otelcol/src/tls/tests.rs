#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA and a leaf certificate for `names`, all PEM.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn server(p: &Pki) -> TlsServerSettings {
    TlsServerSettings {
        cert_pem: p.cert_pem.clone(),
        key_pem: Secret::new(p.key_pem.clone()),
        ..Default::default()
    }
}

/// Runs one handshake over an in-memory pipe, echoing a byte; Err is the client's error.
async fn handshake(
    client: ClientConfig,
    server: ServerConfig,
    sni: &str,
) -> Result<(), std::io::Error> {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let srv = tokio::spawn(async move {
        if let Ok(mut tls) = acceptor.accept(s).await {
            let mut b = [0u8; 1];
            if tls.read_exact(&mut b).await.is_ok() {
                let _ = tls.write_all(&b).await;
                let _ = tls.flush().await;
            }
        }
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut tls = connector.connect(name, c).await?;
    tls.write_all(b"x").await?;
    tls.flush().await?;
    let mut b = [0u8; 1];
    tls.read_exact(&mut b).await?;
    assert_eq!(&b, b"x");
    srv.abort();
    Ok(())
}

#[tokio::test]
async fn client_trusts_configured_ca_and_checks_name() {
    let p = pki(&["localhost"]);
    let client = TlsClientSettings {
        ca_pem: p.ca_pem.clone(),
        ..Default::default()
    };
    let srv = server(&p).server_config().unwrap();
    handshake(client.client_config().unwrap(), srv.clone(), "localhost")
        .await
        .unwrap();
    // Wrong name: refused.
    let err = handshake(client.client_config().unwrap(), srv, "other.example")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn unknown_ca_refused_unless_skip_verify() {
    let p = pki(&["localhost"]);
    let other = pki(&["localhost"]);
    let srv = server(&p).server_config().unwrap();
    let wrong_ca = TlsClientSettings {
        ca_pem: other.ca_pem.clone(),
        ..Default::default()
    };
    assert!(
        handshake(wrong_ca.client_config().unwrap(), srv.clone(), "localhost")
            .await
            .is_err()
    );
    let skip = TlsClientSettings {
        insecure_skip_verify: true,
        ..Default::default()
    };
    handshake(skip.client_config().unwrap(), srv, "wrong.name")
        .await
        .unwrap();
}

#[tokio::test]
async fn server_name_overrides_the_checked_name() {
    let p = pki(&["collector.internal"]);
    let srv = server(&p).server_config().unwrap();
    let client = TlsClientSettings {
        ca_pem: p.ca_pem.clone(),
        server_name: "collector.internal".into(),
        ..Default::default()
    };
    handshake(client.client_config().unwrap(), srv, "127.0.0.1")
        .await
        .unwrap();
}

#[tokio::test]
async fn files_and_mutual_tls() {
    let srv_pki = pki(&["localhost"]);
    let cli_pki = pki(&["client"]);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        path.to_string_lossy().into_owned()
    };
    let server_settings = TlsServerSettings {
        cert_file: write("srv.crt", &srv_pki.cert_pem),
        key_file: write("srv.key", &srv_pki.key_pem),
        client_ca_file: write("client-ca.crt", &cli_pki.ca_pem),
        ..Default::default()
    };
    let srv = server_settings.server_config().unwrap();
    let with_cert = TlsClientSettings {
        ca_file: write("ca.crt", &srv_pki.ca_pem),
        cert_file: write("cli.crt", &cli_pki.cert_pem),
        key_file: write("cli.key", &cli_pki.key_pem),
        ..Default::default()
    };
    handshake(with_cert.client_config().unwrap(), srv.clone(), "localhost")
        .await
        .unwrap();
    let without_cert = TlsClientSettings {
        ca_file: with_cert.ca_file.clone(),
        ..Default::default()
    };
    assert!(
        handshake(without_cert.client_config().unwrap(), srv, "localhost")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn version_bounds_are_enforced() {
    let p = pki(&["localhost"]);
    let srv12 = TlsServerSettings {
        max_version: "1.2".into(),
        ..server(&p)
    }
    .server_config()
    .unwrap();
    let cli13 = TlsClientSettings {
        ca_pem: p.ca_pem.clone(),
        min_version: "1.3".into(),
        ..Default::default()
    };
    assert!(
        handshake(cli13.client_config().unwrap(), srv12.clone(), "localhost")
            .await
            .is_err()
    );
    let cli_default = TlsClientSettings {
        ca_pem: p.ca_pem.clone(),
        ..Default::default()
    };
    handshake(cli_default.client_config().unwrap(), srv12, "localhost")
        .await
        .unwrap();
}

#[test]
fn validation_table() {
    let base = || TlsClientSettings::default();
    let cases: Vec<(TlsClientSettings, Option<&str>)> = vec![
        (base(), None),
        (
            TlsClientSettings {
                ca_pem: "x".into(),
                ca_file: "y".into(),
                ..base()
            },
            Some("at most one of ca_pem and ca_file"),
        ),
        (
            TlsClientSettings {
                cert_file: "c".into(),
                ..base()
            },
            Some("exactly one of key_pem or key_file"),
        ),
        (
            TlsClientSettings {
                key_pem: Secret::new("k"),
                ..base()
            },
            Some("exactly one of cert_pem or cert_file"),
        ),
        (
            TlsClientSettings {
                min_version: "1.4".into(),
                ..base()
            },
            Some("unsupported TLS version"),
        ),
        (
            TlsClientSettings {
                max_version: "1.1".into(),
                ..base()
            },
            Some("below 1.2"),
        ),
        (
            TlsClientSettings {
                min_version: "1.3".into(),
                max_version: "1.2".into(),
                ..base()
            },
            Some("greater than max_version"),
        ),
        (
            TlsClientSettings {
                min_version: "1.0".into(),
                ..base()
            },
            None,
        ),
        (
            TlsClientSettings {
                reload_interval: GoDuration::from_secs(60),
                ..base()
            },
            Some("reload_interval is not supported"),
        ),
        (
            TlsClientSettings {
                cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()],
                ..base()
            },
            None,
        ),
        (
            TlsClientSettings {
                cipher_suites: vec!["TLS_RSA_WITH_RC4_128_SHA".into()],
                ..base()
            },
            Some("invalid TLS cipher suite"),
        ),
        (
            TlsClientSettings {
                curve_preferences: vec!["P256".into(), "X25519".into()],
                ..base()
            },
            None,
        ),
        (
            TlsClientSettings {
                curve_preferences: vec!["P521".into()],
                ..base()
            },
            Some("invalid curve type"),
        ),
    ];
    for (settings, want) in cases {
        let got = settings.validate();
        match want {
            None => assert!(got.is_ok(), "{settings:?}: {got:?}"),
            Some(w) => {
                let msg = got.unwrap_err().to_string();
                assert!(msg.contains(w), "{msg} lacks {w}");
            }
        }
    }
}

#[test]
fn server_needs_certificate_and_errors_hide_key() {
    let err = TlsServerSettings::default().validate().unwrap_err();
    assert!(err.to_string().contains("needs a certificate"));
    let p = pki(&["localhost"]);
    let err = TlsServerSettings {
        cert_pem: p.cert_pem,
        key_pem: Secret::new(
            "-----BEGIN PRIVATE KEY-----\nsecretsecret\n-----END PRIVATE KEY-----\n",
        ),
        ..Default::default()
    }
    .server_config()
    .unwrap_err();
    assert!(!err.to_string().contains("secretsecret"), "{err}");
    let err = TlsClientSettings {
        ca_file: "/nonexistent/ca.pem".into(),
        ..Default::default()
    }
    .client_config()
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
