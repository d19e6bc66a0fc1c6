//! Reports about a message a mailbox sent (`multipart/report`): a delivery status notification
//! (RFC 3464) that says it failed for good, or a complaint in the Abuse Reporting Format
//! (RFC 5965). SES forwards both to the sending mailbox (its feedback forwarding); other mail
//! systems send them to the envelope sender, which is the mailbox too.
//!
//! What is read of one: the `Message-ID` of the message it returns (in a `message/rfc822` or
//! `text/rfc822-headers` part), the recipient it names, and its status or feedback type. A
//! report that returns no `Message-ID`, or tells of a delay or a success, is none of these: it
//! is refused as the automatic message it is.

use super::{EmailError, MAX_ID_CHARS, bare, is_id};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use socialcare_domain::mail_feedback::{FeedbackKind, MailFeedback};

/// What of a report's status is kept, for people.
const MAX_DETAIL_CHARS: usize = 500;

/// The report `raw` is, for whichever of `mailboxes` it came to (`envelope_to` when the
/// receiving service says): `None` when it is not a bounce or complaint about a message with
/// a `Message-ID`.
pub fn feedback_of(
    message: &Message,
    mailboxes: &[String],
    envelope_to: Option<&str>,
) -> Result<Option<MailFeedback>, EmailError> {
    let Some(report_type) = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(|t| t.trim().to_ascii_lowercase())
    else {
        return Ok(None);
    };
    let said = |subtypes: &[&str]| {
        message.parts.iter().find_map(|part| {
            let ct = part.content_type()?;
            let subtype = ct.subtype()?.to_ascii_lowercase();
            (ct.ctype().eq_ignore_ascii_case("message") && subtypes.contains(&subtype.as_str()))
                .then(|| fields(&String::from_utf8_lossy(part.contents())))
        })
    };
    let (kind, recipient, detail) = match report_type.as_str() {
        "delivery-status" => {
            let Some(blocks) = said(&["delivery-status", "global-delivery-status"]) else {
                return Ok(None);
            };
            // The first recipient it failed for, for good: a delay or a success is news, not a
            // bounce.
            let Some(failed) = blocks.iter().skip(1).find(|block| {
                value(block, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed"))
                    && value(block, "status").is_some_and(|s| s.starts_with('5'))
            }) else {
                return Ok(None);
            };
            let status = value(failed, "status").unwrap_or_default();
            let detail = match value(failed, "diagnostic-code") {
                Some(diagnostic) => format!("{status} {diagnostic}"),
                None => status.to_string(),
            };
            let recipient = value(failed, "final-recipient")
                .or_else(|| value(failed, "original-recipient"))
                .map(typed_address);
            (FeedbackKind::Bounce, recipient, detail)
        }
        "feedback-report" => {
            let Some(blocks) = said(&["feedback-report"]) else {
                return Ok(None);
            };
            let report = blocks.first().cloned().unwrap_or_default();
            let feedback_type = value(&report, "feedback-type").unwrap_or("abuse");
            // `not-spam` takes a complaint back; it marks nothing.
            if feedback_type.eq_ignore_ascii_case("not-spam") {
                return Ok(None);
            }
            // Optional in a feedback report: else whom the returned message was to.
            let recipient = value(&report, "original-rcpt-to")
                .map(typed_address)
                .or_else(|| returned_recipient(message));
            (
                FeedbackKind::Complaint,
                recipient,
                feedback_type.to_string(),
            )
        }
        _ => return Ok(None),
    };
    // A report that names nobody, or no message, is about nothing that can be checked.
    let (Some(message_id), Some(recipient)) = (
        returned_id(message),
        recipient.filter(|r| super::is_address(r)),
    ) else {
        return Ok(None);
    };
    let mailbox = super::mailbox_of(message, mailboxes, envelope_to, None)?;
    Ok(Some(MailFeedback {
        kind,
        mailbox,
        message_id,
        recipient: Some(recipient),
        detail: detail
            .replace(char::is_control, " ")
            .chars()
            .take(MAX_DETAIL_CHARS)
            .collect(),
    }))
}

/// The `Message-ID` of the message a report returns, whole or its headers only.
fn returned_id(message: &Message) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let returned = match &part.body {
            PartType::Message(inner) => inner.message_id().map(str::to_string),
            _ => {
                let ct = part.content_type()?;
                let headers_only = ct.ctype().eq_ignore_ascii_case("text")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
                    || ct.ctype().eq_ignore_ascii_case("message")
                        && ct.subtype().is_some_and(|s| {
                            s.eq_ignore_ascii_case("rfc822")
                                || s.eq_ignore_ascii_case("global-headers")
                        });
                if !headers_only {
                    return None;
                }
                MessageParser::default()
                    .parse(part.contents())?
                    .message_id()
                    .map(str::to_string)
            }
        }?;
        let id = bare(&returned).to_string();
        (is_id(&id) && id.len() <= MAX_ID_CHARS).then_some(id)
    })
}

