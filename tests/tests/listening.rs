//! Listening through `socialcare-local` against the fake X: an account's search query in its
//! settings is polled by the scheduler, the complaint it finds (without `@`) is a ticket marked
//! as found, the praise is counted and shown, not ticketed; the brand's native answer to a
//! tweet no webhook delivered fetches that tweet, so the ticket begins with the customer.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::browser::Visitor;
use socialcare_tests::fake_x::FakeX;
use socialcare_tests::runner::Driver;

const KEY: &str = "sk_listening_key_0001";
const X_SECRET: &str = "cs-listening";
const BRAND: &str = "1100000000000000001";

const ACCOUNTS: &str = r#"
[[accounts]]
platform = "x"
id = "1100000000000000001"
handle = "acme_care"

[accounts.listening]
queries = ["acme fibre -from:acme_care -is:retweet"]
every_minutes = 5
"#;

fn post(id: &str, author: &str, text: &str, minutes_ago: i64) -> Value {
    let at = Utc::now() - Duration::minutes(minutes_ago);
    json!({ "id": id, "text": text, "author_id": author,
            "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "edit_history_tweet_ids": [id] })
}

fn user(id: &str, handle: &str) -> Value {
    json!({ "id": id, "name": format!("Customer {handle}"), "username": handle,
            "public_metrics": { "followers_count": 12 } })
}

fn first_at(detail: &Value) -> Value {
    detail["messages"][0]["created_at"].clone()
}

async fn detail(driver: &Driver, ticket: &Value) -> Value {
    let id = ticket["id"].as_str().unwrap();
    let (status, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    detail
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_finds_the_complaint_and_a_brand_answer_fetches_the_tweet_it_answers() {
    let x = FakeX::start_with("ck-listening", X_SECRET).await;
    x.add_post(
        post(
            "1860000000000000001",
            "77",
            "acme fibre down again, third time this week",
            3,
        ),
        user("77", "ann"),
    );
    x.add_post(
        post(
            "1860000000000000002",
            "78",
            "Loving my acme fibre, thank you!",
            2,
        ),
        user("78", "bob"),
    );
    let (_data, driver) =
        Driver::start_with_fake_x("listening", KEY, ACCOUNTS, &x.url(), X_SECRET).await;

    let tickets = driver.tickets_when(|t| !t.is_empty()).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let found = detail(&driver, &tickets[0]).await;
    assert_eq!(
        found["messages"][0]["external_id"], "1860000000000000001",
        "{found}"
    );
    assert_eq!(
        found["messages"][0]["found_by"],
        json!({ "by": "search", "query": "acme fibre -from:acme_care -is:retweet" })
    );
    let asked = x.searches();
    let query = asked[0]
        .iter()
        .find(|(name, _)| name == "query")
        .map(|(_, value)| value.clone());
    assert_eq!(
        query.as_deref(),
        Some("acme fibre -from:acme_care -is:retweet")
    );

    // The state is written after its results are queued: the ticket may come first.
    let (mut status, mut searches) = (StatusCode::NOT_FOUND, Value::Null);
    for _ in 0..100 {
        (status, searches) = driver
            .get(&format!("/v1/accounts/x/{BRAND}/searches"))
            .await;
        if searches[0]["found"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "{searches}");
    assert_eq!(searches[0]["found"], 2, "{searches}");
    assert_eq!(searches[0]["ticketed"], 1);
    assert_eq!(searches[0]["heard"], json!({ "praise": 1 }));
    assert_eq!(
        searches[0]["latest_heard"][0]["external_id"],
        "1860000000000000002"
    );

    let mut visitor = Visitor::new(&driver.base);
    assert_eq!(visitor.sign_in(KEY).await.status, StatusCode::SEE_OTHER);
    let page = visitor.get(&format!("/settings/accounts/x/{BRAND}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(r#"<dd data-ticketed>1</dd>"#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"<dd data-heard>1 praise</dd>"#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Loving my acme fibre, thank you!"),
        "{}",
        page.body
    );
    let ticket_page = visitor
        .get(&format!("/tickets/{}", tickets[0]["id"].as_str().unwrap()))
        .await;
    assert!(
        ticket_page
            .body
            .contains("found by the search acme fibre -from:acme_care -is:retweet"),
        "{}",
        ticket_page.body
    );

    // The brand answered a customer on X itself; only its own reply comes by webhook.
    x.add_post(
        post(
            "1860000000000000010",
            "79",
            "why is my bill double this month",
            20,
        ),
        user("79", "cat"),
    );
    let at = Utc::now() - Duration::minutes(5);
    let answer = json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "id_str": "1860000000000000011",
            "created_at": at.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
            "timestamp_ms": at.timestamp_millis().to_string(),
            "text": "@cat Sorry about that! Please DM us your account number.",
            "in_reply_to_status_id_str": "1860000000000000010",
            "in_reply_to_user_id_str": "79",
            "user": {"id_str": BRAND, "name": "Acme Care", "screen_name": "acme_care"}
        }]
    });
    driver.post_x(&answer, X_SECRET).await;
    let tickets = driver
        .tickets_when(|t| t.len() == 2 && t.iter().any(|t| t["message_count"] == 2))
        .await;
    let answered = tickets.iter().find(|t| t["message_count"] == 2).unwrap();
    let answered = detail(&driver, answered).await;
    // Shown only when true: the customer's tweet opens it now.
    assert_eq!(
        answered["ticket"].get("opened_by_brand"),
        None,
        "{answered}"
    );
    assert_eq!(answered["ticket"]["created_at"], first_at(&answered));
    assert_eq!(
        answered["ticket"]["subject"],
        "why is my bill double this month"
    );
    let first = &answered["messages"][0];
    assert_eq!(first["external_id"], "1860000000000000010");
    assert_eq!(first["found_by"], json!({ "by": "lookup" }));
    assert_eq!(x.lookups(), ["1860000000000000010"]);
    driver.running.stop().await.unwrap();
}
