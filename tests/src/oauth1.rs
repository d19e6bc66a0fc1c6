//! OAuth 1.0a signatures (RFC 5849 §3.4, HMAC-SHA1), written here from the RFC with `hmac`
//! and `sha1`, so that the fake X checks what the product signs with `oauth1-request` by code
//! of its own: a mistake in one cannot hide behind the same mistake in the other.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// §3.6: every byte but the unreserved characters (`A-Z a-z 0-9 - . _ ~`) as `%XX`, in
/// upper case.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The inverse of [`encode`] (any `%XX` decoded, `+` left alone); `None` for a `%` without
/// two hex digits, or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// §3.4.1.2: scheme and host in lower case, the port only when it is not the scheme's
/// default, the path as requested, no query.
pub fn base_uri(scheme: &str, authority: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_string(),
        _ => authority,
    };
    let path = if path.is_empty() { "/" } else { path };
    format!("{scheme}://{authority}{path}")
}

/// §3.4.1.3.2: every parameter (but `oauth_signature`) encoded, sorted by name then value,
/// `name=value` joined with `&`.
pub fn normalized_parameters(parameters: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = parameters
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// §3.4.1.1: the method in upper case, the base string URI and the normalized parameters,
/// each encoded, joined with `&`.
pub fn signature_base_string(
    method: &str,
    base_uri: &str,
    parameters: &[(String, String)],
) -> String {
    format!(
        "{}&{}&{}",
        encode(&method.to_ascii_uppercase()),
        encode(base_uri),
        encode(&normalized_parameters(parameters))
    )
}

fn mac(consumer_secret: &str, token_secret: &str, base_string: &str) -> Hmac<Sha1> {
    // §3.4.2: the key is both secrets, encoded, joined with `&` (which stays when the token
    // secret is empty).
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(base_string.as_bytes());
    mac
}

/// §3.4.2: base64 of HMAC-SHA1 of the base string.
pub fn hmac_sha1(consumer_secret: &str, token_secret: &str, base_string: &str) -> String {
    STANDARD.encode(
        mac(consumer_secret, token_secret, base_string)
            .finalize()
            .into_bytes(),
    )
}

/// Whether `signature` (base64) is the HMAC-SHA1 of the base string, compared in constant
/// time.
pub fn verify(
    consumer_secret: &str,
    token_secret: &str,
    base_string: &str,
    signature: &str,
) -> bool {
    let Ok(given) = STANDARD.decode(signature) else {
        return false;
    };
    mac(consumer_secret, token_secret, base_string)
        .verify_slice(&given)
        .is_ok()
}

/// §3.5.1: the parameters of an `Authorization: OAuth name="value", …` header, decoded,
/// without `realm`; `None` when it is not one.
pub fn authorization_parameters(header: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return None;
    }
    let mut parameters = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, value) = part.split_once('=')?;
        let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
        let name = decode(name.trim())?;
        if name != "realm" {
            parameters.push((name, decode(value)?));
        }
    }
    Some(parameters)
}
