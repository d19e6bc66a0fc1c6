//! Instagram hashtags, read as the brand's Instagram account with its page token
//! ([`Listener`] for [`HttpPlatform`]): `GET /ig_hashtag_search?user_id=&q=` finds the
//! hashtag's id, `GET /{hashtag-id}/recent_media?user_id=&fields=` its posts of the last 24
//! hours, newest first, 50 a page.
//!
//! Meta's limits: an account may search 30 different hashtags in a rolling week (searching one
//! again does not count), a post found so has no author (no `username`), and the brand cannot
//! comment on it. So a post is counted and kept among the latest heard, with its link, never
//! ticketed: nobody could be answered.

use crate::meta::{appsecret_proof, graph_token, is_rate_limit, retry_at};
use crate::{Answer, HttpPlatform, send};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use socialcare_domain::listening::{Fetched, ListenError, Listener, SearchPage, SearchRequest};
use socialcare_domain::message::{Author, Channel, Direction, FoundBy, NormalizedMessage, Source};
use socialcare_domain::replies::PostError;
use socialcare_domain::search::hashtag;

/// What is asked of each post.
pub const MEDIA_FIELDS: &str = "id,caption,permalink,timestamp";
/// A page's most: Meta's.
const PAGE_SIZE: &str = "50";

impl Listener for HttpPlatform {
    async fn search(
        &self,
        source: Source,
        account: &str,
        request: &SearchRequest,
    ) -> Result<SearchPage, ListenError> {
        if source != Source::Instagram {
            return Err(ListenError::Refused(format!(
                "{source} is not searched with a page token"
            )));
        }
        let tag = hashtag(&request.query)
            .ok_or_else(|| ListenError::Refused(format!("{:?} is not a hashtag", request.query)))?;
        // The page token (a store read and an unsealing) once for both calls.
        let (app_secret, token) = graph_token(self, source, account)
            .await
            .map_err(listen_error_of_post)?;
        let proof = appsecret_proof(&app_secret, &token).map_err(listen_error_of_post)?;
        let signed = (token, proof);
        let found = self
            .graph_get(account, &signed, "ig_hashtag_search", &[("q", tag.clone())])
            .await?;
        let hashtag = found["data"][0]["id"]
            .as_str()
            .filter(|id| crate::is_platform_id(id))
            .ok_or_else(|| ListenError::Refused(format!("Instagram has no hashtag #{tag}")))?
            .to_string();
        let mut query = vec![
            ("fields", MEDIA_FIELDS.to_string()),
            ("limit", PAGE_SIZE.to_string()),
        ];
        if let Some(after) = &request.next_token {
            query.push(("after", after.clone()));
        }
        let media = self
            .graph_get(account, &signed, &format!("{hashtag}/recent_media"), &query)
            .await?;
        Ok(page_of(&media, account, request))
    }

    async fn fetch(
        &self,
        source: Source,
        _account: &str,
        _external_id: &str,
    ) -> Result<Fetched, ListenError> {
        Err(ListenError::Refused(format!(
            "{source} posts are not fetched one by one"
        )))
    }
}

