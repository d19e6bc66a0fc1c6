//! Connecting an account, platform side: `XConnect` and `MetaConnect` driven through the whole
//! flow against the stateful fakes of X and Meta (which check every OAuth 1.0a signature and
//! every `appsecret_proof` themselves), field by field, and the ways it fails.

use serde_json::json;
use socialcare_platforms::connect::{
    ConnectError, LOGIN_SCOPES, ManagedPage, MetaConnect, RequestToken, SUBSCRIBED_FIELDS,
    XConnect, XUserToken,
};
use socialcare_platforms::{DEFAULT_TIMEOUT, Endpoints};
use socialcare_tests::fake_meta::{FAKE_META_APP_ID, FAKE_META_APP_SECRET, FakeMeta};
use socialcare_tests::fake_x::{
    FAKE_X_CONSUMER_KEY, FAKE_X_CONSUMER_SECRET, FakeX, XAccountHolder,
};
use socialcare_tests::oauth1;
use socialcare_webhooks::x::signature::crc_response_token;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CALLBACK: &str = "https://care.example.com/console/connect/x/callback";
const REDIRECT: &str = "https://care.example.com/console/connect/meta/callback";

fn x_client(fake: &FakeX, consumer_secret: &str) -> XConnect {
    let endpoints = Endpoints {
        x_api: fake.url(),
        ..Endpoints::default()
    };
    XConnect::new(
        FAKE_X_CONSUMER_KEY,
        consumer_secret,
        &endpoints,
        DEFAULT_TIMEOUT,
    )
    .unwrap()
}

fn meta_client(fake: &FakeMeta, app_secret: &str) -> MetaConnect {
    let endpoints = Endpoints {
        meta_graph: fake.url(),
        meta_version: fake.version().into(),
        ..Endpoints::default()
    };
    MetaConnect::new(FAKE_META_APP_ID, app_secret, &endpoints, DEFAULT_TIMEOUT)
        .unwrap()
        .with_login_base(&fake.url())
        .unwrap()
}

/// A browser that does not follow redirects: the test reads where the platform sends the
/// user back to.
async fn visit(url: &str) -> (u16, Option<url::Url>) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url).send().await.unwrap();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|value| url::Url::parse(value.to_str().unwrap()).unwrap());
    (response.status().as_u16(), location)
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The brand's webhook endpoint as far as X's CRC goes: `GET /webhooks/x?crc_token=T`
/// answered with the product's own CRC code, keyed with `secret`.
async fn crc_endpoint(secret: &'static str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/webhooks/x"))
        .respond_with(move |request: &wiremock::Request| {
            let token = request
                .url
                .query_pairs()
                .find(|(key, _)| key == "crc_token")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default();
            match crc_response_token(secret.as_bytes(), &token) {
                Ok(answer) => {
                    ResponseTemplate::new(200).set_body_json(json!({ "response_token": answer }))
                }
                Err(_) => ResponseTemplate::new(400),
            }
        })
        .mount(&server)
        .await;
    server
}

/// Steps 1 to 3 of the three-legged flow, the brand's user clicking "Authorize app".
async fn connect_x(fake: &FakeX, client: &XConnect) -> (RequestToken, XUserToken) {
    let request = client.request_token(CALLBACK).await.unwrap();
    let (status, back) = visit(&client.authorize_url(&request)).await;
    assert_eq!(status, 302);
    let back = back.expect("sent back to the callback");
    assert_eq!(
        back.as_str().split('?').next(),
        Some(CALLBACK),
        "the callback registered with the request token"
    );
    assert_eq!(
        query(&back, "oauth_token").as_deref(),
        Some(request.token.as_str())
    );
    let verifier = query(&back, "oauth_verifier").expect("a verifier");
    let user = client.access_token(&request, &verifier).await.unwrap();
    assert_eq!(fake.access_tokens().len(), 1);
    (request, user)
}

