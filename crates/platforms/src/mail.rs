//! E-mail replies: the reply as an RFC 5322 message (`mail-builder`) in the customer's thread
//! (`Re:` subject, `In-Reply-To`, `References`), from the mailbox, handed to the transport the
//! wiring gives ([`SendMail`]: a folder locally; SES on AWS). Its `Message-ID` is the reply's
//! id and a random part (a try that failed sent nothing; one whose answer was lost is not tried
//! again), and it is the id the reply is known by (or the one the transport answers it went
//! with: SES replaces it with its own): the customer's answer to it threads back by its
//! `In-Reply-To`, and a bounce of it names it.

use crate::HttpPlatform;
use futures::future::BoxFuture;
use mail_builder::MessageBuilder;
use socialcare_domain::message::Message;
use socialcare_domain::replies::{PostError, Target};
use socialcare_webhooks::email::is_address;
use std::sync::Arc;

/// A message ready to go: who it is from and to, its id, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub from: String,
    pub to: String,
    /// Without angle brackets.
    pub message_id: String,
    pub raw: Vec<u8>,
}

/// Sends one message and answers the `Message-ID` (without brackets) it went with: its own,
/// or the one the mail service gave it instead (SES replaces it). `Transient` when trying
/// again may help.
pub type SendMail =
    Arc<dyn Fn(OutgoingMail) -> BoxFuture<'static, Result<String, PostError>> + Send + Sync>;

/// Whether `id` can go in `In-Reply-To` or `References` (a digest socialcare made for a
/// message without one is no Message-ID).
fn is_message_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with("sha256:")
        && id.len() <= 250
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>\"()[]\\,;".contains(c))
}

/// The reply as a message from the mailbox `reply.body.account`.
pub fn compose(reply: &Message, target: &Target) -> Result<OutgoingMail, PostError> {
    let Target::Email {
        from,
        to,
        subject,
        in_reply_to,
        references,
    } = target
    else {
        return Err(PostError::Permanent(
            "an e-mail reply goes to an address".into(),
        ));
    };
    // From the mailbox the customer wrote to (the ticket's own, for a ticket that began by mail).
    let from = match from.is_empty() {
        true => reply.body.account.as_str(),
        false => from.as_str(),
    };
    if !is_address(from) {
        return Err(PostError::Permanent(format!(
            "the mailbox {from:?} is not an address"
        )));
    }
    if !is_address(to) {
        return Err(PostError::Permanent(format!(
            "the customer's address {to:?} cannot be written to"
        )));
    }
    let domain = from.rsplit('@').next().unwrap_or("socialcare.invalid");
    // The reply's id and a random part: a bounce or complaint is believed about the reply it
    // returns this id of, so no one who did not see the mail may be able to make it up (the
    // reply's id alone is its time and a hash of its key).
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|e| PostError::Transient(format!("no randomness for the Message-ID: {e}")))?;
    let message_id = format!("{}.{}@{domain}", reply.id, hex::encode(nonce));
    // What the customer's mail said is theirs: nothing in it may end a header.
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(250)
        .collect();
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(to.as_str())
        .subject(subject)
        .message_id(message_id.as_str())
        .date(reply.body.created_at.timestamp())
        .text_body(reply.body.text.as_str());
    if is_message_id(in_reply_to) {
        builder = builder.in_reply_to(in_reply_to.as_str());
    }
    let references: Vec<&str> = references
        .iter()
        .map(String::as_str)
        .filter(|id| is_message_id(id))
        .collect();
    if !references.is_empty() {
        builder = builder.references(references);
    }
    let raw = builder
        .write_to_vec()
        .map_err(|e| PostError::Permanent(format!("the reply could not be written: {e}")))?;
    Ok(OutgoingMail {
        from: from.to_string(),
        to: to.clone(),
        message_id,
        raw,
    })
}

pub(crate) async fn post(
    platform: &HttpPlatform,
    reply: &Message,
    target: &Target,
) -> Result<String, PostError> {
    let Some(send) = &platform.mail else {
        return Err(PostError::Permanent(
            "no mail transport is configured to send e-mail replies".into(),
        ));
    };
    let mail = compose(reply, target)?;
    send(mail).await
}

