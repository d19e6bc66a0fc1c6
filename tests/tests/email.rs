//! E-mail in, through `socialcare-local`: `POST /webhooks/email` with raw RFC 5322 messages to
//! a configured mailbox. A thread of three (the customer, the brand's answer from its own mail
//! client, the customer again) is one ticket with one customer; what is not e-mail, has no
//! From or is for no configured mailbox is refused and kept for inspection.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use socialcare_tests::events::signature;
use socialcare_tests::runner::Driver;

const KEY: &str = "sk_email_key_0001";
const SECRET: &str = "whsec_email";
const MAILBOX: &str = "support@acme.example";

const ACCOUNTS: &str = r#"
[[accounts]]
platform = "email"
id = "support@acme.example"
name = "Acme Support"
"#;

async fn start() -> (tempfile::TempDir, Driver) {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("socialcare.toml");
    std::fs::write(&config, ACCOUNTS).unwrap();
    let driver = Driver::start_with_config(data.path(), false, SECRET, KEY, Some(config)).await;
    (data, driver)
}

async fn post_mail(driver: &Driver, raw: &str, query: &str) -> (StatusCode, Value) {
    let bytes = raw.as_bytes().to_vec();
    driver
        .post_raw(
            &format!("/webhooks/email{query}"),
            &[
                ("content-type", "message/rfc822".to_string()),
                (
                    "x-socialcare-signature",
                    signature(SECRET, Utc::now(), &bytes),
                ),
            ],
            bytes,
        )
        .await
}

/// The header `name` of a message, as written.
fn header(message: &str, name: &str) -> String {
    message
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} in {message}"))
        .trim()
        .to_string()
}