#[tokio::test]
async fn x_connects_an_account_from_request_token_to_subscription() {
    let fake = FakeX::start().await;
    fake.authorize_as(XAccountHolder {
        user_id: "1100000000000000001".into(),
        screen_name: "acme_care".into(),
        name: "Acme Care".into(),
    });
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let (request, user) = connect_x(&fake, &client).await;
    assert!(!request.token.is_empty() && !request.secret.is_empty());

    // The stored token is exactly what X issued, for the user who authorized.
    let issued = &fake.access_tokens()[0];
    assert_eq!(user.token, issued.token);
    assert_eq!(user.secret, issued.secret);
    assert_eq!(user.user_id, "1100000000000000001");
    assert_eq!(user.screen_name, "acme_care");

    let me = client.verify(&user).await.unwrap();
    assert_eq!(me.id, "1100000000000000001");
    assert_eq!(me.username, "acme_care");
    assert_eq!(me.name, "Acme Care");

    // The webhook: X checks the URL with a CRC before registering it.
    let brand = crc_endpoint(FAKE_X_CONSUMER_SECRET).await;
    let url = format!("{}/webhooks/x", brand.uri());
    let webhook = client.ensure_webhook(&url).await.unwrap();
    assert_eq!(webhook.url, url);
    assert!(webhook.valid);
    let checks = fake.crc_checks();
    assert_eq!(checks.len(), 1);
    assert!(checks[0].passed, "{:?}", checks[0]);
    assert_eq!(checks[0].url, url);
    let received = brand.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "the fake really asked the brand's URL");
    assert_eq!(
        query(&received[0].url, "crc_token").as_deref(),
        Some(checks[0].crc_token.as_str())
    );
    let registered = fake.webhooks();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].id, webhook.id);
    assert_eq!(registered[0].url, url);
    assert!(registered[0].valid);

    // Ensuring it again reuses it: no second registration, no second CRC.
    let again = client.ensure_webhook(&url).await.unwrap();
    assert_eq!(again, webhook);
    assert_eq!(fake.webhooks().len(), 1);
    assert_eq!(fake.crc_checks().len(), 1);
    assert_eq!(client.webhooks().await.unwrap(), vec![webhook.clone()]);

    assert!(!client.subscription(&webhook.id, &user).await.unwrap());
    client.subscribe(&webhook.id, &user).await.unwrap();
    assert!(client.subscription(&webhook.id, &user).await.unwrap());
    assert_eq!(
        fake.subscribed_user_ids(&webhook.id),
        vec!["1100000000000000001".to_string()]
    );

    assert_eq!(fake.refusals(), vec![], "every signature checked out");
}

#[tokio::test]
async fn x_the_user_the_fake_grants_is_the_one_the_client_reports() {
    let fake = FakeX::start().await;
    fake.authorize_as(XAccountHolder {
        user_id: "2244994945".into(),
        screen_name: "XDevelopers".into(),
        name: "Developers".into(),
    });
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let (_, user) = connect_x(&fake, &client).await;
    assert_eq!(user.user_id, "2244994945");
    assert_eq!(user.screen_name, "XDevelopers");
    assert!(user.token.starts_with("2244994945-"));
    let me = client.verify(&user).await.unwrap();
    assert_eq!(
        (me.id.as_str(), me.username.as_str(), me.name.as_str()),
        ("2244994945", "XDevelopers", "Developers")
    );
}

#[tokio::test]
async fn x_a_wrong_consumer_secret_is_refused_in_xs_words() {
    let fake = FakeX::start().await;
    let client = x_client(&fake, "not-the-consumer-secret");
    let error = client.request_token(CALLBACK).await.unwrap_err();
    assert_eq!(
        error,
        ConnectError::Refused {
            platform: "X",
            status: 401,
            code: Some(32),
            message: "Could not authenticate you.".into(),
        }
    );
    assert!(error.is_refused());
    let refusals = fake.refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].path, "/oauth/request_token");
    assert!(
        refusals[0].reason.contains("signature does not match"),
        "{refusals:?}"
    );

    let error = client.app_bearer().await.unwrap_err();
    assert!(error.is_refused());
    assert_eq!(error.platform_code(), Some(99));
    assert_eq!(
        error.platform_message(),
        Some("Unable to verify your credentials")
    );
    // And so is everything that needs the bearer token.
    let error = client
        .ensure_webhook("https://care.example.com/webhooks/x")
        .await
        .unwrap_err();
    assert!(error.is_refused());
    assert!(fake.crc_checks().is_empty());
}

