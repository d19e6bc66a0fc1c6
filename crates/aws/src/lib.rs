//! The AWS adapters: the ticket store on DynamoDB, the queues on SQS, secrets from Secrets
//! Manager. Clients take their endpoint from `AWS_ENDPOINT_URL` when it is set (the emulator).

mod dynamodb;
mod failure;
mod kms;
mod secrets;
mod sqs;

pub use dynamodb::{CapacityMeter, Consumed, DynamoStore, measured_client};
pub use kms::KmsSealer;
pub use secrets::{SecretError, SecretsError, optional_secret, secret_string, secret_strings};
pub use sqs::SqsQueue;

/// The shared SDK configuration, from the environment (region, credentials, endpoint).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::load_from_env().await
}
