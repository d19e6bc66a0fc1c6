//! E-mail on AWS: the bucket SES's receipt rule stores inbound mail in (`inbound/<SES message
//! id>`, refused ones copied under `refused/`), and SES v2 `SendEmail` for replies.

use crate::failure::failure_of;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use socialcare_domain::ports::{Failure, StoreError};

/// Where SES's receipt rule puts each message, below the bucket.
pub const INBOUND_PREFIX: &str = "inbound/";
/// Where a refused message is kept for inspection.
pub const REFUSED_PREFIX: &str = "refused/";
/// Where the files messages came with are kept, each under its SHA-256.
pub const ATTACHMENTS_PREFIX: &str = "attachments/";

/// The inbound mail bucket.
#[derive(Debug, Clone)]
pub struct MailBucket {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl MailBucket {
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_s3::Client::new(config),
            bucket: bucket.into(),
        }
    }

    /// The raw message SES stored for its message id; `Invalid` when it is over `most`
    /// bytes (it is not read) or missing.
    pub async fn read(&self, ses_message_id: &str, most: usize) -> Result<Vec<u8>, StoreError> {
        let key = inbound_key(ses_message_id)?;
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| {
                StoreError::new(
                    failure_of(&e),
                    format!("s3 get {key}: {}", DisplayErrorContext(e)),
                )
            })?;
        let size = object.content_length().unwrap_or(0).max(0) as usize;
        if size > most {
            return Err(StoreError::invalid(format!(
                "{key} has {size} bytes; at most {most} are read"
            )));
        }
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::unavailable(format!("s3 read {key}: {e}")))?
            .into_bytes();
        Ok(bytes.to_vec())
    }

    /// Keeps a file under `attachments/<sha256>` (the same bytes, so putting it again is
    /// harmless).
    pub async fn keep_file(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = attachment_key(sha256)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .body(bytes.to_vec().into())
            .send()
            .await
            .map_err(|e| {
                StoreError::new(
                    failure_of(&e),
                    format!("s3 put {key}: {}", DisplayErrorContext(e)),
                )
            })?;
        Ok(())
    }

    /// The file kept under `sha256`, if any.
    pub async fn read_file(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = attachment_key(sha256)?;
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => {
                return Err(StoreError::new(
                    failure_of(&e),
                    format!("s3 get {key}: {}", DisplayErrorContext(e)),
                ));
            }
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::unavailable(format!("s3 read {key}: {e}")))?
            .into_bytes();
        Ok(Some(bytes.to_vec()))
    }

    /// Copies the message under `refused/` with why beside it (`<id>.why`); answers where.
    pub async fn keep_refused(
        &self,
        ses_message_id: &str,
        why: &str,
    ) -> Result<String, StoreError> {
        let from = inbound_key(ses_message_id)?;
        let to = format!("{REFUSED_PREFIX}{ses_message_id}");
        let failed = |action: &str| {
            let action = action.to_string();
            move |e: String| StoreError::unavailable(format!("s3 {action}: {e}"))
        };
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(&to)
            .send()
            .await
            .map_err(|e| failed("copy")(DisplayErrorContext(e).to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{to}.why"))
            .content_type("text/plain; charset=utf-8")
            .body(why.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| failed("put")(DisplayErrorContext(e).to_string()))?;
        Ok(format!("s3://{}/{to}", self.bucket))
    }
}

/// The key of a message SES stored: its ids are letters, digits and dashes, and anything else
/// could name another object.
fn inbound_key(ses_message_id: &str) -> Result<String, StoreError> {
    let plain = !ses_message_id.is_empty()
        && ses_message_id.len() <= 200
        && ses_message_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match plain {
        true => Ok(format!("{INBOUND_PREFIX}{ses_message_id}")),
        false => Err(StoreError::invalid(format!(
            "{ses_message_id:?} is not an SES message id"
        ))),
    }
}

/// The key of a kept file: its digest, 64 hex digits, and nothing that could name another
/// object.
fn attachment_key(sha256: &str) -> Result<String, StoreError> {
    match sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(format!("{ATTACHMENTS_PREFIX}{sha256}")),
        false => Err(StoreError::invalid(format!("{sha256:?} is no SHA-256"))),
    }
}

/// Why SES did not send: whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ses ({failure}): {detail}")]
pub struct SendError {
    pub failure: Failure,
    pub detail: String,
}

/// Sends raw messages through SES v2.
#[derive(Debug, Clone)]
pub struct SesSender {
    client: aws_sdk_sesv2::Client,
    region: String,
}

/// The `Message-ID` SES sends a message with: it replaces any the message has with its own
/// message id at its region's domain (`email.amazonses.com` in us-east-1, else
/// `<region>.amazonses.com`). The customer's answer names this one in `In-Reply-To`, and a
/// bounce returns it.
pub fn ses_message_id(ses_message_id: &str, region: &str) -> String {
    match region {
        "us-east-1" | "" => format!("{ses_message_id}@email.amazonses.com"),
        region => format!("{ses_message_id}@{region}.amazonses.com"),
    }
}

impl SesSender {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_sesv2::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }

    /// The `Message-ID` (without brackets) SES sent a message with, given the id it answered.
    pub fn message_id_of(&self, id: &str) -> String {
        ses_message_id(id, &self.region)
    }

    /// Sends `raw` (headers and all) from `from` to `to`; SES's message id.
    pub async fn send(&self, from: &str, to: &str, raw: Vec<u8>) -> Result<String, SendError> {
        let content = EmailContent::builder()
            .raw(
                RawMessage::builder()
                    .data(Blob::new(raw))
                    .build()
                    .map_err(|e| SendError {
                        failure: Failure::Invalid,
                        detail: e.to_string(),
                    })?,
            )
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(content)
            .send()
            .await
            .map_err(|e| SendError {
                failure: match e.as_service_error().map(|s| s.meta().code()) {
                    // Refused as asked: an unverified sender, a suppressed or bad address.
                    Some(Some(
                        "MessageRejected"
                        | "MailFromDomainNotVerifiedException"
                        | "NotFoundException"
                        | "BadRequestException"
                        | "AccountSuspendedException"
                        | "SendingPausedException",
                    )) => Failure::Invalid,
                    Some(Some("TooManyRequestsException" | "LimitExceededException")) => {
                        Failure::Throttled
                    }
                    _ => failure_of(&e),
                },
                detail: DisplayErrorContext(e).to_string(),
            })?;
        Ok(sent.message_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::ses_message_id;

    #[test]
    fn ses_sends_with_its_own_message_id_at_its_regions_domain() {
        assert_eq!(
            ses_message_id("0100018c-1234", "us-east-1"),
            "0100018c-1234@email.amazonses.com"
        );
        assert_eq!(
            ses_message_id("0200018c-1234", "eu-west-1"),
            "0200018c-1234@eu-west-1.amazonses.com"
        );
    }
}
