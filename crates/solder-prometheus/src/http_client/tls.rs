//! `tls_config` → a rustls client configuration. Built by hand rather than through reqwest's
//! builder because reqwest cannot verify against a `server_name` other than the URL's host, and
//! because a configured CA must *replace* the system roots (Prometheus trusts only `ca_*` then).
//! CA, certificate and key files are read when a client is built; `super::reload` rebuilds the
//! client when their contents change.

use super::{HttpClientError, TlsConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

pub(crate) fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, HttpClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // rustls has no TLS 1.0/1.1, so those minimums mean "1.2 and up" here.
    let versions: &[&'static rustls::SupportedProtocolVersion] = match tls.min_version.as_str() {
        "TLS13" => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| HttpClientError::Tls(e.to_string()))?;

    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(solder_core::tls::AcceptAnyServerCert::new(provider))
    } else {
        let roots = root_store(tls)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| HttpClientError::Tls(e.to_string()))?;
        if tls.server_name.is_empty() {
            webpki
        } else {
            let name = ServerName::try_from(tls.server_name.clone()).map_err(|e| {
                HttpClientError::Tls(format!("invalid server_name {:?}: {e}", tls.server_name))
            })?;
            Arc::new(VerifyAsName {
                inner: webpki,
                name,
            })
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let cert_pem = pem_source(&tls.cert_pem, &tls.cert_file, "cert_file")?;
    let key_pem = pem_source(tls.key_pem.expose(), &tls.key_file, "key_file")?;
    match (cert_pem, key_pem) {
        (Some(cert), Some(key)) => {
            let certs = parse_certs(&cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|e| HttpClientError::Tls(format!("parsing the client key: {e}")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| HttpClientError::Tls(format!("client certificate: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// The configured CA alone, or the system roots when none is configured.
fn root_store(tls: &TlsConfig) -> Result<RootCertStore, HttpClientError> {
    let mut roots = RootCertStore::empty();
    match pem_source(&tls.ca_pem, &tls.ca_file, "ca_file")? {
        Some(pem) => {
            for cert in parse_certs(&pem, "CA")? {
                roots
                    .add(cert)
                    .map_err(|e| HttpClientError::Tls(format!("adding the CA: {e}")))?;
            }
        }
        None => {
            // A broken entry in the system store should not make every HTTPS target fail.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    Ok(roots)
}

/// PEM text from the inline attribute or the file, whichever is set.
fn pem_source(
    inline: &str,
    file: &str,
    what: &'static str,
) -> Result<Option<Vec<u8>>, HttpClientError> {
    if !inline.is_empty() {
        return Ok(Some(inline.as_bytes().to_vec()));
    }
    if file.is_empty() {
        return Ok(None);
    }
    std::fs::read(file)
        .map(Some)
        .map_err(|source| HttpClientError::ReadFile {
            what,
            path: file.to_owned(),
            source,
        })
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, HttpClientError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HttpClientError::Tls(format!("parsing the {what} PEM: {e}")))?;
    if certs.is_empty() {
        return Err(HttpClientError::Tls(format!(
            "no certificate found in the {what} PEM"
        )));
    }
    Ok(certs)
}

/// Verifies the chain against `server_name` instead of the host the client connected to.
#[derive(Debug)]
struct VerifyAsName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for VerifyAsName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