#[tokio::test]
async fn x_a_wrong_verifier_is_refused_and_the_request_token_is_single_use() {
    let fake = FakeX::start().await;
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let request = client.request_token(CALLBACK).await.unwrap();
    let (_, back) = visit(&client.authorize_url(&request)).await;
    let verifier = query(&back.unwrap(), "oauth_verifier").unwrap();

    let error = client
        .access_token(&request, "not-the-verifier")
        .await
        .unwrap_err();
    assert!(error.is_refused());
    assert_eq!(
        error.platform_message(),
        Some("Error processing your OAuth request: Invalid oauth_verifier parameter")
    );
    client.access_token(&request, &verifier).await.unwrap();
    let error = client.access_token(&request, &verifier).await.unwrap_err();
    assert_eq!(error.platform_message(), Some("Invalid or expired token."));
    assert_eq!(error.platform_code(), Some(89));

    // Authorizing a used request token: X's page says it is no longer valid.
    let (status, back) = visit(&client.authorize_url(&request)).await;
    assert_eq!((status, back), (403, None));
}

#[tokio::test]
async fn x_a_declined_authorization_comes_back_as_denied() {
    let fake = FakeX::start().await;
    fake.deny_authorization(true);
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let request = client.request_token(CALLBACK).await.unwrap();
    let (status, back) = visit(&client.authorize_url(&request)).await;
    assert_eq!(status, 302);
    let back = back.unwrap();
    assert_eq!(
        query(&back, "denied").as_deref(),
        Some(request.token.as_str())
    );
    assert_eq!(query(&back, "oauth_verifier"), None);
}

#[tokio::test]
async fn x_a_callback_that_is_not_approved_is_refused() {
    let fake = FakeX::start().await;
    fake.approve_callbacks(&[CALLBACK]);
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let error = client
        .request_token("https://elsewhere.example/callback")
        .await
        .unwrap_err();
    assert_eq!(error.platform_code(), Some(415));
    assert_eq!(
        error.platform_message(),
        Some(
            "Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings"
        )
    );
    assert!(client.request_token(CALLBACK).await.is_ok());
}

#[tokio::test]
async fn x_a_webhook_whose_crc_is_answered_wrongly_is_not_registered() {
    let fake = FakeX::start().await;
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);

    // Answered with another secret: the token does not match.
    let wrong = crc_endpoint("another-consumer-secret").await;
    let url = format!("{}/webhooks/x", wrong.uri());
    let error = client.register_webhook(&url).await.unwrap_err();
    assert_eq!(
        error,
        ConnectError::Failed {
            platform: "X",
            status: 400,
            code: Some(214),
            message: "Webhook URL does not meet the requirements. Invalid CRC token or json response format.".into(),
        }
    );
    assert!(!error.is_refused());
    assert_eq!(fake.webhooks(), vec![]);
    let checks = fake.crc_checks();
    assert_eq!(checks.len(), 1);
    assert!(!checks[0].passed);
    assert!(checks[0].answer.starts_with("200 OK"), "{:?}", checks[0]);

    // Not answered at all: X says so in other words.
    let missing = MockServer::start().await;
    let error = client
        .ensure_webhook(&format!("{}/webhooks/x", missing.uri()))
        .await
        .unwrap_err();
    assert_eq!(
        error.platform_message(),
        Some("Non-200 response code during CRC GET request (i.e. 404, 500, etc).")
    );
    assert_eq!(fake.webhooks(), vec![]);
    assert_eq!(fake.crc_checks().len(), 2);
}

