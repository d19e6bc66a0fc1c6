//! E-mail on AWS, against moto: what SES's receipt rule stored in the mail bucket is read and
//! queued on the stack's inbound queue (under the first configured mailbox it was delivered
//! to), a refused message is copied under `refused/` with why, and a reply goes out through SES
//! v2 from a verified address (what it is made of is `socialcare-platforms`' mail tests').

use chrono::Utc;
use serde_json::json;
use socialcare_app::accounts::Configuration;
use socialcare_app::configuration::ConfigurationCache;
use socialcare_app::email::{Taken, take_stored};
use socialcare_aws::{MailBucket, SesSender, SqsQueue};
use socialcare_domain::ports::Queue;
use socialcare_domain::{QueuedEvent, Source};
use socialcare_tests::emulator;
use std::time::Duration;

const MAILBOX: &str = "support@acme.example";

fn configuration() -> ConfigurationCache {
    ConfigurationCache::fixed(
        Configuration::parse(&format!(
            "[[accounts]]\nplatform = \"email\"\nid = \"{MAILBOX}\"\n"
        ))
        .unwrap(),
    )
}

/// A receipt as SES hands it to the function (the Lambda action's event), for `id`.
fn receipt(
    id: &str,
    recipients: &[&str],
    virus: &str,
) -> aws_lambda_events::event::ses::SimpleEmailRecord {
    receipt_with(id, recipients, virus, "PASS")
}

fn receipt_with(
    id: &str,
    recipients: &[&str],
    virus: &str,
    dmarc: &str,
) -> aws_lambda_events::event::ses::SimpleEmailRecord {
    serde_json::from_value(json!({
        "eventSource": "aws:ses",
        "eventVersion": "1.0",
        "ses": {
            "mail": {
                "timestamp": "2026-12-03T09:00:00.000Z",
                "source": "ann.lee@example.com",
                "messageId": id,
                "destination": recipients,
                "headersTruncated": false,
                "headers": [],
                "commonHeaders": {"from": ["ann.lee@example.com"], "to": recipients,
                                  "messageId": "<m1@example.com>", "subject": "Fibre down"}
            },
            "receipt": {
                "timestamp": "2026-12-03T09:00:00.000Z",
                "processingTimeMillis": 420,
                "recipients": recipients,
                "spamVerdict": {"status": "PASS"},
                "virusVerdict": {"status": virus},
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "PASS"},
                "dmarcVerdict": {"status": dmarc},
                "action": {"type": "Lambda", "invocationType": "Event",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:email"}
            }
        }
    }))
    .unwrap()
}

const MAIL: &str = "From: \"Ann Lee\" <ann.lee@example.com>\r\nTo: support@acme.example\r\n\
Subject: Fibre down\r\nMessage-ID: <m1@example.com>\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n\r\n\
The fibre is down.\r\n";

async fn bucket(config: &aws_config::SdkConfig) -> (aws_sdk_s3::Client, String) {
    let s3 = aws_sdk_s3::Client::new(config);
    let name = format!("mail-{}", ulid::Ulid::generate().to_string().to_lowercase());
    s3.create_bucket().bucket(&name).send().await.unwrap();
    (s3, name)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
}

async fn object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let got = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    Some(got.body.collect().await.unwrap().into_bytes().to_vec())
}

struct Stored(MailBucket);

impl socialcare_app::email::StoredMail for Stored {
    async fn read(&self, id: &str) -> Result<Vec<u8>, socialcare_domain::ports::StoreError> {
        self.0
            .read(id, socialcare_app::email::MAX_EMAIL_BYTES)
            .await
    }
    async fn keep_refused(
        &self,
        id: &str,
        why: &str,
    ) -> Result<String, socialcare_domain::ports::StoreError> {
        self.0.keep_refused(id, why).await
    }
    async fn keep_file(
        &self,
        file: &socialcare_app::attachments::FileToKeep,
    ) -> Result<(), socialcare_domain::ports::StoreError> {
        self.0.keep_file(&file.sha256, &file.bytes).await
    }
}

/// A mail with a screenshot attached (the bytes of `SCREENSHOT`, base64).
const WITH_FILE: &str = "From: Ann Lee <ann.lee@example.com>\r\nTo: support@acme.example\r\n\
Subject: Screenshot\r\nMessage-ID: <m9@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
What your agent said.\r\n--b\r\nContent-Type: image/png\r\n\
Content-Disposition: attachment; filename=\"chat.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n--b--\r\n";
const SCREENSHOT: &[u8] = b"\x89PNG\r\n\x1a\n";

