use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {secret_id}: {}", DisplayErrorContext(.source))]
    Read {
        secret_id: String,
        source: Box<SdkError<GetSecretValueError>>,
    },
    /// A binary secret: socialcare's secrets are all text.
    #[error("secret {secret_id} has no string value")]
    NotText { secret_id: String },
}

/// The value of a Secrets Manager secret, read once when a function starts.
pub async fn secret_string(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Read {
            secret_id: secret_id.to_string(),
            source: Box::new(e),
        })?;
    output.secret_string.ok_or_else(|| SecretError::NotText {
        secret_id: secret_id.to_string(),
    })
}

/// The secret named by the environment variable `arn_variable`, or `None` when the variable is
/// unset or empty (an optional part of the deployment left off).
pub async fn optional_secret(
    client: &aws_sdk_secretsmanager::Client,
    arn_variable: &str,
) -> Result<Option<String>, SecretError> {
    match std::env::var(arn_variable).unwrap_or_default() {
        arn if arn.is_empty() => Ok(None),
        arn => secret_string(client, &arn).await.map(Some),
    }
}
