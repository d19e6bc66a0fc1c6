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

/// Why a batch of secrets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("reading secrets: {}", DisplayErrorContext(.0))]
    Read(
        Box<
            SdkError<
                aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueError,
            >,
        >,
    ),
    /// One of them: Secrets Manager's code and words for it.
    #[error("reading secret {secret_id}: {code}: {message}")]
    One {
        secret_id: String,
        code: String,
        message: String,
    },
    #[error("secret {secret_id} has no string value")]
    NotText { secret_id: String },
}

/// The values of these secrets (ARNs), in one `BatchGetSecretValue` per 20: a cold start
/// makes one round trip for all of a function's secrets, not one each.
pub async fn secret_strings(
    client: &aws_sdk_secretsmanager::Client,
    secret_ids: &[String],
) -> Result<std::collections::HashMap<String, String>, SecretsError> {
    let mut values = std::collections::HashMap::new();
    for chunk in secret_ids.chunks(20) {
        let mut next: Option<String> = None;
        loop {
            let output = client
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.to_vec()))
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| SecretsError::Read(Box::new(e)))?;
            if let Some(error) = output.errors().first() {
                return Err(SecretsError::One {
                    secret_id: error.secret_id().unwrap_or_default().to_string(),
                    code: error.error_code().unwrap_or_default().to_string(),
                    message: error.message().unwrap_or_default().to_string(),
                });
            }
            for secret in output.secret_values() {
                let id = secret
                    .arn()
                    .or(secret.name())
                    .unwrap_or_default()
                    .to_string();
                let Some(text) = secret.secret_string() else {
                    return Err(SecretsError::NotText { secret_id: id });
                };
                // Asked by ARN: kept under it (and under its name, which an ARN may be given as).
                if let Some(name) = secret.name() {
                    values.insert(name.to_string(), text.to_string());
                }
                values.insert(id, text.to_string());
            }
            next = output.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
    }
    Ok(values)
}
