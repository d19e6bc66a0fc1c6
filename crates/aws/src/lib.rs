//! The AWS adapters: the ticket store on DynamoDB, the queues on SQS, secrets from Secrets
//! Manager, inbound mail in S3 and replies through SES. Clients take their endpoint from `AWS_ENDPOINT_URL` when it is set (the emulator).

mod dynamodb;
mod eventbridge;
mod failure;
mod kms;
mod lambda_config;
mod mail;
mod secrets;
mod sqs;

pub use dynamodb::{CapacityMeter, Consumed, DynamoStore, StreamChange, measured_client};
pub use eventbridge::EventBus;
pub use kms::KmsSealer;
pub use lambda_config::lambda_config;
pub use mail::{INBOUND_PREFIX, MailBucket, REFUSED_PREFIX, SendError, SesSender};
pub use secrets::{SecretError, SecretsError, optional_secret, secret_string, secret_strings};
pub use sqs::SqsQueue;

/// The shared SDK configuration, from the environment and the profiles (region, credentials,
/// endpoint): for the local runner's `--aws` mode, run where any of them may be configured.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::load_from_env().await
}
