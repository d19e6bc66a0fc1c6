//! The SDK configuration of a Lambda function, made for a short cold start. The default
//! loader builds the whole provider chain (profiles, SSO, web identity, the instance's
//! metadata) and loads the system's root certificates from disk, every file of the
//! certificate folder: about 4 ms of the 5.5 ms the functions spent before their first call
//! (`init-time`). On Lambda the credentials and the region are always in the environment, and
//! the SDK only talks to AWS endpoints, so neither is needed.

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use base64::Engine;
use std::sync::Once;

/// The configuration of a function's clients: credentials and region from the environment
/// (the function's role and region, as Lambda sets them), the endpoint from `AWS_ENDPOINT_URL`
/// when it is set (the emulator), and one HTTPS client for all of them.
pub async fn lambda_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(https_client())
        .load()
        .await
}

/// An HTTPS client trusting Mozilla's root certificates, compiled in: nothing read from the
/// image's disk, the same trust on every image.
fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(mozilla_roots_pem());
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a trust store of PEM certificates is a valid TLS context");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https();
    SharedHttpClient::new(ValidatedOnce {
        client,
        validated: Once::new(),
    })
}

/// The roots as PEM, the form the SDK's trust store takes.
fn mozilla_roots_pem() -> String {
    let mut pem = String::new();
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64::engine::general_purpose::STANDARD.encode(der.as_ref()));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    pem
}

/// The SDK's client checks its TLS set-up again for every service client built from it (to
/// load the system's certificates before the first call): with four clients per function,
/// four times the same roots parsed. Once per container is enough.
#[derive(Debug)]
struct ValidatedOnce {
    client: SharedHttpClient,
    validated: Once,
}

impl HttpClient for ValidatedOnce {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        let mut result = Ok(());
        self.validated.call_once(|| {
            result = self.client.validate_base_client_config(components, cfg);
        });
        result
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.client.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.client.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every root the crate has, as one PEM document the SDK's parser reads back whole.
    #[test]
    fn the_roots_are_every_mozilla_root_in_pem() {
        let pem = mozilla_roots_pem();
        let begins = pem.matches("-----BEGIN CERTIFICATE-----").count();
        assert_eq!(begins, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(begins > 100, "{begins} roots");
        let first = pem
            .lines()
            .nth(1)
            .map(|line| base64::engine::general_purpose::STANDARD.decode(line));
        assert_eq!(
            first.map(|der| der.ok()),
            Some(Some(webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].to_vec()))
        );
    }
}
