//! What kind of failure an AWS call had, from its error code: throttled (try again after a
//! pause), unavailable (try again), invalid (trying again will not help).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use socialcare_domain::ports::Failure;

/// The kind of `error`: a service's answer by its code; a request that could not be made is
/// invalid; no answer (timeout, connection) is unavailable.
pub(crate) fn failure_of<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Failure {
    match error {
        SdkError::ServiceError(_) => failure_of_code(error.code()),
        SdkError::ConstructionFailure(_) => Failure::Invalid,
        _ => Failure::Unavailable,
    }
}

/// DynamoDB's and SQS's error codes by kind; an unknown code is taken as unavailable.
pub(crate) fn failure_of_code(code: Option<&str>) -> Failure {
    match code {
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "LimitExceededException"
            | "RequestThrottled"
            | "OverLimit"
            | "KmsThrottled",
        ) => Failure::Throttled,
        Some(
            "ValidationException"
            | "SerializationException"
            | "ResourceNotFoundException"
            | "ItemCollectionSizeLimitExceededException"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "MissingParameter"
            | "InvalidParameterValue"
            | "InvalidAttributeValue"
            | "InvalidMessageContents"
            | "QueueDoesNotExist"
            | "AWS.SimpleQueueService.NonExistentQueue"
            | "UnsupportedOperation",
        ) => Failure::Invalid,
        _ => Failure::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_say_whether_trying_again_helps() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "RequestThrottled",
        ] {
            assert_eq!(failure_of_code(Some(code)), Failure::Throttled, "{code}");
        }
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
            "QueueDoesNotExist",
            "InvalidParameterValue",
        ] {
            assert_eq!(failure_of_code(Some(code)), Failure::Invalid, "{code}");
        }
        for code in [
            Some("InternalServerError"),
            Some("ServiceUnavailable"),
            None,
        ] {
            assert_eq!(failure_of_code(code), Failure::Unavailable, "{code:?}");
        }
    }
}
