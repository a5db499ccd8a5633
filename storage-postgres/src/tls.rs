//! TLS for PostgreSQL connections with rustls (no system OpenSSL): libpq's
//! `sslmode` semantics, `sslrootcert`, and client certificates.
//!
//! | `sslmode`     | TLS                 | chain verified                   | host name verified |
//! |---------------|---------------------|----------------------------------|--------------------|
//! | `disable`     | never               | -                                | -                  |
//! | `allow`/`prefer` | if the server offers it | no                        | no                 |
//! | `require`     | always              | only if `sslrootcert` is given   | no                 |
//! | `verify-ca`   | always              | yes                              | no                 |
//! | `verify-full` | always              | yes                              | yes                |
//!
//! Without `sslrootcert`, `verify-ca` and `verify-full` trust the Mozilla root
//! programme bundled at build time (`webpki-roots`), which is what managed
//! PostgreSQL services with public certificates need; `sslrootcert=system` says so
//! explicitly.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use storage_api::StorageError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::WebPkiServerVerifier,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject},
};

/// How much TLS a connection uses and what it verifies (libpq's `sslmode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// Never TLS.
    Disable,
    /// TLS if the server offers it, nothing verified (`allow` and `prefer`).
    Prefer,
    /// Always TLS; the chain is verified only when `sslrootcert` is given.
    Require,
    /// Always TLS; the chain is verified, the host name is not.
    VerifyCa,
    /// Always TLS; chain and host name are verified.
    VerifyFull,
}

impl TlsMode {
    /// Parses an `sslmode` value (libpq's names, plus MySQL-style aliases).
    pub(crate) fn parse(value: Option<&str>) -> Result<Self, StorageError> {
        Ok(match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("prefer" | "preferred" | "allow") => Self::Prefer,
            Some("disable" | "disabled") => Self::Disable,
            Some("require" | "required") => Self::Require,
            Some("verify-ca" | "verify_ca") => Self::VerifyCa,
            Some("verify-full" | "verify_full" | "verify_identity" | "verify-identity") => {
                Self::VerifyFull
            }
            Some(other) => {
                return Err(StorageError::Config(format!(
                    "unknown sslmode `{}`; use disable, allow, prefer, require, verify-ca or verify-full",
                    other.chars().take(32).collect::<String>()
                )));
            }
        })
    }

    /// The driver's mode: whether TLS is attempted and whether it is mandatory.
    pub(crate) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode;
        match self {
            Self::Disable => SslMode::Disable,
            Self::Prefer => SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => SslMode::Require,
        }
    }
}

/// The TLS part of a PostgreSQL URI: mode and file paths (never their contents).
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsFiles {
    /// `sslrootcert`: a PEM file of trusted CA certificates, or `system`.
    pub root_cert: Option<String>,
    /// `sslcert`: the client certificate chain (PEM).
    pub client_cert: Option<PathBuf>,
    /// `sslkey`: the client's private key (PEM).
    pub client_key: Option<PathBuf>,
}

/// Makes rustls connections for tokio-postgres with the verification `sslmode`
/// asks for. Its `Debug` shows the mode only.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    mode: TlsMode,
    config: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for MakeRustls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MakeRustls")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, StorageError> {
    std::fs::read(path).map_err(|e| {
        StorageError::Config(format!(
            "cannot read the {what} file `{}`: {e}",
            path.display()
        ))
    })
}

