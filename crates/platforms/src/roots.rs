//! The root certificates every client here trusts: Mozilla's, compiled in. The default, the
//! system's store, is read from disk again for every client built (the certificate folder's
//! every file: 2 to 3 ms a client on this machine, several clients per function at its cold
//! start). `SSL_CERT_FILE`, when set, adds the roots of that PEM file (a private CA).

use reqwest::Certificate;
use std::sync::LazyLock;

static ROOTS: LazyLock<Vec<Certificate>> = LazyLock::new(|| {
    let mut roots: Vec<Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect();
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        match std::fs::read(&path).map(|pem| Certificate::from_pem_bundle(&pem)) {
            Ok(Ok(extra)) => roots.extend(extra),
            Ok(Err(e)) => tracing::warn!(?path, error = %e, "SSL_CERT_FILE holds no certificates"),
            Err(e) => tracing::warn!(?path, error = %e, "SSL_CERT_FILE cannot be read"),
        }
    }
    roots
});

/// The roots, for [`reqwest::ClientBuilder::tls_certs_only`].
pub(crate) fn roots() -> impl Iterator<Item = Certificate> {
    ROOTS.iter().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mozilla_root_is_trusted() {
        assert_eq!(
            roots().count(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() + extra_in_environment()
        );
    }

    fn extra_in_environment() -> usize {
        std::env::var_os("SSL_CERT_FILE")
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|pem| Certificate::from_pem_bundle(&pem).ok())
            .map_or(0, |extra| extra.len())
    }
}
