//! The console over HTTP, through `socialcare-local` on the embedded store: sign-in, sessions,
//! CSRF, escaping, and the forms doing what the API does.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use socialcare_tests::browser::{Page, Visitor};
use socialcare_tests::events::generic_body;
use socialcare_tests::runner::Driver;

const KEY: &str = "sk_console_test_key_0001";

async fn start() -> (tempfile::TempDir, Driver) {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(data.path(), false, "whsec_console", KEY).await;
    (data, driver)
}

/// A ticket from an integrator's customer; its id.
async fn ticket(driver: &Driver, body: Value) -> String {
    let now = Utc::now();
    let (status, answer) = driver.post_generic(&body, now).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let external = body["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        let (_, list) = driver.get("/v1/tickets").await;
        for ticket in list["tickets"].as_array().unwrap() {
            let id = ticket["id"].as_str().unwrap();
            let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
            if detail["messages"][0]["external_id"] == external.as_str() {
                return id.to_string();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the ticket of {external} never opened");
}

fn event(id: &str, text: &str) -> Value {
    let mut body = generic_body(id, "c-7", text, Utc::now() - Duration::minutes(2));
    body["callback_url"] = json!("https://crm.example/hooks/replies");
    body
}

async fn signed_in(driver: &Driver) -> Visitor {
    let mut visitor = Visitor::new(&driver.base);
    let answer = visitor.sign_in(KEY).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    visitor
}

fn assert_to_sign_in(page: &Page, what: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{what}: {}", page.body);
    assert_eq!(page.location(), Some("/login"), "{what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_sends_a_stranger_to_sign_in() {
    let (_data, driver) = start().await;
    let mut stranger = Visitor::new(&driver.base);
    for path in [
        "/",
        "/incidents",
        "/incidents/inc_01M8RW5PCRMSPW4KGVKY7R52C4",
        "/report",
        "/report.csv",
        "/settings",
        "/settings/templates",
        "/settings/templates/thanks",
        "/settings/keys",
        "/settings/sla",
        "/settings/accounts",
        "/tickets/tkt_01M8RW5PCRMSPW4KGVKY7R52C4/preview?template=x",
        "/?view=mine",
        "/inbox/rows",
        "/tickets/tkt_01M8RW5PCRMSPW4KGVKY7R52C4",
    ] {
        assert_to_sign_in(&stranger.get(path).await, path);
    }
    let post = stranger
        .post(
            "/tickets/tkt_01M8RW5PCRMSPW4KGVKY7R52C4/note",
            &[("text", "x")],
        )
        .await;
    assert_to_sign_in(&post, "a form");
    // A made-up session is nobody's.
    stranger
        .cookies
        .insert("sc_session".into(), "made-up".into());
    assert_to_sign_in(&stranger.get("/").await, "a made-up session");

    let login = stranger.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert!(
        login.headers.get("strict-transport-security").is_none(),
        "plain http locally"
    );
    assert!(login.body.contains(r#"<label for="key">API key</label>"#));
    assert!(
        login
            .body
            .contains(r#"<button type="submit">Sign in</button>"#)
    );
    assert!(!login.body.contains("<script>"), "no inline script");
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_takes_the_forms_token_and_an_agents_key() {
    let (_data, driver) = start().await;
    let mut visitor = Visitor::new(&driver.base);
    // Without the form's token (a forged sign-in from another site): refused.
    let forged = visitor
        .post("/login", &[("csrf", "guess"), ("key", KEY)])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!visitor.cookies.contains_key("sc_session"));

    let wrong = visitor.sign_in("sk_not_a_key").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not valid"), "{}", wrong.body);

    let (status, made) = driver
        .post_api(
            "/v1/api-keys",
            &json!({"name": "crm-bridge", "role": "integrator"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let integrator = visitor.sign_in(made["key"].as_str().unwrap()).await;
    assert_eq!(integrator.status, StatusCode::FORBIDDEN);
    assert!(
        integrator.body.contains("integrator role"),
        "{}",
        integrator.body
    );
    assert!(!visitor.cookies.contains_key("sc_session"));

    let answer = visitor.sign_in(KEY).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), Some("/"));
    let cookie = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sc_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http locally: {cookie}");
    let token = &visitor.cookies["sc_session"];
    assert!(token.len() >= 40 && !token.contains(KEY) && !KEY.contains(token.as_str()));
    let inbox = visitor.get("/").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.body.contains("bootstrap"), "the signed-in name shows");
    assert!(!inbox.body.contains(KEY), "the key is never on a page");
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_customer_wrote_is_shown_inert() {
    let (_data, driver) = start().await;
    let mut body = event(
        "hostile-1",
        "<script>alert('text')</script> my bill is wrong",
    );
    body["customer"]["name"] = json!("<img src=x onerror=alert('name')>");
    body["attachments"] = json!([
        {"kind": "image", "url": "javascript:alert('attachment')"},
        {"kind": "file", "url": "https://files.example/\"><script>alert(1)</script>"}
    ]);
    let id = ticket(&driver, body).await;
    let mut visitor = signed_in(&driver).await;
    for page in [
        visitor.get("/").await,
        visitor.get(&format!("/tickets/{id}")).await,
    ] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("&#60;script&#62;alert"),
            "escaped text:\n{}",
            page.body
        );
        assert!(
            page.body.contains("&#60;img src=x onerror="),
            "escaped name"
        );
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(
            !page.body.to_lowercase().contains("href=\"javascript:"),
            "{}",
            page.body
        );
    }
    let ticket_page = visitor.get(&format!("/tickets/{id}")).await;
    // The javascript: address stays text; the https one is a link that opens apart.
    assert!(
        ticket_page
            .body
            .contains("image: javascript:alert(&#39;attachment&#39;)"),
        "{}",
        ticket_page.body
    );
    assert!(ticket_page.body.contains(
        r#"<a href="https://files.example/&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;" rel="noopener noreferrer" target="_blank">"#
    ), "{}", ticket_page.body);
    driver.running.stop().await.unwrap();
}

async fn notes(driver: &Driver, id: &str) -> Vec<String> {
    let (_, events) = driver.get(&format!("/v1/tickets/{id}/events")).await;
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "note")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_without_the_sessions_csrf_token_changes_nothing() {
    let (_data, driver) = start().await;
    let id = ticket(&driver, event("csrf-1", "the router blinks red")).await;
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get(&format!("/tickets/{id}")).await;
    let csrf = page.hidden("csrf");
    let note = format!("/tickets/{id}/note");
    for forged in [
        vec![("text", "forged")],
        vec![("text", "forged"), ("csrf", "not-it")],
    ] {
        let answer = visitor.post(&note, &forged).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
        assert!(
            answer.body.contains("CSRF"),
            "a readable page: {}",
            answer.body
        );
    }
    let status = visitor
        .post(&format!("/tickets/{id}/status"), &[("status", "resolved")])
        .await;
    assert_eq!(status.status, StatusCode::FORBIDDEN);
    assert_eq!(notes(&driver, &id).await, Vec::<String>::new());
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(detail["ticket"]["status"], "open");

    // Another site's page posting with the right token is refused too (its Origin says so).
    let foreign = visitor
        .post_from(
            "https://evil.example",
            &note,
            &[("text", "from elsewhere"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.body);
    assert_eq!(notes(&driver, &id).await, Vec::<String>::new());
    let answer = visitor
        .post(
            &note,
            &[("text", "the modem was replaced"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(
        answer.location(),
        Some(format!("/tickets/{id}?done=note").as_str())
    );
    assert_eq!(notes(&driver, &id).await, ["the modem was replaced"]);
    let shown = visitor.get(&format!("/tickets/{id}?done=note")).await;
    assert!(
        shown.body.contains("note: the modem was replaced"),
        "{}",
        shown.body
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_form_sent_twice_is_one_reply_and_the_other_forms_act() {
    let (_data, driver) = start().await;
    let (status, made) = driver
        .post_api("/v1/api-keys", &json!({"name": "tim", "role": "agent"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = ticket(&driver, event("reply-1", "no signal since Monday")).await;
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get(&format!("/tickets/{id}")).await;
    assert!(page.body.contains(r#"<label for="reply">Reply</label>"#));
    assert!(page.body.contains(r#"<button type="submit">Send</button>"#));
    let (csrf, form_key) = (page.hidden("csrf"), page.hidden("form_key"));
    let form = [
        ("csrf", csrf.as_str()),
        ("form_key", form_key.as_str()),
        ("text", "Sorry about that, an engineer is on the way."),
        ("channel", "auto"),
    ];
    let reply = format!("/tickets/{id}/reply");
    for _ in 0..2 {
        let answer = visitor.post(&reply, &form).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(
            answer.location(),
            Some(format!("/tickets/{id}?done=reply").as_str())
        );
    }
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    let replies: Vec<&Value> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .collect();
    assert_eq!(replies.len(), 1, "{detail}");
    assert_eq!(
        replies[0]["text"],
        "Sorry about that, an engineer is on the way."
    );
    assert!(replies[0]["delivery"]["state"].is_string());

    // The same form with other words is refused, not passed off as the first reply.
    let other = [
        ("csrf", csrf.as_str()),
        ("form_key", form_key.as_str()),
        ("text", "Something else entirely."),
        ("channel", "auto"),
    ];
    let reused = visitor.post(&reply, &other).await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{}", reused.body);
    assert!(
        reused.body.contains("this key was used for another reply"),
        "{}",
        reused.body
    );
    assert_eq!(
        reused.hidden("form_key"),
        form_key,
        "the form keeps its key after an error"
    );
    let odd = visitor
        .post(
            &reply,
            &[
                ("csrf", &csrf),
                ("form_key", &form_key),
                ("text", "x"),
                ("channel", "carrier pigeon"),
            ],
        )
        .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    // An empty reply is refused with the reason on the page, and nothing is written.
    let page = visitor.get(&format!("/tickets/{id}")).await;
    let empty = visitor
        .post(
            &reply,
            &[
                ("csrf", &csrf),
                ("form_key", &page.hidden("form_key")),
                ("text", "  "),
            ],
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    assert!(empty.body.contains("class=\"error\""), "{}", empty.body);

    let status = visitor
        .post(
            &format!("/tickets/{id}/status"),
            &[("csrf", &csrf), ("status", "pending_customer")],
        )
        .await;
    assert_eq!(status.status, StatusCode::SEE_OTHER, "{}", status.body);
    let refused = visitor
        .post(
            &format!("/tickets/{id}/status"),
            &[("csrf", &csrf), ("status", "sideways")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("unknown ticket status"),
        "{}",
        refused.body
    );
    let assign = visitor
        .post(
            &format!("/tickets/{id}/assign"),
            &[("csrf", &csrf), ("agent", "tim"), ("team", "")],
        )
        .await;
    assert_eq!(assign.status, StatusCode::SEE_OTHER, "{}", assign.body);
    let priority = visitor
        .post(
            &format!("/tickets/{id}/priority"),
            &[("csrf", &csrf), ("priority", "urgent")],
        )
        .await;
    assert_eq!(priority.status, StatusCode::SEE_OTHER, "{}", priority.body);
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(detail["ticket"]["status"], "pending_customer");
    assert_eq!(detail["ticket"]["owner"], "tim");
    assert_eq!(detail["ticket"]["priority"], "urgent");
    let trail = visitor.get(&format!("/tickets/{id}")).await;
    assert!(
        trail.body.contains("priority high → urgent")
            || trail.body.contains("priority normal → urgent"),
        "{}",
        trail.body
    );
    let owned = visitor.get(&format!("/tickets/{id}")).await;
    assert!(
        owned.body.contains(">Unassign</button>"),
        "offered once owned"
    );
    // Now it is tim's and pending: not in "open", nor in the bootstrap key's "mine".
    let mine = visitor.get("/inbox/rows?view=mine").await;
    assert!(!mine.body.contains(&id), "{}", mine.body);
    let pending = visitor.get("/inbox/rows?view=pending").await;
    assert!(pending.body.contains(&id));
    let open = visitor.get("/inbox/rows?view=open").await;
    assert!(!open.body.contains(&id));
    let back = visitor
        .post(&format!("/tickets/{id}/unassign"), &[("csrf", &csrf)])
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(detail["ticket"]["owner"], Value::Null);
    assert_eq!(detail["ticket"]["team"], Value::Null);
    let page = visitor.get(&format!("/tickets/{id}")).await;
    assert!(
        !page.body.contains(">Unassign</button>"),
        "nothing to unassign"
    );
    let bad = visitor.get("/?view=everything").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("unknown view"), "{}", bad.body);
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_and_revoking_the_key_end_the_session() {
    let (_data, driver) = start().await;
    let (status, made) = driver
        .post_api("/v1/api-keys", &json!({"name": "sally", "role": "agent"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let mut sally = Visitor::new(&driver.base);
    assert_eq!(
        sally.sign_in(made["key"].as_str().unwrap()).await.status,
        StatusCode::SEE_OTHER
    );
    let mut admin = signed_in(&driver).await;
    assert_eq!(sally.get("/").await.status, StatusCode::OK);
    assert!(sally.get("/").await.body.contains("sally"));

    // Sign-out needs the token too, then ends the session for good (the old cookie is dead).
    let page = admin.get("/").await;
    let csrf = page.hidden("csrf");
    let token = admin.cookies["sc_session"].clone();
    assert_eq!(
        admin.post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let out = admin.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), Some("/login"));
    assert!(
        !admin.cookies.contains_key("sc_session"),
        "the cookie is cleared"
    );
    admin.cookies.insert("sc_session".into(), token);
    assert_to_sign_in(&admin.get("/").await, "after sign-out");

    // Revoking sally's key ends her session at her next request.
    let key_id = made["id"].as_str().unwrap();
    let response = reqwest::Client::new()
        .delete(format!("{}/v1/api-keys/{key_id}", driver.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_to_sign_in(&sally.get("/").await, "after revocation");
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_are_served_by_content_hash_for_a_year() {
    let (_data, driver) = start().await;
    let mut visitor = Visitor::new(&driver.base);
    let login = visitor.get("/login").await;
    let attribute = |before: &str| {
        let start = login
            .body
            .find(before)
            .unwrap_or_else(|| panic!("{before}"))
            + before.len();
        login.body[start..].split('"').next().unwrap().to_string()
    };
    let css = attribute(r#"rel="stylesheet" href=""#);
    let js = attribute(r#"type="module" src=""#);
    let icon = attribute(r#"rel="icon" href=""#);
    assert!(
        css.starts_with("/assets/console.") && css.ends_with(".css"),
        "{css}"
    );
    assert!(
        js.starts_with("/assets/console.") && js.ends_with(".js"),
        "{js}"
    );
    assert!(
        icon.starts_with("/assets/icon.") && icon.ends_with(".svg"),
        "{icon}"
    );
    for (path, kind) in [
        (&css, "text/css"),
        (&js, "text/javascript"),
        (&icon, "image/svg+xml"),
    ] {
        let asset = visitor.get(path).await;
        assert_eq!(asset.status, StatusCode::OK);
        assert!(
            asset.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert_eq!(
            asset.headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
    assert_eq!(
        visitor
            .get("/assets/console.0000000000000000.css")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A page's own weight: HTML, CSS and script under 100 KB before compression.
    let weight =
        login.body.len() + visitor.get(&css).await.body.len() + visitor.get(&js).await.body.len();
    assert!(weight < 100 * 1024, "{weight} bytes");
    driver.running.stop().await.unwrap();
}

/// Issue 16's "done when": a newcomer starts the runner (nothing set, a new data folder),
/// signs in with the printed key, finds the sample complaint, answers it from the console, and
/// the reply is on the ticket once, sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_newcomer_answers_the_sample_complaint() {
    let data = tempfile::tempdir().unwrap();
    // SAFETY: this test process runs one test; nothing else reads the environment yet.
    unsafe {
        std::env::remove_var("SOCIALCARE_API_KEY");
        std::env::remove_var("SOCIALCARE_INTEGRATION_SECRET");
    }
    let running = socialcare_local::start(socialcare_local::Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        data: data.path().to_path_buf(),
        aws: false,
        backend: "sqlite".into(),
        config: None,
        platform_credentials: None,
        allow_private_targets: false,
        public_url: None,
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);
    assert!(
        running
            .banner
            .contains(&format!("open {base}/ and sign in")),
        "{}",
        running.banner
    );
    let key = running
        .banner
        .split("SOCIALCARE_API_KEY=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the banner prints the key")
        .to_string();
    let mut visitor = Visitor::new(&base);
    assert_eq!(visitor.sign_in(&key).await.status, StatusCode::SEE_OTHER);
    let mut inbox = visitor.get("/").await;
    for _ in 0..100 {
        if inbox.body.contains("Ann Example") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        inbox = visitor.get("/").await;
    }
    assert!(inbox.body.contains("Ann Example"), "{}", inbox.body);
    assert!(
        inbox
            .body
            .contains("My internet has been down since this morning.")
    );
    let start = inbox.body.find("href=\"/tickets/").unwrap() + "href=\"".len();
    let path = inbox.body[start..].split('"').next().unwrap().to_string();
    let page = visitor.get(&path).await;
    let form = [
        ("csrf", page.hidden("csrf")),
        ("form_key", page.hidden("form_key")),
        ("text", "Sorry Ann, we are on it.".to_string()),
        ("channel", "auto".to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = visitor.post(&format!("{path}/reply"), &form).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let api = reqwest::Client::new();
    let id = path.trim_start_matches("/tickets/");
    let mut detail = Value::Null;
    for _ in 0..100 {
        detail = api
            .get(format!("{base}/v1/tickets/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let states: Vec<&Value> = detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .map(|m| &m["delivery"]["state"])
            .collect();
        if states == [&json!("sent")] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let replies: Vec<&Value> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .collect();
    assert_eq!(replies.len(), 1, "{detail}");
    assert_eq!(replies[0]["text"], "Sorry Ann, we are on it.");
    assert_eq!(replies[0]["delivery"]["state"], "sent", "{detail}");
    let shown = visitor.get(&path).await;
    assert!(
        shown.body.contains(r#"data-delivery="sent""#),
        "{}",
        shown.body
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_shows_charts_and_downloads_as_csv() {
    let (_data, driver) = start().await;
    ticket(&driver, event("report-1", "my parcel is lost")).await;
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get("/report").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<div class="figure" data-figure="tickets">1</div>"#),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<svg ").count(), 5, "five charts");
    assert!(
        page.body.contains("every account (1)"),
        "every account by default"
    );
    let today = Utc::now().date_naive();
    let from = today - Duration::days(29);
    assert!(
        page.body.contains(&format!(r#"value="{from}""#)),
        "the last 30 days"
    );
    let csv = visitor
        .get(&format!("/report.csv?from={from}&to={today}"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[0].starts_with("day,tickets,first_response_median_seconds"));
    assert!(lines[1].starts_with(&format!("{today},1,")), "{}", lines[1]);
    assert!(lines[2].starts_with("total,1,"), "{}", lines[2]);
    for extreme in [
        "/report?from=%2B262142-12-31&to=%2B262142-12-31",
        "/report?to=-262143-01-01",
    ] {
        let refused = visitor.get(extreme).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{extreme}");
    }
    let bad = visitor.get("/report?from=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("from must be a date"), "{}", bad.body);
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_for_admins_and_say_why_they_refuse() {
    let (_data, driver) = start().await;
    let mut admin = signed_in(&driver).await;
    let csrf = admin.get("/").await.hidden("csrf");

    // A key made here is shown once, works, and its revocation ends it.
    let made = admin
        .post(
            "/settings/keys",
            &[("csrf", &csrf), ("name", "sally"), ("role", "agent")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let start = made
        .body
        .find(r#"<code id="new-key">"#)
        .expect("the key is shown")
        + 19;
    let key = made.body[start..].split('<').next().unwrap().to_string();
    assert!(key.starts_with("sc_"), "{key}");
    let listed = admin.get("/settings/keys").await;
    assert!(
        listed.body.contains("sally") && !listed.body.contains(&key),
        "shown once"
    );
    let mut sally = Visitor::new(&driver.base);
    assert_eq!(sally.sign_in(&key).await.status, StatusCode::SEE_OTHER);
    // An agent is no admin: settings refuse her with a reason, and the menu has none.
    let home = sally.get("/").await;
    assert!(!home.body.contains(r#"href="/settings""#));
    let refused = sally.get("/settings/keys").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("Settings are for admins"),
        "{}",
        refused.body
    );
    let sally_csrf = home.hidden("csrf");
    let forbidden = sally
        .post(
            "/settings/keys",
            &[
                ("csrf", &sally_csrf),
                ("name", "mallory"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.body
    );
    let key_id = listed
        .body
        .split("<code>key_")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let revoked = admin
        .post(
            &format!("/settings/keys/key_{key_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body.contains("revoked 20"), "{}", revoked.body);
    assert_to_sign_in(&sally.get("/").await, "the revoked key's session");

    // A template with an unknown variable: refused, with the check's words, the text kept.
    let bad = admin
        .post(
            "/settings/templates",
            &[
                ("csrf", &csrf),
                ("id", "thanks"),
                ("language", ""),
                ("text", "Hi {{customer.nickname}}"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("unknown variable"), "{}", bad.body);
    assert!(
        bad.body.contains("Hi {{customer.nickname}}"),
        "the text is kept"
    );
    let good = admin
        .post(
            "/settings/templates",
            &[
                ("csrf", &csrf),
                ("id", "thanks"),
                ("language", "en"),
                ("text", "Thanks {{customer.name}}!"),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    let (_, templates) = driver.get("/v1/templates").await;
    assert_eq!(templates["templates"][0]["id"], "thanks");
    assert_eq!(templates["templates"][0]["language"], "en");
    let edited = admin
        .post(
            "/settings/templates/thanks",
            &[
                ("csrf", &csrf),
                ("language", "en"),
                ("text", "Thank you, {{customer.name}}."),
            ],
        )
        .await;
    assert!(edited.body.contains("Template saved."), "{}", edited.body);
    let (_, template) = driver.get("/v1/templates/thanks").await;
    assert_eq!(template["text"], "Thank you, {{customer.name}}.");
    let deleted = admin
        .post("/settings/templates/thanks/delete", &[("csrf", &csrf)])
        .await;
    assert!(deleted.body.contains("Template deleted."));
    assert_eq!(
        driver.get("/v1/templates/thanks").await.0,
        StatusCode::NOT_FOUND
    );

    // SLA policies: a broken document is refused whole with the reason; a good one saved.
    let broken = admin
        .post(
            "/settings/sla",
            &[
                ("csrf", &csrf),
                ("document", r#"{"policies": {"crm": {"targets": {}}}}"#),
            ],
        )
        .await;
    assert_eq!(
        broken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        broken.body
    );
    assert!(broken.body.contains("policies.crm"), "{}", broken.body);
    let document = r#"{"policies": {"crm": {"targets": {"normal": {"first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 600}}}}}"#;
    let saved = admin
        .post("/settings/sla", &[("csrf", &csrf), ("document", document)])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let (_, policies) = driver.get("/v1/sla-policies").await;
    assert_eq!(
        policies["policies"]["crm"]["targets"]["normal"]["first_response_minutes"],
        30
    );
    let accounts = admin.get("/settings/accounts").await;
    assert_eq!(accounts.status, StatusCode::OK);
    assert!(accounts.body.contains("No brand accounts yet"));

    // Accounts and teams: added from the page, each change listed with its author; a
    // refused one comes back with the check's words and what was typed.
    let added = admin
        .post(
            "/settings/accounts",
            &[
                ("csrf", &csrf),
                ("platform", "facebook"),
                ("id", "1234567890321"),
                ("handle", "@acme"),
                ("name", "Acme"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.body.contains("Account added"), "{}", added.body);
    let (_, account) = driver.get("/v1/accounts/facebook/1234567890321").await;
    assert_eq!(account["handle"], "acme");
    assert_eq!(account["name"], "Acme");
    let twice = admin
        .post(
            "/settings/accounts",
            &[
                ("csrf", &csrf),
                ("platform", "facebook"),
                ("id", "1234567890321"),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
    assert!(twice.body.contains("configured already"), "{}", twice.body);
    let slow = admin
        .post(
            "/settings/accounts/facebook/1234567890321",
            &[
                ("csrf", &csrf),
                ("handle", "acme"),
                ("name", "Acme"),
                ("settings", r#"{"pace": {"posts": 5, "per_seconds": 3600}}"#),
            ],
        )
        .await;
    assert_eq!(
        slow.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        slow.body
    );
    assert!(
        slow.body.contains("pace of Facebook account 1234567890321"),
        "{}",
        slow.body
    );
    assert!(
        slow.body.contains("per_seconds"),
        "what was typed stays: {}",
        slow.body
    );
    let team = admin
        .post(
            "/settings/teams",
            &[
                ("csrf", &csrf),
                ("name", "billing"),
                ("members", "sally, tim"),
                ("lead", "sally"),
                ("escalates_to", "nobody"),
            ],
        )
        .await;
    assert_eq!(
        team.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        team.body
    );
    assert!(
        team.body
            .contains("escalates to \"nobody\", which is not a team")
            || team.body.contains("which is not a team"),
        "{}",
        team.body
    );
    let team = admin
        .post(
            "/settings/teams",
            &[
                ("csrf", &csrf),
                ("name", "billing"),
                ("members", "sally, tim"),
                ("lead", "sally"),
            ],
        )
        .await;
    assert_eq!(team.status, StatusCode::OK, "{}", team.body);
    let (_, billing) = driver.get("/v1/teams/billing").await;
    assert_eq!(billing["members"], json!(["sally", "tim"]));
    assert_eq!(billing["lead"], "sally");
    let page = admin.get("/settings/accounts").await;
    assert!(
        page.body.contains("added facebook account 1234567890321"),
        "{}",
        page.body
    );
    assert!(page.body.contains("added team billing"), "{}", page.body);
    let removed = admin
        .post(
            "/settings/accounts/facebook/1234567890321/delete",
            &[("csrf", &csrf)],
        )
        .await;
    assert!(removed.body.contains("Account removed"), "{}", removed.body);
    let (status, _) = driver.get("/v1/accounts/facebook/1234567890321").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn another_identity_is_linked_from_the_customer_panel() {
    let (_data, driver) = start().await;
    let first = ticket(&driver, event("link-1", "the e-mail I sent got no answer")).await;
    let mut other = generic_body("link-2", "c-8", "me too", Utc::now() - Duration::minutes(1));
    other["callback_url"] = json!("https://crm.example/hooks/replies");
    let second = ticket(&driver, other).await;
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get(&format!("/tickets/{first}")).await;
    assert!(page.body.contains("Link another identity"));
    let csrf = page.hidden("csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("source", "x"),
        ("account", "1100000000000000001"),
        ("user_id", "3001969357"),
        ("handle", "@furiouscamper"),
    ];
    let linked = visitor
        .post(&format!("/tickets/{first}/identities"), &form)
        .await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER, "{}", linked.body);
    let (_, detail) = driver.get(&format!("/v1/tickets/{first}")).await;
    let identities = detail["customer"]["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 2, "{detail}");
    assert_eq!(identities[1]["user_id"], "3001969357");
    assert_eq!(identities[1]["handle"], "furiouscamper");
    let shown = visitor.get(&format!("/tickets/{first}")).await;
    assert!(
        shown.body.contains("@furiouscamper (3001969357)"),
        "{}",
        shown.body
    );
    // The same identity for another customer: refused, with the reason, nothing changed.
    let taken = visitor
        .post(&format!("/tickets/{second}/identities"), &form)
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert!(taken.body.contains("class=\"error\""), "{}", taken.body);
    let (_, detail) = driver.get(&format!("/v1/tickets/{second}")).await;
    assert_eq!(
        detail["customer"]["identities"].as_array().unwrap().len(),
        1
    );
    // The refusal offers the merge, in one action: the identity's customer into this one.
    let (_, owner) = driver.get(&format!("/v1/tickets/{first}")).await;
    let owner = owner["customer"]["id"].as_str().unwrap().to_string();
    assert!(
        taken
            .body
            .contains(&format!("Merge customer {owner} into this one")),
        "{}",
        taken.body
    );
    let offered = taken.hidden("other");
    assert_eq!(offered, owner);
    let merged = visitor
        .post(
            &format!("/tickets/{second}/customer/merge"),
            &[("csrf", csrf.as_str()), ("other", offered.as_str())],
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    let (_, detail) = driver.get(&format!("/v1/tickets/{first}")).await;
    let users: Vec<&str> = detail["customer"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["c-8", "c-7", "3001969357"], "{detail}");
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_customers_are_merged_from_the_customer_panel_by_a_tickets_link() {
    let (_data, driver) = start().await;
    let first = ticket(&driver, event("merge-1", "my order never came")).await;
    let mut other = generic_body(
        "merge-2",
        "c-9",
        "order 1234?",
        Utc::now() - Duration::minutes(1),
    );
    other["callback_url"] = json!("https://crm.example/hooks/replies");
    let second = ticket(&driver, other).await;
    let (_, before) = driver.get(&format!("/v1/tickets/{second}")).await;
    let absorbed = before["customer"]["id"].as_str().unwrap().to_string();
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get(&format!("/tickets/{first}")).await;
    assert!(
        page.body.contains("Same person as another customer"),
        "{}",
        page.body
    );
    let csrf = page.hidden("csrf");

    // What names nobody is refused on the ticket page, with the reason.
    for (named, status, reason) in [
        (
            "someone",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Name the other customer",
        ),
        (
            "tkt_01M8RW5PCRMSPW4KGVKY7R52C4",
            StatusCode::UNPROCESSABLE_ENTITY,
            "no ticket tkt_01M8RW5PCRMSPW4KGVKY7R52C4",
        ),
        (
            &first,
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot be merged with themselves",
        ),
    ] {
        let refused = visitor
            .post(
                &format!("/tickets/{first}/customer/merge"),
                &[("csrf", csrf.as_str()), ("other", named)],
            )
            .await;
        assert_eq!(refused.status, status, "{named}: {}", refused.body);
        assert!(
            refused.body.contains("class=\"error\""),
            "{named}: {}",
            refused.body
        );
        assert!(refused.body.contains(reason), "{named}: {}", refused.body);
        assert!(
            refused.body.contains("my order never came"),
            "the ticket page"
        );
    }

    let link = format!("{}/tickets/{second}?done=note", driver.base);
    let merged = visitor
        .post(
            &format!("/tickets/{first}/customer/merge"),
            &[("csrf", csrf.as_str()), ("other", link.as_str())],
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    let shown = visitor.get(merged.location().unwrap()).await;
    assert!(shown.body.contains("Customers merged"), "{}", shown.body);
    assert!(
        shown.body.contains("order 1234?"),
        "her other ticket is listed: {}",
        shown.body
    );
    let (_, detail) = driver.get(&format!("/v1/tickets/{second}")).await;
    let (_, mine) = driver.get(&format!("/v1/tickets/{first}")).await;
    assert_eq!(detail["customer"]["id"], mine["customer"]["id"]);
    let keys: Vec<&str> = detail["customer"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["c-7", "c-9"]);
    let (status, _) = driver.get(&format!("/v1/customers/{absorbed}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let trail = visitor.get(&format!("/tickets/{second}")).await;
    assert!(
        trail
            .body
            .contains(&format!("merged customer {absorbed} into")),
        "{}",
        trail.body
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_who_gave_the_same_phone_number_is_suggested_and_merged_in_one_click() {
    let (_data, driver) = start().await;
    let first = ticket(
        &driver,
        event("same-1", "Still no signal. Call me on +44 7700 900123"),
    )
    .await;
    let other = generic_body(
        "same-2",
        "c-9",
        "my number is 07700 900123, order 88812",
        Utc::now() - Duration::minutes(1),
    );
    let second = ticket(&driver, other).await;
    let (_, before) = driver.get(&format!("/v1/tickets/{second}")).await;
    let absorbed = before["customer"]["id"].as_str().unwrap().to_string();
    let (_, mine) = driver.get(&format!("/v1/tickets/{first}")).await;
    let keeper = mine["customer"]["id"].as_str().unwrap().to_string();

    // The API says the same as the page.
    let (status, suggested) = driver
        .get(&format!("/v1/customers/{keeper}/suggestions"))
        .await;
    assert_eq!(status, StatusCode::OK, "{suggested}");
    let suggestions = suggested["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 1, "{suggested}");
    assert_eq!(suggestions[0]["customer"]["id"], absorbed.as_str());
    assert_eq!(suggestions[0]["contact"]["kind"], "phone");
    assert_eq!(suggestions[0]["contact"]["value"], "7700900123");
    assert_eq!(suggestions[0]["written"], "+44 7700 900123");
    assert_eq!(suggestions[0]["their_ticket_id"], second.as_str());

    let mut visitor = signed_in(&driver).await;
    let page = visitor.get(&format!("/tickets/{first}")).await;
    assert!(
        page.body.contains("Possibly the same customer as"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("data-suggestion=\"{absorbed}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("both gave the phone number <code>+44 7700 900123</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("href=\"/tickets/{second}\"")));
    let csrf = page.hidden("csrf");
    let merged = visitor
        .post(
            &format!("/tickets/{first}/customer/merge"),
            &[("csrf", csrf.as_str()), ("other", absorbed.as_str())],
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    let shown = visitor.get(merged.location().unwrap()).await;
    assert!(shown.body.contains("Customers merged"), "{}", shown.body);
    assert!(
        !shown.body.contains("Possibly the same customer as"),
        "one customer now: {}",
        shown.body
    );
    let (_, after) = driver.get(&format!("/v1/tickets/{second}")).await;
    assert_eq!(after["customer"]["id"], keeper.as_str());
    let (_, none) = driver
        .get(&format!("/v1/customers/{keeper}/suggestions"))
        .await;
    assert_eq!(none["suggestions"], json!([]));
    let (status, _) = driver
        .get(&format!("/v1/customers/{absorbed}/suggestions"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ticket_the_brand_opened_says_so() {
    let (data, driver) = start().await;
    // The brand's answer to a message socialcare never saw, written into the runner's store.
    let store = socialcare_sqlite::SqliteStore::new(
        socialcare_sqlite::Database::open(&data.path().join("socialcare.db")).unwrap(),
    );
    let answer = socialcare_tests::events::brand_reply("b-1", "c-5", "never-seen", Utc::now());
    let outcome = socialcare_domain::ingest::ingest(&store, &answer)
        .await
        .unwrap();
    let socialcare_domain::IngestOutcome::Opened { ticket_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let brand = ticket_id.to_string();
    let customers = ticket(&driver, event("theirs-1", "my bill is wrong")).await;
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get(&format!("/tickets/{brand}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(">opened by the brand</span>"),
        "{}",
        page.body
    );
    let theirs = visitor.get(&format!("/tickets/{customers}")).await;
    assert!(
        !theirs.body.contains("opened by the brand"),
        "{}",
        theirs.body
    );
    driver.running.stop().await.unwrap();
}

/// The text between `start` and the next `end` after it.
fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {body}"))
        + start.len();
    let rest = &body[from..];
    &rest[..rest.find(end).unwrap()]
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_manages_webhook_subscriptions_and_sees_their_deliveries() {
    let (_data, driver) = start().await;
    let subscriber = socialcare_tests::fake_subscriber::FakeSubscriber::start(&[]);
    let mut admin = signed_in(&driver).await;
    let page = admin.get("/settings/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No subscriptions yet"), "{}", page.body);
    let csrf = page.hidden("csrf");

    // A URL the guard refuses: the reason, nothing made.
    let refused = admin
        .post(
            "/settings/webhooks",
            &[("csrf", csrf.as_str()), ("url", "ftp://crm.example/hooks")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("class=\"error\""), "{}", refused.body);
    assert!(refused.body.contains("No subscriptions yet"));

    let url = subscriber.url();
    let made = admin
        .post(
            "/settings/webhooks",
            &[
                ("csrf", csrf.as_str()),
                ("url", url.as_str()),
                ("type:ticket.created", "on"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let secret = between(&made.body, "<code id=\"new-secret\">", "<").to_string();
    assert!(secret.starts_with("whsub_"), "{secret}");
    let id = between(&made.body, "href=\"/settings/webhooks/", "\"").to_string();
    assert!(id.starts_with("whk_"), "{id}");
    let (_, listed) = driver.get(&format!("/v1/webhook-subscriptions/{id}")).await;
    assert_eq!(listed["events"], json!(["ticket.created"]));
    assert_eq!(listed["url"], url.as_str());
    let again = admin.get("/settings/webhooks").await;
    assert!(!again.body.contains(&secret), "the secret is shown once");
    assert!(again.body.contains("ticket.created"));

    // A complaint: its ticket.created reaches the subscriber, and the page lists it.
    ticket(&driver, event("hooks-1", "the router keeps rebooting")).await;
    for _ in 0..100 {
        if !subscriber.received().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(subscriber.received().len(), 1);
    let detail = admin.get(&format!("/settings/webhooks/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("ticket.created"), "{}", detail.body);
    assert!(
        detail.body.contains("<td>delivered</td>"),
        "{}",
        detail.body
    );
    let event_id = between(&detail.body, "<td><code>evt_", "<").to_string();

    let off = admin
        .post(
            &format!("/settings/webhooks/{id}/state"),
            &[("csrf", csrf.as_str()), ("enabled", "false")],
        )
        .await;
    assert!(off.body.contains("Turned off"), "{}", off.body);
    assert!(off.body.contains("off since"), "{}", off.body);
    let on = admin
        .post(
            &format!("/settings/webhooks/{id}/state"),
            &[("csrf", csrf.as_str()), ("enabled", "true")],
        )
        .await;
    assert!(on.body.contains("Turned on"), "{}", on.body);
    let rotated = admin
        .post(
            &format!("/settings/webhooks/{id}/rotate"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    let new_secret = between(&rotated.body, "<code id=\"new-secret\">", "<");
    assert!(
        new_secret.starts_with("whsub_") && new_secret != secret,
        "{new_secret}"
    );
    assert!(
        rotated.body.contains("signs beside the new one until"),
        "{}",
        rotated.body
    );
    let resent = admin
        .post(
            &format!("/settings/webhooks/{id}/deliveries/evt_{event_id}/redeliver"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert!(resent.body.contains("Queued"), "{}", resent.body);
    for _ in 0..100 {
        if subscriber.received().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(subscriber.received().len(), 2, "sent again");

    let deleted = admin
        .post(
            &format!("/settings/webhooks/{id}/delete"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(
        admin
            .get("/settings/webhooks")
            .await
            .body
            .contains("No subscriptions yet")
    );
    let gone = admin.get(&format!("/settings/webhooks/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // An agent is refused.
    let (_, key) = driver
        .post_api("/v1/api-keys", &json!({"name": "sally", "role": "agent"}))
        .await;
    let mut agent = Visitor::new(&driver.base);
    agent.sign_in(key["key"].as_str().unwrap()).await;
    assert_eq!(
        agent.get("/settings/webhooks").await.status,
        StatusCode::FORBIDDEN
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_exports_and_erases_the_customer_from_the_ticket_page() {
    let (_data, driver) = start().await;
    let id = ticket(&driver, event("rights-1", "the app crashes on login")).await;
    let (status, key) = driver
        .post_api("/v1/api-keys", &json!({"name": "sally", "role": "agent"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");

    // An agent sees no such actions, and is refused them.
    let mut agent = Visitor::new(&driver.base);
    let answer = agent.sign_in(key["key"].as_str().unwrap()).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let page = agent.get(&format!("/tickets/{id}")).await;
    assert!(!page.body.contains("Their data"), "{}", page.body);
    let csrf = page.hidden("csrf");
    let refused = agent
        .post(
            &format!("/tickets/{id}/customer/erase"),
            &[("csrf", csrf.as_str()), ("confirm", "erase")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let export = agent.get(&format!("/tickets/{id}/customer/export")).await;
    assert_eq!(export.status, StatusCode::FORBIDDEN);

    let mut admin = signed_in(&driver).await;
    let page = admin.get(&format!("/tickets/{id}")).await;
    assert!(
        page.body.contains("Their data (export, erase)"),
        "{}",
        page.body
    );
    let export = admin.get(&format!("/tickets/{id}/customer/export")).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"customer-cus_"),
        "{:?}",
        export.headers
    );
    let exported: Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(
        exported["tickets"][0]["messages"][0]["text"],
        "the app crashes on login"
    );

    // Not confirmed: the ticket page again with the reason, nothing erased.
    let csrf = page.hidden("csrf");
    let unconfirmed = admin
        .post(
            &format!("/tickets/{id}/customer/erase"),
            &[("csrf", csrf.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unconfirmed.body.contains("Type erase to confirm"),
        "{}",
        unconfirmed.body
    );
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert!(detail["customer"].is_object(), "{detail}");

    let erased = admin
        .post(
            &format!("/tickets/{id}/customer/erase"),
            &[("csrf", csrf.as_str()), ("confirm", "erase")],
        )
        .await;
    assert_eq!(erased.status, StatusCode::SEE_OTHER, "{}", erased.body);
    let shown = admin.get(erased.location().unwrap()).await;
    assert!(
        shown.body.contains("The customer&#39;s data is erased")
            || shown.body.contains("The customer's data is erased"),
        "{}",
        shown.body
    );
    assert!(
        !shown.body.contains("the app crashes on login"),
        "{}",
        shown.body
    );
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(detail["customer"], Value::Null);
    assert_eq!(detail["messages"][0]["text"], "");
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_paths_and_forms_get_readable_refusals_not_failures() {
    let (_data, driver) = start().await;
    let mut visitor = signed_in(&driver).await;
    let csrf = visitor.get("/").await.hidden("csrf");
    for path in [
        "/tickets/%0D%0ASet-Cookie:%20x=1",
        "/tickets/..%2F..%2Fv1",
        "/tickets/tkt_00000000000000000000000000",
        "/incidents/%22%3E%3Cscript%3E",
        "/settings/templates/%3Cb%3E",
    ] {
        let page = visitor.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        assert!(
            page.body.contains("<h1>Not found</h1>"),
            "{path}: {}",
            page.body
        );
        assert!(
            !page.body.contains("<script>") && !page.body.contains("<b>"),
            "{path}"
        );
        let post = visitor
            .post(&format!("{path}/note"), &[("csrf", &csrf), ("text", "x")])
            .await;
        assert!(post.status.is_client_error(), "{path}: {}", post.status);
        assert!(
            post.headers
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap().starts_with("x="))
        );
    }
    // A form that is not a form: a readable 400 page.
    let raw = reqwest::Client::new()
        .post(format!(
            "{}/tickets/tkt_00000000000000000000000000/note",
            driver.base
        ))
        .header(
            "cookie",
            format!("sc_session={}", visitor.cookies["sc_session"]),
        )
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert!(
        raw.text()
            .await
            .unwrap()
            .contains("The form could not be read.")
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_form_refuses_a_request_without_the_sessions_token() {
    let (_data, driver) = start().await;
    let id = ticket(&driver, event("forms-1", "the app crashes")).await;
    let mut visitor = signed_in(&driver).await;
    let (status, _) = driver
        .post_api("/v1/templates", &json!({"id": "thanks", "text": "Thanks!"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/tickets/{id}/reply"),
            vec![("form_key", "0123456789abcdef0123"), ("text", "hello")],
        ),
        (
            format!("/tickets/{id}/assign"),
            vec![("agent", "bootstrap")],
        ),
        (
            format!("/tickets/{id}/status"),
            vec![("status", "resolved")],
        ),
        (format!("/tickets/{id}/priority"), vec![("priority", "low")]),
        (format!("/tickets/{id}/note"), vec![("text", "x")]),
        (
            format!("/tickets/{id}/identities"),
            vec![("source", "x"), ("account", "a"), ("user_id", "1")],
        ),
        (
            format!("/tickets/{id}/customer/erase"),
            vec![("confirm", "erase")],
        ),
        (
            format!("/tickets/{id}/customer/merge"),
            vec![("other", "cus_01M8RW5PCRMSPW4KGVKY7R52C4")],
        ),
        (
            "/settings/webhooks".into(),
            vec![("url", "https://crm.example/hooks")],
        ),
        (
            "/incidents/inc_01M8RW5PCRMSPW4KGVKY7R52C4/updates".into(),
            vec![("form_key", "0123456789abcdef0123"), ("text", "x")],
        ),
        (
            "/settings/templates".into(),
            vec![("id", "other"), ("text", "x")],
        ),
        (
            "/settings/templates/thanks".into(),
            vec![("text", "changed")],
        ),
        ("/settings/templates/thanks/delete".into(), vec![]),
        (
            "/settings/keys".into(),
            vec![("name", "mallory"), ("role", "admin")],
        ),
        ("/settings/keys/key_0000000000000000/revoke".into(), vec![]),
        (
            "/settings/sla".into(),
            vec![("document", "{\"policies\": {}}")],
        ),
        (
            "/settings/accounts".into(),
            vec![("platform", "x"), ("id", "666")],
        ),
        (
            "/settings/accounts/x/1100000000000000001".into(),
            vec![("handle", "mallory")],
        ),
        (
            "/settings/accounts/x/1100000000000000001/delete".into(),
            vec![],
        ),
        (
            "/settings/teams".into(),
            vec![("name", "mallory"), ("members", "mallory")],
        ),
        (
            "/settings/teams/support".into(),
            vec![("members", "mallory")],
        ),
        ("/settings/teams/support/delete".into(), vec![]),
        ("/logout".into(), vec![]),
    ];
    for (path, fields) in &forms {
        for csrf in [None, Some("not-the-token")] {
            let mut form = fields.clone();
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let answer = visitor.post(path, &form).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{path} {csrf:?}: {}",
                answer.body
            );
            assert!(answer.body.contains("CSRF"), "{path}: a readable page");
        }
    }
    // Nothing changed: the ticket, its trail, the template, the keys, the session.
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(detail["ticket"]["status"], "open");
    assert_eq!(detail["ticket"]["owner"], Value::Null);
    assert_eq!(detail["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        detail["customer"]["identities"].as_array().unwrap().len(),
        1
    );
    assert_eq!(notes(&driver, &id).await, Vec::<String>::new());
    let (_, template) = driver.get("/v1/templates/thanks").await;
    assert_eq!(template["text"], "Thanks!");
    let (_, keys) = driver.get("/v1/api-keys").await;
    assert_eq!(keys["api_keys"], json!([]));
    let (_, changes) = driver.get("/v1/configuration/changes").await;
    assert_eq!(changes["changes"], json!([]), "no account or team changed");
    assert_eq!(
        visitor.get("/").await.status,
        StatusCode::OK,
        "still signed in"
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_view_shows_more_on_demand() {
    let (_data, driver) = start().await;
    for n in 0..3 {
        let mut body = generic_body(
            &format!("more-{n}"),
            &format!("c-m{n}"),
            "help",
            Utc::now() - Duration::minutes(5 - n),
        );
        body["callback_url"] = json!("https://crm.example/hooks/replies");
        driver.post_generic(&body, Utc::now()).await;
    }
    driver.tickets_when(|t| t.len() == 3).await;
    let mut visitor = signed_in(&driver).await;
    let page = visitor.get("/?view=open&limit=2").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body.matches("<tr data-id=").count(), 2);
    assert!(
        page.body
            .contains(r#"<a href="/?view=open&#38;limit=102">Show more</a>"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"data-refresh="/inbox/rows?view=open&#38;limit=2""#),
        "the refresh keeps the length"
    );
    let all = visitor.get("/?view=open").await;
    assert_eq!(all.body.matches("<tr data-id=").count(), 3);
    assert!(!all.body.contains("Show more"));
    for bad in ["0", "501", "many"] {
        let refused = visitor.get(&format!("/?view=open&limit={bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            refused
                .body
                .contains("limit must be a number from 1 to 500")
        );
    }
    driver.running.stop().await.unwrap();
}

/// On AWS (https) the session cookie is `__Host-` named and `Secure`, and every page asks the
/// browser to keep to https.
#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_bound_and_hsts_is_sent() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let store =
        socialcare_sqlite::SqliteStore::new(socialcare_sqlite::Database::in_memory().unwrap());
    let state = std::sync::Arc::new(socialcare_app::api::ApiState::new(store, KEY));
    let app = socialcare_console::routes(
        state,
        socialcare_console::ConsoleSettings { https: true },
        None,
    );
    let login = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        login.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let form_cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(form_cookie.contains("Secure"), "{form_cookie}");
    let token = form_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("sc_login=")
        .to_string();
    let answer = app
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("sc_login={token}"))
                .body(Body::from(format!("csrf={token}&key={KEY}")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let session = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-sc_session="))
        .expect("the __Host- session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(session.contains(flag), "{flag}: {session}");
    }
    assert!(
        !session.contains("Domain="),
        "a __Host- cookie has no Domain: {session}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_conversation_comes_in_parts() {
    let (_data, driver) = start().await;
    let start = Utc::now() - Duration::hours(5);
    for n in 0..203 {
        let mut body = generic_body(
            &format!("long-{n:03}"),
            "c-long",
            &format!("message number {n:03}"),
            start + Duration::seconds(n),
        );
        body["callback_url"] = json!("https://crm.example/hooks/replies");
        let (status, _) = driver.post_generic(&body, Utc::now()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let tickets = driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 203)
        .await;
    let id = tickets[0]["id"].as_str().unwrap();
    let mut visitor = signed_in(&driver).await;
    let first = visitor.get(&format!("/tickets/{id}")).await;
    assert_eq!(first.body.matches(r#"<li class="message"#).count(), 200);
    assert!(first.body.contains("message number 000") && first.body.contains("message number 199"));
    assert!(!first.body.contains("message number 200"));
    let start = first
        .body
        .find(r#"<a href="/tickets/"#)
        .map(|_| ())
        .and(first.body.find("Later messages"))
        .expect("a link on");
    let href_end = first.body[..start].rfind("\">").unwrap();
    let href_start = first.body[..href_end].rfind("href=\"").unwrap() + 6;
    let later = first.body[href_start..href_end].replace("&#38;", "&");
    let rest = visitor.get(&later).await;
    assert_eq!(rest.status, StatusCode::OK, "{later}: {}", rest.body);
    assert_eq!(
        rest.body.matches(r#"<li class="message"#).count(),
        3,
        "{later}"
    );
    assert!(rest.body.contains("message number 202") && !rest.body.contains("message number 199"));
    assert!(!rest.body.contains("Later messages"));
    let bad = visitor.get(&format!("/tickets/{id}?after=nonsense")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    driver.running.stop().await.unwrap();
}
