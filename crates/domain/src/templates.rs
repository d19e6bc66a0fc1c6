//! Reply templates: text with `{{customer.name}}`-style variables, checked when saved so that
//! a typo is an error for the admin, never a blank in front of a customer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The variables a template may use.
pub const VARIABLES: [&str; 5] = [
    "customer.name",
    "customer.handle",
    "agent.name",
    "ticket.id",
    "ticket.subject",
];

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Chosen by the admin: letters, digits, `-` and `_`.
    pub id: String,
    pub text: String,
    /// The language it is written in (an ISO 639-1 code), when given.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown variable {{{{{0}}}}}; known: customer.name, customer.handle, agent.name, ticket.id, ticket.subject"
    )]
    UnknownVariable(String),
    #[error("a {{{{ has no closing }}}}")]
    Unclosed,
    #[error("the text must be 1 to 10000 characters")]
    BadText,
    #[error("the id must be 1 to 64 letters, digits, '-' or '_'")]
    BadId,
}

/// The variables `text` uses, in order; an error names the first unknown one.
pub fn variables(text: &str) -> Result<Vec<&str>, TemplateError> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let name = after[..end].trim();
        if !VARIABLES.contains(&name) {
            return Err(TemplateError::UnknownVariable(name.to_string()));
        }
        found.push(name);
        rest = &after[end + 2..];
    }
    Ok(found)
}

/// Checks a template before it is stored.
pub fn check(id: &str, text: &str) -> Result<(), TemplateError> {
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(TemplateError::BadId);
    }
    if text.trim().is_empty() || text.chars().count() > 10_000 {
        return Err(TemplateError::BadText);
    }
    variables(text).map(|_| ())
}

/// The values a template is filled with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    pub customer_name: Option<String>,
    pub customer_handle: Option<String>,
    pub agent_name: String,
    pub ticket_id: String,
    pub ticket_subject: String,
}

/// Fills a checked template. A customer without a name is greeted by handle, or as "there".
pub fn render(text: &str, values: &Values) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let value = match after[..end].trim() {
            "customer.name" => values
                .customer_name
                .clone()
                .or_else(|| values.customer_handle.clone())
                .unwrap_or_else(|| "there".into()),
            "customer.handle" => values
                .customer_handle
                .as_ref()
                .map(|h| format!("@{h}"))
                .or_else(|| values.customer_name.clone())
                .unwrap_or_default(),
            "agent.name" => values.agent_name.clone(),
            "ticket.id" => values.ticket_id.clone(),
            "ticket.subject" => values.ticket_subject.clone(),
            other => return Err(TemplateError::UnknownVariable(other.to_string())),
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_known_variables_and_names_an_unknown_one() {
        assert_eq!(
            variables("Hi {{customer.name}}, {{ agent.name }} here ({{ticket.id}})"),
            Ok(vec!["customer.name", "agent.name", "ticket.id"])
        );
        assert_eq!(
            variables("Hi {{customer.age}}"),
            Err(TemplateError::UnknownVariable("customer.age".into()))
        );
        assert_eq!(
            variables("Hi {{customer.name"),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(variables("no variables"), Ok(vec![]));
        let message = TemplateError::UnknownVariable("customer.age".into()).to_string();
        assert!(
            message.starts_with("unknown variable {{customer.age}}"),
            "{message}"
        );
    }

    #[test]
    fn checks_ids_and_text() {
        assert_eq!(check("apology-1", "Sorry!"), Ok(()));
        assert_eq!(check("has space", "x"), Err(TemplateError::BadId));
        assert_eq!(check("", "x"), Err(TemplateError::BadId));
        assert_eq!(check("ok", "  "), Err(TemplateError::BadText));
        assert_eq!(
            check("ok", &"x".repeat(10_001)),
            Err(TemplateError::BadText)
        );
    }

    #[test]
    fn renders_with_fallbacks() {
        let values = Values {
            customer_name: None,
            customer_handle: Some("lee_ann".into()),
            agent_name: "Sally".into(),
            ticket_id: "tkt_1".into(),
            ticket_subject: "router".into(),
        };
        assert_eq!(
            render(
                "Hi {{customer.name}}, {{agent.name}} here about {{ticket.subject}} ({{customer.handle}})",
                &values
            ),
            Ok("Hi lee_ann, Sally here about router (@lee_ann)".into())
        );
        let nobody = Values::default();
        assert_eq!(
            render("Hi {{customer.name}}!", &nobody),
            Ok("Hi there!".into())
        );
    }
}