#[tokio::test]
async fn x_an_invalid_webhook_is_checked_again_rather_than_registered_twice() {
    let fake = FakeX::start().await;
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let brand = crc_endpoint(FAKE_X_CONSUMER_SECRET).await;
    let url = format!("{}/webhooks/x", brand.uri());
    let webhook = client.ensure_webhook(&url).await.unwrap();
    fake.invalidate_webhook(&webhook.id);
    assert!(!client.webhooks().await.unwrap()[0].valid);

    let again = client.ensure_webhook(&url).await.unwrap();
    assert_eq!(again.id, webhook.id);
    assert!(again.valid);
    assert_eq!(fake.webhooks().len(), 1);
    let checks = fake.crc_checks();
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|check| check.passed));

    // Another URL: the app's one webhook is taken, and X says so.
    let other = crc_endpoint(FAKE_X_CONSUMER_SECRET).await;
    let error = client
        .ensure_webhook(&format!("{}/webhooks/x", other.uri()))
        .await
        .unwrap_err();
    assert_eq!(
        error.platform_message(),
        Some("Too many resources already created.")
    );
}

#[tokio::test]
async fn x_a_refused_token_is_reported_as_refused() {
    let fake = FakeX::start().await;
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let (_, user) = connect_x(&fake, &client).await;
    let brand = crc_endpoint(FAKE_X_CONSUMER_SECRET).await;
    let webhook = client
        .ensure_webhook(&format!("{}/webhooks/x", brand.uri()))
        .await
        .unwrap();
    client.subscribe(&webhook.id, &user).await.unwrap();

    fake.refuse_token(&user.token);
    let error = client.verify(&user).await.unwrap_err();
    assert_eq!(
        error,
        ConnectError::Refused {
            platform: "X",
            status: 401,
            code: Some(89),
            message: "Invalid or expired token.".into(),
        }
    );
    assert!(!error.to_string().contains(&user.token));
    assert!(!error.to_string().contains(&user.secret));
    let error = client.subscription(&webhook.id, &user).await.unwrap_err();
    assert!(error.is_refused());

    // A refused bearer token is forgotten: the next call asks X for the current one.
    fake.refuse_token(&fake.bearer_token());
    let error = client.webhooks().await.unwrap_err();
    assert!(error.is_refused());
    assert_eq!(error.platform_message(), Some("Unauthorized"));
    assert_eq!(client.webhooks().await.unwrap(), vec![webhook]);
}

#[tokio::test]
async fn fake_x_refuses_a_reused_nonce_an_old_timestamp_and_an_app_token_for_a_user() {
    let fake = FakeX::start().await;
    let client = x_client(&fake, FAKE_X_CONSUMER_SECRET);
    let (_, user) = connect_x(&fake, &client).await;
    let url = format!("{}/2/users/me", fake.url());
    let http = reqwest::Client::new();
    let signed = |nonce: &str, timestamp: u64| {
        let token = oauth1_request::Token::from_parts(
            FAKE_X_CONSUMER_KEY,
            FAKE_X_CONSUMER_SECRET,
            user.token.as_str(),
            user.secret.as_str(),
        );
        let mut builder = oauth1_request::Builder::with_token(token, oauth1_request::HMAC_SHA1);
        builder
            .nonce(nonce)
            .timestamp(std::num::NonZeroU64::new(timestamp));
        builder.get(&url, &())
    };
    let now = chrono::Utc::now().timestamp() as u64;
    let ask = |authorization: String| http.get(&url).header("authorization", authorization).send();
    let first = ask(signed("nonce-once", now)).await.unwrap();
    assert_eq!(first.status(), 200);
    let replay = ask(signed("nonce-once", now)).await.unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<serde_json::Value>().await.unwrap(),
        json!({ "errors": [{ "code": 32, "message": "Could not authenticate you." }] })
    );
    let old = ask(signed("nonce-old", now - 600)).await.unwrap();
    assert_eq!(old.status(), 401);
    assert_eq!(
        old.json::<serde_json::Value>().await.unwrap()["errors"][0]["code"],
        135
    );
    let bearer = client.app_bearer().await.unwrap();
    let app_only = http
        .get(&url)
        .bearer_auth(bearer.token())
        .send()
        .await
        .unwrap();
    assert_eq!(app_only.status(), 403);
    let reasons: Vec<String> = fake.refusals().into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("was used before"), "{reasons:?}");
}