/// Writes each message to `folder` as `<Message-ID>.eml` (for a local setup: what would have
/// been sent, for the mail system or for inspection). A write that failed wrote nothing to
/// send: the next try is a message of its own id.
pub fn folder_transport(folder: std::path::PathBuf) -> SendMail {
    Arc::new(move |mail: OutgoingMail| {
        let folder = folder.clone();
        Box::pin(async move {
            let name: String = mail
                .message_id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let message_id = mail.message_id.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&folder)?;
                std::fs::write(folder.join(format!("{name}.eml")), &mail.raw)
            })
            .await
            .map_err(|e| PostError::Transient(format!("writing the mail: {e}")))?
            .map_err(|e| PostError::Transient(format!("writing the mail: {e}")))?;
            Ok(message_id)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use socialcare_domain::ids::TicketId;
    use socialcare_domain::message::{Author, Channel, Direction, NormalizedMessage, Source};

    fn reply(text: &str) -> Message {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        Message::new(
            TicketId::derive(at, "t"),
            NormalizedMessage {
                source: Source::Email,
                account: "support@acme.example".into(),
                channel: Channel::Private,
                direction: Direction::Outbound,
                external_id: "socialcare:r1".into(),
                in_reply_to: None,
                thread_id: None,
                conversation_id: None,
                recipient_id: None,
                author: Author {
                    id: "support@acme.example".into(),
                    name: None,
                    handle: None,
                    email: None,
                    followers: None,
                    verified_email: false,
                },
                text: text.into(),
                attachments: Vec::new(),
                created_at: at,
                callback_url: None,
                found_by: None,
                subject: None,
                quoted: None,
                html: None,
            },
            at,
        )
    }

    fn target(to: &str, subject: &str) -> Target {
        Target::Email {
            from: "support@acme.example".into(),
            to: to.into(),
            subject: subject.into(),
            in_reply_to: "m2@example.com".into(),
            references: vec![
                "m1@example.com".into(),
                "bad id".into(),
                "m2@example.com".into(),
            ],
        }
    }

    #[test]
    fn a_reply_keeps_the_thread() {
        let reply = reply("An engineer comes tomorrow at 9.");
        let mail = compose(&reply, &target("ann@example.com", "Re: Fibre down")).unwrap();
        let text = String::from_utf8(mail.raw.clone()).unwrap();
        // The reply's id, 16 random hex digits, the mailbox's domain; another each time.
        let (id, domain) = mail.message_id.split_once('@').unwrap();
        let (of_reply, random) = id.split_once('.').unwrap();
        assert_eq!((of_reply, domain), (reply.id.as_str(), "acme.example"));
        assert_eq!(random.len(), 16);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
        let again = compose(&reply, &target("ann@example.com", "Re: Fibre down")).unwrap();
        assert_ne!(again.message_id, mail.message_id);
        assert!(text.contains("From: <support@acme.example>\r\n"), "{text}");
        assert!(text.contains("To: <ann@example.com>\r\n"), "{text}");
        assert!(text.contains("Subject: Re: Fibre down\r\n"), "{text}");
        assert!(text.contains("In-Reply-To: <m2@example.com>\r\n"), "{text}");
        assert!(
            text.contains("References: <m1@example.com> <m2@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Message-ID: <{}>\r\n", mail.message_id)),
            "{text}"
        );
        assert!(text.contains("An engineer comes tomorrow at 9."), "{text}");
        // Read back as any mail client would.
        let parsed = mail_parser::MessageParser::default()
            .parse(&mail.raw)
            .unwrap();
        assert_eq!(parsed.subject(), Some("Re: Fibre down"));
        assert_eq!(parsed.in_reply_to().as_text(), Some("m2@example.com"));
    }

    #[test]
    fn nothing_from_the_customer_adds_a_header_or_a_recipient() {
        let reply = reply("ok");
        for to in [
            "ann@example.com\r\nBcc: all@example.com",
            "a@b.c, c@d.e",
            "<a@b.c>",
            "abc@",
            "a@localhost",
            "",
        ] {
            assert!(
                matches!(
                    compose(&reply, &target(to, "Re: x")),
                    Err(PostError::Permanent(_))
                ),
                "{to:?}"
            );
        }
        let mail = compose(
            &reply,
            &target("ann@example.com", "Re: x\r\nBcc: all@example.com"),
        )
        .unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(&mail.raw)
            .unwrap();
        assert!(parsed.bcc().is_none());
        assert_eq!(parsed.header_raw("Bcc"), None);
        assert!(parsed.subject().unwrap().contains("Bcc"), "kept as words");
    }
}