/// A page of `recent_media` as a search page: the posts after what was read before (the
/// newest's time is the state's `since_id`; the first poll's bound is `start_time`), and the
/// next page only while every post of this one was new.
fn page_of(media: &Value, account: &str, request: &SearchRequest) -> SearchPage {
    let since = request
        .since_id
        .as_deref()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc))
        .or(request.start_time);
    let mut page = SearchPage::default();
    let mut reached_the_read = false;
    for post in media["data"].as_array().into_iter().flatten() {
        let (Some(id), Some(at)) = (
            post["id"].as_str().filter(|id| crate::is_platform_id(id)),
            post["timestamp"].as_str().and_then(meta_time),
        ) else {
            continue;
        };
        if page.newest_id.is_none() {
            page.newest_id = Some(at.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        if since.is_some_and(|since| at <= since) {
            reached_the_read = true;
            continue;
        }
        if let Some(link) = post["permalink"]
            .as_str()
            .filter(|l| l.starts_with("https://www.instagram.com/"))
        {
            page.links.insert(id.to_string(), link.to_string());
        }
        page.messages.push(NormalizedMessage {
            source: Source::Instagram,
            account: account.to_string(),
            channel: Channel::Public,
            direction: Direction::Inbound,
            external_id: id.to_string(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: Some(id.to_string()),
            recipient_id: None,
            // Meta does not say who posted it.
            author: Author {
                id: String::new(),
                name: None,
                handle: None,
                email: None,
                followers: None,
                verified_email: false,
            },
            text: post["caption"].as_str().unwrap_or_default().to_string(),
            attachments: Vec::new(),
            created_at: at,
            callback_url: None,
            found_by: Some(FoundBy::Search {
                query: request.query.clone(),
            }),
            subject: None,
            quoted: None,
            html: None,
        });
    }
    let after = media["paging"]["cursors"]["after"].as_str();
    let more = media["paging"]["next"].is_string();
    page.next_token = match (after, more && !reached_the_read) {
        (Some(after), true) if !after.is_empty() => Some(after.to_string()),
        _ => None,
    };
    page
}

/// Meta's times: `2026-12-04T09:30:00+0000`.
fn meta_time(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(at))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

impl HttpPlatform {
    /// GETs `path` of the Graph API as `account`, with its page token and that token's proof:
    /// the answer as JSON, or why not.
    async fn graph_get(
        &self,
        account: &str,
        (token, proof): &(String, String),
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ListenError> {
        let address = format!(
            "{}/{}/{path}",
            self.endpoints.meta_graph, self.endpoints.meta_version
        );
        let mut params: Vec<(&str, String)> = vec![("user_id", account.to_string())];
        params.extend(query.iter().cloned());
        params.push(("access_token", token.clone()));
        params.push(("appsecret_proof", proof.clone()));
        // The error names the address without the query, which holds the token.
        let url = reqwest::Url::parse_with_params(&address, &params).map_err(|e| {
            ListenError::Refused(format!("the Graph API address {address} is not valid: {e}"))
        })?;
        let answer = send(self, "Meta", self.client.get(url))
            .await
            .map_err(listen_error_of_post)?;
        if answer.status.is_success() {
            return answer.json().ok_or_else(|| {
                ListenError::Unavailable(format!("Meta answered {}", answer.excerpt()))
            });
        }
        Err(listen_error(&answer, Utc::now()))
    }
}

/// Why a read failed, from Meta's answer: over a limit waits until Meta says (or five
/// minutes), Meta's own failure is worth another try, the rest (a bad token, a hashtag Meta
/// will not search, past the 30 a week) is refused.
fn listen_error(answer: &Answer, now: DateTime<Utc>) -> ListenError {
    let error = answer.json().map(|json| json["error"].clone());
    let code = error.as_ref().and_then(|e| e["code"].as_i64());
    let message = error
        .as_ref()
        .and_then(|e| e["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| answer.excerpt());
    let what = match code {
        Some(code) => format!("code {code}"),
        None => format!("HTTP {}", answer.status.as_u16()),
    };
    if answer.status.as_u16() == 429 || code.is_some_and(is_rate_limit) {
        return ListenError::Paused {
            until: retry_at(answer, now),
            reason: format!("Meta rate limit ({what}): {message}"),
        };
    }
    if answer.status.is_server_error() || matches!(code, Some(1 | 2)) {
        return ListenError::Unavailable(format!("Meta failed ({what}): {message}"));
    }
    ListenError::Refused(format!("Meta refused the read ({what}): {message}"))
}

fn listen_error_of_post(error: PostError) -> ListenError {
    match error {
        PostError::RateLimited { retry_at, reason } => ListenError::Paused {
            until: retry_at,
            reason,
        },
        PostError::Transient(why) | PostError::Unknown(why) => ListenError::Unavailable(why),
        PostError::Permanent(why) => ListenError::Refused(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn a_page_keeps_only_new_posts_with_ids_and_links_of_instagram() {
        let request = SearchRequest {
            query: "#acmefibre".into(),
            since_id: Some("2026-12-04T09:00:00Z".into()),
            next_token: None,
            start_time: None,
        };
        let media = json!({
            "data": [
                { "id": "18000000000000003", "caption": "<script>x</script> down",
                  "permalink": "javascript:alert(1)", "timestamp": "2026-12-04T09:05:00+0000" },
                { "id": "../../me", "caption": "not an id", "timestamp": "2026-12-04T09:04:00+0000" },
                { "id": "18000000000000002", "caption": "elsewhere",
                  "permalink": "https://evil.example/p/1/", "timestamp": "2026-12-04T09:03:00+0000" },
                { "id": "18000000000000001", "caption": "read before",
                  "permalink": "https://www.instagram.com/p/C1/", "timestamp": "2026-12-04T09:00:00+0000" }
            ],
            "paging": { "cursors": { "after": "QVFI" }, "next": "https://graph.facebook.com/next" }
        });
        let page = page_of(&media, "17841400000000001", &request);
        let ids: Vec<&str> = page
            .messages
            .iter()
            .map(|m| m.external_id.as_str())
            .collect();
        assert_eq!(ids, ["18000000000000003", "18000000000000002"]);
        assert_eq!(
            page.messages[0].text, "<script>x</script> down",
            "kept as text"
        );
        assert_eq!(
            page.messages[0].created_at,
            Utc.with_ymd_and_hms(2026, 12, 4, 9, 5, 0).unwrap()
        );
        assert!(
            page.links.is_empty(),
            "only Instagram's own links: {:?}",
            page.links
        );
        assert_eq!(page.newest_id.as_deref(), Some("2026-12-04T09:05:00Z"));
        assert_eq!(
            page.next_token, None,
            "it reached what was read: no further page"
        );
    }
}
