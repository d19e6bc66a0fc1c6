//! `GET /attachments/{sha256}?name=`: a file an e-mail came with, to a signed-in agent. Always
//! a download, never shown on the console's own origin: a customer's HTML or SVG file could
//! otherwise run script as the agent.

use crate::Console;
use crate::page;
use crate::session::SignedIn;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use socialcare_app::api::Store;
use socialcare_app::attachments::{attachment_path, is_digest};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct Named {
    /// The name to save it as (the sender's, as the ticket lists it).
    #[serde(default)]
    name: String,
}

/// The link to a kept file, saved under its name.
pub fn download_href(sha256: &str, name: &str) -> String {
    format!("{}?name={}", attachment_path(sha256), percent_encoded(name))
}

pub async fn download<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(sha256): Path<String>,
    named: Result<Query<Named>, QueryRejection>,
) -> Response {
    let agent = || Some(signed_in.agent());
    let missing = || page::error(StatusCode::NOT_FOUND, "no such file", agent(), "/");
    let Some(files) = console.files.as_ref().filter(|_| is_digest(&sha256)) else {
        return missing();
    };
    let bytes = match files.read(&sha256).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return missing(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a kept file");
            return page::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the file could not be read; try again",
                agent(),
                "/",
            );
        }
    };
    let name = named.map(|Query(n)| n.name).unwrap_or_default();
    let name = match name.trim() {
        "" => "attachment".to_string(),
        name => name.chars().filter(|c| !c.is_control()).take(200).collect(),
    };
    let ascii: String = name
        .chars()
        .map(
            |c| match c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                true => c,
                false => '_',
            },
        )
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encoded(&name)
    );
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_string(),
            ),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// RFC 8187's encoding: every byte but letters, digits and `!#$&+-.^_`|~` as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(
            |b| match b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                true => (b as char).to_string(),
                false => format!("%{b:02X}"),
            },
        )
        .collect()
}