#[test]
fn fake_xs_signatures_are_the_ones_x_documents() {
    // X's "Creating a signature" example: POST statuses/update with a query and a form body.
    let parameters: Vec<(String, String)> = [
        (
            "status",
            "Hello Ladies + Gentlemen, a signed OAuth request!",
        ),
        ("include_entities", "true"),
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        (
            "oauth_token",
            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        ),
        ("oauth_version", "1.0"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let base_uri = oauth1::base_uri("HTTPS", "API.twitter.com:443", "/1.1/statuses/update.json");
    assert_eq!(base_uri, "https://api.twitter.com/1.1/statuses/update.json");
    let base_string = oauth1::signature_base_string("post", &base_uri, &parameters);
    assert_eq!(
        base_string,
        "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
    );
    let consumer_secret = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
    let token_secret = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
    assert_eq!(
        oauth1::hmac_sha1(consumer_secret, token_secret, &base_string),
        "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    );
    assert!(oauth1::verify(
        consumer_secret,
        token_secret,
        &base_string,
        "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    ));
    assert!(!oauth1::verify(
        "another",
        token_secret,
        &base_string,
        "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    ));
    assert_eq!(
        oauth1::base_uri("http", "127.0.0.1:80", ""),
        "http://127.0.0.1/"
    );
    assert_eq!(
        oauth1::base_uri("http", "127.0.0.1:8080", "/a"),
        "http://127.0.0.1:8080/a"
    );
    let header = r#"OAuth realm="x", oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_callback="http%3A%2F%2Fmyapp.com%3A3005%2Ftwitter%2Fprocess_callback""#;
    assert_eq!(
        oauth1::authorization_parameters(header).unwrap(),
        vec![
            (
                "oauth_consumer_key".to_string(),
                "xvz1evFS4wEEPTGEFPHBog".to_string()
            ),
            (
                "oauth_callback".to_string(),
                "http://myapp.com:3005/twitter/process_callback".to_string()
            ),
        ]
    );
    assert_eq!(oauth1::authorization_parameters("Bearer abc"), None);
    assert_eq!(oauth1::decode("a%2"), None);
    assert_eq!(oauth1::encode("a b+~*"), "a%20b%2B~%2A");
}

/// Login, code exchange, long-lived token: the user's long-lived token.
async fn log_in(fake: &FakeMeta, client: &MetaConnect) -> String {
    let (status, back) = visit(&client.login_url(REDIRECT, "state-7f3a", &LOGIN_SCOPES)).await;
    assert_eq!(status, 302);
    let back = back.expect("sent back to the redirect_uri");
    assert_eq!(back.as_str().split('?').next(), Some(REDIRECT));
    assert_eq!(query(&back, "state").as_deref(), Some("state-7f3a"));
    let code = query(&back, "code").expect("a code");
    let short = client.exchange_code(&code, REDIRECT).await.unwrap();
    let long = client.long_lived(&short).await.unwrap();
    let issued = fake.user_tokens();
    assert_eq!(issued.len(), 2);
    assert_eq!(short.access_token, issued[0].access_token);
    assert!(!issued[0].long_lived);
    assert_eq!(long.access_token, issued[1].access_token);
    assert!(issued[1].long_lived);
    assert_eq!(long.expires_in, Some(5_183_944));
    long.access_token
}

#[tokio::test]
async fn meta_connects_pages_from_login_to_subscription() {
    let fake = FakeMeta::start().await;
    let client = meta_client(&fake, FAKE_META_APP_SECRET);
    let long = log_in(&fake, &client).await;
    assert_eq!(
        fake.granted_scopes(),
        LOGIN_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );

    let user = socialcare_platforms::connect::MetaUserToken {
        access_token: long,
        expires_in: None,
    };
    let pages = client.pages(&user).await.unwrap();
    assert_eq!(
        fake.accounts_requests(),
        2,
        "the second answer was followed"
    );
    let known = fake.pages();
    assert_eq!(pages.len(), 3);
    for (page, fake_page) in pages.iter().zip(&known) {
        assert_eq!(page.id, fake_page.id);
        assert_eq!(page.name, fake_page.name);
        assert_eq!(page.access_token, fake_page.access_token);
    }
    assert_eq!(
        pages[0]
            .instagram
            .as_ref()
            .map(|ig| (ig.id.as_str(), ig.username.as_str())),
        Some(("17841400000000001", "acme.care"))
    );
    assert_eq!(pages[1].instagram, None);
    assert_eq!(pages[2].instagram, None);

    for page in &pages {
        let identity = client
            .verify_page(&page.id, &page.access_token)
            .await
            .unwrap();
        assert_eq!(
            (identity.id.as_str(), identity.name.as_str()),
            (page.id.as_str(), page.name.as_str())
        );
        assert!(
            !client
                .page_subscribed(&page.id, &page.access_token)
                .await
                .unwrap()
        );
        client
            .subscribe_page(&page.id, &page.access_token)
            .await
            .unwrap();
        assert!(
            client
                .page_subscribed(&page.id, &page.access_token)
                .await
                .unwrap()
        );
        assert_eq!(
            fake.subscribed_fields(&page.id),
            Some(vec![
                "feed".to_string(),
                "messages".to_string(),
                "mention".to_string()
            ])
        );
    }
    assert_eq!(SUBSCRIBED_FIELDS, ["feed", "messages", "mention"]);
    assert_eq!(fake.subscriptions().len(), 3);
    assert_eq!(fake.refusals(), vec![], "every proof checked out");
}

#[tokio::test]
async fn meta_a_code_is_single_use_and_bound_to_its_redirect_uri() {
    let fake = FakeMeta::start().await;
    let client = meta_client(&fake, FAKE_META_APP_SECRET);
    let (_, back) = visit(&client.login_url(REDIRECT, "s", &["pages_show_list"])).await;
    let code = query(&back.unwrap(), "code").unwrap();

    let error = client
        .exchange_code(&code, "https://care.example.com/elsewhere")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ConnectError::Failed {
            platform: "Meta",
            status: 400,
            code: Some(100),
            message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request".into(),
        }
    );
    client.exchange_code(&code, REDIRECT).await.unwrap();
    let error = client.exchange_code(&code, REDIRECT).await.unwrap_err();
    assert_eq!(
        error.platform_message(),
        Some("This authorization code has been used.")
    );
    assert!(!error.is_refused());
}

#[tokio::test]
async fn meta_a_declined_login_comes_back_with_metas_error() {
    let fake = FakeMeta::start().await;
    fake.deny_login(true);
    let client = meta_client(&fake, FAKE_META_APP_SECRET);
    let (status, back) = visit(&client.login_url(REDIRECT, "s-1", &LOGIN_SCOPES)).await;
    assert_eq!(status, 302);
    let back = back.unwrap();
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "error_reason").as_deref(), Some("user_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("s-1"));
    assert_eq!(query(&back, "code"), None);
}

#[tokio::test]
async fn meta_a_wrong_app_secret_is_refused_in_metas_words() {
    let fake = FakeMeta::start().await;
    let right = meta_client(&fake, FAKE_META_APP_SECRET);
    let long = log_in(&fake, &right).await;
    let wrong = meta_client(&fake, "not-the-app-secret");
    let user = socialcare_platforms::connect::MetaUserToken {
        access_token: long,
        expires_in: None,
    };
    // Every Graph call's proof is keyed with the app secret.
    let error = wrong.pages(&user).await.unwrap_err();
    assert_eq!(
        error,
        ConnectError::Refused {
            platform: "Meta",
            status: 400,
            code: Some(190),
            message: "Invalid appsecret_proof provided in the API argument".into(),
        }
    );
    // The token exchanges carry the secret itself.
    let error = wrong.long_lived(&user).await.unwrap_err();
    assert_eq!(
        error.platform_message(),
        Some("Error validating client secret.")
    );
    assert_eq!(fake.accounts_requests(), 0);
}

#[tokio::test]
async fn meta_a_refused_token_is_reported_as_refused() {
    let fake = FakeMeta::start().await;
    let client = meta_client(&fake, FAKE_META_APP_SECRET);
    let page = fake.pages()[1].clone();
    client
        .subscribe_page(&page.id, &page.access_token)
        .await
        .unwrap();

    fake.refuse_token(&page.access_token);
    for error in [
        client
            .verify_page(&page.id, &page.access_token)
            .await
            .unwrap_err(),
        client
            .page_subscribed(&page.id, &page.access_token)
            .await
            .unwrap_err(),
    ] {
        assert!(error.is_refused(), "{error}");
        assert_eq!(error.platform_code(), Some(190));
        assert_eq!(
            error.platform_message(),
            Some(
                "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
            )
        );
        assert!(!error.to_string().contains(&page.access_token));
    }
}

#[tokio::test]
async fn meta_a_next_page_on_another_host_is_not_followed() {
    let fake = FakeMeta::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [] })))
        .expect(0)
        .mount(&elsewhere)
        .await;
    fake.set_next_base(&elsewhere.uri());
    let client = meta_client(&fake, FAKE_META_APP_SECRET);
    let long = log_in(&fake, &client).await;
    let user = socialcare_platforms::connect::MetaUserToken {
        access_token: long.clone(),
        expires_in: None,
    };
    let error = client.pages(&user).await.unwrap_err();
    assert!(
        matches!(
            error,
            ConnectError::Unexpected {
                platform: "Meta",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("it was not followed"), "{error}");
    assert!(!error.to_string().contains(&long));
    assert_eq!(fake.accounts_requests(), 1);
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn meta_a_user_token_does_not_pass_for_a_page() {
    let fake = FakeMeta::start().await;
    let client = meta_client(&fake, FAKE_META_APP_SECRET);
    let long = log_in(&fake, &client).await;
    let page = fake.pages()[0].clone();
    let error = client.verify_page(&page.id, &long).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Meta says the token acts as 10160000000000001, not as page {}",
            page.id
        )
    );
    let error = client.subscribe_page(&page.id, &long).await.unwrap_err();
    assert_eq!(
        error.platform_message(),
        Some("(#210) A page access token is required to request this resource.")
    );
    assert_eq!(error.platform_code(), Some(210));
    // Another page's token neither.
    let other = fake.pages()[1].clone();
    let error = client
        .subscribe_page(&page.id, &other.access_token)
        .await
        .unwrap_err();
    assert_eq!(error.platform_code(), Some(210));
    assert_eq!(fake.subscribed_fields(&page.id), None);
}

#[tokio::test]
async fn nothing_shown_of_a_connection_holds_a_secret() {
    let x = FakeX::start().await;
    let x_connect = x_client(&x, FAKE_X_CONSUMER_SECRET);
    let (request, user) = connect_x(&x, &x_connect).await;
    let bearer = x_connect.app_bearer().await.unwrap();
    let meta = FakeMeta::start().await;
    let meta_connect = meta_client(&meta, FAKE_META_APP_SECRET);
    let long = log_in(&meta, &meta_connect).await;
    let pages: Vec<ManagedPage> = meta_connect
        .pages(&socialcare_platforms::connect::MetaUserToken {
            access_token: long.clone(),
            expires_in: Some(1),
        })
        .await
        .unwrap();
    let shown = format!("{x_connect:?} {request:?} {user:?} {bearer:?} {meta_connect:?} {pages:?}");
    let mut secrets = vec![
        FAKE_X_CONSUMER_SECRET.to_string(),
        request.secret.clone(),
        user.token.clone(),
        user.secret.clone(),
        bearer.token().to_string(),
        FAKE_META_APP_SECRET.to_string(),
        long,
    ];
    secrets.extend(pages.iter().map(|page| page.access_token.clone()));
    for secret in secrets {
        assert!(!shown.contains(&secret), "{secret} shown in {shown}");
    }
    assert!(shown.contains("acme_care") && shown.contains("Acme Care"));
}
