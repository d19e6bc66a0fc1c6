//! Reading X as the app: recent search and post lookup, the exact requests (the bearer token
//! asked for once, the fields, the paging) and what X's answers become.

mod common;

use base64::Engine;
use chrono::{TimeZone, Utc};
use common::*;
use serde_json::json;
use socialcare_domain::Source;
use socialcare_domain::listening::{Fetched, ListenError, Listener, SearchRequest};
use socialcare_platforms::{Credentials, Endpoints, XListener};
use std::collections::BTreeMap;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const BEARER: &str = "AAAA-app-bearer";

async fn x_with_bearer() -> MockServer {
    let server = MockServer::start().await;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{CONSUMER_KEY}:{CONSUMER_SECRET}"));
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "token_type": "bearer", "access_token": BEARER })),
        )
        .mount(&server)
        .await;
    server
}

fn listener(server: &MockServer) -> XListener {
    let endpoints = Endpoints {
        x_api: server.uri(),
        ..Endpoints::default()
    };
    XListener::new(&credentials(), &endpoints, Duration::from_secs(5)).unwrap()
}

fn query_of(request: &Request) -> BTreeMap<String, String> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn requests_to(server: &MockServer, route: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

#[tokio::test]
async fn a_search_asks_for_newer_posts_with_their_authors_and_reads_the_page() {
    let server = x_with_bearer().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .and(header("authorization", format!("Bearer {BEARER}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "1860000000000000002", "text": "Acme fibre down again?!",
                 "created_at": "2026-12-03T09:01:02.000Z", "author_id": "77",
                 "edit_history_tweet_ids": ["1860000000000000002"]},
                {"id": "1860000000000000001", "text": "RT @ann: Acme fibre down",
                 "created_at": "2026-12-03T09:00:00.000Z", "author_id": "78",
                 "referenced_tweets": [{"type": "retweeted", "id": "1"}]}
            ],
            "includes": {"users": [
                {"id": "77", "name": "Ann", "username": "ann", "public_metrics": {"followers_count": 12}},
                {"id": "78", "name": "Bob", "username": "bob"}
            ]},
            "meta": {"newest_id": "1860000000000000002", "oldest_id": "1860000000000000001",
                     "result_count": 2, "next_token": "b26v89c19zqg8o3f"}
        })))
        .mount(&server)
        .await;
    let listener = listener(&server);
    let request = SearchRequest {
        query: "acme -from:acme -is:retweet".into(),
        since_id: Some("1859999999999999999".into()),
        next_token: None,
        start_time: None,
    };
    let page = listener
        .search(Source::X, X_ACCOUNT, &request)
        .await
        .unwrap();
    assert_eq!(page.newest_id.as_deref(), Some("1860000000000000002"));
    assert_eq!(page.next_token.as_deref(), Some("b26v89c19zqg8o3f"));
    assert_eq!(page.messages.len(), 1, "the retweet is no message");
    assert_eq!(
        page.messages[0].found_by,
        Some(socialcare_domain::message::FoundBy::Search {
            query: "acme -from:acme -is:retweet".into()
        }),
        "it does not address the brand"
    );
    let found = &page.messages[0];
    assert_eq!(found.external_id, "1860000000000000002");
    assert_eq!(found.account, X_ACCOUNT);
    assert_eq!(found.author.id, "77");
    assert_eq!(found.author.handle.as_deref(), Some("ann"));
    assert_eq!(found.author.followers, Some(12));
    assert_eq!(
        found.created_at,
        Utc.with_ymd_and_hms(2026, 12, 3, 9, 1, 2).unwrap()
    );

    let searches = requests_to(&server, "/2/tweets/search/recent").await;
    assert_eq!(searches.len(), 1);
    let asked = query_of(&searches[0]);
    let expected: BTreeMap<String, String> = [
        ("query", "acme -from:acme -is:retweet"),
        ("max_results", "100"),
        (
            "tweet.fields",
            "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,note_tweet,entities",
        ),
        ("expansions", "author_id"),
        ("user.fields", "name,username,public_metrics"),
        ("since_id", "1859999999999999999"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(asked, expected);

    // The next page, and a first poll's start time; the bearer token is asked for once.
    let more = SearchRequest {
        query: "acme".into(),
        since_id: None,
        next_token: Some("b26v89c19zqg8o3f".into()),
        start_time: Some(Utc.with_ymd_and_hms(2026, 12, 3, 8, 0, 0).unwrap()),
    };
    listener.search(Source::X, X_ACCOUNT, &more).await.unwrap();
    let searches = requests_to(&server, "/2/tweets/search/recent").await;
    let asked = query_of(&searches[1]);
    assert_eq!(asked["next_token"], "b26v89c19zqg8o3f");
    assert_eq!(asked["start_time"], "2026-12-03T08:00:00Z");
    assert!(!asked.contains_key("since_id"));
    assert_eq!(requests_to(&server, "/oauth2/token").await.len(), 1);
}

#[tokio::test]
async fn over_the_limit_a_search_pauses_until_the_reset_and_a_bad_query_is_refused() {
    let server = x_with_bearer().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", "4102444800")
                .set_body_json(
                    json!({"title": "Too Many Requests", "detail": "Too Many Requests",
                    "type": "about:blank", "status": 429}),
                ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"parameters": {"query": ["acme ("]},
                        "message": "There were errors processing your request: missing )"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.x.com/2/problems/invalid-request"})))
        .mount(&server)
        .await;
    let listener = listener(&server);
    let request = SearchRequest {
        query: "acme (".into(),
        since_id: None,
        next_token: None,
        start_time: None,
    };
    // X says the year 2100: a wait beyond a day is not believed.
    let asked_at = Utc::now();
    match listener.search(Source::X, X_ACCOUNT, &request).await {
        Err(ListenError::Paused { until, reason }) => {
            let day = chrono::Duration::days(1);
            assert!(until <= Utc::now() + day, "{until}");
            assert!(until >= asked_at + day, "{until}");
            assert!(reason.contains("429"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    match listener.search(Source::X, X_ACCOUNT, &request).await {
        Err(ListenError::Refused(reason)) => {
            assert!(reason.contains("400"), "{reason}");
            assert!(reason.contains("parameters to your request"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_post_is_fetched_with_its_author_and_a_deleted_one_is_gone() {
    let server = x_with_bearer().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1860000000000000010"))
        .and(header("authorization", format!("Bearer {BEARER}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"id": "1860000000000000010", "text": "my bill doubled this month",
                     "created_at": "2026-12-03T08:50:00.000Z", "author_id": "77"},
            "includes": {"users": [{"id": "77", "name": "Ann", "username": "ann"}]}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1860000000000000011"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{"value": "1860000000000000011", "detail":
                "Could not find tweet with id: [1860000000000000011].",
                "title": "Not Found Error", "resource_type": "tweet",
                "parameter": "id", "resource_id": "1860000000000000011",
                "type": "https://api.x.com/2/problems/resource-not-found"}]
        })))
        .mount(&server)
        .await;
    let listener = listener(&server);
    match listener
        .fetch(Source::X, X_ACCOUNT, "1860000000000000010")
        .await
        .unwrap()
    {
        Fetched::Found(message) => {
            assert_eq!(message.external_id, "1860000000000000010");
            assert_eq!(message.author.id, "77");
            assert_eq!(message.author.name.as_deref(), Some("Ann"));
            assert_eq!(message.text, "my bill doubled this month");
        }
        other => panic!("{other:?}"),
    }
    let lookups = requests_to(&server, "/2/tweets/1860000000000000010").await;
    let asked = query_of(&lookups[0]);
    assert_eq!(asked["expansions"], "author_id");
    assert_eq!(asked["user.fields"], "name,username,public_metrics");
    assert_eq!(
        listener
            .fetch(Source::X, X_ACCOUNT, "1860000000000000011")
            .await
            .unwrap(),
        Fetched::Gone("Could not find tweet with id: [1860000000000000011].".into())
    );
    // An id that is not an id is never put in a path.
    assert!(matches!(
        listener.fetch(Source::X, X_ACCOUNT, "../2/users/me").await,
        Ok(Fetched::Gone(_))
    ));
    assert!(requests_to(&server, "/2/users/me").await.is_empty());
}

#[tokio::test]
async fn a_refused_bearer_token_is_asked_for_again_and_without_credentials_nothing_is_read() {
    let server = x_with_bearer().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/5"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})))
        .mount(&server)
        .await;
    let listener = listener(&server);
    // Refused, the bearer token is forgotten and the call made once more with a new one;
    // refused again, it is X's answer.
    match listener.fetch(Source::X, X_ACCOUNT, "5").await {
        Err(ListenError::Refused(reason)) => assert!(reason.contains("401"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(requests_to(&server, "/oauth2/token").await.len(), 2);
    assert_eq!(requests_to(&server, "/2/tweets/5").await.len(), 2);

    let none = XListener::new(
        &Credentials::default(),
        &Endpoints {
            x_api: server.uri(),
            ..Endpoints::default()
        },
        Duration::from_secs(5),
    )
    .unwrap();
    match none.fetch(Source::X, X_ACCOUNT, "5").await {
        Err(ListenError::Refused(reason)) => {
            assert!(reason.contains("no X app credentials"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        requests_to(&server, "/2/tweets/5").await.len(),
        2,
        "nothing asked without credentials"
    );
}

#[tokio::test]
async fn a_bearer_token_x_stopped_taking_is_replaced_within_the_call() {
    let server = MockServer::start().await;
    // X hands out a new token; the old one, cached, is refused once.
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "token_type": "bearer", "access_token": "old" })),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "token_type": "bearer", "access_token": "new" })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/9"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"title": "Unauthorized"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/9"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"id": "9", "text": "hi", "created_at": "2026-12-03T08:50:00.000Z", "author_id": "77"}
        })))
        .mount(&server)
        .await;
    let listener = listener(&server);
    assert!(matches!(
        listener.fetch(Source::X, X_ACCOUNT, "9").await,
        Ok(Fetched::Found(_))
    ));
}