/// The messages written to the data directory's `sent-email`, once there are `count`.
async fn sent_when(data: &tempfile::TempDir, count: usize) -> Vec<String> {
    let folder = data.path().join("sent-email");
    for _ in 0..100 {
        let sent: Vec<String> = std::fs::read_dir(&folder)
            .map(|entries| {
                entries
                    .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        if sent.len() >= count {
            return sent;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{count} messages were never sent");
}

fn date(minutes_ago: i64) -> String {
    (Utc::now() - Duration::minutes(minutes_ago)).to_rfc2822()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_of_three_mails_is_one_ticket_and_bad_mail_is_refused_and_kept() {
    let (data, driver) = start().await;
    let first = format!(
        "From: \"Ann Lee\" <ann.lee@example.com>\r\nTo: Acme Support <{MAILBOX}>\r\n\
         Subject: My fibre is down again\r\nDate: {}\r\nMessage-ID: <m1@example.com>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         The fibre has been down since Monday.\r\n\r\n-- \r\nAnn Lee\r\n",
        date(30)
    );
    let answer = format!(
        "From: Acme Support <{MAILBOX}>\r\nTo: ann.lee@example.com\r\n\
         Subject: Re: My fibre is down again\r\nDate: {}\r\nMessage-ID: <a1@acme.example>\r\n\
         In-Reply-To: <m1@example.com>\r\nReferences: <m1@example.com>\r\n\r\n\
         Sorry Ann, an engineer is on the way.\r\n\r\nOn Thu, Ann Lee wrote:\r\n> The fibre has been down since Monday.\r\n",
        date(20)
    );
    let again = format!(
        "From: ann.lee@example.com\r\nTo: {MAILBOX}\r\nSubject: Re: My fibre is down again\r\n\
         Date: {}\r\nMessage-ID: <m2@example.com>\r\nIn-Reply-To: <a1@acme.example>\r\n\
         References: <m1@example.com> <a1@acme.example>\r\n\r\n\
         Nobody came.\r\n\r\n> Sorry Ann, an engineer is on the way.\r\n",
        date(5)
    );
    for raw in [&first, &answer, &again, &first] {
        let (status, body) = post_mail(&driver, raw, "").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "queued");
    }
    let tickets = driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 3)
        .await;
    let id = tickets[0]["id"].as_str().unwrap();
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    let ticket = &detail["ticket"];
    assert_eq!(ticket["source"], "email");
    assert_eq!(ticket["account"], MAILBOX);
    assert_eq!(ticket["subject"], "My fibre is down again");
    assert_eq!(ticket["status"], "open", "the customer wrote last");
    assert!(ticket["first_response_at"].is_string(), "{ticket}");
    let messages = detail["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "The fibre has been down since Monday.",
            "Sorry Ann, an engineer is on the way.",
            "Nobody came."
        ]
    );
    let directions: Vec<&str> = messages
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["inbound", "outbound", "inbound"]);
    assert_eq!(messages[0]["quoted"], "-- \nAnn Lee");
    assert_eq!(messages[2]["in_reply_to"], "a1@acme.example");
    assert_eq!(detail["customer"]["email"], "ann.lee@example.com");
    assert_eq!(detail["customer"]["name"], "Ann Lee");

    // The console shows each mail's subject and, folded, what was trimmed from it.
    let mut visitor = socialcare_tests::browser::Visitor::new(&driver.base);
    assert_eq!(visitor.sign_in(KEY).await.status, StatusCode::SEE_OTHER);
    let page = visitor.get(&format!("/tickets/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(
            "<p class=\"subject\" data-subject><strong>My fibre is down again</strong></p>"
        ),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<p class=\"text muted\" data-quoted>-- \nAnn Lee</p>"),
        "{}",
        page.body
    );

    // Two replies from the console's API: each an e-mail in the thread, written to the data
    // directory; the customer's answer to the first threads back by its Message-ID.
    let reply = |text: &str| serde_json::json!({ "text": text });
    let (status, body) = driver
        .post_api(
            &format!("/v1/tickets/{id}/replies"),
            &reply("We are sending someone today."),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let first_reply = sent_when(&data, 1).await.remove(0);
    assert!(
        first_reply.contains(&format!("From: <{MAILBOX}>\r\n")),
        "{first_reply}"
    );
    assert!(
        first_reply.contains("To: <ann.lee@example.com>\r\n"),
        "{first_reply}"
    );
    assert!(
        first_reply.contains("Subject: Re: My fibre is down again\r\n"),
        "{first_reply}"
    );
    assert!(
        first_reply.contains("In-Reply-To: <m2@example.com>\r\n"),
        "{first_reply}"
    );
    assert!(
        first_reply.contains("References: <m1@example.com> <a1@acme.example> <m2@example.com>\r\n"),
        "{first_reply}"
    );
    let reply_id = header(&first_reply, "Message-ID");
    let answer_to_reply = format!(
        "From: ann.lee@example.com\r\nTo: {MAILBOX}\r\nSubject: Re: My fibre is down again\r\n\
         Date: {}\r\nMessage-ID: <m3@example.com>\r\nIn-Reply-To: {reply_id}\r\n\
         References: <m1@example.com> {reply_id}\r\n\r\nThank you, I will be home.\r\n",
        date(0)
    );
    let (status, body) = post_mail(&driver, &answer_to_reply, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 5)
        .await;
    let (status, body) = driver
        .post_api(
            &format!("/v1/tickets/{id}/replies"),
            &reply("Great, see you then."),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let sent = sent_when(&data, 2).await;
    let second_reply = sent
        .iter()
        .find(|m| m.contains("Great, see you then."))
        .unwrap();
    assert!(
        second_reply.contains("In-Reply-To: <m3@example.com>\r\n"),
        "{second_reply}"
    );
    assert!(
        second_reply.contains(&reply_id),
        "its References name the first reply: {second_reply}"
    );
    // A file is written before its reply is recorded as sent: wait for the records.
    let states = |detail: &Value| -> Vec<Value> {
        detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["delivery"].is_object())
            .map(|m| m["delivery"]["state"].clone())
            .collect()
    };
    let mut detail = Value::Null;
    for _ in 0..100 {
        detail = driver.get(&format!("/v1/tickets/{id}")).await.1;
        if states(&detail) == ["sent", "sent"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        detail["messages"].as_array().unwrap().len(),
        6,
        "one ticket for the thread and its replies"
    );
    assert_eq!(states(&detail), ["sent", "sent"]);

    // A Bcc'd message names its mailbox in the envelope only.
    let bcc = format!(
        "From: bob@example.org\r\nTo: list@elsewhere.example\r\nSubject: Invoice\r\n\
         Message-ID: <b1@example.org>\r\nDate: {}\r\n\r\nMy invoice is wrong.\r\n",
        date(3)
    );
    let (status, body) = post_mail(&driver, &bcc, &format!("?to={MAILBOX}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    driver.tickets_when(|t| t.len() == 2).await;

    // Refused, with why, and kept for inspection; nothing queued.
    let refusals = [
        ("just some words, no headers", "not_email"),
        (
            "To: support@acme.example\r\nSubject: hi\r\n\r\nhello\r\n",
            "no_from",
        ),
        (
            "From: carl@example.net\r\nTo: sales@acme.example\r\n\r\nhello\r\n",
            "unknown_mailbox",
        ),
    ];
    for (raw, code) in refusals {
        let (status, body) = post_mail(&driver, raw, "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        let detail = body["error"]["message"].as_str().unwrap();
        assert!(detail.contains("kept as refused-email/"), "{detail}");
    }
    let kept: Vec<_> = std::fs::read_dir(data.path().join("refused-email"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        kept.iter().filter(|n| n.ends_with(".eml")).count(),
        3,
        "{kept:?}"
    );
    assert_eq!(kept.iter().filter(|n| n.ends_with(".why")).count(), 3);

    // Over 10 MB: refused before it is read further.
    let huge = format!(
        "From: ann.lee@example.com\r\nTo: {MAILBOX}\r\n\r\n{}",
        "a".repeat(socialcare_app::email::MAX_EMAIL_BYTES)
    );
    let (status, body) = post_mail(&driver, &huge, "").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "message_too_large", "{body}");

    // Unsigned, or not sent as a message, changes nothing.
    let (status, _) = driver
        .post_raw(
            "/webhooks/email",
            &[("content-type", "message/rfc822".to_string())],
            first.clone().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = driver
        .post_raw(
            "/webhooks/email",
            &[("content-type", "text/plain".to_string())],
            first.clone().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (_, list) = driver.get("/v1/tickets").await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(sent_when(&data, 2).await.len(), 2, "nothing else was sent");

    // Markup in a subject and in the quoted part is shown as text, never run.
    let markup = format!(
        "From: eve@example.net\r\nTo: {MAILBOX}\r\nSubject: <script>alert(1)</script>\r\n\
         Message-ID: <x1@example.net>\r\nDate: {}\r\n\r\nhello\r\n-- \r\n<img src=x onerror=alert(2)>\r\n",
        date(1)
    );
    let (status, body) = post_mail(&driver, &markup, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let tickets = driver.tickets_when(|t| t.len() == 3).await;
    let eve = tickets
        .iter()
        .find(|t| t["subject"] == "<script>alert(1)</script>")
        .expect("eve's ticket");
    let page = visitor
        .get(&format!("/tickets/{}", eve["id"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "{}",
        page.body
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mails_files_are_kept_listed_on_the_ticket_and_downloaded_never_shown() {
    use sha2::Digest;
    let (data, driver) = start().await;
    // A customer's HTML file: it must never run on the console's origin.
    let page_file = "<script>alert(document.cookie)</script>";
    let raw = format!(
        "From: Ann Lee <ann.lee@example.com>\r\nTo: {MAILBOX}\r\nSubject: The bill\r\n\
         Date: {}\r\nMessage-ID: <files1@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain\r\n\r\nThe bill is wrong, see attached.\r\n--b\r\n\
         Content-Type: text/html\r\nContent-Disposition: attachment; filename=\"b\u{e9}ll \\\"1\\\".html\"\r\n\r\n\
         {page_file}\r\n--b--\r\n",
        date(3)
    );
    for _ in 0..2 {
        let (status, body) = post_mail(&driver, &raw, "").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let digest = hex::encode(sha2::Sha256::digest(page_file.as_bytes()));
    let kept = std::fs::read(data.path().join("email-attachments").join(&digest)).unwrap();
    assert_eq!(
        kept,
        page_file.as_bytes(),
        "kept under its digest, before it was queued"
    );
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    let id = tickets[0]["id"].as_str().unwrap();
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "delivered twice, one message");
    let attachment = &messages[0]["attachments"][0];
    assert_eq!(attachment["kind"], "file");
    assert_eq!(attachment["url"], format!("/attachments/{digest}"));
    assert_eq!(
        attachment["file"]["name"], "béll 1.html",
        "without its quotes"
    );
    assert_eq!(attachment["file"]["content_type"], "text/html");
    assert_eq!(attachment["file"]["size"], page_file.len());
    assert_eq!(attachment["file"]["sha256"], digest.as_str());

    let mut visitor = socialcare_tests::browser::Visitor::new(&driver.base);
    let stranger = visitor.get(&format!("/attachments/{digest}")).await;
    assert_eq!(
        stranger.status,
        StatusCode::SEE_OTHER,
        "signed-in agents only"
    );
    assert_eq!(stranger.location(), Some("/login"));
    assert_eq!(visitor.sign_in(KEY).await.status, StatusCode::SEE_OTHER);
    let page = visitor.get(&format!("/tickets/{id}")).await;
    let href = format!("/attachments/{digest}?name=b%C3%A9ll%201.html");
    assert!(
        page.body.contains(&format!("href=\"{href}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("file: béll 1.html (text/html, 39 B)"),
        "{}",
        page.body
    );
    let file = visitor.get(&href).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, page_file);
    let header = |name: &str| {
        file.headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(header("content-type"), "application/octet-stream");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        header("content-security-policy"),
        "sandbox; default-src 'none'"
    );
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"b_ll 1.html\"; filename*=UTF-8''b%C3%A9ll%201.html"
    );
    for missing in ["0".repeat(64), "../socialcare.toml".into(), "ABC".into()] {
        let page = visitor.get(&format!("/attachments/{missing}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
    }
    driver.running.stop().await.unwrap();
}

/// The delivery status notification a mail system sends the mailbox when `reply_id` could not
/// be delivered to `to` (`action` failed or delayed).
/// What the deliveries of a ticket's replies (state, error) are waited for to be.
type Wanted = dyn Fn(&[(String, String)]) -> bool;

fn bounce_of(reply_id: &str, to: &str, action: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.com\r\nTo: {MAILBOX}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n\
         Final-Recipient: rfc822; {to}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 mailbox unavailable\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {MAILBOX}\r\nTo: {to}\r\n\
         Message-ID: {reply_id}\r\n\r\n--b--\r\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounced_reply_fails_and_mail_to_the_address_waits_until_they_write_again() {
    let (data, driver) = start().await;
    let first = format!(
        "From: Dan Ode <dan@example.com>\r\nTo: {MAILBOX}\r\nSubject: Refund\r\n\
         Date: {}\r\nMessage-ID: <d1@example.com>\r\n\r\nWhere is my refund?\r\n",
        date(10)
    );
    let (status, body) = post_mail(&driver, &first, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    let id = tickets[0]["id"].as_str().unwrap().to_string();
    let reply = |text: &str| serde_json::json!({ "text": text });
    let (status, body) = driver
        .post_api(&format!("/v1/tickets/{id}/replies"), &reply("On its way."))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let reply_id = header(&sent_when(&data, 1).await.remove(0), "Message-ID");
    let deliveries = |detail: &Value| -> Vec<(String, String)> {
        detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["delivery"].is_object())
            .map(|m| {
                (
                    m["delivery"]["state"].as_str().unwrap().to_string(),
                    m["delivery"]["error"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let deliveries_when = |want: &'static Wanted| {
        let (driver, id) = (&driver, id.clone());
        async move {
            let mut got = Vec::new();
            for _ in 0..100 {
                got = deliveries(&driver.get(&format!("/v1/tickets/{id}")).await.1);
                if want(&got) {
                    return got;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("deliveries never came to what was wanted: {got:?}");
        }
    };
    deliveries_when(&|d| d.len() == 1 && d[0].0 == "sent").await;

    // A delay is news, not a bounce: refused as the automatic message it is, kept.
    let (status, body) = post_mail(
        &driver,
        &bounce_of(&reply_id, "dan@example.com", "delayed", "4.4.7"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "automatic_message");

    let (status, body) = post_mail(
        &driver,
        &bounce_of(&reply_id, "dan@example.com", "failed", "5.1.1"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["report"], "bounce");
    assert_eq!(body["about"], reply_id.trim_matches(['<', '>']));
    let failed = deliveries_when(&|d| d.len() == 1 && d[0].0 == "failed").await;
    assert_eq!(
        failed[0].1,
        "bounced: 5.1.1 smtp; 550 5.1.1 mailbox unavailable"
    );

    // The next reply is not sent, and says why; the ticket page says it before anyone writes.
    let (status, body) = driver
        .post_api(&format!("/v1/tickets/{id}/replies"), &reply("Hello?"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let held = deliveries_when(&|d| d.len() == 2 && d[1].0 == "failed").await;
    assert!(
        held[1]
            .1
            .starts_with("not sent: mail could not be delivered to dan@example.com on "),
        "{held:?}"
    );
    assert_eq!(sent_when(&data, 1).await.len(), 1, "nothing else was sent");
    let mut visitor = socialcare_tests::browser::Visitor::new(&driver.base);
    assert_eq!(visitor.sign_in(KEY).await.status, StatusCode::SEE_OTHER);
    let page = visitor.get(&format!("/tickets/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(
            "<p class=\"error\" data-mark>not sent: mail could not be delivered to dan@example.com on "
        ),
        "{}",
        page.body
    );

    // They write again from it: it works, and the next reply goes.
    let again = format!(
        "From: dan@example.com\r\nTo: {MAILBOX}\r\nSubject: Re: Refund\r\n\
         Date: {}\r\nMessage-ID: <d2@example.com>\r\nIn-Reply-To: <d1@example.com>\r\n\r\n\
         My mailbox was full, sorry.\r\n",
        date(0)
    );
    let (status, body) = post_mail(&driver, &again, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 4)
        .await;
    let (status, body) = driver
        .post_api(&format!("/v1/tickets/{id}/replies"), &reply("Refund sent."))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    deliveries_when(&|d| d.len() == 3 && d[2].0 == "sent").await;
    assert_eq!(sent_when(&data, 2).await.len(), 2);
    let page = visitor.get(&format!("/tickets/{id}")).await;
    assert!(!page.body.contains("data-mark"), "{}", page.body);
    driver.running.stop().await.unwrap();
}
