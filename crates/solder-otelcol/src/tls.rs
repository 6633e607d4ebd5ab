//! The otelcol `tls` block, client and server side, built into rustls configs (ring provider,
//! the one tonic `tls-ring` and reqwest use).
//!
//! Names and defaults follow Alloy's `internal/component/otelcol/config_tls.go` and the
//! Collector's `configtls`:
//! - client: `insecure` (plaintext, default false → TLS), `insecure_skip_verify`, `server_name`
//!   plus the shared settings;
//! - server: the shared settings plus `client_ca_file` (set → client certificates required);
//! - shared: `ca_pem`/`ca_file`, `cert_pem`/`cert_file`, `key_pem`/`key_file` (at most one of
//!   each pair; cert and key together), `min_version` (default "1.2"), `max_version` (default:
//!   newest), `reload_interval`, `cipher_suites`, `include_insecure_cipher_suites`,
//!   `include_system_ca_certs_pool`, `curve_preferences`, `tpm`.
//!
//! rustls speaks TLS 1.2 and 1.3 only: a `min_version` of "1.0"/"1.1" allows those and newer, so
//! it is honoured as 1.2; a `max_version` below 1.2 cannot be met and is rejected. Certificate
//! reloading (`reload_interval`) and TPM keys are rejected as not supported yet.

mod load;
mod verify;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde::Deserialize;
use solder_syntax::types::GoDuration;
use solder_syntax::Secret;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {what} from {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {what}: {message}")]
    Pem { what: &'static str, message: String },
    /// A setting that is wrong in itself or in combination.
    #[error("{0}")]
    Invalid(String),
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// `tpm { ... }`: keys held in a TPM. Decoded so configs parse; enabling it is rejected.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TpmSettings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub owner_auth: String,
    #[serde(default)]
    pub auth: String,
}

/// The settings both sides share, borrowed from either block.
struct Common<'a> {
    ca_pem: &'a str,
    ca_file: &'a str,
    cert_pem: &'a str,
    cert_file: &'a str,
    key_pem: &'a Secret,
    key_file: &'a str,
    min_version: &'a str,
    max_version: &'a str,
    reload_interval: &'a GoDuration,
    cipher_suites: &'a [String],
    include_system_ca_certs_pool: bool,
    curve_preferences: &'a [String],
    tpm: Option<&'a TpmSettings>,
}

/// The `tls` block of a client (exporters). Absent block = TLS with the system roots.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TlsClientSettings {
    #[serde(default)]
    pub ca_pem: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub cert_pem: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_pem: Secret,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub min_version: String,
    #[serde(default)]
    pub max_version: String,
    #[serde(default)]
    pub reload_interval: GoDuration,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub include_insecure_cipher_suites: bool,
    #[serde(default)]
    pub include_system_ca_certs_pool: bool,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    #[serde(default)]
    pub tpm: Option<TpmSettings>,
    /// Plaintext: no TLS at all.
    #[serde(default)]
    pub insecure: bool,
    /// TLS without checking the server's certificate chain or name.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The name the server certificate is checked against (and sent as SNI) instead of the
    /// endpoint's host.
    #[serde(default)]
    pub server_name: String,
}

/// The `tls` block of a server (receivers). Its presence turns TLS on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TlsServerSettings {
    #[serde(default)]
    pub ca_pem: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub cert_pem: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_pem: Secret,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub min_version: String,
    #[serde(default)]
    pub max_version: String,
    #[serde(default)]
    pub reload_interval: GoDuration,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub include_insecure_cipher_suites: bool,
    #[serde(default)]
    pub include_system_ca_certs_pool: bool,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    #[serde(default)]
    pub tpm: Option<TpmSettings>,
    /// CA bundle that client certificates must chain to; set → clients must present one.
    #[serde(default)]
    pub client_ca_file: String,
}

impl TlsClientSettings {
    fn common(&self) -> Common<'_> {
        Common {
            ca_pem: &self.ca_pem,
            ca_file: &self.ca_file,
            cert_pem: &self.cert_pem,
            cert_file: &self.cert_file,
            key_pem: &self.key_pem,
            key_file: &self.key_file,
            min_version: &self.min_version,
            max_version: &self.max_version,
            reload_interval: &self.reload_interval,
            cipher_suites: &self.cipher_suites,
            include_system_ca_certs_pool: self.include_system_ca_certs_pool,
            curve_preferences: &self.curve_preferences,
            tpm: self.tpm.as_ref(),
        }
    }

    /// The config-time checks (no file access): Alloy's pairing rules plus what Solder cannot do.
    pub fn validate(&self) -> Result<(), TlsError> {
        let common = self.common();
        common.validate()?;
        if !self.server_name.is_empty() {
            server_name(&self.server_name)?;
        }
        Ok(())
    }

    /// The `server_name` override, if set.
    pub fn server_name_override(&self) -> Option<&str> {
        (!self.server_name.is_empty()).then_some(self.server_name.as_str())
    }

    /// The rustls client config (files are read now). No ALPN protocols are set: the caller adds
    /// `h2` (gRPC) or leaves it to its HTTP client. Not meaningful when `insecure` is true.
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        let common = self.common();
        common.validate()?;
        let provider = Arc::new(common.provider()?);
        let versions = common.versions()?;
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)?;
        let override_name = match self.server_name_override() {
            Some(name) => Some(server_name(name)?),
            None => None,
        };
        let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if self
            .insecure_skip_verify
        {
            Arc::new(verify::AcceptAnyServerCert::new(Arc::clone(&provider)))
        } else {
            let roots = common.client_roots()?;
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| TlsError::Invalid(format!("building the certificate verifier: {e}")))?;
            match override_name {
                Some(name) => Arc::new(verify::FixedNameVerifier::new(webpki, name)),
                None => webpki,
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match common.identity()? {
            Some((certs, key)) => builder.with_client_auth_cert(certs, key)?,
            None => builder.with_no_client_auth(),
        };
        Ok(config)
    }
}

