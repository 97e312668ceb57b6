//! TLS to the database, with libpq's parameters and their meaning (docs/postgres.md, TLS):
//!
//! - `sslmode`: `disable`; `allow` and `prefer` (TLS when the server offers it);
//!   `require` (TLS or no connection); `verify-ca` (and the server's certificate must
//!   chain to a root of `sslrootcert`); `verify-full` (and name the URL's host).
//!   As in libpq, `require` and `prefer` check the chain too when a root file is there.
//! - `sslrootcert`: the PEM file of trusted roots (libpq's default:
//!   `~/.postgresql/root.crt`, used when it exists).
//! - `sslcert`, `sslkey`: a client certificate and its key, PEM (libpq's defaults:
//!   `~/.postgresql/postgresql.crt` and `.key`, used when they exist).
//!
//! The client (`postgres`) parses only `disable`, `prefer` and `require` and none of the
//! files, so `connect` takes these parameters out of the URL and hands them here.
//! TLS is rustls with ring, inside the library: no system OpenSSL at link or run time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: the connection is encrypted, not authenticated (libpq's `require`
    /// without a root file).
    Nothing,
    /// That it chains to a trusted root (`verify-ca`).
    Chain,
    /// That it chains to a trusted root and names the host (`verify-full`).
    ChainAndHost,
}

/// The URL's TLS parameters, as libpq reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// The mode the client runs (disable, prefer or require).
    pub mode: SslMode,
    pub verify: Verify,
    pub root_cert: Option<PathBuf>,
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// The URL parameters this module reads.
pub const PARAMETERS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

impl TlsParams {
    /// The URL's TLS parameters (`PARAMETERS`, %-decoded), read with libpq's defaults.
    pub fn from_url(parameters: &HashMap<String, String>) -> Result<TlsParams> {
        let get = |name: &str| parameters.get(name).cloned();
        TlsParams::read(
            parameters.get("sslmode").map(String::as_str),
            get("sslrootcert"),
            get("sslcert"),
            get("sslkey"),
            home_dir().as_deref(),
        )
    }

