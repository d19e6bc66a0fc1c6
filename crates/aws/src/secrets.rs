/// The value of a Secrets Manager secret, read once when a function starts.
pub async fn secret_string(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, String> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading secret {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    output
        .secret_string
        .ok_or_else(|| format!("secret {secret_id} has no string value"))
}

/// The secret named by the environment variable `arn_variable`, or `None` when the variable is
/// unset or empty (an optional part of the deployment left off).
pub async fn optional_secret(
    client: &aws_sdk_secretsmanager::Client,
    arn_variable: &str,
) -> Result<Option<String>, String> {
    match std::env::var(arn_variable).unwrap_or_default() {
        arn if arn.is_empty() => Ok(None),
        arn => secret_string(client, &arn).await.map(Some),
    }
}
