//! Why a payload is refused, shared by every platform's parser.

use socialcare_domain::{MessageChange, NormalizedMessage};

/// What one webhook delivery holds, whichever platform sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery {
    pub messages: Vec<NormalizedMessage>,
    /// Edits, removals and hidings of messages delivered before.
    pub changes: Vec<MessageChange>,
    /// What was accepted but is neither (reactions, reads, follows...), for the logs.
    pub ignored: Vec<String>,
}

/// Why a body is not an event we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON at all (or not UTF-8, or nested too deep).
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    /// JSON, but a field is missing or has the wrong type or value.
    #[error("{field}: {problem}")]
    Field { field: String, problem: String },
}

impl PayloadError {
    pub fn field(field: &str, problem: &str) -> Self {
        Self::Field {
            field: field.to_string(),
            problem: problem.to_string(),
        }
    }
}

/// Deserializes a whole body, naming the path of a field that does not fit.
pub fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, PayloadError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => PayloadError::Field {
                field: if path == "." { "body".into() } else { path },
                problem: inner.to_string(),
            },
            _ => PayloadError::Syntax(inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| PayloadError::Syntax(e.to_string()))?;
    Ok(value)
}