    /// libpq's rules; `home` holds `.postgresql/` with the default files.
    fn read(
        mode: Option<&str>,
        root: Option<String>,
        cert: Option<String>,
        key: Option<String>,
        home: Option<&Path>,
    ) -> Result<TlsParams> {
        let default_file = |name: &str| {
            home.map(|h| h.join(".postgresql").join(name))
                .filter(|p| p.is_file())
        };
        if root.as_deref() == Some("system") {
            return Err(Error::invalid(
                "database URL: sslrootcert=system is not supported; name the system's bundle \
                 file instead (Debian: sslrootcert=/etc/ssl/certs/ca-certificates.crt)",
            ));
        }
        let root_cert = match root {
            Some(path) => Some(PathBuf::from(path)),
            None => default_file("root.crt"),
        };
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (Some(c), None) => {
                let key = home.map(|h| h.join(".postgresql/postgresql.key"));
                let key = key.filter(|k| k.is_file()).ok_or_else(|| {
                    Error::invalid(format!(
                        "database URL: sslcert={c} needs its key: sslkey=PATH"
                    ))
                })?;
                Some((PathBuf::from(c), key))
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "database URL: sslkey without sslcert (the client certificate)",
                ))
            }
            (None, None) => default_file("postgresql.crt").zip(default_file("postgresql.key")),
        };
        let checks_chain = if root_cert.is_some() {
            Verify::Chain
        } else {
            Verify::Nothing
        };
        let (mode, verify) = match mode.unwrap_or("prefer") {
            "disable" => (SslMode::Disable, Verify::Nothing),
            // libpq tries the clear connection first; the client cannot, and TLS first
            // admits the same servers.
            "allow" | "prefer" => (SslMode::Prefer, checks_chain),
            "require" => (SslMode::Require, checks_chain),
            "verify-ca" => (SslMode::Require, Verify::Chain),
            "verify-full" => (SslMode::Require, Verify::ChainAndHost),
            other => {
                return Err(Error::invalid(format!(
                    "database URL: sslmode={other} is none of disable, allow, prefer, \
                     require, verify-ca, verify-full"
                )))
            }
        };
        if verify != Verify::Nothing && root_cert.is_none() {
            return Err(Error::invalid(
                "database URL: sslmode=verify-ca and verify-full need the trusted roots: \
                 sslrootcert=PATH (a PEM file; libpq's default ~/.postgresql/root.crt does \
                 not exist)",
            ));
        }
        Ok(TlsParams {
            mode,
            verify,
            root_cert,
            client_cert,
        })
    }

    /// The connector for these parameters: the files are read now, so a missing or
    /// unreadable one fails the open and names its path.
    pub fn connector(&self) -> Result<MakeRustlsConnect> {
        // ring rather than rustls's default aws-lc-rs: a small pure build (no cmake, no
        // system library); it lacks post-quantum key exchange (docs/postgres.md, TLS).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("database URL: TLS: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match &self.root_cert {
            Some(path) if self.verify != Verify::Nothing => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs("sslrootcert", path)? {
                    roots.add(cert).map_err(|e| {
                        Error::invalid(format!("database URL: sslrootcert {}: {e}", path.display()))
                    })?;
                }
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| {
                        Error::invalid(format!("database URL: sslrootcert {}: {e}", path.display()))
                    })?;
                if self.verify == Verify::ChainAndHost {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
            _ => Arc::new(Unverified(provider)),
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs("sslcert", cert)?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    Error::invalid(format!("database URL: sslkey {}: {e}", key.display()))
                })?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    Error::invalid(format!(
                        "database URL: sslcert {} with sslkey {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

fn read_certs(parameter: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |why: String| {
        Error::invalid(format!(
            "database URL: {parameter} {}: {why}",
            path.display()
        ))
    };
    // Read first, so that a missing file says so rather than "no certificate".
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// `$HOME`, where libpq looks for `.postgresql/`.
fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Accepts any server certificate but still checks the handshake's signatures (an
/// encrypted connection to whoever answers: libpq's `require` without roots).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The full check without its last step, the host name (`verify-ca`). The name is
/// checked after the chain, so a wrong name means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(mode: &str, root: Option<&str>) -> Result<TlsParams> {
        TlsParams::read(Some(mode), root.map(String::from), None, None, None)
    }

    #[test]
    fn modes_mean_what_they_mean_in_libpq() {
        let p = read("require", None).unwrap();
        assert_eq!((p.mode, p.verify), (SslMode::Require, Verify::Nothing));
        let p = read("require", Some("/r.pem")).unwrap();
        assert_eq!((p.mode, p.verify), (SslMode::Require, Verify::Chain));
        let p = read("verify-full", Some("/r.pem")).unwrap();
        assert_eq!((p.mode, p.verify), (SslMode::Require, Verify::ChainAndHost));
        let p = read("verify-ca", Some("/r.pem")).unwrap();
        assert_eq!(p.verify, Verify::Chain);
        let p = read("allow", None).unwrap();
        assert_eq!((p.mode, p.verify), (SslMode::Prefer, Verify::Nothing));
        let p = TlsParams::read(None, None, None, None, None).unwrap();
        assert_eq!(p.mode, SslMode::Prefer);
        assert!(
            matches!(read("verify-full", None), Err(Error::InvalidArgument(m)) if m.contains("sslrootcert"))
        );
        assert!(
            matches!(read("bogus", None), Err(Error::InvalidArgument(m)) if m.contains("bogus"))
        );
        assert!(matches!(
            read("require", Some("system")),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn a_missing_file_is_named() {
        let p = read("verify-full", Some("/nonexistent/root.pem")).unwrap();
        match p.connector() {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("/nonexistent/root.pem"), "{m}"),
            other => panic!("{:?}", other.err()),
        }
    }
}
