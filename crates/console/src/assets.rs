//! The console's stylesheet and script, embedded in the binary and served under names that
//! carry a hash of their content, so browsers may keep them for a year and a new build is
//! fetched at once.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    /// The served name: `console.<hash>.css`.
    name: String,
    content_type: &'static str,
    body: &'static [u8],
}

fn asset(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let hash = hex::encode(&Sha256::digest(body)[..8]);
    Asset {
        name: format!("{stem}.{hash}.{ext}"),
        content_type,
        body,
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        asset(
            "console",
            "css",
            "text/css; charset=utf-8",
            include_bytes!("../assets/console.css"),
        ),
        asset(
            "console",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/console.js"),
        ),
        asset(
            "icon",
            "svg",
            "image/svg+xml",
            include_bytes!("../assets/icon.svg"),
        ),
    ]
});

/// The path the stylesheet is served at.
pub fn stylesheet() -> String {
    format!("/assets/{}", ASSETS[0].name)
}

/// The path the script is served at.
pub fn script() -> String {
    format!("/assets/{}", ASSETS[1].name)
}

/// The path the icon is served at.
pub fn icon() -> String {
    format!("/assets/{}", ASSETS[2].name)
}

/// `GET /assets/{name}`: only the current names; anything else is 404.
pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