#[tokio::test]
async fn a_mails_files_are_kept_in_the_bucket_before_it_is_queued_and_served_from_there() {
    use sha2::Digest;
    use socialcare_app::attachments::AttachmentFiles;
    let stack = emulator::deploy().await;
    let (s3, name) = bucket(&stack.config).await;
    let stored = Stored(MailBucket::new(&stack.config, &name));
    let inbound = SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone());
    put(&s3, &name, "inbound/ses-0100", WITH_FILE.as_bytes()).await;
    let taken = take_stored(
        &stored,
        &inbound,
        &configuration(),
        &receipt("ses-0100", &[MAILBOX], "PASS"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(taken, Taken::Queued(1));
    let digest = hex::encode(sha2::Sha256::digest(SCREENSHOT));
    assert_eq!(
        object(&s3, &name, &format!("attachments/{digest}")).await,
        Some(SCREENSHOT.to_vec())
    );
    let delivered = inbound.receive(10, Duration::from_secs(1)).await.unwrap();
    let QueuedEvent::Message(event) = serde_json::from_str(&delivered[0].body).unwrap() else {
        panic!("{}", delivered[0].body)
    };
    let attachment = &event.message.attachments[0];
    assert_eq!(attachment.url, format!("/attachments/{digest}"));
    let file = attachment.file.as_ref().unwrap();
    assert_eq!(
        (file.name.as_str(), file.content_type.as_str(), file.size),
        ("chat.png", "image/png", 8)
    );

    // The console reads it back; what is not there is none, what is no digest is refused.
    let files = socialcare_wiring::lambda::FilesInBucket(MailBucket::new(&stack.config, &name));
    assert_eq!(
        files.read(&digest).await.unwrap(),
        Some(SCREENSHOT.to_vec())
    );
    assert_eq!(files.read(&"0".repeat(64)).await.unwrap(), None);
    assert!(files.read("../inbound/ses-0100").await.is_err());
}

#[tokio::test]
async fn stored_mail_is_queued_and_refused_mail_is_kept_with_why() {
    let stack = emulator::deploy().await;
    let (s3, name) = bucket(&stack.config).await;
    let stored = Stored(MailBucket::new(&stack.config, &name));
    let inbound = SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone());
    let configuration = configuration();

    put(&s3, &name, "inbound/ses-0001", MAIL.as_bytes()).await;
    let taken = take_stored(
        &stored,
        &inbound,
        &configuration,
        &receipt("ses-0001", &[MAILBOX], "PASS"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(taken, Taken::Queued(1));
    let delivered = inbound.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(delivered.len(), 1);
    let QueuedEvent::Message(event) = serde_json::from_str(&delivered[0].body).unwrap() else {
        panic!("{}", delivered[0].body)
    };
    assert_eq!(event.message.source, Source::Email);
    assert_eq!(event.message.account, MAILBOX);
    assert_eq!(event.message.external_id, "m1@example.com");
    assert_eq!(event.message.text, "The fibre is down.");

    // Refused: a virus by SES's verdict, a message for no configured mailbox, one that is not
    // e-mail. Each is copied under refused/ with why; nothing is queued.
    put(&s3, &name, "inbound/ses-0002", MAIL.as_bytes()).await;
    put(&s3, &name, "inbound/ses-0003", MAIL.as_bytes()).await;
    put(&s3, &name, "inbound/ses-0004", b"no headers here").await;
    let cases = [
        ("ses-0002", MAILBOX, "FAIL", "virus"),
        (
            "ses-0003",
            "sales@acme.example",
            "PASS",
            "not addressed to a configured mailbox",
        ),
        ("ses-0004", MAILBOX, "PASS", "not an e-mail message"),
    ];
    for (id, to, virus, why) in cases {
        let taken = take_stored(
            &stored,
            &inbound,
            &configuration,
            &receipt(id, &[to], virus),
            Utc::now(),
        )
        .await
        .unwrap();
        match taken {
            Taken::Refused { why: said, kept } => {
                assert!(said.contains(why), "{id}: {said}");
                assert_eq!(kept, format!("s3://{name}/refused/{id}"));
            }
            other => panic!("{id}: {other:?}"),
        }
        assert!(
            object(&s3, &name, &format!("refused/{id}")).await.is_some(),
            "{id}"
        );
        let reason = object(&s3, &name, &format!("refused/{id}.why"))
            .await
            .unwrap();
        assert!(String::from_utf8(reason).unwrap().contains(why), "{id}");
    }
    // The mailbox's own address in From counts as the brand only when SES authenticated it.
    let own = MAIL.replace(
        "From: \"Ann Lee\" <ann.lee@example.com>",
        "From: support@acme.example",
    );
    put(&s3, &name, "inbound/ses-0005", own.as_bytes()).await;
    let forged = take_stored(
        &stored,
        &inbound,
        &configuration,
        &receipt_with("ses-0005", &[MAILBOX], "PASS", "FAIL"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&forged, Taken::Refused { why, .. } if why.contains("unauthenticated")),
        "{forged:?}"
    );
    let genuine = take_stored(
        &stored,
        &inbound,
        &configuration,
        &receipt_with("ses-0005", &[MAILBOX], "PASS", "PASS"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(genuine, Taken::Queued(1));
    // A message id that is not SES's names no object.
    assert!(stored.0.read("../other/key", 1024).await.is_err());
}

#[tokio::test]
async fn a_reply_goes_out_through_ses_from_a_verified_address() {
    let config = aws_config::load_from_env().await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    ses.create_email_identity()
        .email_identity(MAILBOX)
        .send()
        .await
        .unwrap();
    let raw = format!(
        "From: <{MAILBOX}>\r\nTo: <ann.lee@example.com>\r\nSubject: Re: Fibre down\r\n\
         Message-ID: <reply-{}@acme.example>\r\nIn-Reply-To: <m1@example.com>\r\n\r\nOn our way.\r\n",
        ulid::Ulid::generate()
    );
    let sender = SesSender::new(&config);
    let id = sender
        .send(MAILBOX, "ann.lee@example.com", raw.clone().into_bytes())
        .await
        .unwrap();
    assert!(!id.is_empty(), "SES's message id");
    // From an address SES has not verified: refused, and trying again will not help.
    let refused = sender
        .send(
            "nobody@unverified.example",
            "ann.lee@example.com",
            raw.into_bytes(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.failure,
        socialcare_domain::ports::Failure::Invalid,
        "{refused}"
    );
    assert!(refused.detail.contains("MessageRejected"), "{refused}");
}

/// SES forwards a bounce to the sending mailbox (its feedback forwarding) as a delivery status
/// notification from its mailer daemon: the receipt rule stores it like any mail, and the
/// function queues it as a report about the reply, not as a customer's message.
const SES_BOUNCE: &str = "From: MAILER-DAEMON@amazonses.com\r\nTo: support@acme.example\r\n\
Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <0100018c-bounce@email.amazonses.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"=_b\"\r\n\r\n\
--=_b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
An error occurred while trying to deliver the mail to the following recipients:\r\n\
ann.lee@example.com\r\n\
--=_b\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; a8-30.smtp-out.amazonses.com\r\n\r\n\
Action: failed\r\nFinal-Recipient: rfc822; ann.lee@example.com\r\n\
Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\nStatus: 5.1.1\r\n\r\n\
--=_b\r\nContent-Type: message/rfc822\r\n\r\n\
From: support@acme.example\r\nTo: ann.lee@example.com\r\nSubject: Re: Fibre down\r\n\
Message-ID: <msg_01reply@acme.example>\r\n\r\nAn engineer is on the way.\r\n--=_b--\r\n";

#[tokio::test]
async fn a_bounce_ses_forwards_is_queued_as_a_report_about_the_reply() {
    let stack = emulator::deploy().await;
    let (s3, name) = bucket(&stack.config).await;
    let stored = Stored(MailBucket::new(&stack.config, &name));
    let inbound = SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone());
    put(&s3, &name, "inbound/ses-0200", SES_BOUNCE.as_bytes()).await;
    let taken = take_stored(
        &stored,
        &inbound,
        &configuration(),
        &receipt("ses-0200", &[MAILBOX], "PASS"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(taken, Taken::Report);
    let delivered = inbound.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(delivered.len(), 1);
    let QueuedEvent::Feedback(event) = serde_json::from_str(&delivered[0].body).unwrap() else {
        panic!("{}", delivered[0].body)
    };
    let feedback = &event.feedback;
    assert_eq!(
        feedback.kind,
        socialcare_domain::mail_feedback::FeedbackKind::Bounce
    );
    assert_eq!(feedback.mailbox, MAILBOX);
    assert_eq!(feedback.message_id, "msg_01reply@acme.example");
    assert_eq!(feedback.recipient.as_deref(), Some("ann.lee@example.com"));
    assert_eq!(feedback.detail, "5.1.1 smtp; 550 5.1.1 user unknown");
    assert_eq!(
        object(&s3, &name, "refused/ses-0200").await,
        None,
        "a report is not refused"
    );
}