impl TlsServerSettings {
    fn common(&self) -> Common<'_> {
        Common {
            ca_pem: &self.ca_pem,
            ca_file: &self.ca_file,
            cert_pem: &self.cert_pem,
            cert_file: &self.cert_file,
            key_pem: &self.key_pem,
            key_file: &self.key_file,
            min_version: &self.min_version,
            max_version: &self.max_version,
            reload_interval: &self.reload_interval,
            cipher_suites: &self.cipher_suites,
            include_system_ca_certs_pool: self.include_system_ca_certs_pool,
            curve_preferences: &self.curve_preferences,
            tpm: self.tpm.as_ref(),
        }
    }

    /// The config-time checks (no file access).
    pub fn validate(&self) -> Result<(), TlsError> {
        self.common().validate()?;
        if self.cert_pem.is_empty() && self.cert_file.is_empty() {
            return Err(TlsError::Invalid(
                "a TLS server needs a certificate: set cert_file or cert_pem (and key_file or key_pem)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The rustls server config (files are read now). No ALPN protocols are set.
    pub fn server_config(&self) -> Result<ServerConfig, TlsError> {
        self.validate()?;
        let common = self.common();
        let provider = Arc::new(common.provider()?);
        let versions = common.versions()?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)?;
        let builder = if self.client_ca_file.is_empty() {
            builder.with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            let pem = load::read_file("client_ca_file", &self.client_ca_file)?;
            add_roots(&mut roots, &load::certs_from_pem("client_ca_file", &pem)?)?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TlsError::Invalid(format!("building the client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        };
        let Some((certs, key)) = common.identity()? else {
            return Err(TlsError::Invalid(
                "a TLS server needs a certificate and key".into(),
            ));
        };
        Ok(builder.with_single_cert(certs, key)?)
    }
}

impl Common<'_> {
    fn validate(&self) -> Result<(), TlsError> {
        let invalid = |m: &str| Err(TlsError::Invalid(m.to_string()));
        if !self.ca_pem.is_empty() && !self.ca_file.is_empty() {
            return invalid("at most one of ca_pem and ca_file must be configured");
        }
        if !self.cert_pem.is_empty() && !self.cert_file.is_empty() {
            return invalid("at most one of cert_pem and cert_file must be configured");
        }
        let key_pem = !self.key_pem.expose().is_empty();
        if key_pem && !self.key_file.is_empty() {
            return invalid("at most one of key_pem and key_file must be configured");
        }
        let using_cert = !self.cert_pem.is_empty() || !self.cert_file.is_empty();
        let using_key = key_pem || !self.key_file.is_empty();
        if using_cert && !using_key {
            return invalid("exactly one of key_pem or key_file must be configured when a client certificate is configured");
        }
        if using_key && !using_cert {
            return invalid("exactly one of cert_pem or cert_file must be configured when a client key is configured");
        }
        if !self.reload_interval.0.is_zero() {
            return invalid("reload_interval is not supported by Solder yet");
        }
        if self.tpm.is_some_and(|t| t.enabled) {
            return invalid("tpm is not supported by Solder yet");
        }
        self.versions()?;
        self.provider()?;
        Ok(())
    }

    /// Protocol versions between `min_version` and `max_version`.
    fn versions(&self) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
        let min = parse_version("min_version", self.min_version, 12)?;
        let max = parse_version("max_version", self.max_version, 13)?;
        if max < 12 {
            return Err(TlsError::Invalid(format!(
                "max_version {:?}: TLS versions below 1.2 are not supported by Solder",
                self.max_version
            )));
        }
        if min > max {
            return Err(TlsError::Invalid(format!(
                "invalid TLS configuration: min_version {:?} is greater than max_version {:?}",
                self.min_version, self.max_version
            )));
        }
        let mut out = Vec::new();
        if min <= 12 {
            out.push(&rustls::version::TLS12);
        }
        if max >= 13 {
            out.push(&rustls::version::TLS13);
        }
        Ok(out)
    }

    /// The ring provider narrowed to `cipher_suites` (TLS 1.2 suites only; as in Go, TLS 1.3
    /// suites are not configurable) and ordered by `curve_preferences`.
    fn provider(&self) -> Result<CryptoProvider, TlsError> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let mut chosen = Vec::new();
            for name in self.cipher_suites {
                let found = provider
                    .cipher_suites
                    .iter()
                    .find(|s| s.suite().as_str() == Some(name.as_str()))
                    .or_else(|| {
                        // Go names TLS 1.3 suites without rustls' `TLS13_` prefix.
                        provider.cipher_suites.iter().find(|s| {
                            s.suite().as_str().and_then(|n| n.strip_prefix("TLS13_"))
                                == name.strip_prefix("TLS_")
                        })
                    });
                match found {
                    Some(s) => chosen.push(*s),
                    None => {
                        return Err(TlsError::Invalid(format!(
                            "invalid TLS cipher suite: {name:?} is not supported"
                        )))
                    }
                }
            }
            // TLS 1.3 suites stay available whatever the list says, as in Go.
            for s in &provider.cipher_suites {
                if s.version() == &rustls::version::TLS13
                    && !chosen.iter().any(|c| c.suite() == s.suite())
                {
                    chosen.push(*s);
                }
            }
            provider.cipher_suites = chosen;
        }
        if !self.curve_preferences.is_empty() {
            let mut groups = Vec::new();
            for name in self.curve_preferences {
                let wanted = match name.as_str() {
                    "X25519" => rustls::NamedGroup::X25519,
                    "P256" => rustls::NamedGroup::secp256r1,
                    "P384" => rustls::NamedGroup::secp384r1,
                    _ => {
                        return Err(TlsError::Invalid(format!(
                            "invalid curve type: {name:?} (Solder supports X25519, P256, P384)"
                        )))
                    }
                };
                if let Some(g) = provider.kx_groups.iter().find(|g| g.name() == wanted) {
                    groups.push(*g);
                }
            }
            provider.kx_groups = groups;
        }
        Ok(provider)
    }

    /// Roots for checking servers: the configured CA, and the system pool when no CA is set or
    /// `include_system_ca_certs_pool` asks for it.
    fn client_roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        let ca = if !self.ca_pem.is_empty() {
            Some(load::certs_from_pem("ca_pem", self.ca_pem.as_bytes())?)
        } else if !self.ca_file.is_empty() {
            let pem = load::read_file("ca_file", self.ca_file)?;
            Some(load::certs_from_pem("ca_file", &pem)?)
        } else {
            None
        };
        if ca.is_none() || self.include_system_ca_certs_pool {
            add_system_roots(&mut roots);
        }
        if let Some(ca) = ca {
            add_roots(&mut roots, &ca)?;
        }
        Ok(roots)
    }

    /// Certificate chain and key, if configured.
    #[allow(clippy::type_complexity)]
    fn identity(
        &self,
    ) -> Result<
        Option<(
            Vec<rustls::pki_types::CertificateDer<'static>>,
            rustls::pki_types::PrivateKeyDer<'static>,
        )>,
        TlsError,
    > {
        let certs = if !self.cert_pem.is_empty() {
            load::certs_from_pem("cert_pem", self.cert_pem.as_bytes())?
        } else if !self.cert_file.is_empty() {
            load::certs_from_pem("cert_file", &load::read_file("cert_file", self.cert_file)?)?
        } else {
            return Ok(None);
        };
        let key = if !self.key_pem.expose().is_empty() {
            load::key_from_pem("key_pem", self.key_pem.expose().as_bytes())?
        } else {
            load::key_from_pem("key_file", &load::read_file("key_file", self.key_file)?)?
        };
        Ok(Some((certs, key)))
    }
}

/// "1.0".."1.3" as 10..13; empty gives `default`.
fn parse_version(field: &str, v: &str, default: u8) -> Result<u8, TlsError> {
    match v {
        "" => Ok(default),
        "1.0" => Ok(10),
        "1.1" => Ok(11),
        "1.2" => Ok(12),
        "1.3" => Ok(13),
        other => Err(TlsError::Invalid(format!(
            "invalid TLS {field}: unsupported TLS version: {other:?}"
        ))),
    }
}

fn server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_string())
        .map_err(|e| TlsError::Invalid(format!("server_name {name:?}: {e}")))
}

fn add_roots(
    roots: &mut RootCertStore,
    certs: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<(), TlsError> {
    for cert in certs {
        roots
            .add(cert.clone())
            .map_err(|e| TlsError::Invalid(format!("CA certificate: {e}")))?;
    }
    Ok(())
}

/// The operating system's roots; the bundled Mozilla roots when none can be read (minimal
/// containers often have no CA bundle).
fn add_system_roots(roots: &mut RootCertStore) {
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        tracing::debug!(%err, "loading system CA certificates");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
}

#[cfg(test)]
mod tests;