/// The first `To` address of the message a report returns (whole, or its headers).
fn returned_recipient(message: &Message) -> Option<String> {
    message.parts.iter().skip(1).find_map(|part| {
        let to = match &part.body {
            PartType::Message(inner) => inner.to()?.first()?.address()?.to_string(),
            _ => {
                let ct = part.content_type()?;
                let headers = ct.ctype().eq_ignore_ascii_case("text")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"));
                if !headers {
                    return None;
                }
                let parsed = MessageParser::default().parse(part.contents())?;
                parsed.to()?.first()?.address()?.to_string()
            }
        };
        Some(bare(&to).to_lowercase())
    })
}

/// The field blocks of a `message/delivery-status` or `message/feedback-report` body: each a
/// list of (lowercase name, value), continuation lines unfolded.
fn fields(body: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in body.lines().map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

fn value<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `rfc822; Ann@Example.com` → `ann@example.com`.
fn typed_address(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    bare(address).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::super::{EmailError, Mail, Sender, read_mail};
    use super::*;
    use chrono::TimeZone;

    const MAILBOX: &str = "support@acme.example";

    fn read(raw: &str) -> Result<Mail, EmailError> {
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap();
        read_mail(
            raw.as_bytes(),
            &[MAILBOX.to_string()],
            None,
            (now, Sender::Unverified),
        )
    }

    /// A delivery status notification as SES forwards one, with `recipient_fields` for the
    /// recipient and `returned` as its third part.
    fn dsn(recipient_fields: &str, returned: &str) -> String {
        format!(
            "From: MAILER-DAEMON@amazonses.com\r\nTo: {MAILBOX}\r\n\
             Subject: Delivery Status Notification (Failure)\r\n\
             Message-ID: <0100abc@email.amazonses.com>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
             An error occurred while trying to deliver the mail to the following recipients:\r\n\
             dan@example.com\r\n\
             --b1\r\nContent-Type: message/delivery-status\r\n\r\n\
             Reporting-MTA: dns; a8-30.smtp-out.amazonses.com\r\n\r\n\
             {recipient_fields}\r\n\
             --b1\r\n{returned}\r\n--b1--\r\n"
        )
    }

    const FAILED: &str = "Action: failed\r\nFinal-Recipient: rfc822; Dan@Example.com\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <dan@example.com>:\r\n  user unknown\r\nStatus: 5.1.1\r\n";
    const RETURNED: &str = "Content-Type: message/rfc822\r\n\r\n\
         From: support@acme.example\r\nTo: dan@example.com\r\nSubject: Re: Refund\r\n\
         Message-ID: <r1@acme.example>\r\n\r\nWe are on it.\r\n";

    #[test]
    fn a_failed_delivery_is_a_bounce_of_the_message_it_returns() {
        let report = read(&dsn(FAILED, RETURNED)).unwrap();
        assert_eq!(
            report,
            Mail::Report(MailFeedback {
                kind: FeedbackKind::Bounce,
                mailbox: MAILBOX.into(),
                message_id: "r1@acme.example".into(),
                recipient: Some("dan@example.com".into()),
                detail: "5.1.1 smtp; 550 5.1.1 <dan@example.com>: user unknown".into(),
            })
        );
        // Only the returned headers: the same.
        let headers = "Content-Type: text/rfc822-headers\r\n\r\n\
             From: support@acme.example\r\nTo: dan@example.com\r\n\
             Message-ID: <r1@acme.example>\r\n";
        let Mail::Report(feedback) = read(&dsn(FAILED, headers)).unwrap() else {
            panic!("a report");
        };
        assert_eq!(feedback.message_id, "r1@acme.example");
    }

    #[test]
    fn a_delay_a_success_or_a_report_naming_no_message_is_an_automatic_message() {
        let delayed = "Action: delayed\r\nFinal-Recipient: rfc822; dan@example.com\r\n\
             Status: 4.4.7\r\n";
        let delivered = "Action: delivered\r\nFinal-Recipient: rfc822; dan@example.com\r\n\
             Status: 2.0.0\r\n";
        let no_id = "Content-Type: text/rfc822-headers\r\n\r\nFrom: support@acme.example\r\n";
        for raw in [
            dsn(delayed, RETURNED),
            dsn(delivered, RETURNED),
            dsn(FAILED, no_id),
        ] {
            assert!(
                matches!(read(&raw), Err(EmailError::Automatic(_))),
                "{raw}: {:?}",
                read(&raw)
            );
        }
    }

    fn arf(feedback_type: &str) -> String {
        format!(
            "From: complaints@email-abuse.amazonses.com\r\nTo: {MAILBOX}\r\n\
             Subject: Complaint\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=feedback-report; boundary=\"f\"\r\n\r\n\
             --f\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n\
             --f\r\nContent-Type: message/feedback-report\r\n\r\n\
             Feedback-Type: {feedback_type}\r\nUser-Agent: SomeISP\r\nVersion: 1\r\n\
             Original-Rcpt-To: gail@example.com\r\n\r\n\
             --f\r\nContent-Type: message/rfc822\r\n\r\n\
             From: support@acme.example\r\nTo: gail@example.com\r\n\
             Message-ID: <r3@acme.example>\r\n\r\nOur answer.\r\n--f--\r\n"
        )
    }

    #[test]
    fn an_abuse_report_is_a_complaint_and_not_spam_is_none() {
        assert_eq!(
            read(&arf("abuse")).unwrap(),
            Mail::Report(MailFeedback {
                kind: FeedbackKind::Complaint,
                mailbox: MAILBOX.into(),
                message_id: "r3@acme.example".into(),
                recipient: Some("gail@example.com".into()),
                detail: "abuse".into(),
            })
        );
        assert!(matches!(
            read(&arf("not-spam")),
            Err(EmailError::Automatic(_))
        ));
    }

    #[test]
    fn a_complaint_without_its_recipient_names_whom_the_returned_mail_was_to() {
        let raw = arf("abuse").replace("Original-Rcpt-To: gail@example.com\r\n", "");
        let Mail::Report(feedback) = read(&raw).unwrap() else {
            panic!("a report");
        };
        assert_eq!(feedback.recipient.as_deref(), Some("gail@example.com"));
        // A bounce that names nobody is about nothing that can be checked.
        let nobody = FAILED.replace("Final-Recipient: rfc822; Dan@Example.com\r\n", "");
        assert!(matches!(
            read(&dsn(&nobody, RETURNED)),
            Err(EmailError::Automatic(_))
        ));
    }

    #[test]
    fn a_report_for_no_mailbox_is_refused_as_such() {
        let raw = dsn(FAILED, RETURNED)
            .replace(&format!("To: {MAILBOX}"), "To: someone@elsewhere.example");
        assert!(matches!(read(&raw), Err(EmailError::NotForUs(_))));
    }
}