fn pem_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, StorageError> {
    let bytes = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            StorageError::Config(format!(
                "the {what} file `{}` is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(StorageError::Config(format!(
            "the {what} file `{}` holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The trusted roots: the `sslrootcert` file, or the bundled web roots.
fn roots(root_cert: Option<&str>) -> Result<RootCertStore, StorageError> {
    let mut store = RootCertStore::empty();
    match root_cert {
        None | Some("system") => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let path = Path::new(path);
            for cert in pem_certs("sslrootcert", path)? {
                store.add(cert).map_err(|e| {
                    StorageError::Config(format!(
                        "the sslrootcert file `{}` holds a certificate that is not a usable CA: {e}",
                        path.display()
                    ))
                })?;
            }
        }
    }
    Ok(store)
}

impl MakeRustls {
    /// Builds the connector; reads the certificate and key files now, so that a
    /// missing or malformed file is a `Config` error when opening. Errors name
    /// the file, never its contents.
    pub(crate) fn new(mode: TlsMode, files: &TlsFiles) -> Result<Self, StorageError> {
        if mode == TlsMode::Disable {
            return Ok(Self { mode, config: None });
        }
        let provider = provider();
        let root = files.root_cert.as_deref();
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            // libpq: `require` with a root certificate verifies the chain like
            // `verify-ca`; without one (and `prefer`) nothing is verified.
            TlsMode::Disable | TlsMode::Prefer => Arc::new(Verifier {
                check: Check::Nothing,
                provider: provider.clone(),
            }),
            TlsMode::Require if root.is_none() => Arc::new(Verifier {
                check: Check::Nothing,
                provider: provider.clone(),
            }),
            TlsMode::Require | TlsMode::VerifyCa => Arc::new(Verifier {
                check: Check::ChainOnly(webpki(roots(root)?, provider.clone())?),
                provider: provider.clone(),
            }),
            TlsMode::VerifyFull => webpki(roots(root)?, provider.clone())?,
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StorageError::Config(format!("cannot set up TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&files.client_cert, &files.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = pem_certs("sslcert", cert)?;
                let bytes = read_file("sslkey", key)?;
                let key_der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
                    StorageError::Config(format!(
                        "the sslkey file `{}` holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                        key.display()
                    ))
                })?;
                builder.with_client_auth_cert(chain, key_der).map_err(|_| {
                    StorageError::Config(format!(
                        "the sslkey file `{}` does not hold a usable key for the certificate in `{}`",
                        key.display(),
                        cert.display()
                    ))
                })?
            }
            _ => {
                return Err(StorageError::Config(
                    "a client certificate needs both sslcert and sslkey".into(),
                ));
            }
        };
        Ok(Self {
            mode,
            config: Some(Arc::new(config)),
        })
    }
}

fn webpki(
    roots: RootCertStore,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, StorageError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| StorageError::Config(format!("cannot set up TLS verification: {e}")))
}

/// What the server's certificate must satisfy; the handshake's signatures are
/// always checked.
#[derive(Debug)]
enum Check {
    /// `prefer`, and `require` without a root certificate: nothing (libpq does the
    /// same).
    Nothing,
    /// `verify-ca` (and `require` with a root certificate): the chain must lead to
    /// a trusted root; the host name is not checked.
    ChainOnly(Arc<WebPkiServerVerifier>),
}

#[derive(Debug)]
struct Verifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Check::ChainOnly(webpki) = &self.check else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, io::Error> {
        // A Unix-socket "host" is no server name; it only fails if TLS is used.
        let name = ServerName::try_from(domain.to_owned()).ok();
        Ok(RustlsConnect {
            config: self.config.clone(),
            name,
            domain: domain.chars().take(255).collect(),
        })
    }
}

/// One TLS handshake to come (see [`MakeRustls`]).
pub(crate) struct RustlsConnect {
    config: Option<Arc<ClientConfig>>,
    name: Option<ServerName<'static>>,
    domain: String,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let config = self.config.ok_or_else(|| {
                io::Error::other("TLS is disabled (sslmode=disable) but was asked for")
            })?;
            let name = self.name.ok_or_else(|| {
                io::Error::other(format!(
                    "`{}` is not a host name TLS can verify",
                    self.domain
                ))
            })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(RustlsStream(tls))
        })
    }
}

/// A TLS connection to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM channel binding (tls-server-end-point) is not offered; SCRAM
        // authentication still works without it.
        ChannelBinding::none()
    }
}

/// What went wrong in a failed TLS connection, in words: the certificate's CA is
/// unknown, the host name does not match, or the server offers no TLS. `None` when
/// `error` is no TLS failure.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(rustls_text(r));
        }
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(rustls_text(r));
        }
        let text = e.to_string();
        if text.contains("server does not support TLS") {
            return Some(
                "the server does not support TLS (server without TLS), but sslmode requires it"
                    .into(),
            );
        }
        cur = e.source();
    }
    None
}

fn rustls_text(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "the server's certificate is not signed by a trusted CA (unknown CA; check sslrootcert)"
                .into()
        }
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server's certificate is not valid for this host name (wrong host name; connect by a name the certificate lists, or use sslmode=verify-ca)".into()
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        other => format!("TLS handshake failed: {other}"),
    }
}
