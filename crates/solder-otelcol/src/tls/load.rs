//! Reading PEM certificates and keys from strings or files.

use super::TlsError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;

pub(super) fn read_file(what: &'static str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        what,
        path: PathBuf::from(path),
        source,
    })
}

/// Every certificate in a PEM bundle; an input without any is an error (a typo'd path to the
/// wrong file should not silently trust nothing).
pub(super) fn certs_from_pem(
    what: &'static str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            message: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM input. The error never quotes the
/// input: it is a secret.
pub(super) fn key_from_pem(
    what: &'static str,
    pem: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Pem {
        what,
        message: match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key block found".into(),
            other => format!("invalid private key ({})", short_kind(&other)),
        },
    })
}

fn short_kind(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { .. } => "missing section end",
        Error::IllegalSectionStart { .. } => "illegal section start",
        Error::Base64Decode(_) => "bad base64",
        Error::Io(_) => "read error",
        Error::NoItemsFound => "no items",
        _ => "malformed PEM",
    }
}
