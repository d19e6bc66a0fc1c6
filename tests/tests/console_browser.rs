//! The console in a real headless Chromium (WebDriver), through `socialcare-local` on the
//! embedded store with X faked by a local server: an agent signs in, finds the complaint in
//! the inbox, answers it from a template and sees the reply turn `sent`, assigns and resolves
//! it; the page works at a phone's width; nothing is written to the browser's console.
//! Screenshots land in target/console-screenshots/.

use chrono::{Duration as Span, DurationRound, Utc};
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::events::{
    fixture_accounts_without_acknowledgements, generic_body, x_activity_mention,
};
use socialcare_tests::runner::Driver;
use socialcare_tests::webdriver::{Browser, eventually, press, sign_in, text_of};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const X_SECRET: &str = "x-consumer-secret-for-the-console";
const BRAND: &str = "1100000000000000001";
const KEY: &str = "sk_console_browser_key_01";

/// Fake `POST /2/tweets`: accepts every post, records each body.
#[derive(Clone, Default)]
struct FakeTweets {
    posted: Arc<Mutex<Vec<Value>>>,
}

impl Respond for FakeTweets {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut posted = self.posted.lock().unwrap();
        posted.push(body.clone());
        let id = format!("19930000000000009{:02}", posted.len());
        ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id, "text": body["text"]}}))
    }
}

async fn start(x: &MockServer) -> (tempfile::TempDir, Driver) {
    start_with(x, &fixture_accounts_without_acknowledgements()).await
}

async fn start_with(x: &MockServer, accounts: &str) -> (tempfile::TempDir, Driver) {
    Driver::start_with_fake_x("console", KEY, accounts, &x.uri(), X_SECRET).await
}

async fn complaint(driver: &Driver, text: &str) -> String {
    let body = x_activity_mention(1993000000000000001, text, Utc::now() - Span::minutes(4));
    post_x(driver, &body).await;
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    tickets[0]["id"].as_str().unwrap().to_string()
}

async fn post_x(driver: &Driver, body: &Value) {
    driver.post_x(body, X_SECRET).await;
}

/// The page does not scroll sideways at the window's width.
async fn assert_fits(browser: &Browser, what: &str) {
    let fits = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, Value::Bool(true), "{what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_answers_a_complaint_from_the_browser() {
    let x = MockServer::start().await;
    let tweets = FakeTweets::default();
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/2/tweets"))
        .respond_with(tweets.clone())
        .mount(&x)
        .await;
    let (_data, driver) = start(&x).await;
    let (status, tim) = driver
        .post_api("/v1/api-keys", &json!({"name": "tim", "role": "agent"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tim}");
    let (status, template) = driver
        .post_api(
            "/v1/templates",
            &json!({"id": "outage", "text": "Sorry {{customer.name}}, there is an outage in your area; {{agent.name}} will update you."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{template}");
    // A service level, so the inbox shows the deadline (first response within an hour).
    let policies = json!({"policies": {BRAND: {"targets": {"normal": {
        "first_response_minutes": 60, "next_response_minutes": 60, "resolution_minutes": 1440
    }}}}});
    let response = reqwest::Client::new()
        .put(format!("{}/v1/sla-policies", driver.base))
        .bearer_auth(KEY)
        .json(&policies)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ticket = complaint(&driver, "@acme_care my internet has been down all morning").await;

    let browser = Browser::start(1280, 800).await;
    let client = &browser.client;
    // Sign in: the page sends a stranger to /login.
    client.goto(&driver.base).await.unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/login");
    assert_eq!(text_of(&browser, "label[for=key]").await, "API key");
    client
        .find(Locator::Id("key"))
        .await
        .unwrap()
        .send_keys(KEY)
        .await
        .unwrap();
    press(&browser, "Sign in").await;
    // The inbox, with the complaint in it.
    let row = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!("tr[data-id='{ticket}'] a")))
        .await;
    let row = match row {
        Ok(row) => row,
        Err(e) => panic!(
            "the ticket is not in the inbox ({e}): {} {}",
            client.current_url().await.unwrap(),
            client.source().await.unwrap()
        ),
    };
    assert_eq!(
        row.text().await.unwrap(),
        "@acme_care my internet has been down all morning"
    );
    assert_eq!(
        text_of(&browser, &format!("tr[data-id='{ticket}'] td")).await,
        "Jordan Brinks"
    );
    // The complaint is 4 minutes old; its first response is due within the hour.
    let badge = text_of(
        &browser,
        &format!("tr[data-id='{ticket}'] .badge.due, tr[data-id='{ticket}'] .badge.soon"),
    )
    .await;
    assert!(
        badge.starts_with("due in 5") || badge.starts_with("due in 4"),
        "{badge}"
    );
    browser.screenshot("inbox").await;
    // The shortcuts: ? opens the list.
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("?")
        .await
        .unwrap();
    eventually(
        &browser,
        "the shortcuts open",
        "return document.getElementById('shortcuts').open",
    )
    .await;
    browser.screenshot("shortcuts").await;
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{e00c}")
        .await
        .unwrap(); // Escape
    eventually(
        &browser,
        "the shortcuts close",
        "return !document.getElementById('shortcuts').open",
    )
    .await;
    // Enter opens the selected (first) ticket.
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("j\u{e007}")
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_url(&url::Url::parse(&format!("{}/tickets/{ticket}", driver.base)).unwrap())
        .await
        .expect("Enter opened the ticket");

    // Reply from the template: picking it fills the box with its text for this ticket.
    let picker = client.find(Locator::Id("template")).await.unwrap();
    picker.select_by_value("outage").await.unwrap();
    let expected =
        "Sorry Jordan Brinks, there is an outage in your area; bootstrap will update you.";
    eventually(
        &browser,
        "the template fills the reply box",
        &format!(
            "return document.getElementById('reply').value === {}",
            json!(expected)
        ),
    )
    .await;
    assert_eq!(text_of(&browser, "label[for=reply]").await, "Reply");
    assert_eq!(
        text_of(&browser, "#reply-count").await,
        format!("{} / 280", expected.chars().count())
    );
    let send = client
        .find(Locator::XPath("//button[normalize-space()='Send']"))
        .await
        .unwrap();
    // Pressed twice: one reply.
    client
        .execute(
            "const b = arguments[0]; b.click(); b.click(); return true",
            vec![serde_json::to_value(&send).unwrap()],
        )
        .await
        .unwrap();
    eventually(
        &browser,
        "the reply is queued",
        "return location.search.includes('done=reply')",
    )
    .await;
    // It turns sent against the fake X once the sender posted it: the conversation refreshes
    // itself, no reload.
    assert!(
        ["pending", "sending", "sent"]
            .contains(&text_of(&browser, "[data-delivery]").await.as_str())
    );
    client
        .execute(
            "document.getElementById('reply').value = 'typed, not sent'; return true",
            vec![],
        )
        .await
        .unwrap();
    eventually(
        &browser,
        "the reply shows sent",
        "const d = [...document.querySelectorAll('[data-delivery]')].map(e => e.dataset.delivery); return d.length === 1 && d[0] === 'sent'",
    )
    .await;
    let kept: Value = client
        .execute("return document.getElementById('reply').value", vec![])
        .await
        .unwrap();
    assert_eq!(
        kept,
        json!("typed, not sent"),
        "the refresh keeps what the agent types"
    );
    let (_, detail) = driver.get(&format!("/v1/tickets/{ticket}")).await;
    assert_eq!(
        text_of(&browser, "[data-delivery]").await,
        "sent",
        "{detail} {:?}",
        tweets.posted.lock().unwrap()
    );
    let posted = tweets.posted.lock().unwrap().clone();
    assert_eq!(
        posted,
        vec![json!({"text": expected, "reply": {"in_reply_to_tweet_id": "1993000000000000001"}})]
    );
    browser.screenshot("ticket").await;

    // Assign to tim, then resolve.
    client
        .find(Locator::Id("agent"))
        .await
        .unwrap()
        .send_keys("tim")
        .await
        .unwrap();
    press(&browser, "Assign").await;
    eventually(
        &browser,
        "assigned",
        "return location.search.includes('done=assign')",
    )
    .await;
    assert!(text_of(&browser, "main").await.contains("owner: tim"));
    client
        .find(Locator::Id("status"))
        .await
        .unwrap()
        .select_by_value("resolved")
        .await
        .unwrap();
    press(&browser, "Change status").await;
    eventually(
        &browser,
        "resolved",
        "return location.search.includes('done=status')",
    )
    .await;
    let (_, detail) = driver.get(&format!("/v1/tickets/{ticket}")).await;
    assert_eq!(detail["ticket"]["status"], "resolved");
    assert_eq!(detail["ticket"]["owner"], "tim");
    let outbound = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .count();
    assert_eq!(outbound, 1, "one reply on the ticket: {detail}");

    // At a phone's width the inbox and the ticket page do not scroll sideways.
    client.set_window_size(375, 800).await.unwrap();
    client
        .goto(&format!("{}/?view=resolved", driver.base))
        .await
        .unwrap();
    assert_fits(&browser, "the inbox fits 375 px").await;
    browser.screenshot("inbox-phone").await;
    client.set_window_size(375, 800).await.unwrap();
    client
        .goto(&format!("{}/tickets/{ticket}", driver.base))
        .await
        .unwrap();
    assert_fits(&browser, "the page fits 375 px").await;
    browser.screenshot("ticket-phone").await;

    browser.assert_quiet_console().await;
    browser.stop().await;
    driver.running.stop().await.unwrap();
}

/// The brand account with a pace that lets a test finish (600 posts per 10 s) and spikes from
/// five complaints, no acknowledgements.
const OUTAGE_ACCOUNTS: &str = r#"
[[accounts]]
platform = "x"
id = "1100000000000000001"
handle = "acme_care"
[accounts.acknowledgement]
enabled = false
[accounts.pace]
posts = 600
per_seconds = 10
[accounts.spikes]
floor = 5
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_answers_an_outage_at_once_and_reads_the_report() {
    let x = MockServer::start().await;
    let tweets = FakeTweets::default();
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/2/tweets"))
        .respond_with(tweets.clone())
        .mount(&x)
        .await;
    let (_data, driver) = start_with(&x, OUTAGE_ACCOUNTS).await;
    // Six customers report the same outage within a minute: one incident. All six in one
    // spike window (ten minutes, starting on the clock's tens): a window starting among them
    // would split them below the floor, and no incident would open.
    let at = Utc::now() - Span::minutes(2);
    let next_window = at.duration_trunc(Span::minutes(10)).expect("a time") + Span::minutes(10);
    let at = match at + Span::seconds(50) >= next_window {
        true => next_window,
        false => at,
    };
    for n in 0..6u64 {
        let mut body = x_activity_mention(
            1993000000000000100 + n,
            "@acme_care mobile data outage again, nothing loads",
            at + Span::seconds(10 * n as i64),
        );
        let user = &mut body["tweet_create_events"][0]["user"];
        user["id_str"] = json!(format!("40000000{n}"));
        user["id"] = json!(400000000 + n);
        user["screen_name"] = json!(format!("customer{n}"));
        user["name"] = json!(format!("Customer {n}"));
        post_x(&driver, &body).await;
    }
    driver.tickets_when(|t| t.len() == 6).await;
    let mut incidents = Value::Null;
    for _ in 0..100 {
        incidents = driver.get("/v1/incidents").await.1;
        if incidents["incidents"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let incident = incidents["incidents"][0]["id"]
        .as_str()
        .expect("an incident")
        .to_string();

    let browser = Browser::start(1280, 800).await;
    let client = &browser.client;
    sign_in(&browser, &driver.base, KEY).await;
    client
        .find(Locator::LinkText("Incidents"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!("a[href='/incidents/{incident}']")))
        .await
        .expect("the incident is listed")
        .click()
        .await
        .unwrap();
    // The chart: the spike's window marked among the windows before it.
    eventually(
        &browser,
        "the chart",
        "return document.querySelectorAll('.chart rect.bar.spike').length === 1",
    )
    .await;
    let attached: Value = client
        .execute(
            "return document.querySelectorAll('aside a[href^=\"/tickets/\"]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(attached, json!(6));
    let text = "We know about the mobile data outage and are fixing it; sorry for the trouble.";
    client
        .find(Locator::Id("update"))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
    client
        .find(Locator::Id("resolve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    press(&browser, "Send update").await;
    eventually(
        &browser,
        "the update is queued",
        "return location.search.includes('done=update')",
    )
    .await;
    // Its progress, until every ticket is answered.
    for _ in 0..150 {
        client.refresh().await.unwrap();
        let finished: Value = client
            .execute("const p = document.querySelector('[data-progress]'); return !!p && p.textContent.startsWith('finished')", vec![])
            .await
            .unwrap();
        if finished == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(text_of(&browser, "[data-answered]").await, "6");
    assert!(
        text_of(&browser, "[data-progress]")
            .await
            .starts_with("finished")
    );
    browser.screenshot("incident").await;
    let posted = tweets.posted.lock().unwrap().clone();
    let replies = posted.iter().filter(|p| p.get("reply").is_some()).count();
    let public = posted.iter().filter(|p| p.get("reply").is_none()).count();
    assert_eq!((replies, public), (6, 1), "{posted:?}");
    assert!(posted.iter().all(|p| p["text"] == text));

    // The report: six tickets today, all answered, charts drawn.
    client
        .find(Locator::LinkText("Report"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        &browser,
        "the report",
        "return location.pathname === '/report'",
    )
    .await;
    assert_eq!(text_of(&browser, "[data-figure=tickets]").await, "6");
    let charts: Value = client
        .execute(
            "return document.querySelectorAll('figure.chart svg').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(charts, json!(5));
    browser.screenshot("report").await;
    browser.assert_quiet_console().await;
    browser.stop().await;
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_merges_a_customer_the_ticket_suggests_in_one_click() {
    let x = MockServer::start().await;
    let (_data, driver) = start(&x).await;
    for (id, customer, text) in [
        (
            "same-1",
            "c-1",
            "No refund yet. Call me on +1 (555) 123-4567",
        ),
        ("same-2", "c-2", "it's 555-123-4567 again, order 88812"),
    ] {
        let body = generic_body(id, customer, text, Utc::now() - Span::minutes(3));
        let (status, answer) = driver.post_generic(&body, Utc::now()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let tickets = driver.tickets_when(|t| t.len() == 2).await;
    let mut by_customer = Vec::new();
    for ticket in &tickets {
        let id = ticket["id"].as_str().unwrap().to_string();
        let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
        let external = detail["messages"][0]["external_id"]
            .as_str()
            .unwrap()
            .to_string();
        let customer = detail["customer"]["id"].as_str().unwrap().to_string();
        by_customer.push((external, id, customer));
    }
    by_customer.sort();
    let (first, kept) = (&by_customer[0].1, &by_customer[0].2);
    let (second, absorbed) = (&by_customer[1].1, &by_customer[1].2);

    let browser = Browser::start(1280, 800).await;
    sign_in(&browser, &driver.base, KEY).await;
    let client = &browser.client;
    client
        .goto(&format!("{}/tickets/{first}", driver.base))
        .await
        .unwrap();
    assert_eq!(
        text_of(&browser, "#suggestions-title").await,
        "Possibly the same customer as"
    );
    let offer = text_of(&browser, &format!("form[data-suggestion='{absorbed}'] p")).await;
    assert!(
        offer.contains("both gave the phone number +1 (555) 123-4567"),
        "{offer}"
    );
    client
        .find(Locator::Css(&format!(
            "form[data-suggestion='{absorbed}'] button"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        &browser,
        "the merge is done and nobody is suggested",
        "return document.body.innerText.includes('Customers merged') && !document.getElementById('suggestions-title')",
    )
    .await;
    assert_fits(&browser, "the ticket page after a merge").await;
    let (_, after) = driver.get(&format!("/v1/tickets/{second}")).await;
    assert_eq!(after["customer"]["id"], kept.as_str());
    let (status, _) = driver.get(&format!("/v1/customers/{absorbed}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    browser.stop().await;
    driver.running.stop().await.unwrap();
}

/// An e-mail's HTML part is shown as it was sent, in a sandboxed frame under the CSP: its
/// markup renders, what could run or call out was taken out when it came.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_reads_an_html_mail_as_it_was_sent_in_a_sandboxed_frame() {
    let x = MockServer::start().await;
    let accounts = fixture_accounts_without_acknowledgements()
        + "\n[[accounts]]\nplatform = \"email\"\nid = \"support@acme.example\"\nname = \"Acme Support\"\n";
    let (_data, driver) = start_with(&x, &accounts).await;
    let mail = "From: Ann Lee <ann@example.com>\r\nTo: support@acme.example\r\n\
        Subject: My bill\r\nMessage-ID: <html-1@example.com>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
        --a\r\nContent-Type: text/plain\r\n\r\nMy bill is wrong.\r\n\
        --a\r\nContent-Type: text/html\r\n\r\n<p>My <b>bill</b> is wrong.</p>\
        <script>parent.document.title = 'owned'</script><img src=\"http://127.0.0.1:9/pixel.gif\">\
        <table><tr><td>Amount</td><td>$120</td></tr></table>\r\n--a--\r\n";
    let bytes = mail.as_bytes().to_vec();
    let (status, body) = driver
        .post_raw(
            "/webhooks/email",
            &[
                ("content-type", "message/rfc822".to_string()),
                (
                    "x-socialcare-signature",
                    socialcare_tests::events::signature(
                        &driver.integration_secret,
                        Utc::now(),
                        &bytes,
                    ),
                ),
            ],
            bytes,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    let id = tickets[0]["id"].as_str().unwrap().to_string();

    let browser = Browser::start(1280, 800).await;
    sign_in(&browser, &driver.base, KEY).await;
    let client = &browser.client;
    client
        .goto(&format!("{}/tickets/{id}", driver.base))
        .await
        .unwrap();
    client
        .find(Locator::Css("details.as-sent summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let sandbox = client
        .execute(
            "return document.querySelector('iframe[data-html]').getAttribute('sandbox')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        sandbox,
        json!("allow-popups allow-popups-to-escape-sandbox")
    );
    let frame = client
        .find(Locator::Css("iframe[data-html]"))
        .await
        .unwrap();
    frame.enter_frame().await.unwrap();
    let shown = client
        .execute(
            "return [document.querySelector('b').textContent, document.body.innerText, document.images.length, document.scripts.length]",
            vec![],
        )
        .await
        .unwrap();
    client.enter_parent_frame().await.unwrap();
    assert_eq!(shown[0], json!("bill"));
    let text = shown[1].as_str().unwrap();
    assert!(text.contains("My bill is wrong."), "{text}");
    assert!(text.contains("Amount\t$120"), "{text}");
    assert_eq!(shown[2], json!(0), "no image is fetched");
    assert_eq!(shown[3], json!(0), "no script is there");
    let title = client.title().await.unwrap();
    assert_ne!(title, "owned");
    browser.assert_quiet_console().await;
    browser.stop().await;
    driver.running.stop().await.unwrap();
}
